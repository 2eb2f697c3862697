package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/resnet-go/resnet/internal/isatest"
)

// A GEMM split by K blocks (gemm_ksplit.go) gives bit for bit what one thread gives,
// on 2, 3 and 4 threads, with every part of the epilogue, B in place and packed,
// C's last columns from the column kernels; and the split does run (on the shapes
// whose grid splits by rows).
func TestKSplitExact(t *testing.T) {
	isatest.Run(t, func(t *testing.T) {
		if !curISA().asm {
			t.Logf("path %s does not split K (epilogueRow is amd64 assembly)", ISA())
			return
		}
		defer func(prev float64) { minParallelFlops = prev }(minParallelFlops)
		minParallelFlops = 0
		runs := kSplitRuns.Load()
		defer func() {
			if kSplitRuns.Load() == runs {
				t.Errorf("%s: no GEMM split by K", ISA())
			}
		}()
		conv := func(in, h, out, k, s int) ConvParams {
			return ConvParams{InC: in, InH: h, InW: h, OutC: out, KH: k, KW: k, StrideH: s, StrideW: s, PadH: k / 2, PadW: k / 2}
		}
		for _, p := range []ConvParams{
			conv(1030, 7, 72, 1, 1),   // 1×1, 49 columns, K = 1030: 5 blocks, the last short
			conv(2048, 7, 64, 1, 1),   // 8 blocks
			conv(200, 14, 40, 3, 2),   // 3×3/2 into 7×7: K = 1800, phase planes
			conv(1024, 14, 160, 1, 1), // 196 columns: 4 panels and 4 columns
		} {
			r := rand.New(rand.NewPCG(uint64(p.InC), uint64(p.OutC)))
			w, bias := randSlice(r, p.OutC*p.InC*p.KH*p.KW), randSlice(r, p.OutC)
			in := randSlice(r, p.InC*p.InH*p.InW)
			outN := p.OutC * p.OutH() * p.OutW()
			res := randSlice(r, outN)
			pl := PlanConv(p, w)
			for _, inPlace := range []bool{true, false} {
				for _, ep := range []struct{ bias, res, relu bool }{{}, {true, false, true}, {true, true, true}, {false, true, false}} {
					name := fmt.Sprintf("%dx%d/%d_%dto%d@%d/inplace=%v/%+v", p.KH, p.KW, p.StrideH, p.InC, p.OutC, p.InH, inPlace, ep)
					t.Run(name, func(t *testing.T) {
						var b, rs []float32
						if ep.bias {
							b = bias
						}
						if ep.res {
							rs = res
						}
						run := func(threads int) []float32 {
							out := fill(make([]float32, outN), float32(math.NaN()))
							withInPlace(inPlace, func() {
								withThreads(threads, func() { Conv2DPlanned(p, 1, in, pl, b, rs, ep.relu, out) })
							})
							return out
						}
						want := run(1)
						for _, threads := range []int{2, 3, 4} {
							got := run(threads)
							for i := range want {
								if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
									t.Fatalf("%d threads: out[%d] = %v, one thread %v", threads, i, got[i], want[i])
								}
							}
						}
					})
				}
			}
		}
	})
}
