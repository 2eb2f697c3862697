package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestKernelGoBlocked runs the go path's micro-kernel kernelGoBlocked and its
// specification kernelGo on the same packed panels for every flag
// combination, row count and odd and even K; they sum in the same order, so
// they may differ only where the compiler fuses a multiply-add in one and not
// the other. C outside the rows written must stay untouched.
func TestKernelGoBlocked(t *testing.T) {
	ldc, ldr := nr+3, nr+5
	for _, k := range []int{1, 2, 3, 4, 5, 64, 257} {
		for flags := 0; flags < 16; flags++ {
			for rows := 1; rows <= mr; rows++ {
				r := rand.New(rand.NewPCG(uint64(k), uint64(flags*32+rows)))
				a, b := randSlice(r, k*mr), randSlice(r, k*nr)
				bias, res := randSlice(r, rows), randSlice(r, (mr-1)*ldr+nr)
				c0 := randSlice(r, mr*ldc)
				want := append([]float32(nil), c0...)
				got := append([]float32(nil), c0...)
				kernelGo(k, a, b, want, ldc, rows, flags, bias, res, ldr)
				kernelGoBlocked(k, a, b, got, ldc, rows, flags, bias, res, ldr)
				for i := range got {
					row, col := i/ldc, i%ldc
					if row >= rows || col >= nr {
						if got[i] != c0[i] {
							t.Fatalf("k%d flags%d rows%d: c[%d,%d] outside the tile changed: %g -> %g", k, flags, rows, row, col, c0[i], got[i])
						}
						continue
					}
					var mag float64
					for p := 0; p < k; p++ {
						mag += math.Abs(float64(a[p*mr+row]) * float64(b[p*nr+col]))
					}
					mag += math.Abs(float64(c0[i])) + math.Abs(float64(bias[row])) + math.Abs(float64(res[row*ldr+col]))
					if d := math.Abs(float64(got[i]) - float64(want[i])); !(d <= 2*bound(k, 3, mag, 0)) {
						t.Fatalf("k%d flags%d rows%d: c[%d,%d] = %g, kernelGo %g", k, flags, rows, row, col, got[i], want[i])
					}
				}
			}
		}
	}
}

// BenchmarkKernelGo compares the go path's micro-kernel with its
// specification on one B micro-panel (in L1) and 24 A panels (in L2), as
// the GEMM's inner loop runs them.
func BenchmarkKernelGo(b *testing.B) {
	for _, kc := range []struct {
		name string
		f    func(k int, a, b, c []float32, ldc, rows, flags int, bias, res []float32, ldr int)
	}{{"kernelGo", kernelGo}, {"kernelGoBlocked", kernelGoBlocked}} {
		b.Run(kc.name, func(b *testing.B) {
			const k, panels = 256, 24
			r := rand.New(rand.NewPCG(1, 2))
			a, bp := randSlice(r, panels*k*mr), randSlice(r, k*nr)
			c := make([]float32, panels*mr*nr)
			for b.Loop() {
				for q := range panels {
					kc.f(k, a[q*k*mr:], bp, c[q*mr*nr:], nr, mr, flagLoad, nil, nil, 0)
				}
			}
			b.ReportMetric(2*float64(panels*mr*nr*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
