package kernels

import (
	"math/rand/v2"
	"testing"
)

func BenchmarkZZPool(b *testing.B) {
	SetThreads(1)
	r := rand.New(rand.NewPCG(1, 2))
	in := randSlice(r, 64*112*112)
	out := make([]float32, 64*56*56)
	for b.Loop() {
		MaxPool2D(64, 112, 112, 3, 2, 1, in, out)
	}
}
