package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestPackedAcrossISAs: weights packed on one path (PackA, PlanConv's GEMM and Winograd
// plans) give correct results on every other path, which repacks them for its own tile; and
// SetWeights on a Winograd plan is seen on a path that had repacked the old weights.
func TestPackedAcrossISAs(t *testing.T) {
	sup := SupportedISAs()
	prev := ISA()
	defer SetISA(prev)
	r := rand.New(rand.NewPCG(3, 4))
	const m, k, n = 37, 300, 53
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	want, mag := refGemm(m, n, k, a, k, b, n)
	tol := make([]float64, len(mag))
	for i := range mag {
		tol[i] = bound(k, 0, mag[i], 0)
	}
	wp := ConvParams{InC: 16, InH: 12, InW: 12, OutC: 24, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	gp := ConvParams{InC: 8, InH: 11, InW: 9, OutC: 19, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}
	for _, from := range sup {
		for _, to := range sup {
			t.Run(fmt.Sprintf("%s→%s", from, to), func(t *testing.T) {
				if err := SetISA(from); err != nil {
					t.Fatal(err)
				}
				pa := PackA(m, k, a, k)
				in, w := resnetLike(r, wp, 2)
				wino := PlanConvWinograd(wp, 4, w)
				gin, gw := resnetLike(r, gp, 2)
				gemm := PlanConv(gp, gw)
				if err := SetISA(to); err != nil {
					t.Fatal(err)
				}
				c := make([]float32, m*n)
				GemmPacked(pa, n, b, n, c, n, false)
				checkClose(t, "GemmPacked", m, n, c, n, want, tol)

				out := make([]float32, 2*gp.OutC*gp.OutH()*gp.OutW())
				Conv2DPlanned(gp, 2, gin, gemm, nil, nil, false, out)
				ref, mag := refConvBatch(gp, 2, gin, gw, nil, nil, false)
				checkPlanes(t, out, ref, mag, gp.OutH()*gp.OutW())

				for step := range 2 {
					if step == 1 { // new weights, transformed in place
						_, w = resnetLike(r, wp, 0)
						wino.SetWeights(w)
					}
					out := make([]float32, 2*wp.OutC*wp.OutH()*wp.OutW())
					Conv2DPlanned(wp, 2, in, wino, nil, nil, false, out)
					ref, mag := refConvBatch(wp, 2, in, w, nil, nil, false)
					checkPlanes(t, out, ref, mag, wp.OutH()*wp.OutW())
				}
			})
		}
	}
}
