package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func BenchmarkZZGemmT(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range []struct{ m, n, k int }{{1024, 196, 256}, {256, 3136, 64}, {512, 784, 128}, {2048, 49, 512}} {
		a := PackA(s.m, s.k, randSlice(r, s.m*s.k), s.k)
		bb, c := randSlice(r, s.k*s.n), make([]float32, s.m*s.n)
		for _, th := range []int{1, 2} {
			b.Run(fmt.Sprint(s, th), func(b *testing.B) {
				SetThreads(th)
				for b.Loop() {
					GemmPacked(a, s.n, bb, s.n, c, s.n, false)
				}
				b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
