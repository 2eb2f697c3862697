package main

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/resnet-go/resnet/internal/atomicfile"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

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
		Args:    noArgs("the dataset goes in --dataset KIND:PATH (cifar10:DIR, folder:DIR, hf:ORG/NAME, ...), the model in --model"),
		RunE:    func(cmd *cobra.Command, _ []string) error { return runEval(cmd, &f) },
	}
	f.register(cmd)
	f.registerDecode(cmd)
	cmd.Flags().StringVar(&f.dataset, "dataset", "", "KIND:PATH (cifar10, folder, mnist, fashion-mnist) or hf:ORG/NAME[:CONFIG][@REV][/SPLIT]; cifar10:DIR reads DIR/test_batch.bin (or a .bin file); the dataset's class names are matched to the model's labels by name")
	f.registerColumns(cmd)
	cmd.Flags().BoolVar(&f.json, "json", false, `print {"accuracy","correct","total","classes_matched","classes_total","class_mapping"} as one JSON line`)
	cmd.Flags().StringVar(&f.predictions, "predictions", "", "also write, per evaluated example in dataset order, its predicted model class index (id2label key), a tab, and the example: its image's path (class folders, hub datasets) or its index in the split (cifar10, mnist)")
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
	if err := checkDecodeFlags(f.fs, spec); err != nil {
		return err
	}
	// The network is built on its own goroutine while the dataset is listed or read and the
	// first images are decoded (as in classify); m, its config and processor, is all that
	// needs until the first forward pass.
	pm, err := f.loadAsync(cmd.Context(), nil)
	if err != nil {
		return err
	}
	m := pm.pre
	f.columnFlags.hub = f.hubClient() // progress bars for hf: downloads
	policy, err := datasets.ParseBadImagePolicy(f.onBad)
	if err != nil {
		return err
	}
	opts := f.datasetOptions()
	opts.MaxPixels, opts.KeepOrientation = f.maxPixels, !f.exifTranspose
	opts.OnBadImage, opts.Warn = policy, os.Stderr
	// Folders and hub datasets stream through the model, decoded batch by batch; the
	// other kinds are small files read whole.
	var (
		classes, labels []string
		mapping         *datasets.LabelMapping
		preds, want     []int    // per evaluated example: the model's class, the true one
		ids             []string // and which example it is, for --predictions
		skipped         []datasets.BadImage
	)
	matchLabels := func() error {
		labels = make([]string, m.Config.NumLabels)
		for i := range labels {
			labels[i] = m.Config.Label(i)
		}
		// Score predictions (model class indices) against the model class of each
		// example's dataset class, matched by name: never the dataset's own indices.
		var err error
		if mapping, err = datasets.MapLabels(classes, labels); err != nil {
			return fmt.Errorf("%s: %w; evaluate a model trained on these classes, or name the model's classes with --labels FILE", spec, err)
		}
		return nil
	}
	if spec.EncodedImages() {
		listing, err := spec.List(datasets.Test, opts)
		if err != nil {
			return err
		}
		classes, skipped = listing.Classes, listing.Skipped
		if err := matchLabels(); err != nil {
			return err
		}
		var more []datasets.BadImage
		noteLimit(f.limit, len(listing.Listed))
		preds, want, ids, more, err = predictListed(pm, sample(listing.Listed, f.limit), opts, spec, f.batch, f.threads, f.bars())
		if err != nil {
			return err
		}
		skipped = append(skipped, more...)
		if _, err := pm.wait(); err != nil {
			return err // where no batch ran, none asked for it
		}
		if len(preds) == 0 {
			return fmt.Errorf("%s: no readable images (%d unreadable)", spec, len(skipped))
		}
	} else {
		var examples []datasets.Example
		if examples, classes, skipped, err = spec.LoadWithOptions(datasets.Test, opts); err != nil {
			return err
		}
		if err := matchLabels(); err != nil {
			return err
		}
		noteLimit(f.limit, len(examples))
		idx := make([]int, len(examples))
		for i := range idx {
			idx[i] = i
		}
		idx = sample(idx, f.limit) // the examples sample(examples, f.limit) would give
		picked := make([]datasets.Example, len(idx))
		for j, i := range idx {
			picked[j] = examples[i]
			ids = append(ids, strconv.Itoa(i))
		}
		examples = picked
		if preds, err = predictAll(pm, examples, f.batch, f.threads, f.bars()); err != nil {
			return err
		}
		if _, err := pm.wait(); err != nil {
			return err // where no batch ran, none asked for it
		}
		for _, ex := range examples {
			want = append(want, ex.Label)
		}
	}
	res := evalResult{Total: len(preds), ClassesMatched: mapping.Matched, ClassesTotal: mapping.Total, ClassMapping: mapping.Method(), Skipped: len(skipped)}
	for i, p := range preds {
		if p == mapping.ToModel[want[i]] {
			res.Correct++
		}
	}
	res.Accuracy = float64(res.Correct) / float64(res.Total)
	if f.predictions != "" {
		if err := writePredictions(f.predictions, preds, ids); err != nil {
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

// noteLimit says on stderr when --limit asks for more examples than the split has, so that
// "--limit 50000" on a 10000-image split does not read as a 50000-image evaluation.
func noteLimit(limit, total int) {
	if limit > total {
		fmt.Fprintf(os.Stderr, "note: --limit %d is more than the split's %d examples; evaluating all %d\n", limit, total, total)
	}
}

// sample returns n examples drawn without replacement by a fixed seed, in dataset order, or
// all of them when n is 0 or covers the set. A class folder lists its examples class by class,
// so its first n would cover only the first classes.
func sample[T any](examples []T, n int) []T {
	if n <= 0 || n >= len(examples) {
		return examples
	}
	idx := rand.New(rand.NewPCG(1, 2)).Perm(len(examples))[:n]
	sort.Ints(idx)
	out := make([]T, n)
	for i, j := range idx {
		out[i] = examples[j]
	}
	return out
}

// decodeError marks an image that could not be decoded (the bad-image policy applies),
// as against one that could not be preprocessed (an error that stops eval, as it did
// when datasets were decoded whole).
type decodeError struct{ error }

func (e decodeError) Unwrap() error { return e.error }

// predictListed streams listed images through the model: decoded and preprocessed on
// workers goroutines while the model runs (runBatches), never all held at once. It returns
// the arg-max class and the true label of every image that decoded; one that did not stops
// the run under BadImageFail, or is reported to opts.Warn and returned in skipped under
// BadImageSkip. names are the evaluated images' names, in order.
func predictListed(p *pendingModel, items []datasets.Listed, opts datasets.Options, spec datasets.Spec, batch, workers int, bars bool) (preds, labels []int, names []string, skipped []datasets.BadImage, err error) {
	preds, kept, err := predictEach(p, len(items), batch, workers, bars, func(i int, dst []float32) (*tensor.Tensor, error) {
		img, err := items[i].Decode(opts)
		if err != nil {
			return nil, decodeError{err}
		}
		defer img.Release()
		return p.pre.PreprocessRGBInto(img, dst)
	}, func(i int, err error) error {
		var de decodeError
		if !errors.As(err, &de) {
			return fmt.Errorf("%s: %w", items[i].Name, err)
		}
		b := datasets.BadImage{Path: items[i].Name, Err: de.error}
		if opts.OnBadImage == datasets.BadImageFail {
			return fmt.Errorf("%s: %w; skip unreadable images (--on-bad-image skip) to leave them out", spec, b)
		}
		if opts.Warn != nil {
			fmt.Fprintf(opts.Warn, "datasets: skipping %v\n", b)
		}
		skipped = append(skipped, b)
		return nil
	})
	for _, i := range kept {
		labels, names = append(labels, items[i].Label), append(names, items[i].Name)
	}
	return preds, labels, names, skipped, err
}

// predictAll returns the arg-max class of every example (decoded already), preprocessed on
// `workers` goroutines while the model runs; an error stops it.
func predictAll(p *pendingModel, examples []datasets.Example, batch, workers int, bars bool) ([]int, error) {
	preds, _, err := predictEach(p, len(examples), batch, workers, bars, func(i int, dst []float32) (*tensor.Tensor, error) {
		return p.pre.PreprocessRGBInto(examples[i].Image, dst)
	}, func(_ int, err error) error { return err })
	return preds, err
}

// predictEach runs n images through the model p (waited for at the first batch, so that it is
// built while the first images are preprocessed) with runBatches, load(i, dst) preprocessing
// image i, and returns in order the arg-max class of each image that loaded and its index.
// An image that did not goes to bad, which stops the run by returning an error or leaves
// the image out by returning nil.
func predictEach(p *pendingModel, n, batch, workers int, bars bool, load func(i int, dst []float32) (*tensor.Tensor, error), bad func(i int, err error) error) (preds, kept []int, err error) {
	bar := progressbar.NewOptions(n, progressbar.OptionSetDescription("evaluating"),
		progressbar.OptionSetWriter(os.Stderr), progressbar.OptionShowCount(), progressbar.OptionShowIts(),
		progressbar.OptionSetVisibility(bars), progressbar.OptionClearOnFinish(),
		progressbar.OptionThrottle(100*time.Millisecond)) // it counts images, not batches
	defer bar.Finish()
	err = runBatches(p.wait, n, batch, workers, load, func(i int, logits []float32, err error) error {
		bar.Add(1)
		if err != nil {
			return bad(i, err)
		}
		t := &tensor.Tensor{Shape: []int{1, len(logits)}, Data: logits}
		preds, kept = append(preds, p.pre.TopK(t, 1)[0][0].Index), append(kept, i)
		return nil
	})
	return preds, kept, err
}

// writePredictions writes one line per evaluated example: the predicted class, a tab, and
// which example it was (ids), so that lines stay tied to their images when unreadable ones
// are skipped or --limit samples (a bare list of classes could not be lined up with either).
func writePredictions(path string, preds []int, ids []string) error {
	return atomicfile.WriteFunc(path, func(w io.Writer) error {
		for i, p := range preds {
			if _, err := fmt.Fprintf(w, "%d\t%s\n", p, ids[i]); err != nil {
				return err
			}
		}
		return nil
	})
}
