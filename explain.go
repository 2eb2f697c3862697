package resnet

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/resnet-go/resnet/gradcam"
	"github.com/resnet-go/resnet/imageproc"
	"github.com/resnet-go/resnet/model"
	"github.com/resnet-go/resnet/tensor"
)

// Explainer is a Model that can run Grad-CAM at any layer (Model.Explain handles only the
// last stage, whose gradient has a closed form). It holds a second, plain copy of the
// convolution weights for the backward pass.
type Explainer struct {
	*Model
	CAM *model.Explainer
}

// BuildExplainer builds the model and its Grad-CAM explainer from the checkpoint's weights.
func (ck *Checkpoint) BuildExplainer() (*Explainer, error) {
	m, err := ck.Build()
	if err != nil {
		return nil, err
	}
	e, err := model.NewExplainer(m.Model, ck.Weights)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ck.Source, err)
	}
	return &Explainer{Model: m, CAM: e}, nil
}

// Explanation is Grad-CAM for one image.
type Explanation struct {
	Class  int     // the class explained
	Label  string  // its id2label name
	Score  float32 // its softmax probability
	Layer  string  // HF name of the target layer
	Method string  // gradcam or gradcam++
	// Map is the raw MapH×MapW map at the layer's resolution, ReLU'd, not normalised.
	Map        []float32
	MapH, MapW int
	// Flat is true when the map has no positive value (or no variation): the class has no
	// positive evidence at this layer, and the mask and overlay show none.
	Flat bool
	// Mask is the map scaled to [0, 1] and resized to the image (W×H of the input image).
	Mask []float32
	// Overlay is the JET heat map blended with the image (image weight 0.5), at its size.
	Overlay *imageproc.RGB
}

// ClassIndex resolves a class given as an index or as an id2label name (exact, then
// case-insensitive, then the first comma-separated name of ImageNet labels: "tiger cat").
func (m *Model) ClassIndex(s string) (int, error) {
	n := m.Config.NumLabels
	if i, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
		if i < 0 || i >= n {
			return 0, fmt.Errorf("class %d is out of range (the model has %d classes)", i, n)
		}
		return i, nil
	}
	labels := m.Config.Labels()
	for _, match := range []func(l string) bool{
		func(l string) bool { return l == s },
		func(l string) bool { return strings.EqualFold(l, s) },
		func(l string) bool {
			first, _, _ := strings.Cut(l, ",")
			return strings.EqualFold(strings.TrimSpace(first), strings.TrimSpace(s))
		},
	} {
		for i, l := range labels {
			if match(l) {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("no class is named %q (give an index 0…%d or an id2label name)", s, n-1)
}

// Explain runs Grad-CAM on one image for class (negative: the top class) at the last stage
// (layer "" or its name), the only layer a Model explains without an Explainer.
func (m *Model) Explain(img *imageproc.RGB, class int, layer, method string) (*Explanation, error) {
	return m.explain(img, class, m.Model.GradCAM, layer, method)
}

// Explain is Model.Explain at any layer.
func (e *Explainer) Explain(img *imageproc.RGB, class int, layer, method string) (*Explanation, error) {
	return e.explain(img, class, e.CAM.GradCAM, layer, method)
}

type camFunc func(x *tensor.Tensor, classes []int, layer, method string) (*model.CAM, error)

func (m *Model) explain(img *imageproc.RGB, class int, run camFunc, layer, method string) (*Explanation, error) {
	x, err := m.PreprocessRGB(img)
	if err != nil {
		return nil, err
	}
	var classes []int
	if class >= 0 {
		classes = []int{class}
	}
	cam, err := run(x, classes, layer, method)
	if err != nil {
		return nil, err
	}
	c := cam.Classes[0]
	ex := &Explanation{Class: c, Label: m.Config.Label(c), Score: Scores(cam.Logits.Data, &m.Config)[c],
		Layer: cam.Layer, Method: cam.Method, Map: cam.Maps.Data, MapH: cam.Maps.Shape[1], MapW: cam.Maps.Shape[2]}
	ex.Mask, ex.Flat = m.maskOnImage(ex.Map, ex.MapH, ex.MapW, img.W, img.H)
	if ex.Overlay, err = gradcam.Overlay(img, ex.Mask, 0.5); err != nil {
		return nil, err
	}
	return ex, nil
}

// maskOnImage scales a map and resizes it to the part of the w×h image the model saw: the
// whole image where the processor warps it, the centre-crop window (in the image's own pixels)
// where it crops; outside the window the mask is 0.
func (m *Model) maskOnImage(raw []float32, mh, mw, w, h int) ([]float32, bool) {
	left, top, cw, ch := cropWindow(m.Processor, w, h)
	scaled, flat := gradcam.Scale(raw)
	if left == 0 && top == 0 && cw == w && ch == h {
		return gradcam.Resize(scaled, mh, mw, h, w), flat
	}
	inner := gradcam.Resize(scaled, mh, mw, ch, cw)
	mask := make([]float32, w*h)
	for y := 0; y < ch; y++ {
		for x := 0; x < cw; x++ {
			if X, Y := left+x, top+y; X >= 0 && X < w && Y >= 0 && Y < h {
				mask[Y*w+X] = inner[y*cw+x]
			}
		}
	}
	return mask, flat
}

// cropWindow is the window of a w×h image that the processor's centre crop keeps, in the
// image's pixels (the resize's rule as in imageproc: the short side to int(size/crop_pct)).
func cropWindow(p *imageproc.Processor, w, h int) (left, top, cw, ch int) {
	if p == nil || !p.DoResize || p.ShortestEdge == 0 || p.ShortestEdge >= 384 || p.CropPct <= 0 {
		return 0, 0, w, h
	}
	s := p.ShortestEdge
	ns := int(float64(s) / p.CropPct)
	if ns <= s {
		return 0, 0, w, h
	}
	// The crop keeps s/ns of the short side and s·short/(ns·long) of the long one, centred.
	short := min(w, h)
	k := float64(short) / float64(ns) // image pixels per resized pixel
	cw, ch = int(float64(s)*k+0.5), int(float64(s)*k+0.5)
	cw, ch = min(cw, w), min(ch, h)
	return (w - cw) / 2, (h - ch) / 2, cw, ch
}
