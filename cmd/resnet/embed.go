package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/resnet-go/resnet"
	"github.com/resnet-go/resnet/internal/atomicfile"
	"github.com/resnet-go/resnet/npy"
)

type embedFlags struct {
	modelFlags
	output string
	batch  int
	shard  string

	columnFlags
	dataset string // hf:...
}

func embedCmd() *cobra.Command {
	var f embedFlags
	cmd := &cobra.Command{
		Use:   "embed [flags] IMAGE|DIR|hf://datasets/ORG/NAME[/SPLIT]...",
		Short: "Write the pooled embedding of each image (JSON lines, or a .npy matrix)",
		Example: `  resnet embed --model microsoft/resnet-50 photos/ > embeddings.jsonl
  resnet embed --model microsoft/resnet-50 --output emb.npy a.jpg b.jpg
  resnet embed --shard auto/8 --output out/emb.npy photos/   # writes out/emb-0000I-of-00008.npy and .paths.txt`,
		RunE: func(cmd *cobra.Command, args []string) error { return runEmbed(cmd, &f, args) },
	}
	f.register(cmd)
	f.registerDecode(cmd)
	f.registerColumns(cmd)
	cmd.Flags().StringVar(&f.dataset, "dataset", "", "also embed every image of a hub dataset split: hf:ORG/NAME[:CONFIG][@REV][/SPLIT] (the same as the argument hf://datasets/ORG/NAME...)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "write a float32 .npy matrix [images, features] here instead of JSON lines, and X.paths.txt beside it: the image of each row, one path per line (images that fail are left out of both)")
	cmd.Flags().IntVar(&f.batch, "batch", 8, "images per forward pass")
	cmd.Flags().StringVar(&f.shard, "shard", "", shardHelp)
	return cmd
}

// pathsFileFor is X.paths.txt for --output X.npy.
func pathsFileFor(output string) string {
	return strings.TrimSuffix(output, ".npy") + ".paths.txt"
}

// embedResult is the stable JSON line of `embed`.
type embedResult struct {
	Image     string    `json:"image"`
	Embedding []float32 `json:"embedding,omitempty"`
	Error     string    `json:"error,omitempty"`
}

func runEmbed(cmd *cobra.Command, f *embedFlags, args []string) error {
	if f.batch < 1 {
		return fmt.Errorf("--batch must be at least 1") // 0 spun forever in forEachBatchOf
	}
	if f.output != "" && !strings.HasSuffix(f.output, ".npy") {
		return fmt.Errorf("--output %s: only .npy is supported", f.output)
	}
	args, err := datasetArgs(args, f.dataset)
	if err != nil {
		return err
	}
	f.columnFlags.hub = f.hubClient() // progress bars for dataset downloads
	paths, err := expandInputsWith(args, f.columnFlags)
	if err != nil {
		return err
	}
	paths, sh, err := shardInputs(f.shard, paths)
	if err != nil {
		return err
	}
	output := sh.outputName(f.output)
	if output != "" {
		if err := atomicfile.CheckTarget(output); err != nil {
			return err
		}
		for _, o := range []string{output, pathsFileFor(output)} {
			if err := refuseInputAsOutput(o, append(paths, f.model, f.labels)...); err != nil {
				return err
			}
		}
	}
	// The pooled embedding is what a head-less model returns as its logits. The model is
	// built while the first images are decoded.
	p, err := f.loadAsync(cmd.Context(), (*resnet.Checkpoint).DropHead)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	var rows [][]float32
	var rowPaths []string
	failed := false
	err = forEachBatchOf(p.wait, p.pre, paths, f.batch, f.threads, func(path string, emb []float32, err error) {
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
			rowPaths = append(rowPaths, path)
			return
		}
		b, _ := json.Marshal(r)
		fmt.Fprintf(out, "%s\n", b)
	})
	if err != nil {
		return err
	}
	m, err := p.wait() // also where no image was given (an empty shard)
	if err != nil {
		return err
	}
	if f.output != "" {
		if len(rows) == 0 && len(paths) > 0 {
			return fmt.Errorf("no image could be embedded")
		}
		// Rows follow the inputs that could be embedded; X.paths.txt names each row, so a
		// failed image (reported above, exit status 1) cannot shift the pairing.
		pathsFile := pathsFileFor(output)
		var names strings.Builder
		for _, p := range rowPaths {
			if strings.ContainsAny(p, "\r\n") {
				return fmt.Errorf("%q: a path with a line break cannot be listed in %s", p, pathsFile)
			}
			names.WriteString(p + "\n")
		}
		if len(rows) == 0 {
			// A shard with no inputs (more shards than images): an empty [0, F] matrix, so
			// that the shards still concatenate.
			if err := atomicfile.Write(output, npy.Header([]int{0, m.Spec.Features})); err != nil {
				return err
			}
		} else if err := npy.WriteMatrix(output, rows); err != nil {
			return err
		}
		if err := atomicfile.Write(pathsFile, []byte(names.String())); err != nil {
			return err
		}
		// Not "(all inputs)" for the shard when some failed: that read as "all embedded".
		what := fmt.Sprintf("of all %d inputs", len(paths))
		if sh.count > 0 {
			what = fmt.Sprintf("of the %d inputs of %s", len(paths), sh)
		}
		if n := len(paths) - len(rows); n > 0 {
			what += fmt.Sprintf("; %d failed, listed above", n)
		}
		fmt.Fprintf(os.Stderr, "wrote %d×%d embeddings (%s) to %s, the image of each row to %s\n", len(rows), m.Spec.Features, what, output, pathsFile)
	}
	if failed {
		return errSomeFailed
	}
	return nil
}
