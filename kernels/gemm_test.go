package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/resnet-go/resnet/internal/isatest"
)

// gemmCase is one Gemm call; pad* are extra stride columns beyond the width.
type gemmCase struct {
	m, n, k          int
	padA, padB, padC int
	accumulate       bool
}

var gemmCases = []gemmCase{
	{m: 1, n: 1, k: 1},
	{m: 1, n: 1, k: 1, accumulate: true},
	{m: 1, n: 17, k: 3},
	{m: 7, n: 1, k: 5, padA: 2, padC: 3},
	{m: 6, n: 16, k: 1},
	{m: 6, n: 16, k: 4, accumulate: true},
	{m: 5, n: 15, k: 7},
	{m: 12, n: 32, k: 256},
	{m: 13, n: 37, k: 257, padA: 1, padB: 1, padC: 1},
	{m: 31, n: 29, k: 23, padA: 5, padB: 7, padC: 3, accumulate: true},
	{m: 64, n: 49, k: 64},
	{m: 97, n: 101, k: 103},
	{m: 97, n: 101, k: 103, padA: 3, padB: 4, padC: 5, accumulate: true},
	{m: 150, n: 1030, k: 520}, // crosses mcBlock, ncBlock and two kcBlock boundaries
	{m: 145, n: 1041, k: 513, padA: 1, padB: 2, padC: 3, accumulate: true},
	{m: 0, n: 5, k: 3},
	{m: 4, n: 0, k: 3},
	{m: 4, n: 5, k: 0},
	{m: 4, n: 5, k: 0, accumulate: true},
}

// runGemmCase checks one case against the float64 reference. The stride
// padding of A and B holds NaN (a read of it would poison C) and that of C a
// sentinel that must survive.
func runGemmCase(t *testing.T, tc gemmCase, seed uint64, packed bool) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	lda, ldb, ldc := tc.k+tc.padA, tc.n+tc.padB, tc.n+tc.padC
	a := fill(make([]float32, tc.m*lda), float32(math.NaN()))
	b := fill(make([]float32, tc.k*ldb), float32(math.NaN()))
	c := fill(make([]float32, tc.m*ldc), 12345)
	for i := 0; i < tc.m; i++ {
		copy(a[i*lda:i*lda+tc.k], randSlice(r, tc.k))
		copy(c[i*ldc:i*ldc+tc.n], randSlice(r, tc.n))
	}
	for p := 0; p < tc.k; p++ {
		copy(b[p*ldb:p*ldb+tc.n], randSlice(r, tc.n))
	}
	c0 := append([]float32(nil), c...)

	if packed {
		pa := PackA(tc.m, tc.k, a, lda)
		if pa.Rows() != tc.m || pa.Cols() != tc.k {
			t.Fatalf("PackA: %d×%d, want %d×%d", pa.Rows(), pa.Cols(), tc.m, tc.k)
		}
		GemmPacked(pa, tc.n, b, ldb, c, ldc, tc.accumulate)
	} else {
		Gemm(tc.m, tc.n, tc.k, a, lda, b, ldb, c, ldc, tc.accumulate)
	}

	want, mag := refGemm(tc.m, tc.n, tc.k, a, lda, b, ldb)
	tol := make([]float64, len(want))
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			old := 0.0
			if tc.accumulate {
				old = float64(c0[i*ldc+j])
				want[i*tc.n+j] += old
			}
			tol[i*tc.n+j] = bound(tc.k, 1, mag[i*tc.n+j], math.Abs(old))
		}
	}
	checkClose(t, "C", tc.m, tc.n, c, ldc, want, tol)
	for i := 0; i < tc.m; i++ {
		for j := tc.n; j < ldc; j++ {
			if c[i*ldc+j] != 12345 {
				t.Fatalf("C padding [%d,%d] overwritten: %g", i, j, c[i*ldc+j])
			}
		}
	}
}

func TestGemm(t *testing.T) {
	isatest.Run(t, func(t *testing.T) {
		for _, mode := range []struct {
			threads int
			packed  bool
		}{{1, false}, {3, false}, {2, true}} {
			threads := mode.threads
			for ci, tc := range gemmCases {
				name := fmt.Sprintf("t%d/packed=%v/%dx%dx%d/pad%d,%d,%d/acc=%v", threads, mode.packed, tc.m, tc.n, tc.k, tc.padA, tc.padB, tc.padC, tc.accumulate)
				t.Run(name, func(t *testing.T) {
					if raceEnabled && tc.m*tc.n*tc.k > 1e7 {
						t.Skip("too slow under the race detector")
					}
					withThreads(threads, func() { runGemmCase(t, tc, uint64(ci), mode.packed) })
				})
			}
		}
	})
}

// TestGemmConcurrent calls Gemm from several goroutines at once (run it
// with -race); every result must still be right.
func TestGemmConcurrent(t *testing.T) {
	isatest.Run(t, func(t *testing.T) {
		withThreads(2, func() {
			var wg sync.WaitGroup
			for g := 0; g < 6; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tc := gemmCases[9+g%5]
					runGemmCase(t, tc, uint64(100+g), g%2 == 1)
				}()
			}
			wg.Wait()
		})
	})
}

// TestSetThreadsWhileRunning shrinks and grows the pool while calls run: a
// call must finish even when the workers it queued for have been stopped.
func TestSetThreadsWhileRunning(t *testing.T) {
	prev := Threads()
	defer SetThreads(prev)
	prevMin := minParallelFlops
	minParallelFlops = 0
	defer func() { minParallelFlops = prevMin }()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				runGemmCase(t, gemmCases[11], uint64(g*10+i), i%2 == 1)
			}
		}()
	}
	for i := 0; i < 20; i++ {
		SetThreads(1 + i%4)
	}
	wg.Wait()
	if SetThreads(3); Threads() != 3 {
		t.Fatalf("Threads() = %d after SetThreads(3)", Threads())
	}
}

func TestCheckGemm(t *testing.T) {
	tests := []struct {
		name                                     string
		m, n, k, lenA, lda, lenB, ldb, lenC, ldc int
		want                                     string // substring of the error; "" = valid
	}{
		{"ok", 2, 3, 4, 8, 4, 12, 3, 6, 3, ""},
		{"ok strided", 2, 3, 4, 9, 5, 15, 4, 7, 4, ""},
		{"empty", 0, 0, 0, 0, 0, 0, 0, 0, 0, ""},
		{"negative", -1, 3, 4, 8, 4, 12, 3, 6, 3, "negative size"},
		{"short A", 2, 3, 4, 7, 4, 12, 3, 6, 3, "matrix A (2×4, stride 4): need 8 values, got 7"},
		{"short B", 2, 3, 4, 8, 4, 11, 3, 6, 3, "matrix B"},
		{"short C", 2, 3, 4, 8, 4, 12, 3, 5, 3, "matrix C"},
		{"narrow lda", 2, 3, 4, 8, 3, 12, 3, 6, 3, "row stride 3 is less than its width 4"},
		{"narrow ldc", 2, 3, 4, 8, 4, 12, 3, 6, 2, "matrix C"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckGemm(tc.m, tc.n, tc.k, tc.lenA, tc.lda, tc.lenB, tc.ldb, tc.lenC, tc.ldc)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestGemmPanicsOnBadSize(t *testing.T) {
	defer func() {
		r := recover()
		if err, ok := r.(error); !ok || !strings.Contains(err.Error(), "matrix C") {
			t.Fatalf("recovered %v, want an error naming matrix C", r)
		}
	}()
	Gemm(2, 2, 2, make([]float32, 4), 2, make([]float32, 4), 2, make([]float32, 3), 2, false)
}

// TestGemmDeterministic: K is never split between goroutines and tiles sit
// on a fixed grid, so the thread count must not change a single bit.
func TestGemmDeterministic(t *testing.T) {
	isatest.Run(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 5))
		const m, n, k = 61, 203, 300
		a, b := randSlice(r, m*k), randSlice(r, k*n)
		var results [][]float32
		for _, threads := range []int{1, 2, 3, 5} {
			c := make([]float32, m*n)
			withThreads(threads, func() { Gemm(m, n, k, a, k, b, n, c, n, false) })
			results = append(results, c)
		}
		for i := 1; i < len(results); i++ {
			for j := range results[0] {
				if math.Float32bits(results[i][j]) != math.Float32bits(results[0][j]) {
					t.Fatalf("run %d differs from the 1-thread run at %d: %g vs %g", i, j, results[i][j], results[0][j])
				}
			}
		}
	})
}
