package nn

import (
	"fmt"

	"github.com/resnet-go/resnet/kernels"
)

// Conv2d is a bias-free square convolution for training (PyTorch's Conv2d with bias=False)
// on channel-major batches.
//
// Shapes, for a batch of N images of H×W pixels, OH = (H+2·Pad−Kernel)/Stride+1 (OW alike),
// R = In·Kernel·Kernel:
//
//	Weight, Grad  [Out, In, Kernel, Kernel]
//	x, dx         [In, N, H, W]
//	y, dy         [Out, N, OH, OW]
//	im2col block  [R, n·OH·OW] for a chunk of n images (scratch)
//
// The forward pass, input gradient and weight gradient of 3×3 stride-1 padding-1 convolutions
// with at least 16 input and output channels run on Winograd F(4×4, 3×3) (winograd.go; the
// weight gradient where kernels.WinoWeightGradApplies: input channels in 16s, output channels
// in 8s); the other 3×3 stride-1 padding-1 convolutions on rows a multiple of 8 wide with
// output channels in fours run on the direct AVX2 kernels of direct.go. Otherwise
// Forward is y = Weight[Out × R] · col(x)[R × N·OH·OW] on kernels.Gemm, and Backward forms
// Grad = dy · col(x)ᵀ as Σ over image chunks of dy[Out × n·OH·OW] · rows[n·OH·OW × R], rows
// the transposed im2col matrix built from a pixel-major copy of the chunk (so the GEMM packs
// it with plain copies), and dx as a convolution of dy with the flipped, transposed weights
// when the stride is 1 (no scatter), else as col2im(Wᵀ·dy).
//
// Work is split into chunks of whole images by shape alone, and partial weight gradients are
// summed in a fixed order, so results do not depend on the number of threads. Forward and
// Backward must not run concurrently on one layer: they refresh its Winograd weights.
type Conv2d struct {
	In, Out, Kernel, Stride, Pad int
	Weight, Grad                 []float32

	// Winograd plans of the forward pass and of the input gradient (see winoOK), made on
	// first use; their weights are re-transformed from Weight at every call, since the
	// optimiser updates Weight in place.
	winoFwd, winoBwd *kernels.ConvPlan
}

// NewConv2d returns a convolution with zero weights and gradient.
func NewConv2d(in, out, kernel, stride, pad int) *Conv2d {
	n := out * in * kernel * kernel
	return &Conv2d{In: in, Out: out, Kernel: kernel, Stride: stride, Pad: pad, Weight: make([]float32, n), Grad: make([]float32, n)}
}

// OutSize is PyTorch's output size for an h×w input.
func (c *Conv2d) OutSize(h, w int) (int, int) {
	g := c.geom(h, w)
	return g.oh, g.ow
}

func (c *Conv2d) geom(h, w int) geom { return newGeom(c.In, h, w, c.Kernel, c.Stride, c.Pad) }

// Check reports whether the layer accepts a batch of n images of h×w pixels with the given
// slice lengths (x, y as in Forward; pass -1 to skip one).
func (c *Conv2d) Check(n, h, w, lenX, lenY int) error {
	switch {
	case c.In < 1 || c.Out < 1 || c.Kernel < 1 || c.Stride < 1 || c.Pad < 0 || c.Pad >= c.Kernel:
		return fmt.Errorf("nn: conv %d→%d kernel %d stride %d pad %d: invalid geometry", c.In, c.Out, c.Kernel, c.Stride, c.Pad)
	case len(c.Weight) != c.Out*c.In*c.Kernel*c.Kernel || len(c.Grad) != len(c.Weight):
		return fmt.Errorf("nn: conv %d→%d: weight has %d values and grad %d, want %d", c.In, c.Out, len(c.Weight), len(c.Grad), c.Out*c.In*c.Kernel*c.Kernel)
	case n < 1 || h+2*c.Pad < c.Kernel || w+2*c.Pad < c.Kernel:
		return fmt.Errorf("nn: conv %d→%d kernel %d: input %d×%d×%d×%d is too small", c.In, c.Out, c.Kernel, n, c.In, h, w)
	}
	oh, ow := c.OutSize(h, w)
	if lenX >= 0 && lenX < c.In*n*h*w {
		return fmt.Errorf("nn: conv %d→%d: input has %d values, want %d (%d×%d×%d×%d)", c.In, c.Out, lenX, c.In*n*h*w, c.In, n, h, w)
	}
	if lenY >= 0 && lenY < c.Out*n*oh*ow {
		return fmt.Errorf("nn: conv %d→%d: output has %d values, want %d (%d×%d×%d×%d)", c.In, c.Out, lenY, c.Out*n*oh*ow, c.Out, n, oh, ow)
	}
	return nil
}

// chunkFloats is the target size of one im2col block: small enough to stay in L2 while the
// GEMM packs it, large enough that the GEMM has long rows. A variable so tests can force one
// image per chunk.
var chunkFloats = 1 << 17

// reduceGroups is the number of partial weight gradients a backward pass sums, in a fixed
// order, whatever the thread count.
const reduceGroups = 8

// chunks splits n images into runs whose im2col blocks (rows × pixels per image) hold about
// chunkFloats values; it returns the images per chunk and the number of chunks.
func chunks(n, rows, pixels int) (per, count int) {
	per = max(1, min(n, chunkFloats/max(1, rows*pixels)))
	return per, (n + per - 1) / per
}

// Forward computes y = conv(x) for n images of h×w pixels. It panics with the Check error on
// bad sizes.
func (c *Conv2d) Forward(n, h, w int, x, y []float32) {
	if err := c.Check(n, h, w, len(x), len(y)); err != nil {
		panic(err)
	}
	c.forward(n, h, w, x, y, nil)
}

// chunking is how the image loops of Forward and Backward split n images of h×w pixels: for
// the GEMM path into im2col blocks of about chunkFloats values, for the direct kernels into
// runs of about directPixels pixels, enough for each weight-gradient kernel call to amortise
// its set-up.
func (c *Conv2d) chunking(n, h, w int) (per, count int) {
	g := c.geom(h, w)
	if directOK(g, c.Out) {
		per = max(1, min(n, directPixels/(h*w)))
		return per, (n + per - 1) / per
	}
	if c.Stride > 1 {
		// The largest blocks are R × n·OH·OW (im2col forward, Wᵀ·dy for col2im, its
		// transpose for the weight gradient) and the weight gradient's pixel-major copy of
		// the input; the flipped input gradient's larger block is stride 1's. CIFAR's 3×3/2
		// 16→32 layer gets 3 images a chunk instead of 1, and its phase-plane im2col runs
		// 1.7× faster for it (one thread, Zen 4).
		return chunks(n, 1, max(g.rows()*g.oh*g.ow, c.In*h*w))
	}
	return chunks(n, max(g.rows(), c.Out*c.Kernel*c.Kernel), max(g.oh*g.ow, h*w))
}

// directPixels is the target chunk size of the direct kernels, in pixels (a variable so tests
// can force one image per chunk).
var directPixels = 1024

// forward is Forward with a hook: after(ci, i0, i1) runs on the worker that wrote images
// [i0, i1) of y (chunk ci of chunking), while they are still in its cache.
func (c *Conv2d) forward(n, h, w int, x, y []float32, after func(ci, i0, i1 int)) {
	g := c.geom(h, w)
	R, ohw, hw := g.rows(), g.oh*g.ow, h*w
	P := n * ohw
	per, count := c.chunking(n, h, w)
	if c.winoOK(g) {
		c.winoForward(g, n, per, x, y, after)
		return
	}
	if directOK(g, c.Out) {
		wp := getScratch(len(c.Weight))
		defer putScratch(wp)
		packDirect(c.Out, c.In, c.Weight, *wp)
		ph, pwd := h+2, w+2
		parallelFor(count, func(ci int) {
			i0, i1 := ci*per, min((ci+1)*per, n)
			xp := getScratch(c.In * (i1 - i0) * ph * pwd)
			padChunk(c.In, i1-i0, h, w, x[i0*hw:], n*hw, *xp)
			directConv(c.In, c.Out, i1-i0, h, w, *xp, *wp, y[i0*ohw:], P, false)
			putScratch(xp)
			if after != nil {
				after(ci, i0, i1)
			}
		})
		return
	}
	// Packed once here rather than by every chunk's GEMM: for small images the weights are
	// as large as a chunk's im2col block.
	pw := kernels.PackA(c.Out, R, c.Weight, R)
	parallelFor(count, func(ci int) {
		i0, i1 := ci*per, min((ci+1)*per, n)
		cols := (i1 - i0) * ohw
		if g.pointwise() {
			kernels.GemmPacked(pw, cols, x[i0*hw:], n*hw, y[i0*ohw:], P, false)
		} else {
			buf := getScratch(R * cols)
			im2col(g, x[i0*hw:], n*hw, i1-i0, *buf, cols)
			kernels.GemmPacked(pw, cols, *buf, cols, y[i0*ohw:], P, false)
			putScratch(buf)
		}
		if after != nil {
			after(ci, i0, i1)
		}
	})
}

// Backward sets Grad to ∂L/∂Weight and, if dx is not nil, writes ∂L/∂x to dx (adds to it
// when accumulate is set), for the x given to Forward and dy = ∂L/∂y.
func (c *Conv2d) Backward(n, h, w int, x, dy, dx []float32, accumulate bool) {
	if err := c.Check(n, h, w, len(x), len(dy)); err != nil {
		panic(err)
	}
	if dx != nil && len(dx) < c.In*n*h*w {
		panic(fmt.Errorf("nn: conv %d→%d: input gradient has %d values, want %d", c.In, c.Out, len(dx), c.In*n*h*w))
	}
	oh, ow := c.OutSize(h, w)
	c.backward(n, h, w, x, dx, accumulate, nil, func(i0, i1 int, padded bool, into []float32, is int) ([]float32, int, func()) {
		if into != nil {
			for ch := 0; ch < c.Out; ch++ {
				copy(into[ch*is:][:(i1-i0)*oh*ow], dy[ch*n*oh*ow+i0*oh*ow:][:(i1-i0)*oh*ow])
			}
			return into, is, nil
		}
		if !padded {
			return dy[i0*oh*ow:], n * oh * ow, nil
		}
		buf := getScratch(c.Out * (i1 - i0) * (oh + 2) * (ow + 2))
		padChunk(c.Out, i1-i0, oh, ow, dy[i0*oh*ow:], n*oh*ow, *buf)
		return *buf, (i1 - i0) * (oh + 2) * (ow + 2), func() { putScratch(buf) }
	}, nil)
}

// backward is Backward with dy supplied chunk by chunk (and, if residual is not nil, dx set
// to ∂L/∂x + residual; accumulate is then false): dyChunk(i0, i1, padded, into, is)
// returns ∂L/∂y of images [i0, i1) as a chunk (first image's start and channel stride, see
// im2col), in the zero-bordered layout of padChunk if padded, and a function to call when the
// chunk is no longer needed (or nil); if into is not nil (then padded is false), it writes
// the chunk there instead, channel ch at into[ch·is], and returns (into, is, nil). It is
// called on the worker that processes the chunk, so it may compute the chunk into that
// worker's cache. after, if not nil, is called on the worker once
// images [i0, i1) of dx are final.
func (c *Conv2d) backward(n, h, w int, x, dx []float32, accumulate bool, residual []float32, dyChunk dySource, after func(i0, i1 int)) {
	g := c.geom(h, w)
	R := g.rows()
	kk := c.Kernel * c.Kernel
	if dx != nil && c.winoOK(g) {
		c.winoBackward(g, n, x, dx, accumulate, residual, dyChunk, after)
		return
	}
	if residual != nil {
		kernels.Copy(dx[:c.In*n*h*w], residual)
		accumulate = true
	}

	// Weights for the input gradient, packed once: for stride 1 the flipped and transposed
	// Wf [In × Out·k·k], Wf[ci, (o, ky, kx)] = W[o, ci, k−1−ky, k−1−kx], which makes ∂L/∂x a
	// convolution of dy padded by k−1−p; otherwise Wᵀ [R × Out] for col2im (or, pointwise,
	// for ∂L/∂x = Wᵀ·dy directly).
	flip := dx != nil && c.Stride == 1 && !g.pointwise() && c.Pad <= c.Kernel-1
	gt := newGeom(c.Out, g.oh, g.ow, c.Kernel, 1, c.Kernel-1-c.Pad)
	directDW, directDX := directOK(g, c.Out), flip && directOK(gt, c.In)
	// The direct kernels take dy padded; the GEMM path takes it plain.
	padded := directDW && (dx == nil || directDX)
	var pwt *kernels.PackedA
	var wpf []float32 // flipped weights packed for the direct kernel
	if dx != nil {
		wt := getScratch(R * c.Out)
		if flip {
			c.flipWeights(*wt)
			if directDX {
				wpf = make([]float32, len(c.Weight))
				packDirect(c.In, c.Out, *wt, wpf)
			} else {
				pwt = kernels.PackA(c.In, c.Out*kk, *wt, c.Out*kk)
			}
		} else {
			transpose(c.Out, R, c.Weight, R, *wt, c.Out)
			pwt = kernels.PackA(R, c.Out, *wt, c.Out)
		}
		putScratch(wt)
	}

	per, count := c.chunking(n, h, w)
	groups := min(count, reduceGroups)
	parts := getScratch(groups * c.Out * R)
	defer putScratch(parts)
	parallelFor(groups, func(gi int) {
		part := (*parts)[gi*c.Out*R : (gi+1)*c.Out*R]
		if directDW {
			clear(part)
		}
		for ci := gi * count / groups; ci < (gi+1)*count/groups; ci++ {
			i0, i1 := ci*per, min((ci+1)*per, n)
			dy, cs, done := dyChunk(i0, i1, padded, nil, 0)
			if directDW || directDX {
				c.directBackward(g, directDW, directDX, padded, wpf, n, i0, i1, x, dy, cs, part, dx, accumulate)
			}
			if !directDW {
				c.gemmWeightGrad(g, n, i0, i1, x, dy, cs, part, ci > gi*count/groups)
			}
			if dx != nil && !directDX {
				c.inputGrad(g, gt, flip, pwt, n, i0, i1, dy, cs, dx, accumulate)
			}
			if done != nil {
				done()
			}
			if after != nil {
				after(i0, i1)
			}
		}
	})
	c.sumParts(*parts, groups, directDW)
}

// sumParts sets Grad to the sum of the groups' partial gradients in parts, in order, putting
// the GEMM path's (ky, kx, ci) order back into PyTorch's (ci, ky, kx) unless direct.
func (c *Conv2d) sumParts(parts []float32, groups int, direct bool) {
	R, kk := c.In*c.Kernel*c.Kernel, c.Kernel*c.Kernel
	if direct {
		for i := range c.Grad {
			var s float32
			for gi := 0; gi < groups; gi++ {
				s += parts[gi*c.Out*R+i]
			}
			c.Grad[i] = s
		}
		return
	}
	for o := 0; o < c.Out; o++ {
		for ci := 0; ci < c.In; ci++ {
			for t := 0; t < kk; t++ {
				var s float32
				for gi := 0; gi < groups; gi++ {
					s += parts[gi*c.Out*R+o*R+t*c.In+ci]
				}
				c.Grad[(o*c.In+ci)*kk+t] = s
			}
		}
	}
}

// flipWeights writes the flipped, transposed weights Wf [In, Out, k, k], Wf[ci, o, ky, kx] =
// W[o, ci, k−1−ky, k−1−kx], to wt: ∂L/∂x of a stride-1 convolution is the convolution of dy
// (padded by k−1−p) with Wf.
func (c *Conv2d) flipWeights(wt []float32) {
	kk := c.Kernel * c.Kernel
	for o := 0; o < c.Out; o++ {
		for ci := 0; ci < c.In; ci++ {
			src := c.Weight[(o*c.In+ci)*kk : (o*c.In+ci+1)*kk]
			dst := wt[ci*c.Out*kk+o*kk : ci*c.Out*kk+(o+1)*kk]
			for j := range dst {
				dst[j] = src[kk-1-j]
			}
		}
	}
}

// dySource supplies ∂L/∂y to backward chunk by chunk.
type dySource func(i0, i1 int, padded bool, into []float32, is int) ([]float32, int, func())

// inputGrad writes (or adds) ∂L/∂x for images [i0, i1) from their dy chunk (channel stride cs).
func (c *Conv2d) inputGrad(g, gt geom, flip bool, wt *kernels.PackedA, n, i0, i1 int, dy []float32, cs int, dx []float32, accumulate bool) {
	R, ohw, hw := g.rows(), g.oh*g.ow, g.h*g.w
	nimg := i1 - i0
	cols := nimg * ohw
	switch {
	case g.pointwise():
		kernels.GemmPacked(wt, cols, dy, cs, dx[i0*hw:], n*hw, accumulate)
	case flip:
		rt, xcols := gt.rows(), nimg*hw
		col := getScratch(rt * xcols)
		im2col(gt, dy, cs, nimg, *col, xcols)
		kernels.GemmPacked(wt, xcols, *col, xcols, dx[i0*hw:], n*hw, accumulate)
		putScratch(col)
	default:
		dcol := getScratch(R * cols)
		kernels.GemmPacked(wt, cols, dy, cs, *dcol, cols, false)
		col2im(g, *dcol, cols, nimg, dx[i0*hw:], n*hw, accumulate)
		putScratch(dcol)
	}
}

// gemmWeightGrad adds (or, first in a group, writes) the chunk's weight gradient in
// (ky, kx, ci) order to part through the GEMM path.
func (c *Conv2d) gemmWeightGrad(g geom, n, i0, i1 int, x, dy []float32, cs int, part []float32, accumulate bool) {
	R, hw := g.rows(), g.h*g.w
	nimg, cols := i1-i0, (i1-i0)*g.oh*g.ow
	xt := getScratch(nimg * hw * c.In)
	transpose(c.In, nimg*hw, x[i0*hw:], n*hw, *xt, c.In)
	b := *xt
	var rows *[]float32
	if !g.pointwise() {
		rows = getScratch(cols * R)
		im2row(g, *xt, nimg, *rows)
		b = *rows
	}
	kernels.Gemm(c.Out, R, cols, dy, cs, b, R, part, R, accumulate)
	putScratch(xt)
	if rows != nil {
		putScratch(rows)
	}
}

// directBackward runs the direct kernels for images [i0, i1): the weight gradient (added to
// part, in PyTorch's order) if dw, the input gradient if ddx. dy is the chunk's output
// gradient, zero-bordered if padded.
func (c *Conv2d) directBackward(g geom, dw, ddx, padded bool, wpf []float32, n, i0, i1 int, x, dy []float32, cs int, part, dx []float32, accumulate bool) {
	nimg, h, w := i1-i0, g.h, g.w
	hw := h * w
	if dw {
		xp := getScratch(c.In * nimg * (h + 2) * (w + 2))
		padChunk(c.In, nimg, h, w, x[i0*hw:], n*hw, *xp)
		directGrad(c.In, c.Out, nimg, h, w, dy, cs, padded, *xp, part)
		putScratch(xp)
	}
	if ddx {
		dyp := dy
		if !padded {
			buf := getScratch(c.Out * nimg * (g.oh + 2) * (g.ow + 2))
			defer putScratch(buf)
			padChunk(c.Out, nimg, g.oh, g.ow, dy, cs, *buf)
			dyp = *buf
		}
		directConv(c.Out, c.In, nimg, g.oh, g.ow, dyp, wpf, dx[i0*hw:], n*hw, accumulate)
	}
}
