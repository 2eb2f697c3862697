package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/resnet-go/resnet"
	"github.com/resnet-go/resnet/kernels"
	"github.com/resnet-go/resnet/model"
	"github.com/resnet-go/resnet/tensor"
)

type benchFlags struct {
	modelFlags
	batch, runs, warmup  int
	json, profile, train bool
}

func benchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench [--model M | --arch A] [--train] [--batch N] [--threads T] [--runs R] [--warmup W] [--json] [--profile]",
		Short: "Time forward passes on random input: median/min latency, images per second, peak RSS",
		Example: `  resnet bench --model microsoft/resnet-50 --batch 1 --threads 2 --runs 20
  resnet bench --arch resnet-152 --batch 8 --json     # seeded random weights, no download
  resnet bench --train --arch cifar-resnet20 --batch 128 --threads 2 --runs 10 --json`,
		Args: noArgs("the model goes in --model (or --arch, for random weights)"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runBench(cmd, &f) },
	}
	f.register(cmd)
	cmd.Flags().IntVar(&f.batch, "batch", 1, "images per forward pass (with --train: per SGD step, default 128)")
	cmd.Flags().IntVar(&f.runs, "runs", 10, "timed runs")
	cmd.Flags().IntVar(&f.warmup, "warmup", 3, "untimed runs first")
	cmd.Flags().BoolVar(&f.train, "train", false, "time training steps (forward, backward, SGD update) of --arch on random data instead")
	cmd.Flags().BoolVar(&f.profile, "profile", false, "also time every layer and print where the time goes, by layer kind and by kind and shape")
	cmd.Flags().BoolVar(&f.json, "json", false, "one JSON object: model, engine, median_ms, min_ms, images_per_sec, peak_rss_mb, batch, threads, spin, load_ms, first_ms (and profile and layers with --profile)")
	return cmd
}

// benchResult is the stable JSON of `bench --json` (compare.sh reads median_ms).
type benchResult struct {
	Model        string  `json:"model"`
	Engine       string  `json:"engine"`
	MedianMS     float64 `json:"median_ms"`
	MinMS        float64 `json:"min_ms"`
	ImagesPerSec float64 `json:"images_per_sec"`
	PeakRSSMB    float64 `json:"peak_rss_mb"`
	Batch        int     `json:"batch"`
	Threads      int     `json:"threads"`
	Spin         bool    `json:"spin"` // --spin: the pool polls before it sleeps
	LoadMS       float64 `json:"load_ms"`
	FirstMS      float64 `json:"first_ms"`
	// Profile is the per-layer-kind table of --profile, Layers the same time by kind and shape.
	Profile []profileRow `json:"profile,omitempty"`
	Layers  []profileRow `json:"layers,omitempty"`
}

// profileRow is one layer kind (or kind and shape) of `bench --profile --json`.
type profileRow struct {
	Kind         string  `json:"kind"`
	Shape        string  `json:"shape,omitempty"` // a convolution's "InC->OutC HxW" (input map)
	CallsPerPass int     `json:"calls_per_pass"`
	MSPerPass    float64 `json:"ms_per_pass"`
	Share        float64 `json:"share"`
	GFLOPS       float64 `json:"gflops"`
}

func runBench(cmd *cobra.Command, f *benchFlags) error {
	if f.batch < 1 || f.threads < 1 || f.runs < 1 || f.warmup < 0 {
		return fmt.Errorf("--batch, --threads and --runs must be at least 1, --warmup at least 0")
	}
	if err := f.start(); err != nil {
		return err
	}
	if f.json {
		f.quiet, f.progress = true, false
	}
	if f.train {
		if f.profile {
			return fmt.Errorf("--profile times inference layers; it does not apply to --train")
		}
		if !cmd.Flags().Changed("batch") {
			f.batch = defaultTrainBatch
		}
		return runTrainBench(f)
	}
	// Passes run on random tensors of the model's input size, so the flags that shape
	// images and name classes would change nothing: refused, as for --train, rather than
	// accepted and ignored.
	for _, name := range []string{"crop-pct", "resample", "mean", "std", "preprocess", "labels"} {
		if f.fs.Changed(name) {
			return fmt.Errorf("--%s does not apply to bench, which times forward passes on random tensors (set their size with --size or --height/--width)", name)
		}
	}
	// --arch without --model: the preset with seeded random weights.
	f.randomArch = true
	t0 := time.Now()
	m, err := f.load(cmd.Context())
	if err != nil {
		return err
	}
	load := time.Since(t0)
	h, w := m.Processor.OutputSize()
	x := randomInput(f.batch, m.Config.NumChannels, h, w)
	res, err := timeRuns(f, "resnet-go "+kernels.ISA(), load, func() error {
		_, err := m.Forward(x)
		return err
	})
	if err != nil {
		return err
	}
	res.Model = m.Source
	if f.profile {
		if res.Profile, res.Layers, err = profile(m, x, f.runs); err != nil {
			return err
		}
	}
	if f.json {
		printJSON(res)
		return nil
	}
	fmt.Printf("%s  batch %d  threads %d  (%s)\n", m.Source, f.batch, f.threads, res.Engine)
	fmt.Printf("median %.2f ms  min %.2f ms  %.1f images/s\n", res.MedianMS, res.MinMS, res.ImagesPerSec)
	fmt.Printf("load %.0f ms  first forward %.1f ms  peak RSS %.0f MB\n", res.LoadMS, res.FirstMS, res.PeakRSSMB)
	if f.profile {
		return printProfile(res.Profile, res.Layers)
	}
	return nil
}

// defaultTrainBatch is the batch of `bench --train` without --batch: train's default.
const defaultTrainBatch = 128

// randomInput is a seeded [n, c, h, w] batch of standard-normal values.
func randomInput(n, c, h, w int) *tensor.Tensor {
	x := tensor.New(n, c, h, w)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64())
	}
	return x
}

// timeRuns calls step f.warmup+f.runs times and summarises the timed runs.
func timeRuns(f *benchFlags, engine string, load time.Duration, step func() error) (benchResult, error) {
	var times []float64
	var first time.Duration
	for i := 0; i < f.warmup+f.runs; i++ {
		t := time.Now()
		if err := step(); err != nil {
			return benchResult{}, err
		}
		d := time.Since(t)
		if i == 0 {
			first = d
		}
		if i >= f.warmup {
			times = append(times, float64(d.Microseconds())/1000)
		}
	}
	sort.Float64s(times)
	med := times[len(times)/2]
	return benchResult{
		Engine: engine, MedianMS: med, MinMS: times[0], ImagesPerSec: float64(f.batch) * 1000 / med,
		PeakRSSMB: peakRSSMB(), Batch: f.batch, Threads: f.threads, Spin: kernels.Spinning(), LoadMS: float64(load.Microseconds()) / 1000, FirstMS: float64(first.Microseconds()) / 1000,
	}, nil
}

// profile times every layer over runs passes: sums by layer kind and by kind and shape,
// largest first.
func profile(m *resnet.Model, x *tensor.Tensor, runs int) (kinds, layers []profileRow, err error) {
	prof, err := m.Profile(x, runs)
	if err != nil {
		return nil, nil, err
	}
	var total time.Duration
	for _, l := range prof {
		total += l.Time
	}
	rows := func(ls []model.LayerTime) []profileRow {
		var out []profileRow
		for _, l := range ls {
			out = append(out, profileRow{
				Kind: l.Kind, Shape: l.Shape, CallsPerPass: l.Calls / runs, MSPerPass: float64(l.Time.Microseconds()) / 1000 / float64(runs),
				Share: float64(l.Time) / float64(total), GFLOPS: l.GFLOPS(),
			})
		}
		return out
	}
	return rows(model.ByKind(prof)), rows(prof), nil
}

// printProfile is the per-layer-kind table behind the README's profile note, then the
// same time by layer shape.
func printProfile(kinds, layers []profileRow) error {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\nlayer kind\tcalls/pass\tms/pass\tshare\tGFLOP/s\t")
	for _, l := range kinds {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.1f%%\t%.1f\t\n", l.Kind, l.CallsPerPass, l.MSPerPass, 100*l.Share, l.GFLOPS)
	}
	fmt.Fprintln(tw, "\nlayer kind\tchannels, input\tcalls/pass\tms/pass\tshare\tGFLOP/s\t")
	for _, l := range layers {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f\t%.1f%%\t%.1f\t\n", l.Kind, l.Shape, l.CallsPerPass, l.MSPerPass, 100*l.Share, l.GFLOPS)
	}
	return tw.Flush()
}

// printJSON prints v as one line of JSON, the --json output of the commands.
func printJSON(v any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}
