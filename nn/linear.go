package nn

import (
	"fmt"

	"github.com/resnet-go/resnet/kernels"
)

// Linear is PyTorch's Linear layer for training: y = x·Wᵀ + b.
//
//	Weight, GradWeight   [Out, In]
//	Bias, GradBias       [Out]
//	x, dx                [N, In]
//	y, dy                [N, Out]
type Linear struct {
	In, Out              int
	Weight, Bias         []float32
	GradWeight, GradBias []float32
}

// NewLinear returns a layer with zero parameters and gradients.
func NewLinear(in, out int) *Linear {
	return &Linear{In: in, Out: out, Weight: make([]float32, out*in), Bias: make([]float32, out),
		GradWeight: make([]float32, out*in), GradBias: make([]float32, out)}
}

func (l *Linear) check(n, lenX, lenY int) error {
	if len(l.Weight) != l.In*l.Out || len(l.GradWeight) != l.In*l.Out || len(l.Bias) != l.Out || len(l.GradBias) != l.Out {
		return fmt.Errorf("nn: linear %d→%d: parameters have the wrong sizes", l.In, l.Out)
	}
	if n < 1 || lenX < n*l.In || lenY < n*l.Out {
		return fmt.Errorf("nn: linear %d→%d on %d rows: input has %d values, output %d", l.In, l.Out, n, lenX, lenY)
	}
	return nil
}

// Forward computes y for n rows of x.
func (l *Linear) Forward(n int, x, y []float32) error {
	if err := l.check(n, len(x), len(y)); err != nil {
		return err
	}
	kernels.LinearBatch(n, x, l.In, l.Weight, l.Out, l.Bias, y)
	return nil
}

// Backward sets GradWeight = dyᵀ·x and GradBias = Σ dy, and writes dx = dy·W unless dx is nil.
func (l *Linear) Backward(n int, x, dy, dx []float32) error {
	if err := l.check(n, len(x), len(dy)); err != nil {
		return err
	}
	if dx != nil && len(dx) < n*l.In {
		return fmt.Errorf("nn: linear %d→%d: input gradient has %d values, want %d", l.In, l.Out, len(dx), n*l.In)
	}
	dyT := getScratch(l.Out * n)
	defer putScratch(dyT)
	transpose(n, l.Out, dy, l.Out, *dyT, n)
	kernels.Gemm(l.Out, l.In, n, *dyT, n, x, l.In, l.GradWeight, l.In, false)
	for o := 0; o < l.Out; o++ {
		var s float64
		for _, g := range (*dyT)[o*n : (o+1)*n] {
			s += float64(g)
		}
		l.GradBias[o] = float32(s)
	}
	if dx != nil {
		kernels.Gemm(n, l.In, l.Out, dy, l.Out, l.Weight, l.In, dx, l.In, false)
	}
	return nil
}
