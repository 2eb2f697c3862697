package main

import (
	"fmt"
	"io"
	"os"

	"github.com/resnet-go/resnet/internal/atomicfile"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/resnet-go/resnet"
	"github.com/resnet-go/resnet/datasets"
	"github.com/resnet-go/resnet/tensor"
)

type evalFlags struct {
	modelFlags
	dataset     string
	json        bool
	predictions string
	batch       int
	limit       int
}

func evalCmd() *cobra.Command {
	var f evalFlags
	cmd := &cobra.Command{
		Use:     "eval --model M --dataset cifar10:DIR",
		Short:   "Measure top-1 accuracy on a labelled dataset",
		Example: `  resnet eval --model resnet20.th --arch cifar-resnet20 --dataset cifar10:../shared/data/cifar10`,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runEval(cmd, &f) },
	}
	f.register(cmd)
	cmd.Flags().StringVar(&f.dataset, "dataset", "", "KIND:PATH; cifar10:DIR reads DIR/test_batch.bin (or a .bin file)")
	cmd.Flags().BoolVar(&f.json, "json", false, `print {"accuracy","correct","total"} as one JSON line`)
	cmd.Flags().StringVar(&f.predictions, "predictions", "", "also write one predicted class index per line, in dataset order")
	cmd.Flags().IntVar(&f.batch, "batch", 64, "images per forward pass")
	cmd.Flags().IntVar(&f.limit, "limit", 0, "evaluate only the first N examples")
	return cmd
}

// evalResult is the stable JSON of `eval --json`.
type evalResult struct {
	Accuracy float64 `json:"accuracy"`
	Correct  int     `json:"correct"`
	Total    int     `json:"total"`
}

func runEval(cmd *cobra.Command, f *evalFlags) error {
	if f.dataset == "" {
		return fmt.Errorf("--dataset is required (e.g. cifar10:../shared/data/cifar10)")
	}
	if f.batch < 1 {
		return fmt.Errorf("--batch must be at least 1")
	}
	spec, err := datasets.ParseSpec(f.dataset)
	if err != nil {
		return err
	}
	m, err := f.load(cmd.Context())
	if err != nil {
		return err
	}
	examples, err := spec.Load(datasets.CIFAR10Test)
	if err != nil {
		return err
	}
	if f.limit > 0 && f.limit < len(examples) {
		examples = examples[:f.limit]
	}
	preds, err := predictAll(m, examples, f.batch, f.quiet)
	if err != nil {
		return err
	}
	res := evalResult{Total: len(examples)}
	for i, ex := range examples {
		if preds[i] == ex.Label {
			res.Correct++
		}
	}
	res.Accuracy = float64(res.Correct) / float64(res.Total)
	if f.predictions != "" {
		if err := writePredictions(f.predictions, preds); err != nil {
			return err
		}
	}
	if f.json {
		printJSON(res)
	} else {
		fmt.Printf("accuracy %.2f%% (%d/%d) on %s\n", 100*res.Accuracy, res.Correct, res.Total, f.dataset)
	}
	return nil
}

// predictAll returns the arg-max class of every example.
func predictAll(m *resnet.Model, examples []datasets.Example, batch int, quiet bool) ([]int, error) {
	bar := progressbar.NewOptions(len(examples), progressbar.OptionSetDescription("evaluating"),
		progressbar.OptionSetWriter(os.Stderr), progressbar.OptionShowCount(), progressbar.OptionShowIts(),
		progressbar.OptionSetVisibility(!quiet), progressbar.OptionClearOnFinish())
	defer bar.Finish()
	preds := make([]int, len(examples))
	for start := 0; start < len(examples); start += batch {
		end := min(start+batch, len(examples))
		xs := make([]*tensor.Tensor, 0, end-start)
		for _, ex := range examples[start:end] {
			x, err := m.PreprocessRGB(ex.Image)
			if err != nil {
				return nil, err
			}
			xs = append(xs, x)
		}
		x, err := resnet.Stack(xs)
		if err != nil {
			return nil, err
		}
		logits, err := m.Forward(x)
		if err != nil {
			return nil, err
		}
		for i, top := range m.TopK(logits, 1) {
			preds[start+i] = top[0].Index
		}
		bar.Add(end - start)
	}
	return preds, nil
}

func writePredictions(path string, preds []int) error {
	return atomicfile.WriteFunc(path, func(w io.Writer) error {
		for _, p := range preds {
			if _, err := fmt.Fprintln(w, p); err != nil {
				return err
			}
		}
		return nil
	})
}
