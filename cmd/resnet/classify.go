package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/resnet-go/resnet"
	"github.com/resnet-go/resnet/tensor"
)

type classifyFlags struct {
	modelFlags
	topK   int
	json   bool
	logits bool
	batch  int
}

func classifyCmd() *cobra.Command {
	var f classifyFlags
	cmd := &cobra.Command{
		Use:   "classify [flags] IMAGE|DIR...",
		Short: "Print the top classes of images (directories are searched for images)",
		Example: `  resnet classify --model microsoft/resnet-50 cats.png
  resnet classify --model ./resnet-dir --top-k 5 --json a.jpg b.png photos/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runClassify(cmd, &f, args) },
	}
	f.register(cmd)
	cmd.Flags().IntVarP(&f.topK, "top-k", "k", 5, "how many classes to print per image")
	cmd.Flags().BoolVar(&f.json, "json", false, `one JSON object per image: {"image","top":[{"index","label","score"}]} or {"image","error"}`)
	cmd.Flags().BoolVar(&f.logits, "logits", false, "with --json, include the raw logits")
	cmd.Flags().IntVar(&f.batch, "batch", 8, "images per forward pass")
	return cmd
}

// classifyResult is the stable JSON line of `classify --json`.
type classifyResult struct {
	Image  string              `json:"image"`
	Top    []resnet.Prediction `json:"top,omitempty"`
	Logits []float32           `json:"logits,omitempty"`
	Error  string              `json:"error,omitempty"`
}

func runClassify(cmd *cobra.Command, f *classifyFlags, args []string) error {
	if f.topK < 1 || f.batch < 1 {
		return fmt.Errorf("--top-k and --batch must be at least 1")
	}
	if f.logits && !f.json {
		return fmt.Errorf("--logits adds the raw logits to the JSON lines; use it with --json")
	}
	paths, err := expandInputs(args)
	if err != nil {
		return err
	}
	m, err := f.load(cmd.Context())
	if err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	failed := false
	emit := func(r classifyResult) {
		if r.Error != "" {
			failed = true
		}
		if f.json {
			b, _ := json.Marshal(r)
			fmt.Fprintf(out, "%s\n", b)
		} else if r.Error != "" {
			out.Flush()
			fmt.Fprintf(os.Stderr, "%s: error: %s\n", r.Image, r.Error)
		} else {
			fmt.Fprintf(out, "%s\n", r.Image)
			for _, p := range r.Top {
				fmt.Fprintf(out, "  %7.4f  %s (%d)\n", p.Score, p.Label, p.Index)
			}
		}
		out.Flush()
	}
	err = forEachBatch(m, paths, f.batch, func(path string, logits []float32, err error) {
		if err != nil {
			emit(classifyResult{Image: path, Error: err.Error()})
			return
		}
		t := &tensor.Tensor{Shape: []int{1, len(logits)}, Data: logits}
		r := classifyResult{Image: path, Top: m.TopK(t, f.topK)[0]}
		if f.logits {
			r.Logits = logits
		}
		emit(r)
	})
	if err != nil {
		return err
	}
	if failed {
		return errSomeFailed
	}
	return nil
}

// forEachBatch preprocesses images, runs them through the model in batches and calls fn for
// every path in input order, with its logits or its own error. The processor gives every
// image the same size, so any images can share a batch.
func forEachBatch(m *resnet.Model, paths []string, batch int, fn func(path string, logits []float32, err error)) error {
	type item struct {
		path string
		x    *tensor.Tensor
		err  error
	}
	var pending []item
	flush := func() error {
		var xs []*tensor.Tensor
		for _, it := range pending {
			if it.err == nil {
				xs = append(xs, it.x)
			}
		}
		var logits *tensor.Tensor
		if len(xs) > 0 {
			x, err := resnet.Stack(xs)
			if err != nil {
				return err
			}
			if logits, err = m.Forward(x); err != nil {
				return err
			}
		}
		row := 0
		for _, it := range pending {
			if it.err != nil {
				fn(it.path, nil, it.err)
				continue
			}
			n := logits.Shape[1]
			fn(it.path, logits.Data[row*n:(row+1)*n], nil)
			row++
		}
		pending = pending[:0]
		return nil
	}
	for _, p := range paths {
		x, err := m.PreprocessFile(p)
		pending = append(pending, item{p, x, err})
		if len(pending) >= batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}
