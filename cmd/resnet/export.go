package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/resnet-go/resnet/internal/atomicfile"
	"github.com/resnet-go/resnet/onnx"
)

type exportFlags struct {
	modelFlags
	format       string
	opset        int
	foldBN       bool
	dynamicBatch bool
	pooler       bool
}

func exportCmd() *cobra.Command {
	var f exportFlags
	cmd := &cobra.Command{
		Use:   "export --format onnx [--opset 17] [--fold-bn] [--dynamic-batch] [--pooler] [MODEL] OUT.onnx",
		Short: "Write a model as an ONNX file for ONNX Runtime, TensorRT, OpenVINO (input pixel_values, output logits)",
		Long: `Export writes MODEL (a hub id, an HF-style directory or a checkpoint file, as --model takes;
without MODEL the built-in CIFAR-10 ResNet-20) as one ONNX file: IR version 8, default-domain opset
13..17, input pixel_values [N,3,H,W] with H and W from the preprocessing config (after --size etc.),
output logits [N,num_labels] and, with --pooler, pooler_output [N,C]. BatchNormalization is kept
with the HF tensor names unless --fold-bn folds it into the convolutions. The labels, config.json
and preprocessor_config.json travel in metadata_props (id2label, config, preprocessor_config).`,
		Example: `  resnet export --format onnx microsoft/resnet-50 resnet50.onnx
  resnet export --format onnx --opset 13 --fold-bn --dynamic-batch r20 r20.onnx
  resnet export --format onnx cifar.onnx    # the built-in model`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error { return runExport(cmd, &f, args) },
	}
	f.register(cmd)
	cmd.Flags().MarkHidden("model")
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "onnx", "output format (onnx is the only one)")
	fl.IntVar(&f.opset, "opset", onnx.DefaultOpset, fmt.Sprintf("ONNX default-domain opset, %d..%d (%d is the newest the ONNX 1.12 checker knows)", onnx.MinOpset, onnx.MaxOpset, onnx.MaxOpset))
	fl.BoolVar(&f.foldBN, "fold-bn", false, "fold BatchNormalization into the convolutions (as torch.onnx.export does); default: keep BN nodes with HF names, lossless")
	fl.BoolVar(&f.dynamicBatch, "dynamic-batch", false, "write the batch axis as dim_param batch_size (default: fixed batch 1)")
	fl.BoolVar(&f.pooler, "pooler", false, "add the graph output pooler_output [N,C] (the pooled features)")
	return cmd
}

func runExport(cmd *cobra.Command, f *exportFlags, args []string) error {
	if f.format != "onnx" {
		return fmt.Errorf("--format %q is not supported (the only export format is onnx)", f.format)
	}
	if f.opset < onnx.MinOpset || f.opset > onnx.MaxOpset {
		return fmt.Errorf("--opset %d is not supported: want %d..%d (the ONNX 1.12 checker, IR 8, knows opsets up to %d; 13 is the oldest whose Slice/Pad/Gemm forms the export uses)", f.opset, onnx.MinOpset, onnx.MaxOpset, onnx.MaxOpset)
	}
	out := args[len(args)-1]
	if err := atomicfile.CheckTarget(out); err != nil {
		return err
	}
	if !strings.EqualFold(filepath.Ext(out), ".onnx") {
		return fmt.Errorf("%s: the output is an ONNX file and its name must end in .onnx (`export MODEL OUT.onnx`; MODEL defaults to the built-in model)", out)
	}
	if len(args) == 2 {
		f.model = args[0]
	}
	if err := refuseInputAsOutput(out, f.model); err != nil {
		return err
	}
	ck, err := f.checkpoint(cmd.Context())
	if err != nil {
		return err
	}
	defer ck.Close()
	m, err := onnx.Export(ck.Config, ck.Processor, ck.Weights, onnx.ExportOptions{
		Opset: f.opset, FoldBN: f.foldBN, DynamicBatch: f.dynamicBatch, Pooler: f.pooler,
		ProducerVersion: moduleVersion(), Source: ck.Source,
	})
	if err != nil {
		return fmt.Errorf("%s: %w", ck.Source, err)
	}
	if err := onnx.WriteFile(out, m); err != nil {
		return err
	}
	st, err := os.Stat(out)
	if err != nil {
		return err
	}
	bn := "BatchNormalization kept"
	if f.foldBN {
		bn = "BatchNormalization folded"
	}
	fmt.Printf("wrote %s (%.1f MB, opset %d, %d nodes, %d labels, %s)\n", out, float64(st.Size())/1e6, f.opset, len(m.Graph.Node), ck.Config.NumLabels, bn)
	return nil
}
