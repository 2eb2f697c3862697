package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/resnet-go/resnet/npy"
)

type embedFlags struct {
	modelFlags
	output string
	batch  int
}

func embedCmd() *cobra.Command {
	var f embedFlags
	cmd := &cobra.Command{
		Use:   "embed [flags] IMAGE|DIR...",
		Short: "Write the pooled embedding of each image (JSON lines, or a .npy matrix)",
		Example: `  resnet embed --model microsoft/resnet-50 photos/ > embeddings.jsonl
  resnet embed --model microsoft/resnet-50 --output emb.npy a.jpg b.jpg`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runEmbed(cmd, &f, args) },
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "write a float32 .npy matrix [images, features] here (rows in input order) instead of JSON lines")
	cmd.Flags().IntVar(&f.batch, "batch", 8, "images per forward pass")
	return cmd
}

// embedResult is the stable JSON line of `embed`.
type embedResult struct {
	Image     string    `json:"image"`
	Embedding []float32 `json:"embedding,omitempty"`
	Error     string    `json:"error,omitempty"`
}

func runEmbed(cmd *cobra.Command, f *embedFlags, args []string) error {
	if f.output != "" && !strings.HasSuffix(f.output, ".npy") {
		return fmt.Errorf("--output %s: only .npy is supported", f.output)
	}
	paths, err := expandInputs(args)
	if err != nil {
		return err
	}
	ck, err := f.checkpoint(cmd.Context())
	if err != nil {
		return err
	}
	defer ck.Close()
	// The pooled embedding is what a head-less model returns as its logits.
	ck.DropHead()
	m, err := ck.Build()
	if err != nil {
		return err
	}
	m.MaxPixels = f.maxPixels
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	var rows [][]float32
	failed := false
	err = forEachBatch(m, paths, f.batch, func(path string, emb []float32, err error) {
		r := embedResult{Image: path, Embedding: emb}
		if err != nil {
			failed = true
			r.Error = err.Error()
			if f.output != "" {
				fmt.Fprintf(os.Stderr, "%s: error: %s\n", path, err)
				return
			}
		}
		if f.output != "" {
			rows = append(rows, append([]float32(nil), emb...))
			return
		}
		b, _ := json.Marshal(r)
		fmt.Fprintf(out, "%s\n", b)
	})
	if err != nil {
		return err
	}
	if f.output != "" {
		if len(rows) == 0 {
			return fmt.Errorf("no image could be embedded")
		}
		if err := npy.WriteMatrix(f.output, rows); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %d×%d embeddings to %s\n", len(rows), len(rows[0]), f.output)
	}
	if failed {
		return errSomeFailed
	}
	return nil
}
