package kernels

import "testing"

// TestSplitResNetShapes pins the task grids of ResNet-50's 1×1 convolutions on two threads to
// the fastest ones measured (BenchmarkGemm and per-grid timings, 2-core EPYC).
//
// With B packed: one task per thread, split by columns, except where the columns are one
// and a bit panels' worth (7×7 maps), which split by rows; the same for the 6×16 and the
// 8×48 (AVX-512) kernels, but for 256×1024×196, which the 8×48 kernel splits by rows: its
// 1024→256 layers at 14×14 ran 7–14% faster so on the 2-core Intel Xeon (streamCost).
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
		only            *gemmKernel // with B packed, the kernel the grid is for (nil: both)
	}{
		{64, 64, 3136, 1, 2, false, nil},
		{256, 1024, 196, 1, 2, false, gemmAVX2},
		{256, 1024, 196, 2, 1, false, gemmAVX512},
		{128, 1152, 784, 1, 2, false, nil},
		{512, 2048, 49, 2, 1, false, nil},
		{2048, 512, 49, 2, 1, false, nil},
		{512, 4608, 49, 2, 1, false, nil},
		{16, 16, 64, 1, 1, false, nil}, // too small to be worth a hand-off
		{64, 256, 3136, 1, 2, true, nil},
		{256, 64, 3136, 1, 2, true, nil},
		{128, 512, 784, 1, 2, true, nil},
		{512, 128, 784, 2, 1, true, nil},
		{256, 1024, 196, 2, 1, true, nil},
		{512, 512, 49, 2, 1, true, nil},
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
				if c.only != nil && c.only != ker {
					continue
				}
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
