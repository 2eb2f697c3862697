package main

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sort"
	"sync"

	"github.com/resnet-go/resnet/internal/atomicfile"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/resnet-go/resnet"
	"github.com/resnet-go/resnet/datasets"
	"github.com/resnet-go/resnet/tensor"
)

type evalFlags struct {
	modelFlags
	columnFlags
	dataset     string
	json        bool
	predictions string
	batch       int
	limit       int
	onBad       string
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
	cmd.Flags().StringVar(&f.dataset, "dataset", "", "KIND:PATH (cifar10, folder, mnist, fashion-mnist) or hf:ORG/NAME[:CONFIG][@REV][/SPLIT]; cifar10:DIR reads DIR/test_batch.bin (or a .bin file); the dataset's class names are matched to the model's labels by name")
	f.registerColumns(cmd)
	cmd.Flags().BoolVar(&f.json, "json", false, `print {"accuracy","correct","total","classes_matched","classes_total","class_mapping"} as one JSON line`)
	cmd.Flags().StringVar(&f.predictions, "predictions", "", "also write one predicted model class index (id2label key) per line, one per evaluated example in dataset order")
	cmd.Flags().IntVar(&f.batch, "batch", 64, "images per forward pass")
	cmd.Flags().IntVar(&f.limit, "limit", 0, "evaluate a seeded random sample of N examples (the same N every run, kept in dataset order) instead of all")
	cmd.Flags().StringVar(&f.onBad, "on-bad-image", "fail", "an unreadable image in a folder or hf: dataset: fail, or skip (each is listed on stderr, the count is reported, and accuracy is over the rest)")
	return cmd
}

// evalResult is the stable JSON of `eval --json`.
type evalResult struct {
	Accuracy float64 `json:"accuracy"`
	Correct  int     `json:"correct"`
	Total    int     `json:"total"`
	// ClassesMatched of the dataset's ClassesTotal classes were found among the model's
	// labels (all of them, or eval refuses); ClassMapping is "name", or "position" for a
	// model whose labels are only the generic LABEL_i (see datasets.MapLabels).
	ClassesMatched int    `json:"classes_matched"`
	ClassesTotal   int    `json:"classes_total"`
	ClassMapping   string `json:"class_mapping"`
	// Skipped is the number of unreadable images left out with --on-bad-image skip (not
	// counted in Total).
	Skipped int `json:"skipped"`
}

func runEval(cmd *cobra.Command, f *evalFlags) error {
	if f.dataset == "" {
		return fmt.Errorf("--dataset is required (e.g. cifar10:../shared/data/cifar10)")
	}
	if err := checkPositive(f.fs, map[string]int{"batch": f.batch, "limit": f.limit}); err != nil {
		return err // a --limit 0 given evaluated everything
	}
	if f.predictions != "" {
		if err := atomicfile.CheckTarget(f.predictions); err != nil {
			return err // before the evaluation, not after it
		}
	}
	spec, err := datasets.ParseSpec(f.dataset)
	if err != nil {
		return err
	}
	m, err := f.load(cmd.Context())
	if err != nil {
		return err
	}
	f.columnFlags.hub = f.hubClient() // progress bars for hf: downloads
	policy, err := datasets.ParseBadImagePolicy(f.onBad)
	if err != nil {
		return err
	}
	opts := f.datasetOptions()
	opts.MaxPixels = f.maxPixels
	opts.OnBadImage, opts.Warn = policy, os.Stderr
	examples, classes, skipped, err := spec.LoadWithOptions(datasets.Test, opts)
	if err != nil {
		return err
	}
	// Score predictions (model class indices) against the model class of each example's
	// dataset class, matched by name: never the dataset's own indices.
	labels := make([]string, m.Config.NumLabels)
	for i := range labels {
		labels[i] = m.Config.Label(i)
	}
	mapping, err := datasets.MapLabels(classes, labels)
	if err != nil {
		return fmt.Errorf("%s: %w; evaluate a model trained on these classes, or name the model's classes with --labels FILE", spec, err)
	}
	examples = sample(examples, f.limit)
	preds, err := predictAll(m, examples, f.batch, f.threads, f.bars())
	if err != nil {
		return err
	}
	res := evalResult{Total: len(examples), ClassesMatched: mapping.Matched, ClassesTotal: mapping.Total, ClassMapping: mapping.Method(), Skipped: len(skipped)}
	for i, ex := range examples {
		if preds[i] == mapping.ToModel[ex.Label] {
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
		fmt.Printf("accuracy %.2f%% (%d/%d) on %s; %s", 100*res.Accuracy, res.Correct, res.Total, f.dataset, mapping)
		if res.Skipped > 0 {
			fmt.Printf("; %d unreadable images skipped, not counted (listed on stderr)", res.Skipped)
		}
		fmt.Println()
	}
	return nil
}

// sample returns n examples drawn without replacement by a fixed seed, in dataset order, or
// all of them when n is 0 or covers the set. A class folder lists its examples class by class,
// so its first n would cover only the first classes.
func sample(examples []datasets.Example, n int) []datasets.Example {
	if n <= 0 || n >= len(examples) {
		return examples
	}
	idx := rand.New(rand.NewPCG(1, 2)).Perm(len(examples))[:n]
	sort.Ints(idx)
	out := make([]datasets.Example, n)
	for i, j := range idx {
		out[i] = examples[j]
	}
	return out
}

// predictAll returns the arg-max class of every example. Each batch is preprocessed on
// `workers` goroutines.
func predictAll(m *resnet.Model, examples []datasets.Example, batch, workers int, bars bool) ([]int, error) {
	bar := progressbar.NewOptions(len(examples), progressbar.OptionSetDescription("evaluating"),
		progressbar.OptionSetWriter(os.Stderr), progressbar.OptionShowCount(), progressbar.OptionShowIts(),
		progressbar.OptionSetVisibility(bars), progressbar.OptionClearOnFinish())
	defer bar.Finish()
	preds := make([]int, len(examples))
	// Each slot's pixels and the batch are reused from batch to batch (see forEachBatch).
	bufs := make([][]float32, batch)
	var x *tensor.Tensor
	for start := 0; start < len(examples); start += batch {
		end := min(start+batch, len(examples))
		xs := make([]*tensor.Tensor, end-start)
		errs := make([]error, end-start)
		var wg sync.WaitGroup
		next := make(chan int, end-start)
		for i := range xs {
			next <- i
		}
		close(next)
		for range min(max(workers, 1), len(xs)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					xs[i], errs[i] = m.PreprocessRGBInto(examples[start+i].Image, bufs[i])
					if errs[i] == nil {
						bufs[i] = xs[i].Data
					}
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		var err error
		if x, err = resnet.StackInto(x, xs); err != nil {
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
