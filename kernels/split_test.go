package kernels

import "testing"

// TestSplitResNetShapes pins the task grids of ResNet-50's 1×1 convolutions on two threads to
// the fastest ones measured (BenchmarkGemm and per-grid timings, 2-core EPYC).
//
// With B packed: one task per thread, split by columns, except where the columns are one
// and a bit panels' worth (7×7 maps), which split by rows; the same for the 6×16 and the
// 8×48 (AVX-512) kernels.
//
// Where the 8×48 kernel reads B in place (the activations at batch 1): by columns where B is
// wide (56×56 and 28×28 maps), so that each thread reads the pixels it wrote in the layer
// before rather than half of its B from the other core's cache, by rows where the weights
// outweigh B (14×14 and 7×7 maps; the narrowest B under the most rows is packed, not read in
// place) or a column split would be uneven (512×784×128: 8 and 8⅓ panels).
func TestSplitResNetShapes(t *testing.T) {
	defer SetThreads(Threads())
	SetThreads(2)
	for _, c := range []struct {
		m, k, n, tm, tn int
		inPlace         bool
	}{
		{64, 64, 3136, 1, 2, false},
		{256, 1024, 196, 1, 2, false},
		{128, 1152, 784, 1, 2, false},
		{512, 2048, 49, 2, 1, false},
		{2048, 512, 49, 2, 1, false},
		{512, 4608, 49, 2, 1, false},
		{16, 16, 64, 1, 1, false}, // too small to be worth a hand-off
		{64, 256, 3136, 1, 2, true},
		{256, 64, 3136, 1, 2, true},
		{128, 512, 784, 1, 2, true},
		{512, 128, 784, 2, 1, true},
		{256, 1024, 196, 2, 1, true},
		{512, 512, 49, 2, 1, true},
	} {
		var gs []*gemmArgs
		if c.inPlace {
			g := &gemmArgs{m: c.m, k: c.k, n: c.n, pa: &PackedA{}, b: denseB{make([]float32, c.k*c.n), c.n}, isa: &isaImpl{gemm: gemmAVX512, asm: true}}
			if _, _, ok := g.inPlace(0, g.n); !ok {
				t.Fatalf("M %d K %d N %d: B not read in place", c.m, c.k, c.n)
			}
			gs = append(gs, g)
		} else {
			for _, ker := range []*gemmKernel{gemmAVX2, gemmAVX512} {
				gs = append(gs, &gemmArgs{m: c.m, k: c.k, n: c.n, pa: &PackedA{}, isa: &isaImpl{gemm: ker}})
			}
		}
		for _, g := range gs {
			if tm, tn := g.split(); tm != c.tm || tn != c.tn {
				t.Errorf("%s (B in place %v): M %d K %d N %d: grid %d×%d, want %d×%d", g.isa.gemm.name, c.inPlace, c.m, c.k, c.n, tm, tn, c.tm, c.tn)
			}
		}
	}
}
