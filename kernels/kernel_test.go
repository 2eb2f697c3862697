package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/resnet-go/resnet/internal/isatest"
)

// TestKernelMatchesSpec runs each path's micro-kernel (kernelGoBlocked on the
// go path) and the specification kernelSpec on the same packed panels for every
// flag combination, row count and, for the AVX-512 kernels, which mask the
// columns past the border of C, column count; they may differ only by
// rounding (FMA vs separate multiply and add). C outside the tile must stay
// untouched.
func TestKernelMatchesSpec(t *testing.T) { isatest.Run(t, testKernelMatchesSpec) }

func testKernelMatchesSpec(t *testing.T) {
	for _, ker := range pathKernels() {
		t.Run(ker.name, func(t *testing.T) { testKernel(t, ker) })
	}
}

// pathKernels are the GEMM micro-kernels of the path in use.
func pathKernels() []*gemmKernel {
	return []*gemmKernel{curISA().gemm}
}

// runTile runs ker's micro-kernel on one tile; cols < nr only for the
// AVX-512 kernels (the others write whole tiles).
func runTile(ker *gemmKernel, k int, a, b, c []float32, ldc, rows, cols, flags int, bias, res []float32, ldr int) {
	switch ker.kind {
	case kindAVX512:
		ker.tile512(k, a, b, c, ldc, rows, cols, flags, bias, res, ldr)
	case kindAVX2:
		kernel6x16(k, &a[0], &b[0], &c[0], ldc, rows, flags, first(bias), first(res), ldr)
	case kindNEON:
		kernel8x12(k, &a[0], &b[0], &c[0], ldc, rows, flags, first(bias), first(res), ldr)
	default:
		kernelGoBlocked(k, a, b, c, ldc, rows, flags, bias, res, ldr)
	}
}

func testKernel(t *testing.T, ker *gemmKernel) {
	mr, nr := ker.mr, ker.nr
	ldc, ldr := nr+3, nr+5
	colSet := []int{nr}
	if ker.kind == kindAVX512 {
		colSet = nil
		for c := 1; c <= nr; c++ {
			colSet = append(colSet, c)
		}
	}
	for _, k := range []int{1, 3, 4, 5, 64, 257} {
		for flags := 0; flags < 16; flags++ {
			for rows := 1; rows <= mr; rows++ {
				for _, cols := range colSet {
					if k > 5 && cols%8 > 1 && cols != nr-1 {
						continue // long K: the edge columns 1, 8, 9, 16, 17, … suffice
					}
					r := rand.New(rand.NewPCG(uint64(k), uint64((flags*32+rows)*64+cols)))
					a, b := randSlice(r, k*mr), randSlice(r, k*nr)
					bias, res := randSlice(r, rows), randSlice(r, (mr-1)*ldr+nr)
					c0 := randSlice(r, mr*ldc)
					want := append([]float32(nil), c0...)
					got := append([]float32(nil), c0...)
					kernelSpec(mr, nr, k, a, b, want, ldc, rows, cols, flags, bias, res, ldr)
					runTile(ker, k, a, b, got, ldc, rows, cols, flags, bias, res, ldr)
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
