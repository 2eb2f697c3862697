package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/resnet-go/resnet/internal/isatest"
)

// TestWinoLanesAsm compares the lane-major assembly kernels with their Go
// specifications. The transforms do the same operations in the same order,
// but FMA contractions may differ between the Go compiler and the kernels,
// hence a small tolerance rather than equality; the moves are exact.
func TestWinoLanesAsm(t *testing.T) { isatest.Run(t, testWinoLanesAsm) }

func testWinoLanesAsm(t *testing.T) {
	needAsm(t)
	r := rand.New(rand.NewPCG(5, 6))
	t.Run("lanesIn8", func(t *testing.T) {
		w, h, ds := 16, 3, 200
		var src [8]*float32
		var planes [8][]float32
		for l := range src {
			planes[l] = randSlice(r, w*h)
			src[l] = &planes[l][0]
		}
		got, want := fill(make([]float32, h*ds), 7), fill(make([]float32, h*ds), 7)
		lanesIn8(&src[0], w, h, &got[0], ds)
		lanesIn8Go(&src, w, h, w, want, ds)
		if !slices.Equal(got, want) {
			t.Fatal("lanesIn8 differs from lanesIn8Go")
		}
	})
	t.Run("lanesOut8", func(t *testing.T) {
		w, h, ss := 24, 2, 250
		src := randSlice(r, h*ss)
		for flags := range 4 {
			var dst, dstGo, res [8]*float32
			var planes, planesGo, resP [8][]float32
			for l := range dst {
				planes[l], planesGo[l] = fill(make([]float32, w*h+1), 9), fill(make([]float32, w*h+1), 9)
				resP[l] = randSlice(r, w*h)
				dst[l], dstGo[l], res[l] = &planes[l][0], &planesGo[l][0], &resP[l][0]
			}
			lanesOut8(&src[0], w, h, ss, &dst[0], &res[0], flags, 0.25)
			lanesOut8Go(src, w, h, ss, &dstGo, &res, flags, 0.25)
			for l := range planes {
				if !slices.Equal(planes[l], planesGo[l]) {
					t.Fatalf("flags %d lane %d: lanesOut8 differs from lanesOut8Go", flags, l)
				}
			}
		}
	})
	for _, tc := range []struct{ th, tw int }{{1, 1}, {2, 2}, {8, 8}, {3, 5}} {
		t.Run(fmt.Sprintf("transforms %dx%d", tc.th, tc.tw), func(t *testing.T) {
			rs := 8*(4*tc.tw+2) + 8
			p := randSlice(r, (4*tc.th+2)*rs)
			vs := 8*tc.th*tc.tw + 24
			got, want := fill(make([]float32, 36*vs), 3), fill(make([]float32, 36*vs), 3)
			e := make([]float32, 6*8*(4*tc.tw+2))
			winoInL6(&p[0], rs, tc.th, tc.tw, &e[0], &got[0], vs)
			winoInL6Go(p, rs, tc.th, tc.tw, want, vs)
			closeSlices(t, "winoInL6", got, want)

			qs := 8*4*tc.tw + 16
			q, qGo := fill(make([]float32, 4*tc.th*qs), 5), fill(make([]float32, 4*tc.th*qs), 5)
			winoOutL6(&got[0], vs, tc.th, tc.tw, &q[0], qs)
			winoOutL6Go(got, vs, tc.th, tc.tw, qGo, qs)
			closeSlices(t, "winoOutL6", q, qGo)
		})
	}
}

// closeSlices checks |got − want| <= 1e-6·max|want| elementwise: a few ulps
// of the largest value, as the transforms sum terms of that size.
func closeSlices(t *testing.T, name string, got, want []float32) {
	t.Helper()
	scale := 0.0
	for _, x := range want {
		scale = max(scale, math.Abs(float64(x)))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); !(d <= 1e-6*scale) {
			t.Fatalf("%s: element %d = %g, want %g", name, i, got[i], want[i])
		}
	}
}

// TestConv2DPlannedLayout runs Winograd plans (F4 and F2, lane-major and
// row-major transforms) on channel-major (CNHW) and NCHW batches, with the
// epilogues and a residual that is the output itself, against the float64
// direct convolution, and checks that nothing outside the output's planes
// is written, with the Winograd criterion of checkPlanes (error against each
// plane's largest sum of absolute terms: a residual that cancels the
// convolution or a ReLU that clips most of a plane can leave outputs far
// smaller than the rounding error of the convolution's terms).
func TestConv2DPlannedLayout(t *testing.T) {
	conv := func(c, h, w, o int) ConvParams {
		return ConvParams{InC: c, InH: h, InW: w, OutC: o, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	}
	cases := []struct {
		p  ConvParams
		ns []int
	}{
		{conv(16, 32, 32, 16), []int{1, 9}},
		{conv(32, 16, 16, 32), []int{3, 17}},
		{conv(64, 8, 8, 64), []int{5, 16}},
		{conv(16, 8, 16, 24), []int{4, 11}},
		{conv(16, 7, 8, 16), []int{9}},  // partial tile rows at the bottom
		{conv(16, 12, 8, 16), []int{9}}, // tasks of 2 tile rows and of 1
		{conv(5, 7, 9, 3), []int{2, 9}}, // row-major transforms only (odd width)
		{ConvParams{InC: 4, InH: 8, InW: 8, OutC: 8, KH: 3, KW: 3, StrideH: 1, StrideW: 1}, []int{9}}, // no padding: 6×6 out
	}
	// The float64 convolutions (no bias), by case and batch: the slow part, shared.
	type key struct{ ci, n int }
	refs := map[key]struct{ ref, mag []float64 }{}
	isatest.Run(t, func(t *testing.T) {
		for ci, tc := range cases {
			for _, n := range tc.ns {
				for _, m := range []int{4, 2} {
					for ei, ep := range []struct{ bias, res, alias, relu, nchw bool }{{}, {true, true, false, true, false}, {false, true, true, false, false}, {true, false, false, true, true}} {
						p := tc.p
						name := fmt.Sprintf("%dx%dx%d-%d/n%d/F%d/ep%d", p.InC, p.InH, p.InW, p.OutC, n, m, ei)
						t.Run(name, func(t *testing.T) {
							r := rand.New(rand.NewPCG(uint64(ci), uint64(n)))
							in, w := resnetLike(r, p, n)
							r = rand.New(rand.NewPCG(uint64(ci), uint64(n*10+m+100*ei)))
							oh, ow := p.OutH(), p.OutW()
							outN := n * p.OutC * oh * ow
							// want in NCHW, from the reference on NCHW data.
							var bias, resNCHW []float32
							if ep.bias {
								bias = randSlice(r, p.OutC)
							}
							if ep.res {
								resNCHW = randSlice(r, outN)
							}
							rm, ok := refs[key{ci, n}]
							if !ok {
								rm.ref, rm.mag = refConvBatch(p, n, in, w, nil, nil, false)
								refs[key{ci, n}] = rm
							}
							mag, want := make([]float64, outN), make([]float64, outN)
							for i := range want {
								want[i], mag[i] = rm.ref[i], rm.mag[i]
								if bias != nil {
									b := float64(bias[i/(oh*ow)%p.OutC])
									want[i] += b
									mag[i] += math.Abs(b)
								}
								if resNCHW != nil {
									want[i] += float64(resNCHW[i])
									mag[i] += math.Abs(float64(resNCHW[i]))
								}
								if ep.relu {
									want[i] = max(want[i], 0)
								}
							}

							inL, outL := NCHW(p.InC, p.InH, p.InW), NCHW(p.OutC, oh, ow)
							if !ep.nchw {
								inL, outL = CNHW(n, p.InH, p.InW), CNHW(n, oh, ow)
							}
							// Lay the input, residual and expected output out as inL/outL.
							place := func(src []float32, c, plane int, l Layout, dst []float32) {
								for img := range n {
									for ch := range c {
										copy(dst[img*l.Image+ch*l.Channel:][:plane], src[(img*c+ch)*plane:][:plane])
									}
								}
							}
							inX := make([]float32, len(in))
							place(in, p.InC, p.InH*p.InW, inL, inX)
							out := fill(make([]float32, outN+7), float32(math.NaN()))
							var res []float32
							if ep.res {
								res = make([]float32, outN)
								place(resNCHW, p.OutC, oh*ow, outL, res)
								if ep.alias {
									copy(out, res)
									res = out[:outN]
								}
							}
							pl := PlanConvWinograd(p, m, w)
							Conv2DPlannedLayout(p, n, inX, inL, pl, bias, res, ep.relu, out[:outN], outL)
							for i := outN; i < len(out); i++ {
								if out[i] == out[i] {
									t.Fatalf("wrote past the output: out[%d] = %g", i, out[i])
								}
							}
							got := make([]float32, outN)
							for img := range n {
								for ch := range p.OutC {
									copy(got[(img*p.OutC+ch)*oh*ow:][:oh*ow], out[img*outL.Image+ch*outL.Channel:][:oh*ow])
								}
							}
							checkPlanes(t, got, want, mag, oh*ow)
						})
					}
				}
			}
		}
	})
}

// TestSetWeights checks that re-transforming a plan's weights in place gives
// the plan of the new weights, without allocating.
func TestSetWeights(t *testing.T) {
	p := ConvParams{InC: 16, InH: 8, InW: 8, OutC: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	r := rand.New(rand.NewPCG(1, 1))
	for _, m := range []int{2, 4} {
		w1, w2 := randSlice(r, 16*16*9), randSlice(r, 16*16*9)
		pl, fresh := PlanConvWinograd(p, m, w1), PlanConvWinograd(p, m, w2)
		withThreads(1, func() {
			if a := testing.AllocsPerRun(3, func() { pl.SetWeights(w2) }); a != 0 {
				t.Errorf("F%d: SetWeights allocates %v times", m, a)
			}
		})
		a, b := pl.wino.Load(), fresh.wino.Load()
		for x := range a.u {
			if !slices.Equal(a.u[x].data, b.u[x].data) {
				t.Fatalf("F%d: plane %d differs from a fresh plan's", m, x)
			}
		}
	}
	pl := PlanConv(ConvParams{InC: 3, OutC: 4, KH: 1, KW: 1, StrideH: 1, StrideW: 1}, make([]float32, 12))
	defer func() {
		if recover() == nil {
			t.Error("SetWeights on a GEMM plan did not panic")
		}
	}()
	pl.SetWeights(make([]float32, 12))
}

// TestWinoGemm16 checks the short-K GEMMs of the lane-major path (winoGemm16 on avx2,
// winoGemm8x48 on avx512) against refGemm, with K not a multiple of the unrolling, M not a
// multiple of the panel height and N ending in strips of 16, 32 and 48; rows and columns past
// C's must stay untouched.
func TestWinoGemm16(t *testing.T) { isatest.Run(t, testWinoGemm16) }

func testWinoGemm16(t *testing.T) {
	needAsm(t)
	ker := curISA().gemm
	r := rand.New(rand.NewPCG(8, 9))
	for _, sz := range [][3]int{{7, 5, 32}, {16, 16, 16}, {64, 64, 48}, {1, 1, 16}, {13, 30, 64}, {9, 2, 80}, {24, 17, 96}, {8, 3, 112}} {
		m, k, n := sz[0], sz[1], sz[2]
		a, b := randSlice(r, m*k), randSlice(r, k*(n+3))
		pa := packAFor(m, k, a, k, ker)
		ldc := n + 5
		c := fill(make([]float32, (m+1)*ldc), 4)
		if ker.kind == kindAVX512 {
			winoGemm8x48(k, &pa.data[0], m, &b[0], n+3, &c[0], ldc, n)
		} else {
			winoGemm16(k, &pa.data[0], m, &b[0], n+3, &c[0], ldc, n)
		}
		want, _ := refGemm(m, n, k, a, k, b, n+3)
		for i := range m + 1 {
			for j := range ldc {
				got := c[i*ldc+j]
				if i == m || j >= n {
					if got != 4 {
						t.Fatalf("%v: wrote C[%d][%d] outside the product", sz, i, j)
					}
					continue
				}
				if d := math.Abs(float64(got) - want[i*n+j]); d > 1e-5*float64(k) {
					t.Fatalf("%v: C[%d][%d] = %g, want %g", sz, i, j, got, want[i*n+j])
				}
			}
		}
	}
}

// BenchmarkWinogradCIFAR runs the 3×3 convolutions of CIFAR ResNets on channel-major batches
// of 128 (the training layout) through Conv2DPlannedLayout, F4 and F2; "GFLOP/s" counts the
// direct convolution's multiply-adds.
func BenchmarkWinogradCIFAR(b *testing.B) {
	for _, s := range []struct{ c, h int }{{16, 32}, {32, 16}, {64, 8}} {
		for _, m := range []int{4, 2} {
			b.Run(fmt.Sprintf("%dx%dx%d/F%d", s.c, s.h, s.h, m), func(b *testing.B) {
				p := ConvParams{InC: s.c, InH: s.h, InW: s.h, OutC: s.c, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
				const n = 128
				in, w := resnetLike(rand.New(rand.NewPCG(1, 2)), p, n)
				out := make([]float32, len(in))
				pl := PlanConvWinograd(p, m, w)
				l := CNHW(n, s.h, s.h)
				for b.Loop() {
					Conv2DPlannedLayout(p, n, in, l, pl, nil, nil, false, out, l)
				}
				sec := b.Elapsed().Seconds() / float64(b.N)
				b.ReportMetric(2*float64(p.MACs())*n/sec/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkSetWeights re-transforms the weights of a 64-channel F4 plan (once per layer and
// step in training).
func BenchmarkSetWeights(b *testing.B) {
	p := ConvParams{InC: 64, InH: 8, InW: 8, OutC: 64, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	w := randSlice(rand.New(rand.NewPCG(1, 2)), 64*64*9)
	pl := PlanConvWinograd(p, 4, w)
	for b.Loop() {
		pl.SetWeights(w)
	}
}

// TestConv2DPlannedLayoutChecks: layouts whose planes overlap or run past the slices, and
// GEMM plans on other layouts than NCHW, are refused; NCHW and CNHW are accepted.
func TestConv2DPlannedLayoutChecks(t *testing.T) {
	p := ConvParams{InC: 16, InH: 4, InW: 8, OutC: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	const n = 3
	size := n * 16 * 32
	pl := PlanConvWinograd(p, 4, make([]float32, 16*16*9))
	buf := make([]float32, size)
	for _, tc := range []struct {
		name    string
		inL     Layout
		inLen   int
		pl      *ConvPlan
		wantErr bool
	}{
		{"NCHW", NCHW(16, 4, 8), size, pl, false},
		{"CNHW", CNHW(n, 4, 8), size, pl, false},
		{"overlapping planes", Layout{Image: 16, Channel: 32}, size, pl, true},
		{"short input", CNHW(n, 4, 8), size - 1, pl, true},
		{"negative stride", Layout{Image: -32, Channel: 96}, size, pl, true},
		{"GEMM plan on CNHW", CNHW(n, 4, 8), size, PlanConv(ConvParams{InC: 16, InH: 4, InW: 8, OutC: 16, KH: 1, KW: 1, StrideH: 1, StrideW: 1}, make([]float32, 256)), true},
	} {
		outL := NCHW(16, 4, 8)
		if tc.inL == CNHW(n, 4, 8) {
			outL = tc.inL
		}
		q := p
		if tc.pl.packed != nil {
			q.KH, q.KW, q.PadH, q.PadW = 1, 1, 0, 0
		}
		err := checkConv2DLayout(q, n, buf[:tc.inLen], tc.inL, tc.pl, nil, nil, buf, outL)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: error %v, want one: %v", tc.name, err, tc.wantErr)
		}
	}
}
