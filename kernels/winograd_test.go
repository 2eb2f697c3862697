package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/resnet-go/resnet/internal/isatest"
)

// winoTol is the accepted Winograd error, relative to the largest sum of
// absolute terms (|w·x| over the window, |bias|, |residual|) of any output of
// the same plane: max|got-want| <= winoTol·max(mag). Rounding errors scale
// with those terms, not with the output, which a residual can cancel or a
// ReLU clip to nearly nothing (a 1-pixel plane with |out| 0.0038 against
// terms of order 1 once read an absolute error of 5.5e-7 as 1.5e-4 of its
// output). Observed on ResNet-like data, every path: up to 1.9e-6 (amd64
// assembly), 1.4e-6 (portable Go), 1.6e-6 (arm64 NEON under qemu); 2e-5
// leaves a margin of ten, while an indexing or padding mistake, a missing
// bias or residual is of the order of the outputs, ~1/20 of those sums.
const winoTol = 2e-5

// resnetLike fills a convolution's input and weights as a trained ResNet
// sees them: inputs are post-ReLU activations (non-negative), weights
// He-initialised, N(0, 2/fan-in).
func resnetLike(r *rand.Rand, p ConvParams, n int) (in, w []float32) {
	in = make([]float32, n*p.InC*p.InH*p.InW)
	for i := range in {
		in[i] = float32(math.Abs(r.NormFloat64()))
	}
	w = make([]float32, p.OutC*p.InC*p.KH*p.KW)
	scale := math.Sqrt(2 / float64(p.InC*p.KH*p.KW))
	for i := range w {
		w[i] = float32(r.NormFloat64() * scale)
	}
	return in, w
}

// refConvBatch is refConv over n images plus bias, residual and ReLU.
func refConvBatch(p ConvParams, n int, in, w, bias, res []float32, relu bool) (want, mag []float64) {
	inN, outN, hw := p.InC*p.InH*p.InW, p.OutC*p.OutH()*p.OutW(), p.OutH()*p.OutW()
	for img := range n {
		o, m := refConv(p, in[img*inN:(img+1)*inN], w)
		for i := range o {
			if bias != nil {
				o[i] += float64(bias[i/hw])
				m[i] += math.Abs(float64(bias[i/hw]))
			}
			if res != nil {
				o[i] += float64(res[img*outN+i])
				m[i] += math.Abs(float64(res[img*outN+i]))
			}
			if relu && o[i] < 0 {
				o[i] = 0
			}
		}
		want, mag = append(want, o...), append(mag, m...)
	}
	return want, mag
}

// checkPlanes checks got against want plane by plane (hw values each) with
// the Winograd criterion: max|got-want| <= winoTol·max(mag) over the plane,
// where mag is each output's sum of absolute terms (refConvBatch). It
// returns the largest error seen relative to that scale.
func checkPlanes(t *testing.T, got []float32, want, mag []float64, hw int) float64 {
	t.Helper()
	worst := 0.0
	for p0 := 0; p0 < len(want); p0 += hw {
		scale, maxErr, at := 0.0, 0.0, 0
		for i := p0; i < p0+hw; i++ {
			scale = max(scale, mag[i])
			e := math.Abs(float64(got[i]) - want[i])
			if !(e <= maxErr) { // also catches NaN
				maxErr, at = e, i
				if e != e {
					maxErr = math.Inf(1)
				}
			}
		}
		rel := maxErr / max(scale, 1e-30)
		if scale == 0 && maxErr == 0 {
			rel = 0
		}
		worst = max(worst, rel)
		if rel > winoTol {
			t.Fatalf("plane %d: element %d = %g, want %g: error %.3g of the plane's largest sum of |terms| %.3g (tolerance %g)",
				p0/hw, at-p0, got[at], want[at], rel, scale, winoTol)
		}
	}
	return worst
}

// winoCases are 3×3 stride-1 shapes that exercise the tilings: partial tiles
// at the right and bottom, rows narrower than a vector, several vector
// groups per tile row, padding 0…2 and batches, and maps of 4×4 tiles (14×14,
// 13×13 under F4; 7×7 under F2), which AVX-512 transforms a plane at a time.
var winoCases = []struct {
	name string
	p    ConvParams
	n    int
}{
	{"14x14", ConvParams{InC: 16, InH: 14, InW: 14, OutC: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, 1},
	{"7x7 batch 3", ConvParams{InC: 24, InH: 7, InW: 7, OutC: 20, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, 3},
	{"13x13 batch 2", ConvParams{InC: 10, InH: 13, InW: 13, OutC: 12, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, 2},
	{"odd 9x23", ConvParams{InC: 5, InH: 9, InW: 23, OutC: 7, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, 2},
	{"wide 3 groups", ConvParams{InC: 3, InH: 5, InW: 90, OutC: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, 1},
	{"no padding", ConvParams{InC: 6, InH: 12, InW: 11, OutC: 5, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 0, PadW: 0}, 2},
	{"pad 2 uneven", ConvParams{InC: 4, InH: 10, InW: 13, OutC: 3, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 2, PadW: 0}, 1},
	{"pad 0,2", ConvParams{InC: 4, InH: 6, InW: 9, OutC: 3, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 0, PadW: 2}, 1},
	{"1 pixel", ConvParams{InC: 8, InH: 1, InW: 1, OutC: 8, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, 2},
	{"3x3 no pad", ConvParams{InC: 9, InH: 3, InW: 3, OutC: 2, KH: 3, KW: 3, StrideH: 1, StrideW: 1}, 1},
}

// TestWinogradTolerance runs F(4×4,3×3) and F(2×2,3×3), assembly and Go
// transforms, against the float64 direct convolution on ResNet-like values,
// with every epilogue and 1 and 3 threads.
func TestWinogradTolerance(t *testing.T) {
	worst := map[int]float64{}
	isatest.Run(t, func(t *testing.T) {
		for ci, tc := range winoCases {
			for _, kind := range []*winoKind{winoF4, winoF2} {
				for _, ep := range []struct{ bias, res, relu bool }{{}, {true, true, true}, {true, false, true}} {
					for _, threads := range []int{1, 3} {
						name := fmt.Sprintf("%s/F%d/bias=%v,res=%v,relu=%v/t%d", tc.name, kind.m, ep.bias, ep.res, ep.relu, threads)
						t.Run(name, func(t *testing.T) {
							p, n := tc.p, tc.n
							r := rand.New(rand.NewPCG(uint64(ci), 11))
							in, w := resnetLike(r, p, n)
							outN := n * p.OutC * p.OutH() * p.OutW()
							var bias, res []float32
							if ep.bias {
								bias = randSlice(r, p.OutC)
							}
							if ep.res {
								res = randSlice(r, outN)
							}
							out := fill(make([]float32, outN+5), float32(math.NaN()))
							withThreads(threads, func() {
								winoConv(p, n, in, newWinoWeights(kind, p, w), bias, res, ep.relu, out[:outN])
							})
							for i := outN; i < len(out); i++ {
								if out[i] == out[i] {
									t.Fatalf("wrote past the output: out[%d] = %g", i, out[i])
								}
							}
							want, mag := refConvBatch(p, n, in, w, bias, res, ep.relu)
							e := checkPlanes(t, out, want, mag, p.OutH()*p.OutW())
							worst[kind.m] = max(worst[kind.m], e)
						})
					}
				}
			}
		}
	})
	t.Logf("largest error relative to the largest sum of |terms| of its plane: F4 %.3g, F2 %.3g (tolerance %g)", worst[4], worst[2], winoTol)
}

// TestWinogradResNetLayers checks full-size ResNet channel counts (where
// F4's error is largest: the sums are longest) on shortened maps.
func TestWinogradResNetLayers(t *testing.T) {
	if raceEnabled {
		t.Skip("slow under the race detector; the plain run covers it")
	}
	for _, c := range []int{64, 256, 512} {
		p := ConvParams{InC: c, InH: 7, InW: 9, OutC: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
		for _, kind := range []*winoKind{winoF4, winoF2} {
			t.Run(fmt.Sprintf("C%d/F%d", c, kind.m), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(c), 3))
				in, w := resnetLike(r, p, 1)
				out := make([]float32, p.OutC*p.OutH()*p.OutW())
				winoConv(p, 1, in, newWinoWeights(kind, p, w), nil, nil, false, out)
				want, mag := refConvBatch(p, 1, in, w, nil, nil, false)
				t.Logf("error %.3g of the largest sum of |terms|", checkPlanes(t, out, want, mag, p.OutH()*p.OutW()))
			})
		}
	}
}

// TestWinoTransformsAsm compares the assembly transforms with the Go ones
// directly, including the extents they may write: V rows up to the group
// end, output rows exactly up to ow.
func TestWinoTransformsAsm(t *testing.T) { isatest.Run(t, testWinoTransformsAsm) }

func testWinoTransformsAsm(t *testing.T) {
	needAsm(t)
	r := rand.New(rand.NewPCG(5, 6))
	close := func(g, w float32) bool { return math.Abs(float64(g-w)) <= 1e-5*(1+math.Abs(float64(w))) }
	for _, m := range []int{4, 2} {
		a := m + 2
		for _, inW := range []int{1, 2, 5, 7, 8, 9, 14, 16, 17, 28, 31, 56, 70} {
			for padW := 0; padW <= 3; padW++ {
				ow := inW + 2*padW - 2
				if ow < 1 {
					continue
				}
				tw := ceilDiv(ow, m)
				groups := ceilDiv(tw, 8)
				t.Run(fmt.Sprintf("F%d/in/w%d/pad%d", m, inW, padW), func(t *testing.T) {
					var rows [6][]float32
					for i := range rows {
						rows[i] = randSlice(r, inW)
					}
					stride := 8*groups + 3
					want := make([]float32, a*a*stride)
					if m == 4 {
						winoInputGo(&rows, padW, tw, want, stride)
					} else {
						winoInput2Go((*[4][]float32)(rows[:4]), padW, tw, want, stride)
					}
					got := make([]float32, a*a*stride)
					ew := 8*m*groups + 16 + padW
					winoInputAsm(m, rows[:a], inW, padW, make([]float32, a*ew), ew, groups, got, stride)
					for x := range a * a {
						for k := range tw {
							if g, w := got[x*stride+k], want[x*stride+k]; !close(g, w) {
								t.Fatalf("element %d of tile %d: %g, want %g", x, k, g, w)
							}
						}
					}
				})
				t.Run(fmt.Sprintf("F%d/out/w%d", m, ow), func(t *testing.T) {
					stride := 8*groups + 5
					mt := randSlice(r, a*a*stride)
					for _, hasRes := range []bool{false, true} {
						for _, relu := range []bool{false, true} {
							var want, got, res [4][]float32
							for i := range m {
								want[i] = make([]float32, ow)
								got[i] = fill(make([]float32, ow+9), -7)[:ow]
								if hasRes {
									res[i] = randSlice(r, ow)
								}
							}
							if m == 4 {
								winoOutputGo(mt, stride, tw, &want, &res, 0.25, relu)
							} else {
								winoOutput2Go(mt, stride, tw, (*[2][]float32)(want[:2]), (*[2][]float32)(res[:2]), 0.25, relu)
							}
							winoOutputAsm(m, mt, stride, groups, ow, got[:m], res[:m], hasRes, 0.25, relu)
							for i := range m {
								for j := range ow {
									if g, w := got[i][j], want[i][j]; !close(g, w) {
										t.Fatalf("res=%v relu=%v: row %d column %d: %g, want %g", hasRes, relu, i, j, g, w)
									}
								}
								for j, v := range got[i][ow : ow+9] {
									if v != -7 {
										t.Fatalf("row %d: column %d past ow=%d written", i, ow+j, ow)
									}
								}
							}
						}
					}
				})
			}
		}
	}
}

// TestPlaneStride checks that plane strides avoid multiples of 4 KiB (an odd
// number of cache lines) and never shrink a plane.
func TestPlaneStride(t *testing.T) {
	for _, n := range []int{1, 15, 16, 17, 1024, 6144, 13056, 99999} {
		s := planeStride(n)
		if s < n || s%16 != 0 || (s/16)%2 != 1 {
			t.Errorf("planeStride(%d) = %d", n, s)
		}
	}
}

// planeSplit cuts the planes' GEMMs where the thread count does not divide them, and only
// into blocks of enough work.
func TestPlaneSplit(t *testing.T) {
	big := 2 * 256 * 16 * 256.0 // a 14×14 layer's F4 plane: 256×256 by 256×16
	for _, tc := range []struct {
		planes, panels, threads int
		flops                   float64
		want                    int
	}{
		{36, 32, 1, big, 1},
		{36, 32, 2, big, 1},
		{36, 32, 4, big, 1},
		{36, 32, 8, big, 2},    // 36/40 → 72/72
		{36, 32, 16, big, 4},   // 36/48 → 144/144
		{16, 64, 16, big, 1},   // F2 on 16 threads: even already
		{16, 64, 12, big, 3},   // 16/24 → 48/48
		{36, 2, 16, big, 2},    // no more blocks than row panels
		{36, 32, 16, 1.5e6, 2}, // blocks of ≥ minParallelFlops/4 only
		{36, 32, 16, 8e5, 1},   // too little work to cut at all
		{36, 32, 5, big, 3},    // 36/40 → 72/75 → 108/110; 144/145 gains under 2%
	} {
		if got := planeSplit(tc.planes, tc.panels, tc.threads, tc.flops); got != tc.want {
			t.Errorf("planeSplit(%d planes, %d panels, %d threads, %.0f flops) = %d, want %d", tc.planes, tc.panels, tc.threads, tc.flops, got, tc.want)
		}
	}
}

// Cutting the planes' GEMMs into row blocks changes no result: every thread count (16, 12
// and 5 cut F4's and F2's planes, with the work bound lowered) gives the one-thread output
// bit for bit.
func TestWinogradPlaneSplitExact(t *testing.T) {
	prev := minParallelFlops
	minParallelFlops = 1 << 10
	defer func() { minParallelFlops = prev }()
	isatest.Run(t, func(t *testing.T) {
		for _, kind := range []*winoKind{winoF4, winoF2} {
			p := ConvParams{InC: 64, InH: 14, InW: 14, OutC: 96, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
			r := rand.New(rand.NewPCG(7, uint64(kind.m)))
			in, w := resnetLike(r, p, 2)
			ww := newWinoWeights(kind, p, w)
			var want []float32
			for _, threads := range []int{1, 16, 12, 5, 2} {
				out := make([]float32, 2*p.OutC*p.OutH()*p.OutW())
				withThreads(threads, func() { winoConv(p, 2, in, ww, nil, nil, true, out) })
				if want == nil {
					want = out
					continue
				}
				for i := range out {
					if math.Float32bits(out[i]) != math.Float32bits(want[i]) {
						t.Fatalf("F%d, %d threads: value %d is %g, one thread gives %g", kind.m, threads, i, out[i], want[i])
					}
				}
			}
		}
	})
}

// transformRowsMatrix is transformRows by the matrix products G·g·Gᵀ, for any α: the
// reference the unrolled transforms (transformRows4, transformRows6) are tested against.
func (ww *winoWeights) transformRowsMatrix(w []float32, o0, o1 int) {
	k, inC := ww.kind, ww.inC
	var gm [6][3]float64 // G, copied out of the slices for the inner loops
	for r := range k.a {
		gm[r] = [3]float64(k.g[r])
	}
	var gg [6][3]float64 // G g
	for o := o0; o < o1; o++ {
		for c := 0; c < inC; c++ {
			at := ww.u[0].index(o, c) // the same in every U_ξ
			g := (*[9]float32)(w[(o*inC+c)*9:])
			for r := range k.a {
				for j := range 3 {
					gg[r][j] = gm[r][0]*float64(g[j]) + gm[r][1]*float64(g[3+j]) + gm[r][2]*float64(g[6+j])
				}
			}
			for r := range k.a {
				for s := range k.a {
					v := gg[r][0]*gm[s][0] + gg[r][1]*gm[s][1] + gg[r][2]*gm[s][2]
					ww.u[r*k.a+s].data[at] = float32(v)
				}
			}
		}
	}
}

// F4's weight transform by shared sums (winoG6) against the matrix products: the same values
// but for an occasional last bit (the float64 sums are reassociated).
func TestWinoWeightTransformF4(t *testing.T) {
	p := ConvParams{InC: 24, InH: 8, InW: 8, OutC: 20, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	w := randSlice(rand.New(rand.NewPCG(9, 10)), p.OutC*p.InC*9)
	a := newWinoWeights(winoF4, p, w)
	b := newWinoWeights(winoF4, p, w)
	b.transformRowsMatrix(w, 0, p.OutC)
	differ := 0
	for x := range a.u {
		for i, v := range a.u[x].data {
			u := b.u[x].data[i]
			if v == u {
				continue
			}
			differ++
			if d := math.Abs(float64(v - u)); d > 1.2e-7*math.Abs(float64(u)) {
				t.Fatalf("plane %d value %d: %v, matrix form %v", x, i, v, u)
			}
		}
	}
	if total := 36 * p.OutC * p.InC; differ > total/100 {
		t.Errorf("%d of %d values differ in the last bit", differ, total)
	}
}

// F2's unrolled weight transform (transformRows4) gives the matrix form's bits, signed zeros
// included, and a mutation of either would show.
func TestWinoWeightTransformF2(t *testing.T) {
	p := ConvParams{InC: 19, InH: 8, InW: 8, OutC: 21, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	w := randSlice(rand.New(rand.NewPCG(11, 12)), p.OutC*p.InC*9)
	for i := 0; i < len(w); i += 7 {
		w[i] = float32(math.Copysign(0, float64(w[i]))) // ±0 in every position of the 3×3 in turn
	}
	a := newWinoWeights(winoF2, p, w)
	b := newWinoWeights(winoF2, p, w)
	for _, u := range b.u {
		clear(u.data)
	}
	b.transformRowsMatrix(w, 0, p.OutC)
	for x := range a.u {
		for i, v := range a.u[x].data {
			if u := b.u[x].data[i]; math.Float32bits(v) != math.Float32bits(u) {
				t.Fatalf("plane %d value %d: %v, matrix form %v", x, i, v, u)
			}
		}
	}
}

// BenchmarkWinoWeightTransform: the load-time weight transform of ResNet-50's largest
// Winograd layers, F4 at 14×14 (256→256) and F2 at 7×7 (512→512), on the kernels' threads.
func BenchmarkWinoWeightTransform(b *testing.B) {
	for _, tc := range []struct {
		kind *winoKind
		c    int
	}{{winoF4, 256}, {winoF2, 512}} {
		p := ConvParams{InC: tc.c, InH: 7, InW: 7, OutC: tc.c, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
		w := randSlice(rand.New(rand.NewPCG(1, 2)), p.OutC*p.InC*9)
		ww := newWinoWeights(tc.kind, p, w)
		b.Run(fmt.Sprintf("F%d/%d", tc.kind.m, tc.c), func(b *testing.B) {
			for b.Loop() {
				ww.transform(w)
			}
		})
	}
}

// Tile bands (winoGroupTiled) compute what whole planes (winoGroup, its GEMMs cut at the
// same bands) do, bit for bit: on every path, F4 and F2, with each epilogue, batches of
// several images, bands of one tile row and of several, and thread counts that leave
// threads uneven runs of bands or none.
func TestWinogradTiledExact(t *testing.T) {
	prevBytes := tiledBytes
	defer func() { tiledBytes, winoTiledOff = prevBytes, false }()
	isatest.Run(t, func(t *testing.T) {
		big := ConvParams{InC: 64, InH: 56, InW: 56, OutC: 64, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
		if testing.Short() && os.Getenv("RESNET_EMULATED") != "" {
			// Under qemu-user the 56×56 layer took most of this test's 52 s; a map of the
			// same shape at 1/8 of the work still cuts into many bands.
			big.InC, big.OutC, big.InH, big.InW = 32, 32, 28, 28
		}
		cases := append([]struct {
			name string
			p    ConvParams
			n    int
		}{
			{fmt.Sprintf("%dx%d %d->%d", big.InH, big.InW, big.InC, big.OutC), big, 1},
			{"13x21 17->9 batch 3", ConvParams{InC: 17, InH: 13, InW: 21, OutC: 9, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, 3},
		}, winoCases...)
		tested := 0
		for ci, tc := range cases {
			for _, kind := range []*winoKind{winoF4, winoF2} {
				p, n := tc.p, tc.n
				r := rand.New(rand.NewPCG(uint64(ci), 17))
				in, w := resnetLike(r, p, n)
				ww := newWinoWeights(kind, p, w)
				outN := n * p.OutC * p.OutH() * p.OutW()
				bias, res := randSlice(r, p.OutC), randSlice(r, outN)
				inL, outL := NCHW(p.InC, p.InH, p.InW), NCHW(p.OutC, p.OutH(), p.OutW())
				for _, band := range []int{1, 3 << 20} { // one tile row a band; 3 MiB
					tiledBytes = band
					g := newWinoGeom(kind, p, n)
					if g.bandsPerImage() == 1 {
						continue // not cut: whole planes only
					}
					tested++
					for _, ep := range []struct{ bias, res, relu bool }{{}, {true, true, true}} {
						b, rs := bias, res
						if !ep.bias {
							b, rs = nil, nil
						}
						winoTiledOff = true
						want := make([]float32, outN)
						withThreads(3, func() { winoConv(p, n, in, ww, b, rs, ep.relu, want) })
						winoTiledOff = false
						for _, threads := range []int{1, 2, 3, 7} {
							out := fill(make([]float32, outN+5), float32(math.NaN()))
							withThreads(threads, func() { winoGroupTiled(curISA(), p, n, in, inL, ww, b, rs, ep.relu, out[:outN], outL) })
							auto := make([]float32, outN) // bands or planes, as the thread count decides
							withThreads(threads, func() { winoConv(p, n, in, ww, b, rs, ep.relu, auto) })
							for i := range want {
								if math.Float32bits(auto[i]) != math.Float32bits(want[i]) {
									t.Fatalf("%s F%d %+v, %d threads: winoConv's value %d is %g, on 3 threads with whole planes %g", tc.name, kind.m, ep, threads, i, auto[i], want[i])
								}
							}
							for i := outN; i < len(out); i++ {
								if out[i] == out[i] {
									t.Fatalf("%s F%d: wrote past the output: out[%d] = %g", tc.name, kind.m, i, out[i])
								}
							}
							for i := range want {
								if math.Float32bits(out[i]) != math.Float32bits(want[i]) {
									t.Fatalf("%s F%d %+v, %d bands an image, %d threads: value %d is %g, whole planes give %g",
										tc.name, kind.m, ep, g.bandsPerImage(), threads, i, out[i], want[i])
								}
							}
						}
					}
				}
			}
		}
		if tested < 10 {
			t.Fatalf("only %d shapes were cut into bands", tested)
		}
	})
}

// The choice between bands and whole planes on ResNet-50's 3×3 layers: bands for the
// 56×56 stage, where there are bands enough for the threads.
func TestWinoTiledApplies(t *testing.T) {
	for _, tc := range []struct {
		c, hw, n, threads int
		want              bool
	}{
		{64, 56, 1, 1, true}, {64, 56, 1, 2, true}, {64, 56, 1, 3, false}, {64, 56, 1, 16, false},
		{64, 56, 16, 16, true}, {64, 56, 3, 2, true}, {64, 56, 3, 4, false}, {64, 56, 8, 3, true},
		{128, 28, 1, 1, false}, {128, 28, 1, 2, false}, {128, 28, 16, 2, false},
		{256, 14, 1, 2, false}, {512, 7, 1, 2, false}, {512, 7, 16, 2, false},
	} {
		p := ConvParams{InC: tc.c, InH: tc.hw, InW: tc.hw, OutC: tc.c, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
		g := newWinoGeom(winoF4, p, tc.n)
		if got := winoTiledApplies(&g, tc.threads); got != tc.want {
			t.Errorf("%d channels %d×%d batch %d on %d threads: bands %v, want %v", tc.c, tc.hw, tc.hw, tc.n, tc.threads, got, tc.want)
		}
	}
}
