package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/resnet-go/resnet/internal/isa"
)

// TestWinoVecDescLayout checks the descriptor's field offsets against those
// the assembly reads (vd… in kernels/_asm/winovec.go).
func TestWinoVecDescLayout(t *testing.T) {
	var d winoVecDesc
	for _, f := range []struct {
		name      string
		got, want uintptr
	}{
		{"inIdx", unsafe.Offsetof(d.inIdx), 0}, {"outIdx", unsafe.Offsetof(d.outIdx), 384},
		{"inRow", unsafe.Offsetof(d.inRow), 640}, {"inCol", unsafe.Offsetof(d.inCol), 672},
		{"inMask", unsafe.Offsetof(d.inMask), 704}, {"outRow", unsafe.Offsetof(d.outRow), 736},
		{"outCol", unsafe.Offsetof(d.outCol), 768}, {"outMask", unsafe.Offsetof(d.outMask), 800},
		{"rowB", unsafe.Offsetof(d.rowB), 832}, {"owB", unsafe.Offsetof(d.owB), 840},
		{"seg", unsafe.Offsetof(d.seg), 848}, {"blend", unsafe.Offsetof(d.blend), 856},
	} {
		if f.got != f.want {
			t.Errorf("winoVecDesc.%s at offset %d, the kernels read it at %d", f.name, f.got, f.want)
		}
	}
}

// TestWinoVecTransforms checks the 16-tile vector transforms (AVX-512) bit for
// bit against the row kernels they replace, on one channel of every map they
// take among widths 1–70 (four, two or one tile rows a call, the last call
// short), padding 0–3, F4 and F2, with every epilogue: same factorisation, same
// order, so the same bits. It also checks what they may touch: only the V
// values of their tiles, and exactly the ow columns of the oh output rows.
func TestWinoVecTransforms(t *testing.T) {
	if why := isa.Unavailable(isa.AVX512); why != "" {
		t.Skip("16-tile Winograd transforms: " + why)
	}
	avx512 := &impls[isa.AVX512]
	r := rand.New(rand.NewPCG(7, 8))
	modes := map[int]int{}
	for _, k := range []*winoKind{winoF4, winoF2} {
		a := k.a
		for pad := 0; pad <= 3; pad++ {
			for _, inW := range []int{1, 2, 3, 5, 7, 8, 9, 12, 13, 14, 15, 16, 17, 20, 27, 28, 29, 30, 31, 33, 40, 52, 56, 57, 60, 64, 70} {
				for _, inH := range []int{inW, 5, 19} {
					p := ConvParams{InC: 1, InH: inH, InW: inW, OutC: 1, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: pad, PadW: pad}
					if p.OutH() < 1 || p.OutW() < 1 {
						continue
					}
					g := newWinoGeom(k, p, 1)
					vd := newWinoVecDesc(avx512, k, p)
					if vd == nil {
						continue
					}
					modes[vd.rows]++
					t.Run(fmt.Sprintf("F%d/%dx%d/pad%d", k.m, inH, inW, pad), func(t *testing.T) {
						stride := g.tiles + 8*g.groups + 5 // room for the row kernels' spill and stray writes
						g.vs, g.ms = stride, stride
						plane := randSlice(r, inH*inW)
						want := fill(make([]float32, a*a*stride), -3)
						e := make([]float32, a*g.ew)
						zero := make([]float32, inW+8)
						for ty := range g.th {
							g.inputRow(plane, zero, e, want[ty*g.tw:], ty, avx512)
						}
						got := fill(make([]float32, a*a*stride), -3)
						for q := range vd.calls(g.th) {
							winoInputVec(k, vd, plane, p, g.th, q, make([]float32, winoVecScratch), got[q*vd.rows*g.tw:], stride)
						}
						for x := range a * a {
							for l := range stride {
								w := want[x*stride+l]
								if l >= g.tiles {
									w = -3
								}
								if gb := got[x*stride+l]; math.Float32bits(gb) != math.Float32bits(w) {
									t.Fatalf("input: plane %d, tile %d: %g, want %g", x, l, gb, w)
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
							for ty := range g.th {
								g.outputRow(mt[ty*g.tw:], want, res, junk, ty, 0.375, ep.relu, avx512)
							}
							got := fill(make([]float32, oh*ow+64), -5)
							for q := range vd.calls(g.th) {
								winoOutputVec(k, vd, mt[q*vd.rows*g.tw:], stride, g.th, q, make([]float32, winoVecScratch), got[:oh*ow], res, oh, ow, 0.375, ep.relu)
							}
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
	t.Logf("maps per layout (tile rows a call): %v", modes)
	if modes[4] < 10 || modes[2] < 10 || modes[1] < 10 {
		t.Fatalf("too few maps of some layout: %v", modes)
	}
}
