package nn

import "github.com/resnet-go/resnet/kernels"

// Winograd convolutions for training. The forward pass of a 3×3 stride-1 padding-1
// convolution and its input gradient (the convolution of dy with the flipped, transposed
// weights) run through kernels' Winograd F(4×4, 3×3) on the channel-major batches directly
// (kernels.Conv2DPlannedLayout with kernels.CNHW, lane-major fused transforms): 36
// multiplications per 16 outputs instead of 144. Per convolution at batch 128 this measured
// 1.3× (16 channels, 32×32), 1.9× (32, 16×16) and 2.7× (64, 8×8) the speed of the direct
// kernels; F(2×2) was slower than the direct kernels on all three. The weight gradient, the
// adjoint of the same transforms (kernels.WinoWeightGradAdd), needs a quarter of the direct
// kernels' multiplications. F4's rounding error is about 1e-5 of the outputs' magnitude
// (kernels.TestWinogradTolerance, TestConv2dWinograd) and 2e-6 of the weight gradient's terms
// (kernels.TestWinoWeightGrad), far below what SGD notices and what the BatchNorm after each
// convolution sees.
//
// The transformed weights are recomputed from Weight at every call (0.26 ms for 64×64
// channels on one core, little next to a batch), as the optimiser updates Weight in place
// between steps.

// useWino switches the Winograd path off, for tests of the direct and GEMM paths.
var useWino = true

// winoMinChannels is the fewest input and output channels for the Winograd path. Measured
// on whole ConvBNTrain units (forward and backward, batch 128, BenchmarkConvBNTrain), the
// Winograd path ran 1.08× (16 channels, 32×32), 1.32× (32, 16×16) and 1.37× (64, 8×8) as
// fast as the direct kernels; below 16 channels the transforms cost about what the
// multiplications save. A variable so tests and benchmarks can change it.
var winoMinChannels = 16

// winoOK reports whether the forward pass and input gradient of geometry g run on Winograd.
func (c *Conv2d) winoOK(g geom) bool {
	return useWino && g.k == 3 && g.s == 1 && g.p == 1 && c.In >= winoMinChannels && c.Out >= winoMinChannels
}

// winoParams is the convolution of in channels to out channels on h×w maps, 3×3 padding 1.
func winoParams(in, out, h, w int) kernels.ConvParams {
	return kernels.ConvParams{InC: in, InH: h, InW: w, OutC: out, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
}

// winoGroup is how many images go through one Winograd call when hooks follow it: at least
// eight chunks (of per images), so that the hooks of a group spread over the threads and the
// weight-gradient parts (chunk ci goes to part ci mod reduceGroups) are all busy, and at
// least 32 images, so that the kernels' phases (each a hand-off to the pool) are few, while
// the group's data stays in the L3 cache for the hooks; whole chunks, and a multiple of 8,
// the images the lane-major transforms take at once, when per is.
func winoGroup(n, per int) int {
	return min(n, max(reduceGroups*per, ceilDivInt(winoGroupImages, per)*per))
}

// winoGroupImages is the fewest images of a group (a variable so tests can make groups small).
var winoGroupImages = 32

func ceilDivInt(a, b int) int { return (a + b - 1) / b }

// winoForward is forward on the Winograd path: groups of images through the plan, then the
// hooks of the group's chunks in parallel.
func (c *Conv2d) winoForward(g geom, n, per int, x, y []float32, after func(ci, i0, i1 int)) {
	p := winoParams(c.In, c.Out, g.h, g.w)
	if c.winoFwd == nil {
		c.winoFwd = kernels.PlanConvWinograd(p, 4, c.Weight)
	} else {
		c.winoFwd.SetWeights(c.Weight)
	}
	hw, ohw := g.h*g.w, g.oh*g.ow
	xl, yl := kernels.CNHW(n, g.h, g.w), kernels.CNHW(n, g.oh, g.ow)
	if after == nil {
		kernels.Conv2DPlannedLayout(p, n, x, xl, c.winoFwd, nil, nil, false, y, yl)
		return
	}
	gn := winoGroup(n, per)
	for g0 := 0; g0 < n; g0 += gn {
		g1 := min(n, g0+gn)
		kernels.Conv2DPlannedLayout(p, g1-g0, x[g0*hw:], xl, c.winoFwd, nil, nil, false, y[g0*ohw:], yl)
		c0 := g0 / per
		parallelFor((g1-g0+per-1)/per, func(j int) {
			ci := c0 + j
			after(ci, ci*per, min((ci+1)*per, n))
		})
	}
}

// winoBackward is backward with the input gradient on the Winograd path. Per group of images
// (winoGroup): the chunks' dy is written into one plain [Out, group, OH, OW] buffer, and the
// weight gradient taken from it, chunk by chunk (chunk ci adds to part ci mod groups,
// in order, so the sums do not depend on the thread count), then dx of the whole group comes
// from one Winograd call, then the group's hooks run. The weight gradient is Winograd's too
// where kernels.WinoWeightGradApplies (sums kept in the Winograd domain, one transform back
// at the end), else the direct kernels' or the GEMM path's.
func (c *Conv2d) winoBackward(g geom, n int, x, dx []float32, accumulate bool, residual []float32, dyChunk dySource, after func(i0, i1 int)) {
	R := g.rows()
	hw, ohw := g.h*g.w, g.oh*g.ow
	p := winoParams(c.Out, c.In, g.oh, g.ow)
	wt := getScratch(len(c.Weight))
	c.flipWeights(*wt)
	if c.winoBwd == nil {
		c.winoBwd = kernels.PlanConvWinograd(p, 4, *wt)
	} else {
		c.winoBwd.SetWeights(*wt)
	}
	putScratch(wt)

	pf := winoParams(c.In, c.Out, g.h, g.w) // the forward convolution, whose weights get the gradient
	winoDW := kernels.WinoWeightGradApplies(pf)
	directDW := !winoDW && directOK(g, c.Out)
	partLen := c.Out * R
	if winoDW {
		partLen = kernels.WinoWeightGradSize(pf)
	}
	per, count := c.chunking(n, g.h, g.w)
	groups := min(count, reduceGroups)
	parts := getScratch(groups * partLen)
	defer putScratch(parts)
	gn := winoGroup(n, per)
	dyg := getScratch(c.Out * gn * ohw)
	defer putScratch(dyg)
	xl := kernels.CNHW(n, g.h, g.w)
	for g0 := 0; g0 < n; g0 += gn {
		g1 := min(n, g0+gn)
		m := g1 - g0
		c0, c1 := g0/per, (g1+per-1)/per
		parallelFor(min(groups, c1-c0), func(j int) {
			k := (c0 + j) % groups
			part := (*parts)[k*partLen : (k+1)*partLen]
			for ci := c0 + j; ci < c1; ci += groups {
				i0, i1 := ci*per, min((ci+1)*per, n)
				d := (*dyg)[(i0-g0)*ohw:]
				dyChunk(i0, i1, false, d, m*ohw)
				if ci < groups && (directDW || winoDW) {
					clear(part) // these add; the GEMM path writes a part's first chunk
				}
				switch {
				case winoDW:
					kernels.WinoWeightGradAdd(pf, i1-i0, x[i0*hw:], xl, d, kernels.CNHW(m, g.oh, g.ow), part)
				case directDW:
					c.directBackward(g, true, false, false, nil, n, i0, i1, x, d, m*ohw, part, nil, false)
				default:
					c.gemmWeightGrad(g, n, i0, i1, x, d, m*ohw, part, ci >= groups)
				}
			}
		})
		var res []float32
		switch {
		case residual != nil:
			res = residual[g0*hw:]
		case accumulate:
			res = dx[g0*hw:] // dx += conv: the residual is the output itself
		}
		kernels.Conv2DPlannedLayout(p, m, *dyg, kernels.CNHW(m, g.oh, g.ow), c.winoBwd, nil, res, false, dx[g0*hw:], xl)
		if after != nil {
			parallelFor(c1-c0, func(j int) {
				ci := c0 + j
				after(ci*per, min((ci+1)*per, n))
			})
		}
	}
	if winoDW {
		accs := make([][]float32, groups)
		for k := range accs {
			accs[k] = (*parts)[k*partLen : (k+1)*partLen]
		}
		kernels.WinoWeightGradFinish(pf, c.Grad, accs...)
		return
	}
	c.sumParts(*parts, groups, directDW)
}
