package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/resnet-go/resnet/internal/isatest"
)

// Where ConvPlan.ResidualInPlace says so, Conv2DPlanned with the residual as its output gives
// the bits it gives with a separate output, on every path, for one image and for a batch
// (whose output is copied out of a scratch matrix); deeper GEMMs, strided and Winograd plans
// say no. The shapes are ResNet-50's 1×1 expand layers (K = 64, 128, 256) at reduced maps, the
// 2048-channel one (K = 512, two K blocks), and a narrow 3×3 layer computed as a GEMM.
func TestResidualInPlace(t *testing.T) {
	isatest.Run(t, func(t *testing.T) {
		for _, tc := range []struct {
			inC, outC, h, w, stride, k int
			want                       bool
		}{
			{64, 256, 14, 14, 1, 1, true},
			{128, 512, 7, 7, 1, 1, true},
			{256, 1024, 5, 9, 1, 1, true},
			{512, 2048, 4, 4, 1, 1, false},
			{64, 128, 14, 14, 2, 1, false},
			{32, 32, 12, 12, 1, 3, false}, // Winograd
			{8, 12, 9, 9, 1, 3, true},     // a 3×3 GEMM (too few channels for Winograd): extended rows, copied out
		} {
			p := ConvParams{InC: tc.inC, InH: tc.h, InW: tc.w, OutC: tc.outC, KH: tc.k, KW: tc.k, StrideH: tc.stride, StrideW: tc.stride, PadH: tc.k / 2, PadW: tc.k / 2}
			r := rand.New(rand.NewPCG(uint64(tc.inC), uint64(tc.h)))
			pl := PlanConv(p, randSlice(r, p.OutC*p.InC*p.KH*p.KW))
			got := pl.ResidualInPlace(p)
			if tc.want && ISA() == "go" {
				tc.want = p.InC <= curISA().gemm.kc
			}
			if got != tc.want {
				t.Fatalf("%+v: ResidualInPlace %v, want %v", p, got, tc.want)
			}
			if !got {
				continue
			}
			for _, n := range []int{1, 2} {
				t.Run(fmt.Sprintf("%d->%d %dx%d n%d", p.InC, p.OutC, p.InH, p.InW, n), func(t *testing.T) {
					in := randSlice(r, n*p.InC*p.InH*p.InW)
					bias := randSlice(r, p.OutC)
					res := randSlice(r, n*p.OutC*p.OutH()*p.OutW())
					want := make([]float32, len(res))
					Conv2DPlanned(p, n, in, pl, bias, res, true, want)
					Conv2DPlanned(p, n, in, pl, bias, res, true, res) // over the residual
					for i := range want {
						if math.Float32bits(res[i]) != math.Float32bits(want[i]) {
							t.Fatalf("out[%d] = %g over the residual, %g apart", i, res[i], want[i])
						}
					}
				})
			}
		}
	})
}
