package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/resnet-go/resnet/internal/isa"
)

// TestConvDirect checks the direct stride-2 kernels (convDirect) against a float64
// convolution, with bias and ReLU or neither, for kernel sizes, paddings and map sizes
// that put output pixels wholly inside the input, on its left and right padding and in
// runs of every length 1…6, and checks that 1, 3 and 16 threads give the same bits.
func TestConvDirect(t *testing.T) {
	if err := isa.Check("avx512"); err != nil {
		t.Skip("the direct kernels are AVX-512: ", err)
	}
	defer SetISA(ISA())
	if err := SetISA("avx512"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p ConvParams
		n int
	}{
		{ConvParams{InC: 5, InH: 15, InW: 15, OutC: 64, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, 1},
		{ConvParams{InC: 16, InH: 14, InW: 14, OutC: 128, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, 2},
		{ConvParams{InC: 3, InH: 30, InW: 27, OutC: 64, KH: 7, KW: 7, StrideH: 2, StrideW: 2, PadH: 3, PadW: 3}, 1},
		{ConvParams{InC: 7, InH: 9, InW: 26, OutC: 64, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 0, PadW: 0}, 1},
		{ConvParams{InC: 4, InH: 6, InW: 40, OutC: 192, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 2, PadW: 2}, 2},
		// Outputs wholly in the padding (the first row and column): bias and ReLU only.
		{ConvParams{InC: 2, InH: 5, InW: 5, OutC: 64, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 3, PadW: 3}, 1},
	} {
		p := tc.p
		for _, ep := range []struct{ bias, relu bool }{{false, false}, {true, true}} {
			t.Run(fmt.Sprintf("%dx%d pad%d %dx%d %d->%d n%d bias=%v", p.KH, p.KW, p.PadH, p.InH, p.InW, p.InC, p.OutC, tc.n, ep.bias), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(p.InW), uint64(p.OutC)))
				in := randSlice(r, tc.n*p.InC*p.InH*p.InW)
				w := randSlice(r, p.OutC*p.InC*p.KH*p.KW)
				var bias []float32
				if ep.bias {
					bias = randSlice(r, p.OutC)
				}
				wd := directWeights(p, w)
				outN := tc.n * p.OutC * p.OutH() * p.OutW()
				var want []float32
				for _, threads := range []int{1, 3, 16} {
					out := fill(make([]float32, outN), float32(math.NaN()))
					withThreads(threads, func() { convDirect(p, tc.n, in, wd, newDirectGeom(p), bias, ep.relu, out) })
					if want == nil {
						want = out
						continue
					}
					for i := range want {
						if math.Float32bits(out[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%d threads: out[%d] = %g, one thread %g", threads, i, out[i], want[i])
						}
					}
				}
				ref, mag := refConvBatch(p, tc.n, in, w, bias, nil, ep.relu)
				tol := make([]float64, len(ref))
				for i := range tol {
					tol[i] = bound(p.InC*p.KH*p.KW, 2, mag[i], 0)
				}
				checkClose(t, "direct", 1, outN, want, outN, ref, tol)
			})
		}
	}
}
