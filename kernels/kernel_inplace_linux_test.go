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

// The column kernels kernel8x<c>ip (the last c ≤ 4 columns of a GEMM) against
// a float64 sum: within (k/4+3)·2⁻²⁴·Σ|a·b| per value, the bound of four
// interleaved float32 sums of k/4 products each and their two-level sum,
// reading no B value past column c (the last row ends at an unreadable page).
func TestColumnKernels(t *testing.T) {
	if !slices.Contains(SupportedISAs(), "avx512") {
		t.Skip("CPU lacks AVX-512F")
	}
	r := rand.New(rand.NewPCG(9, 10))
	kernels := []func(k int, a, b *float32, off *int, t *float32){kernel8x1ip, kernel8x2ip, kernel8x3ip, kernel8x4ip}
	const ld = 29
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
			var got [32]float32
			kernels[c-1](k, &a[0], &bmem[0], &off[0], &got[0])
			for j := range c {
				for row := range 8 {
					var want, mag float64
					for p := range k {
						prod := float64(a[p*8+row]) * float64(bmem[off[p]+j])
						want += prod
						mag += math.Abs(prod)
					}
					bound := float64(k/4+3) * 0x1p-24 * mag
					if d := math.Abs(float64(got[j*8+row]) - want); d > bound {
						t.Fatalf("kernel8x%dip k %d: t[%d] = %v, want %v (error %.3g > %.3g)", c, k, j*8+row, got[j*8+row], want, d, bound)
					}
				}
			}
		}
	}
}
