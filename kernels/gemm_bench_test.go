package kernels

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// -kthreads lists the thread counts the benchmarks run with.
var benchThreads = flag.String("kthreads", "1,2", "comma-separated thread counts for the kernel benchmarks")

// ResNet-50 GEMM shapes (M=OutC, N=OH·OW, K=InC·KH·KW) at batch 1.
var benchGemmShapes = []struct{ m, n, k int }{
	{64, 3136, 64},   // layer1 1×1 reduce
	{256, 3136, 64},  // layer1 1×1 expand
	{64, 3136, 576},  // layer1 3×3
	{128, 784, 1152}, // layer2 3×3
	{512, 784, 128},  // layer2 1×1 expand
	{256, 196, 2304}, // layer3 3×3
	{1024, 196, 256}, // layer3 1×1 expand
	{512, 49, 4608},  // layer4 3×3
	{2048, 49, 512},  // layer4 1×1 expand
	{1024, 1024, 1024},
}

// benchPaths runs f under each instruction-set path this CPU runs and each
// thread count, as sub-benchmarks ISA/tN (compare paths in the same run).
func benchPaths(b *testing.B, f func(b *testing.B)) {
	for _, name := range SupportedISAs() {
		for _, ts := range strings.Split(*benchThreads, ",") {
			threads, err := strconv.Atoi(strings.TrimSpace(ts))
			if err != nil || threads < 1 {
				b.Fatalf("bad -kthreads entry %q", ts)
			}
			b.Run(fmt.Sprintf("%s/t%d", name, threads), func(b *testing.B) {
				prevISA, prevT := ISA(), Threads()
				if err := SetISA(name); err != nil {
					b.Fatal(err)
				}
				SetThreads(threads)
				defer func() { SetISA(prevISA); SetThreads(prevT) }()
				f(b)
			})
		}
	}
}

func BenchmarkGemm(b *testing.B) {
	for _, s := range benchGemmShapes {
		b.Run(fmt.Sprintf("%dx%dx%d", s.m, s.n, s.k), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			a, bb, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), make([]float32, s.m*s.n)
			benchPaths(b, func(b *testing.B) {
				for b.Loop() {
					Gemm(s.m, s.n, s.k, a, s.k, bb, s.n, c, s.n, false)
				}
				b.ReportMetric(2*float64(s.m)*float64(s.n)*float64(s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		})
	}
}
