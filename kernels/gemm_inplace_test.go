package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/resnet-go/resnet/internal/isatest"
)

// withInPlace runs f with the in-place B path on or off.
func withInPlace(on bool, f func()) {
	prev := gemmInPlace
	gemmInPlace = on
	defer func() { gemmInPlace = prev }()
	f()
}

// The in-place GEMM gives bit for bit the packed GEMM's results (the same
// products in the same order), for every B source that has its rows in
// memory, on one thread and two (other splits: the cost model drops B's
// packing cost), with and without the epilogue, with and without the next
// panel's prefetch, with the column panels or the row panels outside, with
// convolution B read in place or packed (packConv), packed B too in either
// order (macro512).
func TestGemmInPlaceMatchesPacked(t *testing.T) {
	isatest.Run(t, func(t *testing.T) {
		if !curISA().gemm.inPlace {
			t.Logf("path %s packs B (no in-place kernel)", ISA())
			return
		}
		conv := func(in, h, out, k, s int) ConvParams {
			return ConvParams{InC: in, InH: h, InW: h, OutC: out, KH: k, KW: k, StrideH: s, StrideW: s, PadH: k / 2, PadW: k / 2}
		}
		for _, tc := range []struct {
			p ConvParams
			n int
		}{
			{conv(64, 56, 256, 1, 1), 1},  // 1×1: B is the activations, rows HW apart
			{conv(40, 13, 24, 1, 1), 1},   // edge tiles: 169 columns, 24 rows
			{conv(64, 7, 72, 1, 1), 3},    // images side by side: blocks spanning images are packed
			{conv(256, 14, 128, 1, 2), 1}, // strided 1×1: phase planes
			{conv(128, 28, 128, 3, 2), 1}, // 3×3/2: phase planes, extended output
			{conv(3, 45, 64, 7, 2), 2},    // a stem
			{conv(64, 30, 64, 3, 1), 1},   // Winograd F4: V in place
			{conv(128, 7, 136, 3, 1), 2},  // Winograd F2
			{conv(300, 9, 40, 3, 2), 1},   // K = 2700: several K blocks
			{conv(96, 7, 64, 1, 1), 1},    // 49 columns: the last by the column kernel
			{conv(64, 14, 32, 1, 1), 1},   // 196 columns: the last 4 by the column kernel
			{conv(256, 30, 64, 1, 1), 1},  // 64 rows, 900 columns: panels gathered (gatherB)
			{conv(600, 17, 64, 1, 1), 2},  // gathered, three K blocks, 289 columns an image
		} {
			p, n := tc.p, tc.n
			r := rand.New(rand.NewPCG(uint64(p.InC), uint64(p.OutC)))
			w, bias := randSlice(r, p.OutC*p.InC*p.KH*p.KW), randSlice(r, p.OutC)
			in := randSlice(r, n*p.InC*p.InH*p.InW)
			outN := n * p.OutC * p.OutH() * p.OutW()
			res := randSlice(r, outN)
			pl := PlanConv(p, w)
			for _, threads := range []int{1, 2} {
				prevT := Threads()
				SetThreads(threads)
				for _, ep := range []bool{false, true} {
					var rb, rr []float32
					if ep {
						rb, rr = bias, res
					}
					want := make([]float32, outN)
					withInPlace(false, func() { Conv2DPlanned(p, n, in, pl, rb, rr, ep, want) })
					ker := curISA().gemm
					for _, v := range []struct {
						pf      bool
						rowsK   int  // rowsOuterK: 0 column panels outside, 1 << 20 row panels
						l1Panel bool // true packs most convolution B (packConv)
					}{{true, rowsOuterK, false}, {false, rowsOuterK, false}, {true, 0, false}, {true, 1 << 20, false}, {true, rowsOuterK, true}, {true, 0, true}, {true, 1 << 20, true}} {
						got := make([]float32, outN)
						prevK, prevL1 := rowsOuterK, ker.l1Panel
						panelPrefetch, rowsOuterK, ker.l1Panel = v.pf, v.rowsK, v.l1Panel
						withInPlace(true, func() { Conv2DPlanned(p, n, in, pl, rb, rr, ep, got) })
						panelPrefetch, rowsOuterK, ker.l1Panel = true, prevK, prevL1
						for i := range want {
							if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
								t.Fatalf("%+v n=%d threads %d epilogue %v (%s) %+v: out[%d] = %v in place, %v packed",
									p, n, threads, ep, pl.Algorithm(), v, i, got[i], want[i])
							}
						}
					}
				}
				SetThreads(prevT)
			}
		}
		// A plain GEMM (denseB) with a row stride wider than N.
		m, k, nn, ldb := 37, 300, 101, 130
		r := rand.New(rand.NewPCG(3, 4))
		a, b := randSlice(r, m*k), randSlice(r, k*ldb)
		pa := PackA(m, k, a, k)
		want, got := make([]float32, m*nn), make([]float32, m*nn)
		withInPlace(false, func() { GemmPacked(pa, nn, b, ldb, want, nn, false) })
		withInPlace(true, func() { GemmPacked(pa, nn, b, ldb, got, nn, false) })
		for i := range want {
			if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
				t.Fatalf("GemmPacked: c[%d] = %v in place, %v packed", i, got[i], want[i])
			}
		}
	})
}

// strideOffsets caches its tables up to a bound, and gives the same offsets
// past it.
func TestStrideOffsets(t *testing.T) {
	a := strideOffsets(77, 5)
	if b := strideOffsets(77, 5); a != b {
		t.Error("table not cached")
	}
	if fmt.Sprint(a.off) != "[0 77 154 231 308]" || a.max != 308 {
		t.Errorf("table %v max %d", a.off, a.max)
	}
}

// BenchmarkGemmInPlace: GEMMs of ResNet-50's 1×1 shapes with B packed and
// in place, one thread.
func BenchmarkGemmInPlace(b *testing.B) {
	for _, s := range []struct{ m, k, n int }{{256, 256, 3136}, {64, 256, 3136}, {512, 256, 784}, {1024, 256, 196}, {2048, 512, 49}} {
		r := rand.New(rand.NewPCG(1, 2))
		a, bb, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), make([]float32, s.m*s.n)
		pa := PackA(s.m, s.k, a, s.k)
		flops := 2 * float64(s.m*s.n*s.k)
		for _, on := range []bool{false, true} {
			b.Run(fmt.Sprintf("%dx%dx%d/inplace=%v", s.m, s.k, s.n, on), func(b *testing.B) {
				benchPaths(b, func(b *testing.B) {
					withInPlace(on, func() {
						for b.Loop() {
							GemmPacked(pa, s.n, bb, s.n, c, s.n, false)
						}
					})
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			})
		}
	}
}

// The in-place GEMM's tasks share B's offset tables: two threads of one
// convolution, and two convolutions at once, for the race detector (CI runs
// the tests named *Race* under -race). Strided layers read the phase
// planes' table; 1×1 and Winograd layers the cached stride tables.
func TestGemmInPlaceRace(t *testing.T) {
	prevT := Threads()
	SetThreads(2)
	defer SetThreads(prevT)
	r := rand.New(rand.NewPCG(5, 6))
	var ps []ConvParams
	for _, q := range [][5]int{{64, 40, 64, 3, 2}, {64, 40, 64, 1, 1}, {64, 40, 64, 3, 1}, {3, 80, 32, 7, 2}} {
		in, h, out, k, s := q[0], q[1], q[2], q[3], q[4]
		ps = append(ps, ConvParams{InC: in, InH: h, InW: h, OutC: out, KH: k, KW: k, StrideH: s, StrideW: s, PadH: k / 2, PadW: k / 2})
	}
	done := make(chan bool)
	for g := 0; g < 2; g++ {
		go func() {
			defer func() { done <- true }()
			for _, p := range ps {
				pl := PlanConv(p, randSliceLocked(r, p.OutC*p.InC*p.KH*p.KW))
				in := randSliceLocked(r, p.InC*p.InH*p.InW)
				out := make([]float32, p.OutC*p.OutH()*p.OutW())
				for range 3 {
					Conv2DPlanned(p, 1, in, pl, nil, nil, true, out)
				}
			}
		}()
	}
	<-done
	<-done
}

var randMu sync.Mutex

// randSliceLocked is randSlice for a generator shared by goroutines.
func randSliceLocked(r *rand.Rand, n int) []float32 {
	randMu.Lock()
	defer randMu.Unlock()
	return randSlice(r, n)
}
