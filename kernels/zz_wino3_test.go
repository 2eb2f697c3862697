package kernels

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

func TestZZWinoPerf(t *testing.T) {
	if os.Getenv("ZZ") == "" {
		t.Skip()
	}
	conv := func(c, h int) ConvParams {
		return ConvParams{InC: c, InH: h, InW: h, OutC: c, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	}
	for _, th := range []int{1, 2} {
		SetThreads(th)
		for _, nimg := range []int{1, 8} {
			for _, p := range []ConvParams{conv(64, 56), conv(128, 28), conv(256, 14), conv(512, 7)} {
				r := rand.New(rand.NewPCG(1, 2))
				in := randSlice(r, nimg*p.InC*p.InH*p.InW)
				w := randSlice(r, p.OutC*p.InC*9)
				n := p.OutC * p.OutH() * p.OutW()
				out := make([]float32, nimg*n)
				bias := randSlice(r, p.OutC)
				ww := newWinoWeights(winoF4, p, w)
				w2 := newWinoWeights(winoF2, p, w)
				b2 := time.Hour
				pw := PackConvWeights(p, w)
				bw, bd := time.Hour, time.Hour
				for i := 0; i < 20; i++ {
					t0 := time.Now()
					winoConv(p, nimg, in, ww, bias, nil, true, out)
					bw = min(bw, time.Since(t0))
					t0 = time.Now()
					winoConv(p, nimg, in, w2, bias, nil, true, out)
					b2 = min(b2, time.Since(t0))
					t0 = time.Now()
					for j := 0; j < nimg; j++ {
						Conv2DPacked(p, in[j*p.InC*p.InH*p.InW:], pw, bias, nil, true, out[j*n:], nil)
					}
					bd = min(bd, time.Since(t0))
				}
				gf := func(d time.Duration) float64 { return 2 * float64(p.MACs()) * float64(nimg) / d.Seconds() / 1e9 }
				fmt.Printf("t%d n%d %3d@%2d: F4 %.3f ms (%.0f eff GFLOP/s) F2 %.3f ms  direct %.3f ms (%.0f)\n", th, nimg, p.InC, p.InH, bw.Seconds()*1e3/float64(nimg), gf(bw), b2.Seconds()*1e3/float64(nimg), bd.Seconds()*1e3/float64(nimg), gf(bd))
			}
		}
	}
}
