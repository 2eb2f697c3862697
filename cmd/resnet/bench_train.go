package main

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/kernels"
	"github.com/resnet-go/resnet/train"
)

// runTrainBench times SGD steps (momentum 0.9, weight decay 1e-4, as compare.sh's PyTorch side)
// of a freshly initialised network on random images and labels.
func runTrainBench(f *benchFlags) error {
	if f.arch == "" {
		return fmt.Errorf("--train needs --arch (e.g. cifar-resnet20)")
	}
	if f.model != "" {
		return fmt.Errorf("--train times a freshly initialised --arch; it does not load --model")
	}
	h, w, err := trainBenchSize(f)
	if err != nil {
		return err
	}
	cfg, err := arch.Preset(f.arch)
	if err != nil {
		return err
	}
	if h == 0 {
		h, w = 224, 224
		if cfg.Stem == arch.StemCIFAR {
			h, w = 32, 32
		}
	}
	t0 := time.Now()
	net, err := train.New(cfg, train.InitOptions{Seed: 1})
	if err != nil {
		return err
	}
	tr, err := train.NewTrainer(net, train.SGDConfig{Momentum: 0.9, WeightDecay: 1e-4}, train.Constant(0.01))
	if err != nil {
		return err
	}
	load := time.Since(t0)
	x := randomInput(f.batch, cfg.NumChannels, h, w)
	rng := rand.New(rand.NewPCG(3, 4))
	labels := make([]int, f.batch)
	for i := range labels {
		labels[i] = rng.IntN(max(cfg.NumLabels, 1))
	}
	res, err := timeRuns(f, "resnet-go train "+kernels.ISA(), load, func() error {
		_, _, err := tr.Step(x, labels)
		return err
	})
	if err != nil {
		return err
	}
	res.Model = fmt.Sprintf("%s (random weights, seed 1)", f.arch)
	if f.json {
		printJSON(res)
		return nil
	}
	fmt.Printf("%s training  batch %d  %d×%d  threads %d  (%s)\n", f.arch, f.batch, h, w, f.threads, res.Engine)
	fmt.Printf("median %.1f ms/step  min %.1f ms  %.0f images/s  peak RSS %.0f MB\n", res.MedianMS, res.MinMS, res.ImagesPerSec, res.PeakRSSMB)
	return nil
}

// trainBenchSize is the input size --train times: --size N×N or --height×--width, 0 for the
// architecture's own (224², CIFAR's 32²). The other preprocessing flags shape images, and
// --train feeds random tensors, so they are refused rather than ignored.
func trainBenchSize(f *benchFlags) (h, w int, err error) {
	for _, name := range []string{"crop-pct", "resample", "mean", "std", "preprocess", "labels", "revision"} {
		if f.fs.Changed(name) {
			return 0, 0, fmt.Errorf("--%s does not apply to --train, which times random tensors (set their size with --size or --height/--width)", name)
		}
	}
	if err := f.checkSize(); err != nil {
		return 0, 0, err
	}
	if f.size > 0 {
		return f.size, f.size, nil
	}
	return f.height, f.width, nil
}
