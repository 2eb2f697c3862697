package kernels

import "testing"

// TestSplitResNetShapes pins the task grids of ResNet-50's 1×1 convolutions on two threads to
// the fastest ones measured (BenchmarkGemm and per-grid timings, 2-core EPYC): one task per
// thread, split by columns, except where the columns are one and a bit panels' worth
// (7×7 maps), which split by rows; the same for the 6×16 and the 8×48 (AVX-512) kernels.
func TestSplitResNetShapes(t *testing.T) {
	defer SetThreads(Threads())
	SetThreads(2)
	for _, c := range []struct{ m, k, n, tm, tn int }{
		{64, 64, 3136, 1, 2},
		{256, 1024, 196, 1, 2},
		{128, 1152, 784, 1, 2},
		{512, 2048, 49, 2, 1},
		{2048, 512, 49, 2, 1},
		{512, 4608, 49, 2, 1},
		{16, 16, 64, 1, 1}, // too small to be worth a hand-off
	} {
		for _, ker := range []*gemmKernel{gemmAVX2, gemmAVX512} {
			g := &gemmArgs{m: c.m, k: c.k, n: c.n, pa: &PackedA{}, isa: &isaImpl{gemm: ker}}
			if tm, tn := g.split(); tm != c.tm || tn != c.tn {
				t.Errorf("%s: M %d K %d N %d: grid %d×%d, want %d×%d", ker.name, c.m, c.k, c.n, tm, tn, c.tm, c.tn)
			}
		}
	}
}
