package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func BenchmarkZZGemmSmallN(b *testing.B) {
	SetThreads(1)
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range []struct{ m, n, k, copies int }{{512, 16, 512, 1}, {512, 16, 512, 16}, {512, 16, 512, 64}, {256, 16, 256, 36}, {64, 196, 64, 36}} {
		var as []*PackedA
		for i := 0; i < s.copies; i++ {
			as = append(as, PackA(s.m, s.k, randSlice(r, s.m*s.k), s.k))
		}
		bb, c := randSlice(r, s.k*s.n), make([]float32, s.m*s.n)
		b.Run(fmt.Sprint(s), func(b *testing.B) {
			i := 0
			for b.Loop() {
				GemmPacked(as[i%len(as)], s.n, bb, s.n, c, s.n, false)
				i++
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
