package kernels

import (
	"testing"
	"time"
)

func BenchmarkZZParallel(b *testing.B) {
	SetThreads(2)
	var x [2]int
	b.Run("back-to-back", func(b *testing.B) {
		for b.Loop() {
			parallel(2, func(i int) { x[i]++ })
		}
	})
	b.Run("gap20us", func(b *testing.B) {
		for b.Loop() {
			t0 := time.Now()
			for time.Since(t0) < 20*time.Microsecond {
			}
			parallel(2, func(i int) { x[i]++ })
		}
	})
	b.Run("gap200us", func(b *testing.B) {
		for b.Loop() {
			t0 := time.Now()
			for time.Since(t0) < 200*time.Microsecond {
			}
			parallel(2, func(i int) { x[i]++ })
		}
	})
}
