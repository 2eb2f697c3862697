//go:build linux && amd64 && !noasm

package kernels

import (
	"math"
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
	"unsafe"
)

// guardedFloats returns n float32s that end exactly where an unreadable page
// begins: a kernel reading past them faults instead of passing.
func guardedFloats(t *testing.T, n int) []float32 {
	t.Helper()
	page := syscall.Getpagesize()
	size := (4*n+page-1)/page*page + page
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[size-page:], syscall.PROT_NONE); err != nil {
		t.Skipf("mprotect: %v", err)
	}
	all := unsafe.Slice((*float32)(unsafe.Pointer(&mem[0])), (size-page)/4)
	return all[len(all)-n:]
}

// kernel8x48ip equals kernel8x48 on the same data packed, bit for bit, for
// every column count, row count, K tail and epilogue, and reads no value of
// B past column cols: B's last row ends at an unreadable page.
func TestKernel8x48InPlace(t *testing.T) {
	if !slices.Contains(SupportedISAs(), "avx512") {
		t.Skip("CPU lacks AVX-512F")
	}
	r := rand.New(rand.NewPCG(7, 8))
	const ld = 53 // row stride of B (floats); rows placed out of order below
	for _, k := range []int{1, 2, 3, 4, 5, 7, 8, 9, 33} {
		a := randSlice(r, k*8)
		bias := randSlice(r, 8)
		for cols := 1; cols <= 48; cols++ {
			// Row p of B at off[p]: reversed order, the last row (p = 0)
			// ending at the guard page.
			bmem := guardedFloats(t, (k-1)*ld+cols)
			off := make([]int, k)
			for p := range k {
				off[p] = (k - 1 - p) * ld
			}
			packed := make([]float32, k*48)
			for p := range k {
				for j := range cols {
					v := float32(r.NormFloat64())
					bmem[off[p]+j] = v
					packed[p*48+j] = v
				}
			}
			for _, rows := range []int{1, 5, 8} {
				for _, flags := range []int{0, flagLoad | flagBias | flagResidual | flagReLU} {
					c0 := randSlice(r, 8*50)
					res := randSlice(r, 8*50)
					want, got := append([]float32(nil), c0...), append([]float32(nil), c0...)
					mask := uint64(1)<<cols - 1
					kernel8x48(k, &a[0], &packed[0], &want[0], 50, rows, cols, flags, &bias[0], &res[0], 50, mask)
					kernel8x48ip(k, &a[0], &bmem[0], &off[0], &got[0], 50, rows, cols, flags, &bias[0], &res[0], 50, mask)
					for i := range want {
						if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
							t.Fatalf("k %d cols %d rows %d flags %d: c[%d] = %v in place, %v packed", k, cols, rows, flags, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// The column kernels kernel8x<c>ip (the last c ≤ 4 columns of a GEMM, epilogue
// included) against a float64 sum: within (k/4+3)·2⁻²⁴·Σ|a·b| per value, the
// bound of four interleaved float32 sums of k/4 products each and their
// two-level sum, plus 2⁻²⁴ of each term the epilogue adds (C, bias, residual),
// for every epilogue and row count; they write rows×c values of C and nothing
// else, and read no B value past column c (the last row ends at an unreadable
// page). A NaN product stays NaN through ReLU, as in the 8×48 kernels.
func TestColumnKernels(t *testing.T) {
	if !slices.Contains(SupportedISAs(), "avx512") {
		t.Skip("CPU lacks AVX-512F")
	}
	r := rand.New(rand.NewPCG(9, 10))
	type colKernel = func(k int, a, b *float32, off *int, c *float32, ldc, rows, flags int, bias, res *float32, ldr int)
	kernels := []colKernel{kernel8x1ip, kernel8x2ip, kernel8x3ip, kernel8x4ip}
	const ld, ldc, ldr = 29, 7, 9
	for _, k := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 33, 256} {
		a := randSlice(r, k*8)
		for c := 1; c <= 4; c++ {
			bmem := guardedFloats(t, (k-1)*ld+c)
			off := make([]int, k)
			for p := range k {
				off[p] = (k - 1 - p) * ld
				for j := range c {
					bmem[off[p]+j] = float32(r.NormFloat64())
				}
			}
			bias, res := randSlice(r, 8), randSlice(r, 8*ldr)
			for _, rows := range []int{1, 3, 8} {
				for flags := range 16 {
					before := randSlice(r, 8*ldc)
					got := slices.Clone(before)
					kernels[c-1](k, &a[0], &bmem[0], &off[0], &got[0], ldc, rows, flags, &bias[0], &res[0], ldr)
					for row := range 8 {
						for j := range ldc {
							at := row*ldc + j
							if row >= rows || j >= c {
								if got[at] != before[at] {
									t.Fatalf("kernel8x%dip k %d rows %d flags %d: wrote c[%d]", c, k, rows, flags, at)
								}
								continue
							}
							var want, mag float64
							for p := range k {
								prod := float64(a[p*8+row]) * float64(bmem[off[p]+j])
								want += prod
								mag += math.Abs(prod)
							}
							bound := float64(k/4+3) * 0x1p-24 * mag
							for _, e := range []struct {
								flag int
								v    float32
							}{{flagLoad, before[at]}, {flagBias, bias[row]}, {flagResidual, res[row*ldr+j]}} {
								if flags&e.flag != 0 {
									want += float64(e.v)
									bound += 0x1p-24 * (math.Abs(want) + math.Abs(float64(e.v)))
								}
							}
							if flags&flagReLU != 0 {
								want = max(want, 0)
							}
							if d := math.Abs(float64(got[at]) - want); d > bound {
								t.Fatalf("kernel8x%dip k %d rows %d flags %d: c[%d] = %v, want %v (error %.3g > %.3g)", c, k, rows, flags, at, got[at], want, d, bound)
							}
						}
					}
				}
			}
			// A NaN in B's last column: every row's value there is NaN, through ReLU too.
			bmem[off[0]+c-1] = float32(math.NaN())
			got := make([]float32, 8*ldc)
			kernels[c-1](k, &a[0], &bmem[0], &off[0], &got[0], ldc, 8, flagBias|flagReLU, &bias[0], &res[0], ldr)
			for row := range 8 {
				if v := got[row*ldc+c-1]; !math.IsNaN(float64(v)) {
					t.Fatalf("kernel8x%dip k %d: NaN in B gave c[%d] = %v", c, k, row*ldc+c-1, v)
				}
			}
		}
	}
}

// kernel32x1ip equals kernel8x1ip called on each of its four row panels, bit
// for bit, for every row count from 25 to 32, K tail and epilogue; it writes
// rows values of C's column and nothing else, and reads no B value past the
// column (the last row ends at an unreadable page).
func TestKernel32x1InPlace(t *testing.T) {
	if !slices.Contains(SupportedISAs(), "avx512") {
		t.Skip("CPU lacks AVX-512F")
	}
	r := rand.New(rand.NewPCG(11, 12))
	const ld, ldc, ldr, astride = 29, 5, 7, 8*300 + 24
	for _, k := range []int{1, 2, 3, 4, 5, 7, 9, 33, 256, 300} {
		a := randSlice(r, 3*astride+k*8)
		bmem := guardedFloats(t, (k-1)*ld+1)
		off := make([]int, k)
		for p := range k {
			off[p] = (k - 1 - p) * ld
			bmem[off[p]] = float32(r.NormFloat64())
		}
		bias, res := randSlice(r, 32), randSlice(r, 32*ldr)
		for rows := 25; rows <= 32; rows++ {
			for flags := range 16 {
				before := randSlice(r, 32*ldc)
				want, got := slices.Clone(before), slices.Clone(before)
				for q := range 4 {
					if n := min(8, rows-8*q); n > 0 {
						kernel8x1ip(k, &a[q*astride], &bmem[0], &off[0], &want[8*q*ldc], ldc, n, flags, &bias[8*q], &res[8*q*ldr], ldr)
					}
				}
				kernel32x1ip(k, &a[0], astride, &bmem[0], &off[0], &got[0], ldc, rows, flags, &bias[0], &res[0], ldr)
				for i := range want {
					if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
						t.Fatalf("k %d rows %d flags %d: c[%d] = %v, want %v (kernel8x1ip on each panel)", k, rows, flags, i, got[i], want[i])
					}
				}
			}
		}
	}
}
