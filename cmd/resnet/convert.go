package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func convertCmd() *cobra.Command {
	var f modelFlags
	var dtype string
	cmd := &cobra.Command{
		Use:   "convert IN OUT_DIR",
		Short: "Write any supported checkpoint as an HF-style directory (config.json, preprocessor_config.json, model.safetensors)",
		Example: `  resnet convert ../shared/data/cifar10-resnets/resnet20-12fca82f.th r20 --arch cifar-resnet20
  resnet convert resnet50-0676ba61.pth r50 --arch resnet-50 --labels synset.txt`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.model = args[0]
			if f.fs.Changed("preprocess") {
				// preprocessor_config.json has no field for it (transformers chooses the
				// backend when it loads a model), so it would be dropped in silence.
				return fmt.Errorf("--preprocess is not saved by convert (preprocessor_config.json has no backend field); give it when running the converted model")
			}
			ck, err := f.checkpoint(cmd.Context())
			if err != nil {
				return err
			}
			defer ck.Close()
			if err := ck.SaveAs(args[1], strings.ToUpper(dtype)); err != nil {
				return err
			}
			fmt.Printf("wrote %s (%d tensors, %d labels)\n", args[1], len(ck.Weights.Names()), ck.Config.NumLabels)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&dtype, "dtype", "f32", "weight precision in model.safetensors: f32, f16 or bf16")
	cmd.Flags().MarkHidden("model")
	return cmd
}
