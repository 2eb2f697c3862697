package kernels

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestXPk(t *testing.T) {
	SetThreads(1)
	for _, s := range []struct{ m, k, n int }{{64, 256, 3136}, {128, 256, 3136}, {512, 128, 784}, {256, 1024, 196}} {
		fmt.Printf("%dx%dx%d", s.m, s.k, s.n)
		for _, kc := range []int{256, 128} {
			prev := gemmAVX512.kc
			gemmAVX512.kc = kc
			r := rand.New(rand.NewPCG(1, 2))
			const nb = 4
			var pas [nb]*PackedA
			var bs, cs, rs [nb][]float32
			for i := range nb {
				pas[i] = PackA(s.m, s.k, randSlice(r, s.m*s.k), s.k)
				bs[i], cs[i], rs[i] = randSlice(r, s.k*s.n), make([]float32, s.m*s.n), randSlice(r, s.m*s.n)
			}
			bias := randSlice(r, s.m)
			names := []string{"inplace", "packed"}
			times := make([][]float64, len(names))
			for round := 0; round < 40; round++ {
				for v := range names {
					gemmInPlace = v == 0
					t0 := time.Now()
					for i := range nb {
						g := gemmArgs{m: s.m, n: s.n, k: s.k, pa: pas[i], b: &imagesB{src: bs[i], rowStride: s.n, imgStride: s.k * s.n, cols: s.n, imgs: 1}, c: cs[i], ldc: s.n, ep: epilogue{bias: bias, res: rs[i], ldr: s.n, relu: true}}
						g.run()
					}
					times[v] = append(times[v], time.Since(t0).Seconds()/nb)
				}
			}
			gemmInPlace = true
			gemmAVX512.kc = prev
			for v, n := range names {
				ts := times[v]
				slices.Sort(ts)
				fmt.Printf("  kc%d %s %.0f", kc, n, 2*float64(s.m*s.n*s.k)/ts[len(ts)/2]/1e9)
			}
		}
		fmt.Println(" GFLOP/s")
	}
}
