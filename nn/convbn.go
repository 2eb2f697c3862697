package nn

import "fmt"

// ConvBNTrain is a Conv2d, the BatchNorm2d after it and the optional residual add and ReLU
// that follow in a ResNet, for training, with the batch-norm work folded into the
// convolution's loops over image chunks so that it runs on data still in cache:
//
//   - forward: each chunk's statistics are taken right after its convolution output is
//     written; only normalising needs a separate pass, once the batch statistics are known;
//   - backward: ∂L/∂c of each chunk (the batch-norm input gradient) is computed into scratch
//     memory right before that chunk's weight and input gradients consume it, instead of
//     being written to and read back from a batch-sized buffer.
//
// Results equal those of the separate layers up to the order of floating-point sums.
//
// Shapes, for N images of H×W pixels and an output of OH×OW:
//
//	x, dx        [In, N, H, W]
//	c            [Out, N, OH, OW]  convolution output, kept for the backward pass
//	res, y, dy   [Out, N, OH, OW]  y = act(BN(c) + res)
type ConvBNTrain struct {
	Conv *Conv2d
	BN   *BatchNorm2d
	ReLU bool
}

// NewConvBNTrain returns a unit with zero convolution weights and a fresh BatchNorm2d.
func NewConvBNTrain(in, out, kernel, stride, pad int, relu bool) *ConvBNTrain {
	return &ConvBNTrain{Conv: NewConv2d(in, out, kernel, stride, pad), BN: NewBatchNorm2d(out), ReLU: relu}
}

func (u *ConvBNTrain) check(n, h, w, lenX, lenC int, others ...int) (int, error) {
	if err := u.Conv.Check(n, h, w, lenX, lenC); err != nil {
		return 0, err
	}
	if u.BN.C != u.Conv.Out {
		return 0, fmt.Errorf("nn: conv with %d outputs followed by batch norm of %d channels", u.Conv.Out, u.BN.C)
	}
	oh, ow := u.Conv.OutSize(h, w)
	m := n * oh * ow
	return m, u.BN.Check(m, others...)
}

// ForwardTrain computes c = conv(x) and y = act(BN(c) + res) with batch statistics (res may
// be nil), updating the running statistics.
func (u *ConvBNTrain) ForwardTrain(n, h, w int, x, c, res, y []float32) error {
	m, err := u.check(n, h, w, len(x), len(c), len(y), lenOrSkip(res))
	if err != nil {
		return err
	}
	if err := u.BN.checkTrain(m); err != nil {
		return err
	}
	_, count := u.Conv.chunking(n, h, w)
	ohw := m / n
	parts := newStatParts(count, u.BN.C)
	u.Conv.forward(n, h, w, x, c, func(ci, i0, i1 int) {
		for ch := 0; ch < u.BN.C; ch++ {
			parts.add(ci, ch, c[ch*m+i0*ohw:ch*m+i1*ohw])
		}
	})
	u.BN.finishStats(m, parts)
	u.BN.applyAll(m, c, res, y, u.ReLU)
	return nil
}

// ForwardEval computes y = act(BN(conv(x)) + res) with the running statistics; c receives
// the convolution output.
func (u *ConvBNTrain) ForwardEval(n, h, w int, x, c, res, y []float32) error {
	if _, err := u.check(n, h, w, len(x), len(c), len(y), lenOrSkip(res)); err != nil {
		return err
	}
	u.Conv.forward(n, h, w, x, c, nil)
	oh, ow := u.Conv.OutSize(h, w)
	return u.BN.ForwardEval(n*oh*ow, c, res, y, u.ReLU)
}

// BackwardOptions tunes ConvBNTrain.Backward.
type BackwardOptions struct {
	// Accumulate adds ∂L/∂x to dx instead of overwriting it.
	Accumulate bool
	// Residual, if not nil, is added to ∂L/∂x as it is written to dx (not with Accumulate):
	// a residual block's shortcut gradient, which would otherwise be copied into dx first.
	// It has dx's shape and must not overlap dx.
	Residual []float32
	// Sums, if not nil, holds the batch-norm sums of every image, gathered with AddGradSums
	// while dy was produced; Backward then skips its own pass over dy (which must already be
	// masked, as AddGradSums does).
	Sums *GradSums
	// After, if not nil, is called on a worker once images [i0, i1) of dx are final, while
	// they are in that worker's cache (typically the previous unit's AddGradSums).
	After func(i0, i1 int)
}

// Backward sets the gradients of the convolution weights and of γ and β and writes ∂L/∂x to
// dx (dx nil skips it), for x, c and y of the last ForwardTrain and dy = ∂L/∂y. With ReLU, dy
// is masked in place first, so afterwards it holds the gradient of the residual.
func (u *ConvBNTrain) Backward(n, h, w int, x, c, y, dy, dx []float32, o BackwardOptions) error {
	m, err := u.check(n, h, w, len(x), len(c), len(dy), lenOrSkip(y))
	if err != nil {
		return err
	}
	if dx != nil && len(dx) < u.Conv.In*n*h*w {
		return fmt.Errorf("nn: conv %d→%d: input gradient has %d values, want %d", u.Conv.In, u.Conv.Out, len(dx), u.Conv.In*n*h*w)
	}
	if o.Residual != nil {
		switch {
		case dx == nil || o.Accumulate:
			return fmt.Errorf("nn: conv %d→%d: a residual for the input gradient needs dx, and no Accumulate", u.Conv.In, u.Conv.Out)
		case len(o.Residual) < u.Conv.In*n*h*w:
			return fmt.Errorf("nn: conv %d→%d: residual of the input gradient has %d values, want %d", u.Conv.In, u.Conv.Out, len(o.Residual), u.Conv.In*n*h*w)
		}
	}
	if u.ReLU && y == nil {
		return fmt.Errorf("nn: conv-bn backward through a ReLU needs its output")
	}
	var co bnBackCoef
	if o.Sums != nil {
		sum, dot, err := o.Sums.total(n)
		if err != nil {
			return err
		}
		co = u.BN.coefFromSums(m, sum, dot)
	} else {
		co = u.BN.backwardSums(m, c, y, dy, u.ReLU)
	}
	ohw := m / n
	out := u.BN.C
	oh, ow := u.Conv.OutSize(h, w)
	u.Conv.backward(n, h, w, x, dx, o.Accumulate, o.Residual, func(i0, i1 int, padded bool, into []float32, is int) ([]float32, int, func()) {
		cols := (i1 - i0) * ohw
		if padded {
			// Straight into the zero-bordered layout the direct kernels read.
			ph, pw := oh+2, ow+2
			cs := (i1 - i0) * ph * pw
			buf := getScratch(out * cs)
			for ch := 0; ch < out; ch++ {
				for i := 0; i < i1-i0; i++ {
					p := (*buf)[ch*cs+i*ph*pw : ch*cs+(i+1)*ph*pw]
					clear(p[:pw])
					clear(p[(ph-1)*pw:])
					for y := 0; y < oh; y++ {
						row := p[(y+1)*pw : (y+2)*pw]
						row[0], row[pw-1] = 0, 0
						lo := ch*m + (i0+i)*ohw + y*ow
						co.apply(ch, dy[lo:lo+ow], c[lo:lo+ow], row[1:pw-1])
					}
				}
			}
			return *buf, cs, func() { putScratch(buf) }
		}
		if into != nil {
			for ch := 0; ch < out; ch++ {
				lo, hi := ch*m+i0*ohw, ch*m+i1*ohw
				co.apply(ch, dy[lo:hi], c[lo:hi], into[ch*is:ch*is+cols])
			}
			return into, is, nil
		}
		buf := getScratch(out * cols)
		for ch := 0; ch < out; ch++ {
			lo, hi := ch*m+i0*ohw, ch*m+i1*ohw
			co.apply(ch, dy[lo:hi], c[lo:hi], (*buf)[ch*cols:(ch+1)*cols])
		}
		return *buf, cols, func() { putScratch(buf) }
	}, o.After)
	return nil
}

// GradSums gathers a ConvBNTrain's batch-norm backward sums (Σ dy and Σ dy·(c − μ) per
// channel) image chunk by image chunk, so they can be taken while dy is being produced.
// Chunks are combined in order of their first image, so the result does not depend on which
// thread added which chunk.
type GradSums struct {
	c        int
	sum, dot []float64 // [first image · c + channel]
	count    []int     // images of the chunk starting at each image, 0 if none
}

// NewGradSums returns empty sums for a batch of n images.
func (u *ConvBNTrain) NewGradSums(n int) *GradSums {
	c := u.BN.C
	return &GradSums{c: c, sum: make([]float64, n*c), dot: make([]float64, n*c), count: make([]int, n)}
}

// AddGradSums masks dy of images [i0, i1) by the unit's ReLU (in place) and records their sums,
// for the c and y of the last ForwardTrain of n images of h×w input pixels. Calls for disjoint
// image ranges may run concurrently.
func (u *ConvBNTrain) AddGradSums(s *GradSums, n, h, w, i0, i1 int, c, y, dy []float32) {
	oh, ow := u.Conv.OutSize(h, w)
	ohw := oh * ow
	m := n * ohw
	for ch := 0; ch < s.c; ch++ {
		lo, hi := ch*m+i0*ohw, ch*m+i1*ohw
		var ys []float32
		if u.ReLU {
			ys = y[lo:hi]
		}
		s.sum[i0*s.c+ch], s.dot[i0*s.c+ch] = gradSums(dy[lo:hi], c[lo:hi], ys, float32(u.BN.mean[ch]))
	}
	s.count[i0] = i1 - i0
}

// total adds up the chunks, checking that they cover the n images exactly.
func (s *GradSums) total(n int) (sum, dot []float64, err error) {
	sum, dot = make([]float64, s.c), make([]float64, s.c)
	for i := 0; i < n; {
		k := s.count[i]
		if k <= 0 || i+k > n {
			return nil, nil, fmt.Errorf("nn: batch-norm gradient sums do not cover image %d of %d", i, n)
		}
		for ch := 0; ch < s.c; ch++ {
			sum[ch] += s.sum[i*s.c+ch]
			dot[ch] += s.dot[i*s.c+ch]
		}
		i += k
	}
	return sum, dot, nil
}
