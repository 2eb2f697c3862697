// Package fit runs whole training jobs: epochs of SGD steps over a data loader, evaluation,
// metrics and plots after every epoch, atomic checkpoints, exact resume, and the HF-style
// model directory that classify, eval, info and bench accept.
package fit

import (
	"fmt"
	"io"
	"strings"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/datasets"
	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/weights"
)

// Config describes one training run. Everything that decides the numbers (architecture,
// data, seed, optimiser, schedule) is recorded in the checkpoint; a resumed run must match.
type Config struct {
	Arch        *arch.Config
	Train, Test *datasets.Dataset // Test may be nil

	Epochs, Batch int
	LR            float64
	Momentum      float64
	WeightDecay   float64
	Nesterov      bool
	NoDecayBNBias bool
	// Schedule is "cosine", "multistep" (Milestones in epochs, ×0.1 each), or "constant".
	Schedule     string
	Milestones   []int
	WarmupEpochs int

	Seed             uint64
	Augment          bool // 4-pixel padding, random crop, horizontal flip (He et al. §4.2)
	Normalize        datasets.Normalize
	ZeroInitResidual bool

	// Init starts from these weights (HF names) instead of random ones; a classifier of the
	// wrong width is replaced by a fresh one (fine-tuning).
	Init weights.StateDict
	// InitLabels are Init's class names (its id2label), or nil when unknown. A classifier of
	// the right width is kept only when its classes are the dataset's: by name, its rows put
	// in the dataset's order; a head for other classes is replaced like a wrong-width one.
	InitLabels []string
	// FreezeBackbone trains only the classifier.
	FreezeBackbone bool

	Out    string // output directory
	Resume bool
	// Quiet drops the per-epoch progress bar; Log receives one line per epoch (nil: none).
	Quiet bool
	Log   io.Writer

	// afterStep, for tests, runs after every optimiser step.
	afterStep func(t *train.Trainer)
}

// check rejects settings that cannot train.
func (c *Config) check() error {
	switch {
	case c.Arch == nil:
		return fmt.Errorf("fit: no architecture")
	case c.Train == nil || c.Train.Len() == 0:
		return fmt.Errorf("fit: no training data")
	case c.Epochs < 1:
		return fmt.Errorf("fit: --epochs %d must be at least 1", c.Epochs)
	case c.Batch < 1:
		return fmt.Errorf("fit: --batch %d must be at least 1", c.Batch)
	case c.Batch > c.Train.Len():
		return fmt.Errorf("fit: batch size %d is larger than the %d training images", c.Batch, c.Train.Len())
	case c.LR <= 0:
		return fmt.Errorf("fit: learning rate %g must be positive", c.LR)
	case c.Out == "":
		return fmt.Errorf("fit: no output directory")
	case c.Train.C != c.Arch.NumChannels:
		return fmt.Errorf("fit: the data has %d channels, the architecture expects %d", c.Train.C, c.Arch.NumChannels)
	}
	if c.Test != nil && (c.Test.C != c.Train.C || c.Test.H != c.Train.H || c.Test.W != c.Train.W) {
		return fmt.Errorf("fit: test images are %dx%dx%d, training images %dx%dx%d", c.Test.C, c.Test.H, c.Test.W, c.Train.C, c.Train.H, c.Train.W)
	}
	return nil
}

// alignTest returns the test split with its labels as training class indices, matched by
// class name (a test folder may list its classes in another order, or only some of them), or
// an error naming the test classes the training data does not have.
func (c *Config) alignTest() (*datasets.Dataset, error) {
	if c.Test == nil {
		return nil, nil
	}
	m, err := datasets.MapLabels(c.Test.Classes, c.Train.Classes)
	if err != nil {
		return nil, fmt.Errorf("fit: the test split's classes do not match the training split's: %w", err)
	}
	identity := len(c.Test.Classes) == len(c.Train.Classes)
	for i, j := range m.ToModel {
		identity = identity && i == j
	}
	if identity {
		return c.Test, nil
	}
	t := *c.Test
	t.Classes = c.Train.Classes
	t.Labels = make([]int, len(c.Test.Labels))
	for i, l := range c.Test.Labels {
		t.Labels[i] = m.ToModel[l]
	}
	return &t, nil
}

// schedule builds the learning-rate schedule for itersPerEpoch steps per epoch.
func (c *Config) schedule(itersPerEpoch int) (train.Schedule, error) {
	total := c.Epochs * itersPerEpoch
	warm := c.WarmupEpochs * itersPerEpoch
	switch c.Schedule {
	case "", "cosine":
		return train.Cosine{Base: c.LR, Total: total, Warmup: warm, WarmupStart: 0.1}, nil
	case "multistep":
		ms := c.Milestones
		if len(ms) == 0 {
			// The paper's 32k and 48k of 64k iterations: at half and three quarters.
			ms = []int{c.Epochs / 2, c.Epochs * 3 / 4}
		}
		return train.MultiStep{Base: c.LR, Gamma: 0.1, Milestones: train.EpochMilestones(ms, itersPerEpoch), Warmup: warm, WarmupStart: 0.1}, nil
	case "constant":
		return train.Constant(c.LR), nil
	}
	return nil, fmt.Errorf("fit: unknown schedule %q (cosine, multistep or constant)", c.Schedule)
}

// fingerprint is what a resumed run must share with the run that wrote the checkpoint.
type fingerprint struct {
	Arch         string  `json:"arch"`
	TrainImages  int     `json:"train_images"`
	Batch        int     `json:"batch"`
	Epochs       int     `json:"epochs"`
	LR           float64 `json:"lr"`
	Schedule     string  `json:"schedule"`
	Seed         uint64  `json:"seed"`
	Augment      bool    `json:"augment"`
	Momentum     float64 `json:"momentum"`
	WeightDecay  float64 `json:"weight_decay"`
	WarmupEpochs int     `json:"warmup_epochs"`
	// ImageSize is the training images' W×H ("32x32"): train --size changes it and nothing
	// else. Checkpoints written before it was recorded have none and resume at any size.
	ImageSize string `json:"image_size,omitempty"`
}

// diff names the settings in which now differs from f (the checkpoint's), as the flags
// that set them: "--epochs 1 (now 2), --lr 0.1 (now 0.5)".
func (f fingerprint) diff(now fingerprint) string {
	var out []string
	add := func(name string, was, is any) {
		if was != is {
			out = append(out, fmt.Sprintf("%s %v (now %v)", name, was, is))
		}
	}
	if f.Arch != now.Arch {
		out = append(out, "the architecture (--arch, or --init's config.json)")
	}
	add("training images (--subset, --dataset)", f.TrainImages, now.TrainImages)
	add("--batch", f.Batch, now.Batch)
	add("--epochs", f.Epochs, now.Epochs)
	add("--lr", f.LR, now.LR)
	add("--schedule", f.Schedule, now.Schedule)
	add("--seed", f.Seed, now.Seed)
	add("augmentation (--no-augment)", f.Augment, now.Augment)
	add("--momentum", f.Momentum, now.Momentum)
	add("--weight-decay", f.WeightDecay, now.WeightDecay)
	add("--warmup", f.WarmupEpochs, now.WarmupEpochs)
	add("image size (--size)", f.ImageSize, now.ImageSize)
	return strings.Join(out, ", ")
}

func (c *Config) fingerprint() fingerprint {
	a, _ := c.Arch.MarshalJSON()
	return fingerprint{string(a), c.Train.Len(), c.Batch, c.Epochs, c.LR, c.Schedule, c.Seed, c.Augment, c.Momentum, c.WeightDecay, c.WarmupEpochs,
		fmt.Sprintf("%dx%d", c.Train.W, c.Train.H)}
}
