package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/resnet-go/resnet/internal/isa"
)

// needNEON skips a test of the NEON kernels where they cannot run: on other
// architectures and in noasm builds (the arm64 CI job runs them under
// emulation).
func needNEON(t testing.TB) {
	t.Helper()
	if why := isa.Unavailable(isa.NEON); why != "" {
		t.Skip("NEON kernels: " + why)
	}
}

// TestNEONKernels runs the NEON micro-kernels and kernelSpec on the same packed
// panels: kernel8x12 for every flag combination and row count, kernel8x8 and
// kernel8x4 (products only) on full rows. They may differ only by rounding
// (FMLA against separate multiply and add); C outside the tile must stay
// untouched.
func TestNEONKernels(t *testing.T) {
	needNEON(t)
	const mr, nr = 8, 12
	ldc, ldr := nr+3, nr+5
	for _, k := range []int{1, 2, 3, 4, 5, 7, 8, 64, 257} {
		for flags := 0; flags < 16; flags++ {
			for rows := 1; rows <= mr; rows++ {
				for _, cols := range []int{12, 8, 4} {
					if cols < nr && (flags != 0 || rows != mr) {
						continue // the narrow kernels store the plain product of 8 rows
					}
					r := rand.New(rand.NewPCG(uint64(k), uint64((flags*32+rows)*64+cols)))
					a, b := randSlice(r, k*mr), randSlice(r, k*nr)
					bias, res := randSlice(r, rows), randSlice(r, (mr-1)*ldr+nr)
					c0 := randSlice(r, mr*ldc)
					want := append([]float32(nil), c0...)
					got := append([]float32(nil), c0...)
					kernelSpec(mr, nr, k, a, b, want, ldc, rows, cols, flags, bias, res, ldr)
					switch cols {
					case 12:
						kernel8x12(k, &a[0], &b[0], &got[0], ldc, rows, flags, first(bias), first(res), ldr)
					case 8:
						kernel8x8(k, &a[0], &b[0], &got[0], ldc)
					case 4:
						kernel8x4(k, &a[0], &b[0], &got[0], ldc)
					}
					for i := range got {
						row, col := i/ldc, i%ldc
						if row >= rows || col >= cols {
							if got[i] != c0[i] {
								t.Fatalf("k%d flags%d rows%d cols%d: c[%d,%d] outside the tile changed: %g -> %g", k, flags, rows, cols, row, col, c0[i], got[i])
							}
							continue
						}
						var mag float64
						for p := 0; p < k; p++ {
							mag += math.Abs(float64(a[p*mr+row]) * float64(b[p*nr+col]))
						}
						mag += math.Abs(float64(c0[i])) + math.Abs(float64(bias[row])) + math.Abs(float64(res[row*ldr+col]))
						if d := math.Abs(float64(got[i]) - float64(want[i])); !(d <= 2*bound(k, 3, mag, 0)) {
							t.Fatalf("k%d flags%d rows%d cols%d: c[%d,%d] = %g, spec %g", k, flags, rows, cols, row, col, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestNEONKernelNaN: ReLU keeps a NaN of the product (row 3, NaN·b), as
// kernelGo does, and clamps the negative rows.
func TestNEONKernelNaN(t *testing.T) {
	needNEON(t)
	a, b := fill(make([]float32, 8), -1), fill(make([]float32, 12), 1)
	a[3] = float32(math.NaN())
	c := make([]float32, 8*12)
	kernel8x12(1, &a[0], &b[0], &c[0], 12, 8, flagReLU, nil, nil, 0)
	for i, v := range c {
		if i/12 == 3 && !math.IsNaN(float64(v)) || i/12 != 3 && v != 0 {
			t.Fatalf("c[%d] = %g", i, v)
		}
	}
}
