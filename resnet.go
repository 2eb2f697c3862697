// Package resnet runs deep residual networks (He et al., 2016) in pure Go: load a Hugging Face,
// torchvision or CIFAR checkpoint, preprocess images exactly as the HF image processor does,
// and classify them or extract features.
//
//	m, err := resnet.FromPretrained(ctx, "microsoft/resnet-50")
//	x, err := m.PreprocessFile("cats.png")
//	logits, err := m.Forward(x)
//	top := m.TopK(logits, 5)
package resnet

import (
	"fmt"
	"image"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/imageproc"
	"github.com/resnet-go/resnet/model"
	"github.com/resnet-go/resnet/tensor"
)

// Model is a loaded network with the preprocessing and labels of its checkpoint.
// It is safe for concurrent use.
type Model struct {
	*model.Model
	// Processor turns images into the tensors the network was trained on.
	Processor *imageproc.Processor
	// Source says where the weights came from (a path, or a hub id and commit).
	Source string
	// MaxPixels limits decoded image size (imageproc.DefaultMaxPixels unless changed): it
	// applies where this package decodes (PreprocessFile, the CLI, the server), not to an
	// image.Image the caller decoded and passes to Preprocess.
	MaxPixels int
	// KeepOrientation preprocesses image files as stored instead of turned
	// upright by their EXIF orientation (imageproc.DecodeOptions).
	KeepOrientation bool
}

// Prediction is one class with its softmax probability.
type Prediction struct {
	Index int     `json:"index"`
	Label string  `json:"label"`
	Score float32 `json:"score"`
}

// Preprocess turns one decoded image into a [1, C, H, W] tensor.
func (m *Model) Preprocess(img image.Image) (*tensor.Tensor, error) {
	if img == nil {
		return nil, fmt.Errorf("preprocess: nil image")
	}
	return m.PreprocessRGB(imageproc.ToRGB(img))
}

// PreprocessRGB is Preprocess for an image already in 8-bit RGB.
func (m *Model) PreprocessRGB(img *imageproc.RGB) (*tensor.Tensor, error) {
	return m.PreprocessRGBInto(img, nil)
}

// PreprocessRGBInto is PreprocessRGB writing the pixels into dst where it has room (3·H·W
// of the processor's output size), so that a loop over many images can reuse one buffer;
// the tensor returned then shares dst's memory.
func (m *Model) PreprocessRGBInto(img *imageproc.RGB, dst []float32) (*tensor.Tensor, error) {
	if m.Config.NumChannels != 3 {
		return nil, fmt.Errorf("model expects %d input channels; image preprocessing produces 3", m.Config.NumChannels)
	}
	if err := img.Check(); err != nil {
		return nil, err
	}
	if err := m.Processor.CheckInput(img.W, img.H); err != nil {
		return nil, err
	}
	h, w := m.Processor.OutputSize()
	data := m.Processor.Apply(img, dst)
	return tensor.FromData(data, 1, 3, h, w)
}

// PreprocessFile decodes an image file (JPEG, PNG, GIF, BMP, TIFF, WebP) and preprocesses it.
func (m *Model) PreprocessFile(path string) (*tensor.Tensor, error) {
	img, err := imageproc.DecodeFileWith(path, m.DecodeOptions())
	if err != nil {
		return nil, err
	}
	defer img.Release()
	return m.PreprocessRGB(img)
}

// DecodeOptions are the options PreprocessFile decodes with: MaxPixels and
// KeepOrientation.
func (m *Model) DecodeOptions() imageproc.DecodeOptions {
	return imageproc.DecodeOptions{MaxPixels: m.maxPixels(), KeepOrientation: m.KeepOrientation}
}

func (m *Model) maxPixels() int {
	if m.MaxPixels > 0 {
		return m.MaxPixels
	}
	return imageproc.DefaultMaxPixels
}

// Stack joins [1, C, H, W] tensors of equal shape into one [N, C, H, W] batch.
func Stack(xs []*tensor.Tensor) (*tensor.Tensor, error) {
	return StackInto(nil, xs)
}

// StackInto is Stack writing into dst's memory where it has room (dst may be nil), so that
// a loop over batches can reuse one; the result then shares dst's memory.
func StackInto(dst *tensor.Tensor, xs []*tensor.Tensor) (*tensor.Tensor, error) {
	if len(xs) == 0 {
		return nil, fmt.Errorf("stack: no tensors")
	}
	for i, x := range xs {
		if x == nil {
			return nil, fmt.Errorf("stack: tensor %d is nil", i)
		}
	}
	shape := xs[0].Shape
	per := len(xs[0].Data)
	var data []float32
	if dst != nil && cap(dst.Data) >= len(xs)*per {
		data = dst.Data[:len(xs)*per] // may be longer than dst's last batch
	} else {
		data = make([]float32, len(xs)*per)
	}
	for i, x := range xs {
		if !tensor.SameShape(x.Shape, shape) || len(x.Data) != per {
			return nil, fmt.Errorf("stack: tensor %d has shape %s (%d values), the first has %s (%d)", i, tensor.Format(x.Shape), len(x.Data), tensor.Format(shape), per)
		}
		copy(data[i*per:], x.Data)
	}
	return tensor.FromData(data, append([]int{len(xs) * shape[0]}, shape[1:]...)...)
}

// TopK returns the k highest-scoring classes of each row of logits, best first, with their
// scores (softmax probabilities, or sigmoids for multi-label and single-logit models: Scores)
// and the checkpoint's id2label names.
func (m *Model) TopK(logits *tensor.Tensor, k int) [][]Prediction {
	return TopK(logits, k, &m.Config)
}

// TopK is Model.TopK for any [N, classes] logits (or one image's [classes]) and label set.
// Logits that cannot be cfg's class scores are a caller's mistake, and it panics saying which
// rather than score them: a pixel tensor, another model's logits, the features of a model
// without a classifier head (num_labels 0) or a shape its data does not fill.
func TopK(logits *tensor.Tensor, k int, cfg *arch.Config) [][]Prediction {
	if logits == nil || cfg == nil {
		panic("resnet.TopK: nil logits or config")
	}
	shape := logits.Shape
	if len(shape) == 1 {
		shape = []int{1, shape[0]} // one image's logits (Tensor.Slice of a batch)
	}
	switch {
	case len(shape) != 2:
		panic(fmt.Sprintf("resnet.TopK: logits must be [N, classes] or [classes], got %s", tensor.Format(logits.Shape)))
	case len(logits.Data) != shape[0]*shape[1]:
		panic(fmt.Sprintf("resnet.TopK: logits of shape %s need %d values, have %d", tensor.Format(logits.Shape), shape[0]*shape[1], len(logits.Data)))
	case cfg.NumLabels == 0:
		panic("resnet.TopK: the model has no classifier head (num_labels 0): its outputs are features, not class scores")
	case shape[1] != cfg.NumLabels:
		panic(fmt.Sprintf("resnet.TopK: logits of shape %s have %d classes, the model %d", tensor.Format(logits.Shape), shape[1], cfg.NumLabels))
	}
	n, classes := shape[0], shape[1]
	k = max(0, min(k, classes)) // a negative k panicked in topIndices
	out := make([][]Prediction, n)
	for i := range out {
		row := logits.Data[i*classes : (i+1)*classes]
		probs := Scores(row, cfg)
		for _, idx := range topIndices(row, k) {
			out[i] = append(out[i], Prediction{Index: idx, Label: cfg.Label(idx), Score: probs[idx]})
		}
	}
	return out
}
