package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/resnet-go/resnet/internal/isatest"
)

// TestKernelMatchesSpec runs the assembly micro-kernel and its specification
// kernelGo on the same packed panels for every flag combination and row count;
// they may differ only by rounding (FMA vs separate multiply and add).
func TestKernelMatchesSpec(t *testing.T) { isatest.Run(t, testKernelMatchesSpec) }

func testKernelMatchesSpec(t *testing.T) {
	needAsm(t)
	const ldc, ldr = nr + 3, nr + 5
	for _, k := range []int{1, 3, 4, 5, 64, 257} {
		for flags := 0; flags < 16; flags++ {
			for rows := 1; rows <= mr; rows++ {
				t.Run(fmt.Sprintf("k%d/flags%d/rows%d", k, flags, rows), func(t *testing.T) {
					r := rand.New(rand.NewPCG(uint64(k), uint64(flags*8+rows)))
					a, b := randSlice(r, k*mr), randSlice(r, k*nr)
					bias, res := randSlice(r, rows), randSlice(r, (mr-1)*ldr+nr)
					c0 := randSlice(r, (mr-1)*ldc+nr)
					want := append([]float32(nil), c0...)
					got := append([]float32(nil), c0...)
					kernelGo(k, a, b, want, ldc, rows, flags, bias, res, ldr)
					kernel6x16(k, &a[0], &b[0], &got[0], ldc, rows, flags, &bias[0], &res[0], ldr)
					for i := range got {
						row, col := i/ldc, i%ldc
						if row >= rows || col >= nr {
							if got[i] != c0[i] {
								t.Fatalf("c[%d,%d] outside the tile changed: %g -> %g", row, col, c0[i], got[i])
							}
							continue
						}
						var mag float64
						for p := 0; p < k; p++ {
							mag += math.Abs(float64(a[p*mr+row]) * float64(b[p*nr+col]))
						}
						mag += math.Abs(float64(c0[i])) + math.Abs(float64(bias[row])) + math.Abs(float64(res[row*ldr+col]))
						if d := math.Abs(float64(got[i]) - float64(want[i])); !(d <= 2*bound(k, 3, mag, 0)) {
							t.Fatalf("c[%d,%d]: asm %g, spec %g", row, col, got[i], want[i])
						}
					}
				})
			}
		}
	}
}

// TestNarrowKernelMatchesSpec checks kernel6x8 against the first 8 columns
// of kernelGo.
func TestNarrowKernelMatchesSpec(t *testing.T) { isatest.Run(t, testNarrowKernelMatchesSpec) }

func testNarrowKernelMatchesSpec(t *testing.T) {
	needAsm(t)
	const ldc = nr
	for _, k := range []int{1, 2, 3, 4, 5, 7, 8, 9, 64, 257} {
		r := rand.New(rand.NewPCG(uint64(k), 99))
		a, b := randSlice(r, k*mr), randSlice(r, k*nr)
		want := make([]float32, mr*ldc)
		got := fill(make([]float32, mr*ldc), 777)
		kernelGo(k, a, b, want, ldc, mr, 0, nil, nil, 0)
		kernel6x8(k, &a[0], &b[0], &got[0], ldc)
		for row := 0; row < mr; row++ {
			for col := 0; col < nr; col++ {
				g := got[row*ldc+col]
				if col >= nr/2 {
					if g != 777 {
						t.Fatalf("k=%d: c[%d,%d] beyond the 8 columns written: %g", k, row, col, g)
					}
					continue
				}
				var mag float64
				for p := 0; p < k; p++ {
					mag += math.Abs(float64(a[p*mr+row]) * float64(b[p*nr+col]))
				}
				if d := math.Abs(float64(g) - float64(want[row*ldc+col])); !(d <= 2*bound(k, 0, mag, 0)) {
					t.Fatalf("k=%d: c[%d,%d]: asm %g, spec %g", k, row, col, g, want[row*ldc+col])
				}
			}
		}
	}
}
