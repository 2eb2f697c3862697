// Package model assembles a runnable ResNet from an architecture spec and a checkpoint's
// tensors: it checks every tensor by name and shape (as PyTorch's load_state_dict does),
// folds batch normalisation into the convolutions, and runs the forward pass.
package model

import (
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/kernels"
	"github.com/resnet-go/resnet/nn"
	"github.com/resnet-go/resnet/tensor"
	"github.com/resnet-go/resnet/weights"
)

// Model is a loaded ResNet ready for inference. Weights are read-only after New, so one Model
// may serve many goroutines; each Forward call uses its own scratch memory.
type Model struct {
	Config arch.Config
	Spec   arch.Spec

	stem   *nn.ConvBN
	blocks []block
	// Classifier, absent when NumLabels is 0.
	fcWeight, fcBias []float32
	// runners pools forward-pass scratch memory per input size ([2]int{h, w} → *sync.Pool).
	runners sync.Map
}

type block struct {
	spec  arch.Block
	convs []*nn.ConvBN
	proj  *nn.ConvBN
}

// New checks the checkpoint against the architecture and builds the model. Tensor names are
// HF transformers names (see weights.ToHF for other families); num_batches_tracked is ignored.
// A tensor holding a NaN or ±Inf is refused with a *weights.NonFiniteError.
// Tensors are read one at a time, folded and packed, so a lazily opened file is never held
// in memory whole beside the model.
func New(cfg *arch.Config, src weights.Source) (*Model, error) {
	spec, err := cfg.Spec()
	if err != nil {
		return nil, err
	}
	if err := Check(&spec, src); err != nil {
		return nil, err
	}
	m := &Model{Config: spec.Config, Spec: spec}
	// One buffer for the weights of the largest convolution, read, folded in place and
	// planned by every layer in turn, so that loading leaves one buffer of garbage behind.
	largest := 0
	for _, cv := range spec.Convs() {
		largest = max(largest, cv.Out*cv.In*cv.Kernel*cv.Kernel)
	}
	raw := make([]float32, largest)
	// Kernels are planned for the nominal input size: Winograd weights are transformed
	// here, at load, instead of on the first call (when the raw copies they replace would
	// become garbage at the moment the first forward pass needs its scratch memory).
	h, w := spec.NominalSize(), spec.NominalSize()
	read := func(name string, dst []float32) ([]float32, error) {
		shape, _ := src.Shape(name)
		n := tensor.Numel(shape)
		if cap(dst) < n {
			dst = make([]float32, n)
		}
		dst = dst[:n]
		if err := src.Read(name, dst); err != nil {
			return nil, err
		}
		// Every weight a model uses passes here, from every kind of checkpoint: a NaN or
		// ±Inf would make every prediction NaN, so it is refused by name.
		return dst, weights.CheckFinite("", name, dst)
	}
	fold := func(cv arch.Conv, relu bool, h, w int) (*nn.ConvBN, error) {
		p := kernels.ConvParams{InC: cv.In, OutC: cv.Out, KH: cv.Kernel, KW: cv.Kernel, StrideH: cv.Stride, StrideW: cv.Stride, PadH: cv.Pad, PadW: cv.Pad}
		var err error
		if raw, err = read(cv.Name+".convolution.weight", raw); err != nil {
			return nil, err
		}
		bn := make([][]float32, 4)
		for i, s := range []string{"weight", "bias", "running_mean", "running_var"} {
			if bn[i], err = read(cv.Name+".normalization."+s, nil); err != nil {
				return nil, err
			}
		}
		c, err := nn.FoldBN(cv.Name, p, raw, bn[0], bn[1], bn[2], bn[3], nn.BNEps, relu, raw)
		if err != nil {
			return nil, err
		}
		c.Prepare(h, w)
		return c, nil
	}
	if m.stem, err = fold(spec.Stem, true, h, w); err != nil {
		return nil, err
	}
	h, w = convOut(h, spec.Stem), convOut(w, spec.Stem)
	if spec.MaxPool {
		h, w = (h+2-3)/2+1, (w+2-3)/2+1
	}
	for _, bs := range spec.Blocks {
		b := block{spec: bs}
		bh, bw := h, w
		for i, cv := range bs.Convs {
			// The ReLU of the last branch convolution runs after the residual add.
			c, err := fold(cv, cv.ReLU || i == len(bs.Convs)-1, bh, bw)
			if err != nil {
				return nil, err
			}
			b.convs = append(b.convs, c)
			bh, bw = convOut(bh, cv), convOut(bw, cv)
		}
		if bs.Proj != nil {
			if b.proj, err = fold(*bs.Proj, false, h, w); err != nil {
				return nil, err
			}
		}
		h, w = bh, bw
		m.blocks = append(m.blocks, b)
	}
	if cfg.NumLabels > 0 {
		if m.fcWeight, err = read(arch.ClassifierWeight, nil); err != nil {
			return nil, err
		}
		if m.fcBias, err = read(arch.ClassifierBias, nil); err != nil {
			return nil, err
		}
	}
	// The read buffer (ResNet-50: 9.4 MB) is garbage now. Collected here, its pages hold
	// the first forward pass's activations and scratch instead of fresh ones: ResNet-50's
	// peak RSS at batch 1 went from 202–215 to 200 MiB (`bench --json`, Intel Xeon, session
	// 21). Marking costs little: the model is a few hundred pointer-free slices.
	raw = nil
	runtime.GC()
	return m, nil
}

// LoadError lists what stops a state dict from loading, in the words PyTorch uses.
type LoadError struct {
	Model      string
	Missing    []string
	Unexpected []string
	Mismatched []string // "name: checkpoint [a, b], model [c, d]"
}

func (e *LoadError) Error() string {
	var parts []string
	if len(e.Missing) > 0 {
		parts = append(parts, fmt.Sprintf("missing key(s) (%d): %s", len(e.Missing), list(e.Missing)))
	}
	if len(e.Unexpected) > 0 {
		parts = append(parts, fmt.Sprintf("unexpected key(s) (%d): %s", len(e.Unexpected), list(e.Unexpected)))
	}
	if len(e.Mismatched) > 0 {
		parts = append(parts, fmt.Sprintf("size mismatch (%d): %s", len(e.Mismatched), listSep(e.Mismatched, "; ")))
	}
	return fmt.Sprintf("error(s) loading weights into %s: %s", e.Model, strings.Join(parts, "; "))
}

// list shows up to 8 names, then a count, so the message stays readable (a checkpoint
// of another architecture can miss or mismatch every tensor: 60 lines of them once).
func list(names []string) string { return listSep(names, ", ") }

// listSep is list with its own separator.
func listSep(names []string, sep string) string {
	if len(names) > 8 {
		return strings.Join(names[:8], sep) + fmt.Sprintf("%s… and %d more", sep, len(names)-8)
	}
	return strings.Join(names, sep)
}

// Check compares a checkpoint with what the spec needs. It returns a *LoadError when any tensor
// is missing, unexpected or wrongly shaped; num_batches_tracked entries are ignored.
func Check(spec *arch.Spec, src weights.Source) error {
	e := &LoadError{Model: describe(spec)}
	want := map[string]bool{}
	for _, p := range spec.Params() {
		want[p.Name] = true
		shape, ok := src.Shape(p.Name)
		switch {
		case !ok:
			e.Missing = append(e.Missing, p.Name)
		case !tensor.SameShape(shape, p.Shape):
			e.Mismatched = append(e.Mismatched, fmt.Sprintf("%s: checkpoint %s, model %s", p.Name, tensor.Format(shape), tensor.Format(p.Shape)))
		}
	}
	for _, name := range src.Names() {
		if !want[name] && !strings.HasSuffix(name, "num_batches_tracked") {
			e.Unexpected = append(e.Unexpected, name)
		}
	}
	if len(e.Missing)+len(e.Unexpected)+len(e.Mismatched) == 0 {
		return nil
	}
	return e
}

// describe names an architecture for messages: "ResNet (bottleneck, depths [3 4 6 3], 1000 labels)".
func describe(s *arch.Spec) string {
	kind := "ResNet"
	if s.Config.Plain {
		kind = "plain network"
	}
	return fmt.Sprintf("%s (%s, %s stem, depths %v, widths %v, %d labels)", kind, s.Config.LayerType, s.Config.Stem, s.Config.Depths, s.Config.HiddenSizes, s.Config.NumLabels)
}

// convOut is the output side of cv for an input side n.
func convOut(n int, cv arch.Conv) int { return (n+2*cv.Pad-cv.Kernel)/cv.Stride + 1 }
