package nn

import (
	"fmt"
	"math"
)

// BatchNorm2d is PyTorch's BatchNorm2d (affine, tracking running statistics) on channel-major
// batches, with the activation that follows it in a ResNet fused in: y = act(x̂·γ + β + res),
// where act is ReLU or the identity and res an optional residual (the block's shortcut).
//
// Shapes, for M = N·H·W values per channel:
//
//	Weight γ, Bias β, GradWeight, GradBias, RunningMean, RunningVar   [C]
//	x, dx, y, dy, res                                                   [C, M] ([C, N, H, W])
//
// In training mode x̂ = (x − μ)/√(σ² + ε) with the batch mean μ and biased variance σ², and the
// running statistics move by Momentum towards μ and the unbiased variance σ²·M/(M−1), as in
// PyTorch; statistics are summed in float64 (PyTorch's CPU accumulation type for float).
// In eval mode the running statistics stand in for μ and σ².
type BatchNorm2d struct {
	C                       int
	Weight, Bias            []float32
	GradWeight, GradBias    []float32
	RunningMean, RunningVar []float32
	NumBatchesTracked       int64
	Momentum, Eps           float64

	// mean and invstd are the batch statistics of the last ForwardTrain, for Backward.
	mean, invstd []float64
}

// BNMomentum is PyTorch's default BatchNorm momentum.
const BNMomentum = 0.1

// NewBatchNorm2d returns PyTorch's initial state: γ = 1, β = 0, running mean 0, variance 1.
func NewBatchNorm2d(c int) *BatchNorm2d {
	b := &BatchNorm2d{C: c, Momentum: BNMomentum, Eps: BNEps,
		Weight: make([]float32, c), Bias: make([]float32, c), GradWeight: make([]float32, c), GradBias: make([]float32, c),
		RunningMean: make([]float32, c), RunningVar: make([]float32, c), mean: make([]float64, c), invstd: make([]float64, c)}
	for i := range b.Weight {
		b.Weight[i], b.RunningVar[i] = 1, 1
	}
	return b
}

// Check reports whether the layer accepts m values per channel in slices of these lengths
// (-1 skips one).
func (b *BatchNorm2d) Check(m int, lens ...int) error {
	for _, v := range [][]float32{b.Weight, b.Bias, b.GradWeight, b.GradBias, b.RunningMean, b.RunningVar} {
		if len(v) != b.C {
			return fmt.Errorf("nn: batch norm of %d channels: a parameter has %d values", b.C, len(v))
		}
	}
	if m < 1 {
		return fmt.Errorf("nn: batch norm of %d channels: %d values per channel", b.C, m)
	}
	for _, l := range lens {
		if l >= 0 && l < b.C*m {
			return fmt.Errorf("nn: batch norm of %d channels × %d values: a tensor has %d values", b.C, m, l)
		}
	}
	return nil
}

func lenOrSkip(s []float32) int {
	if s == nil {
		return -1
	}
	return len(s)
}

// ForwardTrain normalises x with its own statistics, writes y = act(x̂·γ + β + res) (res may
// be nil) and updates the running statistics and NumBatchesTracked. PyTorch refuses a
// channel of one value (M = 1) in training mode, and so does ForwardTrain.
func (b *BatchNorm2d) ForwardTrain(m int, x, res, y []float32, relu bool) error {
	if err := b.checkTrain(m, len(x), len(y), lenOrSkip(res)); err != nil {
		return err
	}
	parts := newStatParts(1, b.C)
	parallelFor(b.C, func(c int) { parts.add(0, c, x[c*m:(c+1)*m]) })
	b.finishStats(m, parts)
	b.applyAll(m, x, res, y, relu)
	return nil
}

func (b *BatchNorm2d) checkTrain(m int, lens ...int) error {
	if err := b.Check(m, lens...); err != nil {
		return err
	}
	if m < 2 {
		return fmt.Errorf("nn: batch norm in training mode needs more than 1 value per channel, got %d", m)
	}
	return nil
}

// statParts holds per-channel count, mean and sum of squared deviations of chunks of a
// batch, which finishStats combines in chunk order (Chan et al.'s pairwise update), so the
// statistics do not depend on how the chunks were spread over threads.
type statParts struct {
	c           int
	n           []int
	mean, sqdev []float64 // [chunk·c + channel]
}

func newStatParts(chunks, c int) *statParts {
	return &statParts{c: c, n: make([]int, chunks*c), mean: make([]float64, chunks*c), sqdev: make([]float64, chunks*c)}
}

// add records the values v of channel ch in chunk k. The deviations are taken from the
// float32-rounded mean and corrected by the count times the squared rounding error.
func (p *statParts) add(k, ch int, v []float32) {
	i := k*p.c + ch
	mean := sum64(v) / float64(len(v))
	m32 := float32(mean)
	d := mean - float64(m32)
	p.n[i], p.mean[i] = len(v), mean
	p.sqdev[i] = max(sqDev64(v, m32)-float64(len(v))*d*d, 0)
}

// finishStats combines the chunks' statistics into the batch mean and inverse standard
// deviation, updates the running statistics (unbiased variance, as PyTorch) and counts the
// batch.
func (b *BatchNorm2d) finishStats(m int, p *statParts) {
	if len(b.mean) != b.C {
		b.mean, b.invstd = make([]float64, b.C), make([]float64, b.C)
	}
	chunks := len(p.n) / p.c
	for c := 0; c < b.C; c++ {
		n, mean, sq := p.n[c], p.mean[c], p.sqdev[c]
		for k := 1; k < chunks; k++ {
			i := k*p.c + c
			nb := p.n[i]
			if nb == 0 {
				continue
			}
			delta := p.mean[i] - mean
			tot := n + nb
			mean += delta * float64(nb) / float64(tot)
			sq += p.sqdev[i] + delta*delta*float64(n)*float64(nb)/float64(tot)
			n = tot
		}
		variance := sq / float64(m)
		b.mean[c], b.invstd[c] = mean, 1/math.Sqrt(variance+b.Eps)
		mom := b.Momentum
		b.RunningMean[c] = float32((1-mom)*float64(b.RunningMean[c]) + mom*mean)
		b.RunningVar[c] = float32((1-mom)*float64(b.RunningVar[c]) + mom*variance*float64(m)/float64(m-1))
	}
	b.NumBatchesTracked++
}

// applyAll writes y from x with the statistics of the last finishStats.
func (b *BatchNorm2d) applyAll(m int, x, res, y []float32, relu bool) {
	parallelFor(b.C, func(c int) { b.apply(c, m, x, res, y, b.mean[c], b.invstd[c], relu) })
}

// ForwardEval writes y = act(x̂·γ + β + res) with the running statistics.
func (b *BatchNorm2d) ForwardEval(m int, x, res, y []float32, relu bool) error {
	if err := b.Check(m, len(x), len(y), lenOrSkip(res)); err != nil {
		return err
	}
	parallelFor(b.C, func(c int) {
		b.apply(c, m, x, res, y, float64(b.RunningMean[c]), 1/math.Sqrt(float64(b.RunningVar[c])+b.Eps), relu)
	})
	return nil
}

// apply writes channel c of y = act(x·α + β' + res) with α = γ·invstd, β' = β − μ·α, the form
// PyTorch's CPU kernel evaluates.
func (b *BatchNorm2d) apply(c, m int, x, res, y []float32, mean, invstd float64, relu bool) {
	alpha := float64(b.Weight[c]) * invstd
	a, s := float32(alpha), float32(float64(b.Bias[c])-mean*alpha)
	xs, ys := x[c*m:(c+1)*m], y[c*m:(c+1)*m]
	var rs []float32
	if res != nil {
		rs = res[c*m : (c+1)*m]
	}
	if n := vecLen(m); n > 0 {
		floor := float32(math.Inf(-1))
		if relu {
			floor = 0
		}
		var rp *float32
		if rs != nil {
			rp = &rs[0]
			rs = rs[n:]
		}
		applyVec(&xs[0], rp, &ys[0], n, a, s, floor)
		xs, ys = xs[n:], ys[n:]
	}
	// The tail (or everything without AVX2).
	ys = ys[:len(xs)]
	switch {
	case rs == nil && !relu:
		for i, v := range xs {
			ys[i] = v*a + s
		}
	case rs == nil:
		for i, v := range xs {
			ys[i] = max(v*a+s, 0)
		}
	default:
		rs = rs[:len(xs)]
		for i, v := range xs {
			t := v*a + s + rs[i]
			if relu {
				t = max(t, 0)
			}
			ys[i] = t
		}
	}
}

// Backward sets GradWeight and GradBias and writes dx = ∂L/∂x for the x and y of the last
// ForwardTrain and dy = ∂L/∂y. With relu, dy is first masked in place (zero where y ≤ 0),
// so afterwards it holds the gradient of the residual too.
//
//	dx = (dy − mean(dy) − x̂·mean(dy·x̂)) · γ·invstd,  ∂γ = Σ dy·x̂,  ∂β = Σ dy.
func (b *BatchNorm2d) Backward(m int, x, y, dy, dx []float32, relu bool) error {
	if err := b.Check(m, len(x), len(dy), len(dx)); err != nil {
		return err
	}
	if relu {
		if err := b.Check(m, len(y)); err != nil {
			return err
		}
	}
	co := b.backwardSums(m, x, y, dy, relu)
	parallelFor(b.C, func(c int) {
		co.apply(c, dy[c*m:(c+1)*m], x[c*m:(c+1)*m], dx[c*m:(c+1)*m])
	})
	return nil
}

// bnBackCoef holds per channel the constants of dx = (g − md − (x − mu)·k)·scale.
type bnBackCoef struct{ md, mu, k, scale []float32 }

// backwardSums masks dy by the ReLU (if relu), sets GradWeight and GradBias and returns the
// coefficients of the input gradient.
func (b *BatchNorm2d) backwardSums(m int, x, y, dy []float32, relu bool) bnBackCoef {
	sum, dot := make([]float64, b.C), make([]float64, b.C)
	parallelFor(b.C, func(c int) {
		var ys []float32
		if relu {
			ys = y[c*m : (c+1)*m]
		}
		sum[c], dot[c] = gradSums(dy[c*m:(c+1)*m], x[c*m:(c+1)*m], ys, float32(b.mean[c]))
	})
	return b.coefFromSums(m, sum, dot)
}

// coefFromSums turns Σ g and Σ g·(x − mu) (mu the float32-rounded batch mean) into the
// parameter gradients, which it sets, and the input-gradient coefficients.
func (b *BatchNorm2d) coefFromSums(m int, sum, dot []float64) bnBackCoef {
	co := bnBackCoef{make([]float32, b.C), make([]float32, b.C), make([]float32, b.C), make([]float32, b.C)}
	for c := 0; c < b.C; c++ {
		mean, invstd := b.mean[c], b.invstd[c]
		mu := float32(mean)
		// dot used the float32 mean: Σ g·(x − μ) = dot − (μ − mu)·Σ g.
		d := dot[c] - (mean-float64(mu))*sum[c]
		b.GradBias[c] = float32(sum[c])
		b.GradWeight[c] = float32(d * invstd)
		co.k[c] = float32(d * invstd * invstd / float64(m))
		co.md[c] = float32(sum[c] / float64(m))
		co.mu[c] = mu
		co.scale[c] = float32(invstd * float64(b.Weight[c]))
	}
	return co
}

// apply writes dx of channel c for the values g (masked gradient) and x.
func (co bnBackCoef) apply(c int, g, x, dx []float32) {
	md, mu, k, scale := co.md[c], co.mu[c], co.k[c], co.scale[c]
	if n := vecLen(len(g)); n > 0 {
		coefVec(&g[0], &x[0], &dx[0], n, md, mu, k, scale)
		g, x, dx = g[n:], x[n:], dx[n:]
	}
	x, dx = x[:len(g)], dx[:len(g)]
	for i, v := range g {
		dx[i] = (v - md - (x[i]-mu)*k) * scale
	}
}
