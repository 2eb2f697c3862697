package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/resnet-go/resnet"
	"github.com/resnet-go/resnet/hub"
	"github.com/resnet-go/resnet/imageproc"
)

// modelFlags are the flags every command that loads a model shares.
type modelFlags struct {
	model, arch, revision, labels string
	quiet                         bool
	// Preprocessing overrides; zero values keep the checkpoint's own settings.
	size, height, width int
	cropPct             float64
	resample            string
	mean, std           []float32
	maxPixels           int
}

func (f *modelFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.model, "model", "m", "", "hub id (microsoft/resnet-50), HF-style directory, or checkpoint file (.safetensors, .pth, .th, .bin); default: the built-in CIFAR-10 ResNet-20")
	fl.StringVar(&f.arch, "arch", "", "architecture of a checkpoint without config.json (e.g. resnet-50, cifar-resnet20; see `resnet info --list`)")
	fl.StringVar(&f.revision, "revision", "", "hub branch, tag or commit (default main)")
	fl.StringVar(&f.labels, "labels", "", "class names file, one per line (replaces the checkpoint's id2label)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress bars")
	fl.IntVar(&f.size, "size", 0, "preprocessing: shortest edge after crop (HF size.shortest_edge)")
	fl.IntVar(&f.height, "height", 0, "preprocessing: resize to exactly this height, no crop (with --width)")
	fl.IntVar(&f.width, "width", 0, "preprocessing: resize to exactly this width, no crop (with --height)")
	fl.Float64Var(&f.cropPct, "crop-pct", 0, "preprocessing: crop fraction (resize to size/crop-pct, then centre crop)")
	fl.StringVar(&f.resample, "resample", "", "preprocessing: nearest, box, bilinear, hamming, bicubic or lanczos")
	fl.Float32SliceVar(&f.mean, "mean", nil, "preprocessing: per-channel mean (3 values)")
	fl.Float32SliceVar(&f.std, "std", nil, "preprocessing: per-channel std (3 values)")
	fl.IntVar(&f.maxPixels, "max-pixels", imageproc.DefaultMaxPixels, "refuse images with more pixels than this (Pillow's limit)")
}

// hubClient is the environment-configured client with a progress bar on stderr.
func (f *modelFlags) hubClient() *hub.Client {
	c := hub.NewFromEnv()
	if !f.quiet {
		c.Progress = func(file string, total int64) io.WriteCloser {
			return &barWriter{progressbar.DefaultBytes(total, "downloading "+file)}
		}
	}
	return c
}

type barWriter struct{ *progressbar.ProgressBar }

func (b *barWriter) Close() error { return b.Finish() }

func (f *modelFlags) options() []resnet.Option {
	opts := []resnet.Option{resnet.WithHub(f.hubClient())}
	if f.arch != "" {
		opts = append(opts, resnet.WithArch(f.arch))
	}
	if f.revision != "" {
		opts = append(opts, resnet.WithRevision(f.revision))
	}
	return opts
}

// checkpoint reads the checkpoint and applies label and preprocessing overrides.
func (f *modelFlags) checkpoint(ctx context.Context, extra ...resnet.Option) (*resnet.Checkpoint, error) {
	var ck *resnet.Checkpoint
	var err error
	if f.model == "" {
		ck, err = resnet.DefaultCheckpoint()
	} else {
		ck, err = resnet.LoadCheckpoint(ctx, f.model, append(f.options(), extra...)...)
	}
	if err != nil {
		return nil, err
	}
	if f.labels != "" {
		data, err := os.ReadFile(f.labels)
		if err != nil {
			return nil, err
		}
		names := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(names) != ck.Config.NumLabels {
			return nil, fmt.Errorf("--labels %s has %d names, the model has %d classes", f.labels, len(names), ck.Config.NumLabels)
		}
		ck.Config.SetLabels(names)
	}
	return ck, f.overrideProcessor(ck.Processor)
}

// load builds the model.
func (f *modelFlags) load(ctx context.Context) (*resnet.Model, error) {
	ck, err := f.checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	m, err := ck.Build()
	if err != nil {
		return nil, err
	}
	m.MaxPixels = f.maxPixels
	return m, nil
}

func (f *modelFlags) overrideProcessor(p *imageproc.Processor) error {
	if f.size > 0 {
		p.ShortestEdge, p.Height, p.Width = f.size, 0, 0
	}
	if (f.height > 0) != (f.width > 0) {
		return fmt.Errorf("--height and --width go together")
	}
	if f.height > 0 {
		p.Height, p.Width, p.ShortestEdge = f.height, f.width, 0
	}
	if f.cropPct != 0 {
		if f.cropPct <= 0 || f.cropPct > 1 {
			return fmt.Errorf("--crop-pct %g must be in (0, 1]", f.cropPct)
		}
		p.CropPct = f.cropPct
	}
	if f.resample != "" {
		filter, err := imageproc.ParseFilter(f.resample)
		if err != nil {
			return err
		}
		p.Resample = filter
	}
	for _, v := range []struct {
		name string
		vals []float32
		dst  *[3]float32
	}{{"--mean", f.mean, &p.Mean}, {"--std", f.std, &p.Std}} {
		if v.vals == nil {
			continue
		}
		if len(v.vals) != 3 {
			return fmt.Errorf("%s needs 3 values, got %d", v.name, len(v.vals))
		}
		copy(v.dst[:], v.vals)
	}
	for _, s := range p.Std {
		if s == 0 {
			return fmt.Errorf("std must not be 0")
		}
	}
	return nil
}
