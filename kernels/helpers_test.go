package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Tests that compare paths run under isatest.Run: once per instruction-set
// path (go, avx2, avx512, neon), those this CPU cannot run skipped with the
// reason.

// needAsm skips a test of the amd64 assembly kernels on a path without them
// (go, neon): their specifications are the Go code those paths run, which
// other tests check against float64 references.
func needAsm(t testing.TB) {
	t.Helper()
	if !curISA().asm {
		t.Skipf("the %s path does not run these amd64 assembly kernels but their Go specifications", ISA())
	}
}

// withThreads runs f with n pool threads and with splitting forced even for
// tiny problems, restoring both afterwards.
func withThreads(n int, f func()) {
	prevT, prevMin := Threads(), minParallelFlops
	SetThreads(n)
	minParallelFlops = 0
	defer func() { SetThreads(prevT); minParallelFlops = prevMin }()
	f()
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// fill sets every element of s to v.
func fill(s []float32, v float32) []float32 {
	for i := range s {
		s[i] = v
	}
	return s
}

// refGemm returns A·B in float64 and Σ_p |a||b| per element (for error bounds).
func refGemm(m, n, k int, a []float32, lda int, b []float32, ldb int) (prod, mag []float64) {
	prod = make([]float64, m*n)
	mag = make([]float64, m*n)
	// Row by row of B, so that B is read along its rows (a column walk missed a cache line
	// on every product, the slowest part of the kernel tests under qemu-user); every
	// element still sums its products in order of p.
	for i := 0; i < m; i++ {
		s, sa := prod[i*n:(i+1)*n], mag[i*n:(i+1)*n]
		for p := 0; p < k; p++ {
			ai := float64(a[i*lda+p])
			for j, bv := range b[p*ldb : p*ldb+n] {
				x := ai * float64(bv)
				s[j] += x
				sa[j] += math.Abs(x)
			}
		}
	}
	return prod, mag
}

// unit is the float32 unit roundoff.
const unit = 1.0 / (1 << 24)

// bound is a rigorous float32 error bound for a sum of k products of total
// magnitude mag plus `extra` further additions of total magnitude addMag:
// (k+extra+1)·u·(mag+addMag), doubled for slack.
func bound(k, extra int, mag, addMag float64) float64 {
	return 2 * float64(k+extra+1) * unit * (mag + addMag)
}

// closeTo reports the first element of got (m×n, stride ld) farther from want
// than the bound allows; tolName describes the check for the message.
func checkClose(t *testing.T, what string, m, n int, got []float32, ld int, want, tol []float64) {
	t.Helper()
	bad := 0
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			g, w, e := float64(got[i*ld+j]), want[i*n+j], tol[i*n+j]
			if !(math.Abs(g-w) <= e) {
				if bad < 5 {
					t.Errorf("%s: [%d,%d] = %g, want %g (±%.3g)", what, i, j, g, w, e)
				}
				bad++
			}
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d elements wrong in all", what, bad)
	}
}
