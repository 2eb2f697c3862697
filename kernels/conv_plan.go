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
//     PackConvWeights and Conv2DPacked; on the AVX-512 path, 3×3 stride-2
//     convolutions into maps of 14×14 or more (ResNet's strided 3×3 layers
//     but the last) run direct instead (convDirect), with the weights
//     reordered for it as well.
//
// The map size is that of the size hint given to PlanConv or, without one,
// of the first call: the Winograd weights are then transformed on first
// use (the plan keeps a copy of the weights until then).
// A plan is safe for concurrent use.
type ConvPlan struct {
	p      ConvParams
	packed *PackedA  // GEMM weights, or nil
	direct []float32 // the weights for convDirect (stride-2 layers on the AVX-512 path), or nil
	geom   atomic.Pointer[phaseGeom]
	dgeom  atomic.Pointer[directGeom] // convDirect's geometry for the last input size

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
		if directApplies(p, curISA()) {
			pl.direct = directWeights(p, w)
		}
	}
	return pl
}

// PlanConvWinograd is PlanConv for a 3×3 stride-1 convolution p with the
// Winograd algorithm F(m×m, 3×3), m = 2 or 4, whatever the map size and the
// channel counts (PlanConv's choice is tuned for inference); it panics if p
// is not such a convolution or w has the wrong size. The weights are
// transformed at once.
func PlanConvWinograd(p ConvParams, m int, w []float32) *ConvPlan {
	if p.InC < 1 || p.OutC < 1 || p.PadH < 0 || p.PadW < 0 || !winoApplies(p) {
		panic(fmt.Errorf("kernels: PlanConvWinograd %+v: not a 3×3 stride-1 convolution", p))
	}
	k := map[int]*winoKind{2: winoF2, 4: winoF4}[m]
	if k == nil {
		panic(fmt.Errorf("kernels: PlanConvWinograd: F(%d×%d, 3×3) is not implemented (m = 2 or 4)", m, m))
	}
	pl := &ConvPlan{p: p}
	pl.wino.Store(newWinoWeights(k, p, w))
	return pl
}

// SetWeights replaces the weights of a Winograd plan (OutC×InC×3×3, as
// given to PlanConv) by re-transforming them into the plan's buffers, for
// training, where the weights change every step: the transform costs about
// 2·36·3 flops per filter pair, little next to a batch's convolution. A
// plan that has not transformed its weights yet (no size hint, no call)
// just takes a copy. SetWeights must not run concurrently with a
// convolution using the plan; it panics for GEMM plans and on a wrong size.
func (pl *ConvPlan) SetWeights(w []float32) {
	p := pl.p
	if pl.packed != nil {
		panic(fmt.Errorf("kernels: SetWeights %+v: not a Winograd plan", p))
	}
	if len(w) != p.OutC*p.InC*9 {
		panic(fmt.Errorf("kernels: SetWeights %+v: weights has %d values, want %d", p, len(w), p.OutC*p.InC*9))
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if ww := pl.wino.Load(); ww != nil {
		ww.transform(w)
		return
	}
	pl.w = append(pl.w[:0], w...)
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

// directGeom returns the direct route's geometry for the convolution p,
// worked out on the first call with this input size, as phaseGeom.
func (pl *ConvPlan) directGeom(p ConvParams) *directGeom {
	if g := pl.dgeom.Load(); g != nil && g.p == p {
		return g
	}
	g := newDirectGeom(p)
	pl.dgeom.Store(g)
	return g
}

// Layout places the channel planes of a batch in memory: the plane of
// channel c of image i (its rows contiguous) starts at i·Image + c·Channel.
type Layout struct{ Image, Channel int }

// NCHW is the layout of c-channel images of h×w pixels stored one after
// another, [N, C, H, W].
func NCHW(c, h, w int) Layout { return Layout{Image: c * h * w, Channel: h * w} }

// CNHW is the channel-major layout of a batch of n images of h×w pixels,
// [C, N, H, W], in which training keeps its activations.
func CNHW(n, h, w int) Layout { return Layout{Image: h * w, Channel: n * h * w} }

// check reports whether n images of c planes of `plane` values fit into
// `length` values without overlapping planes: one stride must step over a
// plane and the other over all planes of the first.
func (l Layout) check(name string, n, c, plane, length int) error {
	imagesInner := (n == 1 || l.Image >= plane) && (c == 1 || l.Channel >= (n-1)*l.Image+plane)
	channelsInner := (c == 1 || l.Channel >= plane) && (n == 1 || l.Image >= (c-1)*l.Channel+plane)
	if l.Image < 0 || l.Channel < 0 || !(imagesInner || channelsInner) {
		return fmt.Errorf("kernels: %s layout %+v: planes of %d values overlap for %d images of %d channels", name, l, plane, n, c)
	}
	if end := (n-1)*l.Image + (c-1)*l.Channel + plane; length < end {
		return fmt.Errorf("kernels: %s has %d values, want at least %d for %d images in layout %+v", name, length, end, n, l)
	}
	return nil
}

// CheckConv2DPlanned reports whether Conv2DPlanned accepts these arguments:
// a plan for the same channels, kernel, stride and padding as p, valid p,
// bias of OutC values or none, and input, residual (if any) and output of at
// least n images each.
func CheckConv2DPlanned(p ConvParams, n int, in []float32, pl *ConvPlan, bias, residual, out []float32) error {
	return checkConvPlanned(p, n, in, pl, bias, residual, len(out), "output", n*p.OutC*p.OutH()*p.OutW())
}

// checkConvPlanned is CheckConv2DPlanned with the output (named outName)
// of outLen values checked against want.
func checkConvPlanned(p ConvParams, n int, in []float32, pl *ConvPlan, bias, residual []float32, outLen int, outName string, want int) error {
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
		{outName, outLen, want, false},
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
	if pl.direct != nil && residual == nil && directApplies(p, curISA()) {
		convDirect(p, n, in, pl.direct, pl.directGeom(p), bias, relu, out)
		return
	}
	conv2D(p, n, in, nil, pl.packed, bias, residual, relu, out, pl.phaseGeom(p))
}

// Conv2DPlannedLayout is Conv2DPlanned for batches whose planes lie as inL
// and outL say (the residual's as out's), such as the channel-major
// batches of training (CNHW): out = act(conv(in) + bias + residual).
// residual may be out itself, to add the convolution to out; otherwise out
// must not overlap in or residual. Only Winograd plans take other layouts
// than NCHW. Winograd F4 runs its transforms lane-major, 8 images per
// vector, where they apply (rows a multiple of 8 wide, with the assembly
// kernels), which suits narrow maps; the result is the same either way up
// to rounding. It panics with a descriptive error on bad arguments.
func Conv2DPlannedLayout(p ConvParams, n int, in []float32, inL Layout, pl *ConvPlan, bias, residual []float32, relu bool, out []float32, outL Layout) {
	if err := checkConv2DLayout(p, n, in, inL, pl, bias, residual, out, outL); err != nil {
		panic(err)
	}
	if n == 0 {
		return
	}
	bias, residual = nilIfEmpty(bias), nilIfEmpty(residual)
	if ww := pl.winograd(p); ww != nil {
		winoConvLayout(p, n, in, inL, ww, bias, residual, relu, out, outL, true)
		return
	}
	conv2D(p, n, in, nil, pl.packed, bias, residual, relu, out, pl.phaseGeom(p))
}

func checkConv2DLayout(p ConvParams, n int, in []float32, inL Layout, pl *ConvPlan, bias, residual, out []float32, outL Layout) error {
	nchwIn, nchwOut := NCHW(p.InC, p.InH, p.InW), NCHW(p.OutC, p.OutH(), p.OutW())
	if pl != nil && pl.packed != nil && (inL != nchwIn || outL != nchwOut) {
		return fmt.Errorf("kernels: conv %+v: a GEMM plan needs NCHW batches", p)
	}
	// The lengths are checked below for the layouts instead.
	if err := CheckConv2DPlanned(p, 0, nil, pl, bias, nil, nil); err != nil || n <= 0 {
		if err == nil && n < 0 {
			err = fmt.Errorf("kernels: conv %+v: negative batch %d", p, n)
		}
		return err
	}
	if err := inL.check("input", n, p.InC, p.InH*p.InW, len(in)); err != nil {
		return err
	}
	if err := outL.check("output", n, p.OutC, p.OutH()*p.OutW(), len(out)); err != nil {
		return err
	}
	if len(residual) != 0 {
		return outL.check("residual", n, p.OutC, p.OutH()*p.OutW(), len(residual))
	}
	return nil
}

// ResidualInPlace reports whether Conv2DPlanned with the plan may be given the
// residual as its output (out = act(conv(in) + bias + out)) on the current
// path: stride 1, a GEMM whose K (InC·KH·KW) fits one K block of the path's
// micro-kernel, so that each output is written once, by the epilogue (or the
// batch copy) that reads its residual. Deeper GEMMs write partial sums to the
// output before their last K block adds the residual, and Winograd plans are
// not covered, so both report false. Writing a block's output over its
// identity input saves the read for ownership of a second buffer: ResNet-50's
// 1×1 expand layers took 0.03–0.34 ms less a group in one-thread passes on the
// busy Intel Xeon (session 23).
func (pl *ConvPlan) ResidualInPlace(p ConvParams) bool {
	if pl == nil || pl.packed == nil || p.StrideH != 1 || p.StrideW != 1 {
		return false
	}
	return p.InC*p.KH*p.KW <= curISA().gemm.kc
}
