package kernels

import (
	"sync"
	"testing"
)

func BenchmarkZZPeak(b *testing.B) {
	for _, g := range []int{1, 2} {
		b.Run(string(rune('0'+g)), func(b *testing.B) {
			k := 256
			for b.Loop() {
				var wg sync.WaitGroup
				for t := 0; t < g; t++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						a := make([]float32, k*mr)
						bb := make([]float32, k*nr)
						c := make([]float32, mr*nr)
						for i := 0; i < 1000; i++ {
							kernel6x16(k, &a[0], &bb[0], &c[0], nr, mr, 0, nil, nil, 0)
						}
					}()
				}
				wg.Wait()
			}
			b.ReportMetric(float64(g)*2*float64(k*mr*nr*1000)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
