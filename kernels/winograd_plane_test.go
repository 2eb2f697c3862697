package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/resnet-go/resnet/internal/isa"
)

// TestWinoPlaneTransforms checks the whole-plane transforms (AVX-512) bit for bit
// against the row kernels they replace, one channel of every map of 4×4 tiles the
// geometry admits (F4: 13–16 output columns and rows, F2: 7–8; padding 0–3), with
// every epilogue: same factorisation, same order, so the same bits. It also checks
// what they may touch: 16 values of each V plane, and exactly the ow columns of the
// oh output rows.
func TestWinoPlaneTransforms(t *testing.T) {
	if why := isa.Unavailable(isa.AVX512); why != "" {
		t.Skip("whole-plane Winograd transforms: " + why)
	}
	avx512 := &impls[isa.AVX512]
	r := rand.New(rand.NewPCG(7, 8))
	const stride = 16 + 5 // planes apart, with room to see stray writes
	cases := 0
	for _, k := range []*winoKind{winoF4, winoF2} {
		a, m := k.a, k.m
		for pad := 0; pad <= 3; pad++ {
			for in := 1; in <= 4*m+2; in++ {
				for inW := range []int{in, max(1, in-1)} {
					inW = []int{in, max(1, in-1)}[inW]
					p := ConvParams{InC: 1, InH: in, InW: inW, OutC: 1, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: pad, PadW: pad}
					if p.OutH() < 1 || p.OutW() < 1 {
						continue
					}
					g := newWinoGeom(k, p, 1)
					if !g.planeTransforms(avx512) {
						continue
					}
					g.vs, g.ms = stride, stride // the row kernels' plane stride
					cases++
					t.Run(fmt.Sprintf("F%d/%dx%d/pad%d", m, in, inW, pad), func(t *testing.T) {
						plane := randSlice(r, in*inW)
						want := fill(make([]float32, a*a*stride), -3)
						e := make([]float32, a*g.ew)
						zero := make([]float32, inW+8)
						for ty := range 4 {
							g.inputRow(plane, zero, e, want[4*ty:], ty, avx512)
						}
						got := fill(make([]float32, a*a*stride), -3)
						winoInputPlane(k, plane, p, newWinoPlaneIdx(k, inW, pad), make([]float32, planeScratchN), got, stride)
						for x := range a * a {
							for l := range stride {
								gb, wb := math.Float32bits(got[x*stride+l]), math.Float32bits(want[x*stride+l])
								if l >= 16 {
									wb = math.Float32bits(-3)
								}
								if gb != wb {
									t.Fatalf("input: plane %d, tile %d: %g, want %g", x, l, got[x*stride+l], math.Float32frombits(wb))
								}
							}
						}

						oh, ow := g.oh, g.ow
						mt := randSlice(r, a*a*stride)
						for _, ep := range []struct{ res, relu bool }{{}, {true, false}, {false, true}, {true, true}} {
							var res []float32
							if ep.res {
								res = randSlice(r, oh*ow)
							}
							want := make([]float32, oh*ow)
							junk := make([]float32, ow)
							for ty := range 4 {
								g.outputRow(mt[4*ty:], want, res, junk, ty, 0.375, ep.relu, avx512)
							}
							got := fill(make([]float32, oh*ow+16), -5)
							winoOutputPlane(k, mt, stride, make([]float32, planeScratchN), got[:oh*ow], res, oh, ow, 0.375, ep.relu)
							for i, w := range want {
								if math.Float32bits(got[i]) != math.Float32bits(w) {
									t.Fatalf("output res=%v relu=%v: row %d column %d: %g, want %g", ep.res, ep.relu, i/ow, i%ow, got[i], w)
								}
							}
							for i, v := range got[oh*ow:] {
								if v != -5 {
									t.Fatalf("output: value %d past the %d×%d plane written", i, oh, ow)
								}
							}
						}
					})
				}
			}
		}
	}
	if cases < 20 {
		t.Fatalf("only %d geometries took the plane transforms", cases)
	}
}
