package kernels

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// ConvPlan is a convolution's weights prepared once, at load time, for the
// algorithm that suits the layer's shape:
//
//   - 3×3 stride-1 convolutions use Winograd F(4×4, 3×3), or F(2×2, 3×3) when
//     the output map is at most 9×9 (there F4's four-fold weights cost more
//     memory traffic than its fewer multiplications save) — unless a side
//     has fewer than 16 channels, where the transforms would dominate;
//   - every other convolution is a GEMM with prepacked weights, as
//     PackConvWeights and Conv2DPacked.
//
// The map size is that of the size hint given to PlanConv or, without one,
// of the first call: the Winograd weights are then transformed on first
// use (the plan keeps a copy of the weights until then).
// A plan is safe for concurrent use.
type ConvPlan struct {
	p      ConvParams
	packed *PackedA // GEMM weights, or nil
	geom   atomic.Pointer[phaseGeom]

	// Winograd plans: wino is set once, by PlanConv or the first call,
	// which also drops the weight copy w.
	wino atomic.Pointer[winoWeights]
	mu   sync.Mutex
	w    []float32
}

// winoMinChannels is the smallest InC and OutC worth the Winograd transforms.
const winoMinChannels = 16

// winoSmallMap is the largest output map (OH·OW) computed with F2.
const winoSmallMap = 81

// PlanConv prepares the OutC×InC×KH×KW weights w of the convolution p; w is
// not retained. The input size in p (InH, InW) is the size hint, for example
// the size at the model's nominal resolution; 0 means unknown. Any input size
// works with the plan. PlanConv panics with a descriptive error if w has the
// wrong size.
func PlanConv(p ConvParams, w []float32) *ConvPlan {
	k := p.InC * p.KH * p.KW
	if p.InC < 1 || p.OutC < 1 || p.KH < 1 || p.KW < 1 || p.StrideH < 1 || p.StrideW < 1 || p.PadH < 0 || p.PadW < 0 {
		panic(fmt.Errorf("kernels: PlanConv %+v: channels, kernel and strides must be positive, padding not negative", p))
	}
	if len(w) != p.OutC*k {
		panic(fmt.Errorf("kernels: conv %+v: weights has %d values, want %d", p, len(w), p.OutC*k))
	}
	pl := &ConvPlan{p: p}
	switch {
	case winoApplies(p) && p.InC >= winoMinChannels && p.OutC >= winoMinChannels:
		if p.InH > 0 && p.InW > 0 && p.Validate() == nil {
			pl.wino.Store(newWinoWeights(winoKindFor(p), p, w))
		} else {
			pl.w = append([]float32(nil), w...)
		}
	default:
		pl.packed = PackA(p.OutC, k, w, k)
	}
	return pl
}

// winoKindFor is the Winograd algorithm for the output map of p.
func winoKindFor(p ConvParams) *winoKind {
	if p.OutH()*p.OutW() <= winoSmallMap {
		return winoF2
	}
	return winoF4
}

// winograd returns the Winograd weights, transforming them for the map of
// p on first use; nil for a GEMM plan.
func (pl *ConvPlan) winograd(p ConvParams) *winoWeights {
	if pl.packed != nil {
		return nil
	}
	if ww := pl.wino.Load(); ww != nil {
		return ww
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if ww := pl.wino.Load(); ww != nil {
		return ww
	}
	ww := newWinoWeights(winoKindFor(p), p, pl.w)
	pl.wino.Store(ww)
	pl.w = nil
	return ww
}

// Algorithm names the algorithm: "winograd-f4", "winograd-f2", "winograd"
// (chosen at the first call) or "gemm", for reports and benchmarks.
func (pl *ConvPlan) Algorithm() string {
	if pl.packed != nil {
		return "gemm"
	}
	if ww := pl.wino.Load(); ww != nil {
		return fmt.Sprintf("winograd-f%d", ww.kind.m)
	}
	return "winograd"
}

// phaseGeom returns the phase geometry of p for the GEMM path, nil for 1×1
// stride-1 convolutions, which need none. The last one is cached: a model
// runs each layer at one input size.
func (pl *ConvPlan) phaseGeom(p ConvParams) *phaseGeom {
	if p.KH == 1 && p.KW == 1 && p.StrideH == 1 && p.StrideW == 1 && p.PadH == 0 && p.PadW == 0 {
		return nil
	}
	if g := pl.geom.Load(); g != nil && g.p == p {
		return g
	}
	g := newPhaseGeom(p)
	pl.geom.Store(g)
	return g
}

// CheckConv2DPlanned reports whether Conv2DPlanned accepts these arguments:
// a plan for the same channels, kernel, stride and padding as p, valid p,
// bias of OutC values or none, and input, residual (if any) and output of at
// least n images each.
func CheckConv2DPlanned(p ConvParams, n int, in []float32, pl *ConvPlan, bias, residual, out []float32) error {
	if pl == nil {
		return fmt.Errorf("kernels: conv %+v: nil plan", p)
	}
	q := pl.p
	q.InH, q.InW = p.InH, p.InW
	if q != p {
		return fmt.Errorf("kernels: conv %+v: plan is for %+v", p, pl.p)
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if n < 0 {
		return fmt.Errorf("kernels: conv %+v: negative batch %d", p, n)
	}
	if len(bias) != 0 && len(bias) != p.OutC {
		return fmt.Errorf("kernels: conv %+v: bias has %d values, want %d", p, len(bias), p.OutC)
	}
	outN := n * p.OutC * p.OutH() * p.OutW()
	for _, s := range []struct {
		name     string
		got, exp int
		optional bool
	}{
		{"input", len(in), n * p.InC * p.InH * p.InW, false},
		{"residual", len(residual), outN, true},
		{"output", len(out), outN, false},
	} {
		if s.got < s.exp && !(s.optional && s.got == 0) {
			return fmt.Errorf("kernels: conv %+v: %s has %d values, want at least %d for %d images", p, s.name, s.got, s.exp, n)
		}
	}
	return nil
}

// Conv2DPlanned computes out = act(conv(in) + bias + residual) for n images
// stored one after another (NCHW): in is n×InC×InH×InW, residual (or nil)
// and out n×OutC×OutH×OutW, bias OutC values or nil; act is ReLU when relu is
// set. Slices may be longer; the rest is left alone. out must not overlap
// in or residual. It panics with the CheckConv2DPlanned error on bad
// arguments.
//
// The images of a batch share GEMMs where that pays: Winograd plans put the
// tiles of several images into one GEMM, GEMM plans the columns of small
// maps, so the weights are read once per group of images.
func Conv2DPlanned(p ConvParams, n int, in []float32, pl *ConvPlan, bias, residual []float32, relu bool, out []float32) {
	if err := CheckConv2DPlanned(p, n, in, pl, bias, residual, out); err != nil {
		panic(err)
	}
	if n == 0 {
		return
	}
	bias, residual = nilIfEmpty(bias), nilIfEmpty(residual)
	if ww := pl.winograd(p); ww != nil {
		winoConv(p, n, in, ww, bias, residual, relu, out)
		return
	}
	conv2D(p, n, in, nil, pl.packed, bias, residual, relu, out, pl.phaseGeom(p))
}
