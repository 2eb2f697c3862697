package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/resnet-go/resnet/kernels"
)

func rs(n int) []float32 {
	r := rand.New(rand.NewPCG(1, 2))
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32() - 0.5
	}
	return s
}

var probeShapes = []kernels.ConvParams{
	{InC: 16, InH: 32, InW: 32, OutC: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
	{InC: 32, InH: 16, InW: 16, OutC: 32, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
	{InC: 64, InH: 8, InW: 8, OutC: 64, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
}

func BenchmarkProbePerImagePacked(b *testing.B) {
	kernels.SetThreads(1)
	for _, p := range probeShapes {
		b.Run(fmt.Sprint(p.InC), func(b *testing.B) {
			const n = 16
			in, out := rs(n*p.InC*p.InH*p.InW), make([]float32, n*p.OutC*p.InH*p.InW)
			w := kernels.PackConvWeights(p, rs(p.OutC*p.InC*9))
			for b.Loop() {
				for i := 0; i < n; i++ {
					kernels.Conv2DPacked(p, in[i*p.InC*p.InH*p.InW:], w, nil, nil, false, out[i*p.OutC*p.InH*p.InW:], nil)
				}
			}
			b.ReportMetric(2*float64(p.MACs())*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func BenchmarkProbeBatchedIm2col(b *testing.B) {
	kernels.SetThreads(1)
	for _, p := range probeShapes {
		b.Run(fmt.Sprint(p.InC), func(b *testing.B) {
			const n = 16
			c := NewConv2d(p.InC, p.OutC, 3, 1, 1)
			copy(c.Weight, rs(len(c.Weight)))
			in, out := rs(n*p.InC*p.InH*p.InW), make([]float32, n*p.OutC*p.InH*p.InW)
			for b.Loop() {
				c.Forward(n, p.InH, p.InW, in, out)
			}
			b.ReportMetric(2*float64(p.MACs())*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func BenchmarkProbeIm2colOnly(b *testing.B) {
	for _, p := range probeShapes {
		b.Run(fmt.Sprint(p.InC), func(b *testing.B) {
			const n = 16
			g := newGeom(p.InC, p.InH, p.InW, 3, 1, 1)
			in := rs(n * p.InC * p.InH * p.InW)
			col := make([]float32, g.rows()*g.oh*g.ow)
			for b.Loop() {
				for i := 0; i < n; i++ {
					im2col(g, in[i*p.InH*p.InW:], n*p.InH*p.InW, 1, col, g.oh*g.ow)
				}
			}
			b.ReportMetric(float64(len(col))*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gfloats/s")
		})
	}
}

func BenchmarkProbeBackParts(b *testing.B) {
	kernels.SetThreads(1)
	for _, bc := range benchConvs[1:] {
		b.Run(bc.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			c := NewConv2d(bc.in, bc.out, bc.k, bc.s, bc.k/2)
			copy(c.Weight, randVec(r, len(c.Weight)))
			oh, ow := c.OutSize(bc.h, bc.h)
			x, dy := randVec(r, bc.in*benchBatch*bc.h*bc.h), randVec(r, bc.out*benchBatch*oh*ow)
			dx := make([]float32, len(x))
			macs := float64(bc.out*oh*ow*bc.in*bc.k*bc.k) * benchBatch
			b.Run("dW", func(b *testing.B) {
				for b.Loop() {
					c.Backward(benchBatch, bc.h, bc.h, x, dy, nil, false)
				}
				b.ReportMetric(2*macs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
			b.Run("both", func(b *testing.B) {
				for b.Loop() {
					c.Backward(benchBatch, bc.h, bc.h, x, dy, dx, false)
				}
				b.ReportMetric(4*macs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		})
	}
}

func TestTransposeProbe(t *testing.T) {
	for _, sz := range [][2]int{{3, 5}, {8, 200}, {17, 300}, {64, 129}} {
		r, c := sz[0], sz[1]
		src := rs(r * (c + 3))
		dst := make([]float32, c*(r+2))
		transpose(r, c, src, c+3, dst, r+2)
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				if dst[j*(r+2)+i] != src[i*(c+3)+j] {
					t.Fatal(sz, i, j)
				}
			}
		}
	}
}

func BenchmarkProbeTall(b *testing.B) {
	kernels.SetThreads(1)
	for _, p0 := range probeShapes {
		b.Run(fmt.Sprint(p0.InC), func(b *testing.B) {
			const n = 128
			p := p0
			p.InH = n * p0.InH
			in, out := rs(p.InC*p.InH*p.InW), make([]float32, p.OutC*p.InH*p.InW)
			w := rs(p.OutC * p.InC * 9)
			for b.Loop() {
				kernels.Conv2D(p, in, w, nil, nil, false, out, nil)
			}
			b.ReportMetric(2*float64(p.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func BenchmarkProbeLoops(b *testing.B) {
	for _, n := range []int{1 << 14, 1 << 21} {
		x, y, g, d := rs(n), rs(n), rs(n), make([]float32, n)
		b.Run(fmt.Sprintf("sum64/%d", n), func(b *testing.B) {
			for b.Loop() {
				sum64(x)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gval/s")
		})
		b.Run(fmt.Sprintf("gradSums/%d", n), func(b *testing.B) {
			for b.Loop() {
				gradSums(g, x, y, 0.1)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gval/s")
		})
		bn := NewBatchNorm2d(1)
		bn.mean[0], bn.invstd[0] = 0.1, 2
		b.Run(fmt.Sprintf("apply/%d", n), func(b *testing.B) {
			for b.Loop() {
				bn.apply(0, n, x, nil, d, 0.1, 2, true)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gval/s")
		})
		co := bnBackCoef{[]float32{1}, []float32{1}, []float32{1}, []float32{1}}
		b.Run(fmt.Sprintf("coef/%d", n), func(b *testing.B) {
			for b.Loop() {
				co.apply(0, g, x, d)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gval/s")
		})
		b.Run(fmt.Sprintf("copy/%d", n), func(b *testing.B) {
			for b.Loop() {
				copy(d, x)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gval/s")
		})
	}
}
