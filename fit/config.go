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
	// Decoding says how the images were decoded where that is not the default, e.g. "EXIF
	// orientation not applied"; it is recorded so that a resumed run uses the same images.
	Decoding string

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
	if l, ok := singleLabel(c.Train.Labels); ok {
		// Softmax over one class has zero loss from the first step: the run would report
		// 0% error for a model that answers the same class to everything (a --dataset
		// pointed one folder too deep, at train/cat instead of train).
		name := fmt.Sprint(l)
		if l < len(c.Train.Classes) {
			name = fmt.Sprintf("%q", c.Train.Classes[l])
		}
		if len(c.Train.Classes) <= 1 {
			return fmt.Errorf("fit: the training data has one class (%s); a classifier needs at least two: a folder dataset holds one folder per class, so point --dataset at the folder that holds them", name)
		}
		return fmt.Errorf("fit: every training image has the same class (%s, one of %d); a classifier needs images of at least two", name, len(c.Train.Classes))
	}
	if c.Test != nil && (c.Test.C != c.Train.C || c.Test.H != c.Train.H || c.Test.W != c.Train.W) {
		return fmt.Errorf("fit: test images are %dx%dx%d, training images %dx%dx%d", c.Test.C, c.Test.H, c.Test.W, c.Train.C, c.Train.H, c.Train.W)
	}
	return nil
}

// singleLabel reports whether all labels are one value, and which.
func singleLabel(labels []int) (int, bool) {
	for _, l := range labels[1:] {
		if l != labels[0] {
			return 0, false
		}
	}
	return labels[0], true
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
	// Version 2 adds the settings below, which a resumed run silently took from its new
	// arguments before (another --milestones changed the schedule's remainder; another
	// --normalize fed the weights differently scaled input and wrote that preprocessing
	// beside them). Checkpoints without a version resume whatever these say.
	Version        int    `json:"version,omitempty"`
	Milestones     string `json:"milestones,omitempty"` // multistep only
	Nesterov       bool   `json:"nesterov,omitempty"`
	NoDecayBNBias  bool   `json:"no_decay_bn_bias,omitempty"`
	Normalize      string `json:"normalize,omitempty"`
	FreezeBackbone bool   `json:"freeze_backbone,omitempty"`
	Decoding       string `json:"decoding,omitempty"` // Config.Decoding
}

// fingerprintVersion is the version fingerprint writes.
const fingerprintVersion = 2

// upTo returns now with the settings that a checkpoint of f's version did not record
// set to f's, so that they are not compared.
func (f fingerprint) upTo(now fingerprint) fingerprint {
	if f.ImageSize == "" {
		now.ImageSize = "" // written before the size was recorded
	}
	if f.Version < 2 {
		now.Version, now.Milestones, now.Nesterov, now.NoDecayBNBias = f.Version, f.Milestones, f.Nesterov, f.NoDecayBNBias
		now.Normalize, now.FreezeBackbone, now.Decoding = f.Normalize, f.FreezeBackbone, f.Decoding
	}
	return now
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
	add("--milestones", f.Milestones, now.Milestones)
	add("--nesterov", f.Nesterov, now.Nesterov)
	add("--no-decay-bn", f.NoDecayBNBias, now.NoDecayBNBias)
	add("normalization (--normalize)", or(f.Normalize, "none"), or(now.Normalize, "none"))
	add("--freeze-backbone", f.FreezeBackbone, now.FreezeBackbone)
	add("image decoding", or(f.Decoding, "default"), or(now.Decoding, "default"))
	return strings.Join(out, ", ")
}

func (c *Config) fingerprint() fingerprint {
	a, _ := c.Arch.MarshalJSON()
	f := fingerprint{Arch: string(a), TrainImages: c.Train.Len(), Batch: c.Batch, Epochs: c.Epochs, LR: c.LR, Schedule: c.Schedule, Seed: c.Seed,
		Augment: c.Augment, Momentum: c.Momentum, WeightDecay: c.WeightDecay, WarmupEpochs: c.WarmupEpochs,
		ImageSize: fmt.Sprintf("%dx%d", c.Train.W, c.Train.H),
		Version:   fingerprintVersion, Nesterov: c.Nesterov, NoDecayBNBias: c.NoDecayBNBias, FreezeBackbone: c.FreezeBackbone, Decoding: c.Decoding}
	if c.Schedule == "multistep" && len(c.Milestones) > 0 {
		f.Milestones = strings.Trim(fmt.Sprint(c.Milestones), "[]")
	}
	if c.Normalize.Mean != nil || c.Normalize.Std != nil {
		f.Normalize = fmt.Sprintf("mean %v std %v", c.Normalize.Mean, c.Normalize.Std)
	}
	return f
}

// or is s, or what an empty s means.
func or(s, empty string) string {
	if s == "" {
		return empty
	}
	return s
}
