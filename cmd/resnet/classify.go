package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/resnet-go/resnet"
	"github.com/resnet-go/resnet/internal/atomicfile"
	"github.com/resnet-go/resnet/tensor"
)

type classifyFlags struct {
	modelFlags
	topK   int
	json   bool
	logits bool
	batch  int
	output string
	shard  string

	columnFlags
	dataset string // hf:...
}

func classifyCmd() *cobra.Command {
	var f classifyFlags
	cmd := &cobra.Command{
		Use:   "classify [flags] IMAGE|DIR|hf://datasets/ORG/NAME[/SPLIT]...",
		Short: "Print the top classes of images (directories are searched for images)",
		Example: `  resnet classify --model microsoft/resnet-50 cats.png
  resnet classify --model ./resnet-dir --top-k 5 --json a.jpg b.png photos/
  resnet classify --model microsoft/resnet-50 hf://datasets/huggingface/cats-image
  resnet classify --json --shard 3/8 --output out/top.jsonl photos/   # writes out/top-00003-of-00008.jsonl`,
		RunE: func(cmd *cobra.Command, args []string) error { return runClassify(cmd, &f, args) },
	}
	f.register(cmd)
	f.registerDecode(cmd)
	f.registerColumns(cmd)
	cmd.Flags().StringVar(&f.dataset, "dataset", "", "also classify every image of a hub dataset split: hf:ORG/NAME[:CONFIG][@REV][/SPLIT] (the same as the argument hf://datasets/ORG/NAME...)")
	cmd.Flags().IntVarP(&f.topK, "top-k", "k", 5, "how many classes to print per image")
	cmd.Flags().BoolVar(&f.json, "json", false, `one JSON object per image: {"image","top":[{"index","label","score"}]} or {"image","error"}`)
	cmd.Flags().BoolVar(&f.logits, "logits", false, "with --json, include the raw logits")
	cmd.Flags().IntVar(&f.batch, "batch", 8, "images per forward pass")
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "write the results to this file (atomically: complete or absent) instead of standard output")
	cmd.Flags().StringVar(&f.shard, "shard", "", shardHelp)
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
	if f.output != "" {
		if err := refuseInputAsOutput(sh.outputName(f.output), append(paths, f.model, f.labels)...); err != nil {
			return err
		}
	}
	m, err := f.loadAsync(cmd.Context(), nil)
	if err != nil {
		return err
	}
	if m.pre.Config.NumLabels == 0 {
		return fmt.Errorf("%s has no classifier head (num_labels 0): it gives features, not class scores; `resnet embed` writes them", m.pre.Source)
	}
	failed := 0
	if f.output == "" {
		err = f.classifyTo(os.Stdout, m, paths, &failed)
	} else {
		name := sh.outputName(f.output)
		err = atomicfile.WriteFunc(name, func(w io.Writer) error { return f.classifyTo(w, m, paths, &failed) })
		if err == nil {
			// Not "the results of 2 images (all inputs)" when one of them failed: the file
			// holds one result.
			what := fmt.Sprintf("the results of %s (%s)", plural(len(paths)-failed, "image"), sh)
			if failed > 0 {
				what = fmt.Sprintf("the results of %d of %s (%s; %d failed, listed above)", len(paths)-failed, plural(len(paths), "image"), sh, failed)
			}
			fmt.Fprintf(os.Stderr, "wrote %s to %s\n", what, name)
		}
	}
	if err != nil {
		return err
	}
	if failed > 0 {
		return errSomeFailed
	}
	return nil
}

// classifyTo writes the results of paths to w; each image that fails counts in *failed. The
// images are decoded while the model is still being built.
func (f *classifyFlags) classifyTo(w io.Writer, p *pendingModel, paths []string, failed *int) error {
	out := bufio.NewWriter(w)
	defer out.Flush()
	emit := func(r classifyResult) {
		if r.Error != "" {
			*failed++
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
	err := forEachBatchOf(p.wait, p.pre, paths, f.batch, f.threads, func(path string, logits []float32, err error) {
		if err != nil {
			emit(classifyResult{Image: path, Error: err.Error()})
			return
		}
		m, _ := p.wait() // built: results come after its forward pass
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
	return out.Flush()
}

// forEachBatchOf preprocesses images with pre (its processor and decode options), runs them
// in batches through the model net returns and calls fn for every path in input order, with
// its logits or its own error. net is asked for before each forward pass: a model still being
// built (pendingModel) is waited for then, while the first images are being decoded. The
// processor gives every image the same size, so any images can share a batch. Decoding and
// preprocessing run on `workers` goroutines up to two batches ahead of the forward passes, so
// a folder of photos runs at close to the engine's speed (a 512×512 JPEG takes 3.5 ms to
// decode and resize on one Zen 5 core, a seventh of a ResNet-50 forward pass on two). The
// images' tensors and the batch are reused from batch to batch: fresh memory costs a page
// fault per 4 KiB written (2.5 ms of CPU per image before, on a Zen 5 VM), and the heap grew
// to twice the model.
func forEachBatchOf(net func() (*resnet.Model, error), pre *resnet.Model, paths []string, batch, workers int, fn func(path string, logits []float32, err error)) error {
	return runBatches(net, len(paths), batch, workers,
		func(i int, dst []float32) (*tensor.Tensor, error) { return preprocessInput(pre, paths[i], dst) },
		func(i int, logits []float32, err error) error {
			fn(paths[i], logits, err)
			return nil
		})
}

// runBatches is forEachBatchOf for n inputs that load(i, dst) preprocesses (into dst where
// it has room); fn gets each input's logits or error in order and stops the run by
// returning an error, which runBatches returns, as it returns net's error.
func runBatches(net func() (*resnet.Model, error), n, batch, workers int, load func(i int, dst []float32) (*tensor.Tensor, error), fn func(i int, logits []float32, err error) error) error {
	if batch < 1 || workers < 1 {
		return fmt.Errorf("batch %d and workers %d must be at least 1", batch, workers)
	}
	type item struct {
		x    *tensor.Tensor
		err  error
		done chan struct{}
	}
	items := make([]item, n)
	for i := range items {
		items[i].done = make(chan struct{})
	}
	// Tokens bound how far preprocessing runs ahead of the model (memory: a 224² image is
	// 0.6 MB as float32).
	ahead := make(chan struct{}, 2*batch+workers)
	// free holds the pixel buffers of images already copied into a batch.
	free := make(chan []float32, 2*batch+workers)
	next := make(chan int)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(next)
		for i := range n {
			select {
			case ahead <- struct{}{}:
			case <-stop:
				return
			}
			select {
			case next <- i:
			case <-stop:
				return
			}
		}
	}()
	for range max(workers, 1) {
		go func() {
			for i := range next {
				var dst []float32
				select {
				case dst = <-free:
				default:
				}
				items[i].x, items[i].err = load(i, dst)
				close(items[i].done)
			}
		}()
	}
	var x *tensor.Tensor // the batch, reused
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		var xs []*tensor.Tensor
		for i := start; i < end; i++ {
			<-items[i].done
			if items[i].err == nil {
				xs = append(xs, items[i].x)
			}
		}
		// Asked for every batch, images or not, so that a model that cannot be built
		// is an error even where no image decoded.
		m, err := net()
		if err != nil {
			return err
		}
		var logits *tensor.Tensor
		if len(xs) > 0 {
			if x, err = resnet.StackInto(x, xs); err != nil {
				return err
			}
			for _, xi := range xs {
				select {
				case free <- xi.Data:
				default:
				}
			}
			if logits, err = m.Forward(x); err != nil {
				return err
			}
		}
		row := 0
		for i := start; i < end; i++ {
			it := &items[i]
			var err error
			if it.err != nil {
				err = fn(i, nil, it.err)
			} else {
				k := logits.Shape[1]
				err = fn(i, logits.Data[row*k:(row+1)*k], nil)
				row++
			}
			if err != nil {
				return err
			}
			it.x = nil
			<-ahead
		}
	}
	return nil
}
