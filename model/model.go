// Package model assembles a runnable ResNet from an architecture spec and a checkpoint's
// tensors: it checks every tensor by name and shape (as PyTorch's load_state_dict does),
// folds batch normalisation into the convolutions, and runs the forward pass.
package model

import (
	"fmt"
	"sort"
	"strings"

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
}

type block struct {
	spec  arch.Block
	convs []*nn.ConvBN
	proj  *nn.ConvBN
}

// New checks sd against the architecture and builds the model. Tensor names are HF
// transformers names (see weights.ToHF for other families); num_batches_tracked is ignored.
func New(cfg *arch.Config, sd weights.StateDict) (*Model, error) {
	spec, err := cfg.Spec()
	if err != nil {
		return nil, err
	}
	if err := Check(&spec, sd); err != nil {
		return nil, err
	}
	m := &Model{Config: spec.Config, Spec: spec}
	fold := func(cv arch.Conv) (*nn.ConvBN, error) {
		p := kernels.ConvParams{InC: cv.In, OutC: cv.Out, KH: cv.Kernel, KW: cv.Kernel, StrideH: cv.Stride, StrideW: cv.Stride, PadH: cv.Pad, PadW: cv.Pad}
		g := func(s string) []float32 { return sd[cv.Name+s].Data }
		return nn.FoldBN(cv.Name, p, g(".convolution.weight"), g(".normalization.weight"), g(".normalization.bias"),
			g(".normalization.running_mean"), g(".normalization.running_var"), nn.BNEps, cv.ReLU)
	}
	if m.stem, err = fold(spec.Stem); err != nil {
		return nil, err
	}
	for _, bs := range spec.Blocks {
		b := block{spec: bs}
		for _, cv := range bs.Convs {
			c, err := fold(cv)
			if err != nil {
				return nil, err
			}
			b.convs = append(b.convs, c)
		}
		// The ReLU of the last branch convolution runs after the residual add.
		b.convs[len(b.convs)-1].ReLU = true
		if bs.Proj != nil {
			if b.proj, err = fold(*bs.Proj); err != nil {
				return nil, err
			}
		}
		m.blocks = append(m.blocks, b)
	}
	m.stem.Pack()
	for _, b := range m.blocks {
		for _, c := range b.convs {
			c.Pack()
		}
		if b.proj != nil {
			b.proj.Pack()
		}
	}
	if cfg.NumLabels > 0 {
		m.fcWeight, m.fcBias = sd[arch.ClassifierWeight].Data, sd[arch.ClassifierBias].Data
	}
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
		parts = append(parts, fmt.Sprintf("size mismatch: %s", strings.Join(e.Mismatched, "; ")))
	}
	return fmt.Sprintf("error(s) loading weights into %s: %s", e.Model, strings.Join(parts, "; "))
}

// list shows up to 8 names, then a count, so the message stays readable.
func list(names []string) string {
	if len(names) > 8 {
		return strings.Join(names[:8], ", ") + fmt.Sprintf(", … and %d more", len(names)-8)
	}
	return strings.Join(names, ", ")
}

// Check compares a state dict with what the spec needs. It returns a *LoadError when any tensor
// is missing, unexpected or wrongly shaped; num_batches_tracked entries are ignored.
func Check(spec *arch.Spec, sd weights.StateDict) error {
	e := &LoadError{Model: describe(spec)}
	want := map[string]bool{}
	for _, p := range spec.Params() {
		want[p.Name] = true
		t, ok := sd[p.Name]
		switch {
		case !ok:
			e.Missing = append(e.Missing, p.Name)
		case !tensor.SameShape(t.Shape, p.Shape):
			e.Mismatched = append(e.Mismatched, fmt.Sprintf("%s: checkpoint %s, model %s", p.Name, tensor.Format(t.Shape), tensor.Format(p.Shape)))
		case len(t.Data) != tensor.Numel(p.Shape):
			e.Mismatched = append(e.Mismatched, fmt.Sprintf("%s: %d values for shape %s", p.Name, len(t.Data), tensor.Format(p.Shape)))
		}
	}
	for name := range sd {
		if !want[name] && !strings.HasSuffix(name, "num_batches_tracked") {
			e.Unexpected = append(e.Unexpected, name)
		}
	}
	sort.Strings(e.Unexpected)
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
