package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/internal/isatest"
)

// refWeightGrad is the weight gradient of a 3×3 stride-1 convolution in float64, straight
// from its definition, with the sum of the terms' magnitudes (the scale of its rounding).
func refWeightGrad(p ConvParams, n int, x []float32, xl Layout, dy []float32, dyl Layout) (grad, mag []float64) {
	oh, ow := p.OutH(), p.OutW()
	grad = make([]float64, p.OutC*p.InC*9)
	mag = make([]float64, len(grad))
	for o := range p.OutC {
		for i := range p.InC {
			for ky := range 3 {
				for kx := range 3 {
					var s, m float64
					for img := range n {
						for y := range oh {
							iy := y + ky - p.PadH
							if iy < 0 || iy >= p.InH {
								continue
							}
							for xx := range ow {
								ix := xx + kx - p.PadW
								if ix < 0 || ix >= p.InW {
									continue
								}
								t := float64(dy[img*dyl.Image+o*dyl.Channel+y*ow+xx]) * float64(x[img*xl.Image+i*xl.Channel+iy*p.InW+ix])
								s += t
								m += math.Abs(t)
							}
						}
					}
					f := ((o*p.InC+i)*3+ky)*3 + kx
					grad[f], mag[f] = s, m
				}
			}
		}
	}
	return grad, mag
}

// TestWinoWeightGrad compares the Winograd weight gradient, on each path's kernels (the
// assembly, or on the go path their Go specifications), with the float64 definition, for CIFAR shapes and maps that are
// not a multiple of 4 or 8, with padding 0, 1 and 2, channel-major and image-major layouts,
// and sums split over two calls. The bound, 1e-5 of the sum of the terms' magnitudes (plus
// 1e-6 of the largest value), allows for F4's transforms: they scale terms by up to 64
// (A·dY·Aᵀ) and 25 (Bᵀ·x·B) before G's fractions bring them back, which amplifies the
// rounding of the float32 sums. The worst case measured on these shapes is 1.8e-6 (logged).
func TestWinoWeightGrad(t *testing.T) { isatest.Run(t, testWinoWeightGrad) }

func testWinoWeightGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	cases := []struct{ n, in, out, h, w, pad int }{
		{3, 16, 16, 32, 32, 1},
		{4, 32, 32, 16, 16, 1},
		{17, 64, 64, 8, 8, 1},
		{2, 16, 24, 12, 20, 1},
		{2, 32, 8, 7, 9, 1},
		{2, 16, 8, 10, 10, 0},
		{2, 16, 16, 6, 13, 2},
	}
	for _, tc := range cases {
		for _, cnhw := range []bool{true, false} {
			name := fmt.Sprintf("n%d %d→%d %dx%d pad %d cnhw %v", tc.n, tc.in, tc.out, tc.h, tc.w, tc.pad, cnhw)
			t.Run(name, func(t *testing.T) {
				p := ConvParams{InC: tc.in, InH: tc.h, InW: tc.w, OutC: tc.out, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: tc.pad, PadW: tc.pad}
				oh, ow := p.OutH(), p.OutW()
				xl, dyl := NCHW(tc.in, tc.h, tc.w), NCHW(tc.out, oh, ow)
				if cnhw {
					xl, dyl = CNHW(tc.n, tc.h, tc.w), CNHW(tc.n, oh, ow)
				}
				x := randSlice(r, tc.n*tc.in*tc.h*tc.w)
				dy := randSlice(r, tc.n*tc.out*oh*ow)
				want, mag := refWeightGrad(p, tc.n, x, xl, dy, dyl)
				var peak float64
				for _, v := range want {
					peak = max(peak, math.Abs(v))
				}
				// The path's kernels: assembly, or on the go path their Go specifications.
				asm := curISA().asm
				acc := make([]float32, WinoWeightGradSize(p))
				// Two calls: the first image, then the rest (sums carry over).
				winoDWAdd(p, 1, x, xl, dy, dyl, acc, asm)
				winoDWAdd(p, tc.n-1, x[xl.Image:], xl, dy[dyl.Image:], dyl, acc, asm)
				got := make([]float32, len(want))
				WinoWeightGradFinish(p, got, acc)
				var worst float64
				for f, w := range want {
					e := math.Abs(float64(got[f]) - w)
					worst = max(worst, e/mag[f])
					if e > 1e-5*mag[f]+1e-6*peak {
						t.Fatalf("filter value %d: got %g, want %g (terms' magnitude %g)", f, got[f], w, mag[f])
					}
				}
				t.Logf("worst error %.2g of the terms' magnitude", worst)
			})
		}
	}
}

// TestWinoDWAsm compares the weight-gradient kernels with their Go specifications: the
// transform exactly (its products by 2, 4 and 8 are exact, so FMAs round as the Go code), the
// plane product within the rounding of k fused versus separate multiply-adds.
func TestWinoDWAsm(t *testing.T) { isatest.Run(t, testWinoDWAsm) }

func testWinoDWAsm(t *testing.T) {
	needAsm(t)
	r := rand.New(rand.NewPCG(13, 14))
	for _, tc := range []struct{ th, tw int }{{1, 1}, {2, 3}, {8, 8}} {
		qs := 8*4*tc.tw + 16
		q := randSlice(r, 4*tc.th*qs)
		ds := 8*tc.th*tc.tw + 40
		got, want := fill(make([]float32, 36*ds), 3), fill(make([]float32, 36*ds), 3)
		winoDyL6(&q[0], qs, tc.th, tc.tw, &got[0], ds)
		winoDyL6Go(q, qs, tc.th, tc.tw, want, ds)
		if !slices.Equal(got, want) {
			t.Fatalf("winoDyL6 %dx%d differs from winoDyL6Go", tc.th, tc.tw)
		}
	}
	for _, tc := range []struct{ k, no, ni int }{{1, 4, 16}, {7, 8, 16}, {64, 16, 32}, {66, 64, 64}, {5, 12, 48}} {
		dgs, vgs := 8*tc.k+8, 8*tc.k+24
		d := randSlice(r, ceilDiv(tc.no, 8)*dgs)
		v := randSlice(r, tc.ni/8*vgs)
		u0 := randSlice(r, tc.no*tc.ni)
		got, want := slices.Clone(u0), slices.Clone(u0)
		winoDW16(tc.k, &d[0], dgs, tc.no, &v[0], vgs, tc.ni, &got[0])
		winoDW16Go(tc.k, d, dgs, tc.no, v, vgs, tc.ni, want)
		for j := range got {
			if e := math.Abs(float64(got[j] - want[j])); e > 1e-6*float64(tc.k+1)*2 {
				t.Fatalf("winoDW16 k %d %d×%d: value %d: %g, Go %g", tc.k, tc.no, tc.ni, j, got[j], want[j])
			}
		}
	}
}

// BenchmarkWinoWeightGrad takes the weight gradient of the 3×3 convolutions of CIFAR ResNets
// at batch 128 on one goroutine, 64 tiles per call as the training layers chunk it;
// "GFLOP/s" counts the direct sum's multiply-adds.
func BenchmarkWinoWeightGrad(b *testing.B) {
	needAsm(b)
	for _, s := range []struct{ c, h int }{{16, 32}, {32, 16}, {64, 8}} {
		b.Run(fmt.Sprintf("%dx%dx%d", s.c, s.h, s.h), func(b *testing.B) {
			p := ConvParams{InC: s.c, InH: s.h, InW: s.h, OutC: s.c, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
			const n = 128
			r := rand.New(rand.NewPCG(1, 2))
			x, dy := randSlice(r, n*s.c*s.h*s.h), randSlice(r, n*s.c*s.h*s.h)
			l := CNHW(n, s.h, s.h)
			per := max(1, 1024/(s.h*s.h))
			acc := make([]float32, WinoWeightGradSize(p))
			grad := make([]float32, s.c*s.c*9)
			for b.Loop() {
				clear(acc)
				for i := 0; i < n; i += per {
					WinoWeightGradAdd(p, per, x[i*s.h*s.h:], l, dy[i*s.h*s.h:], l, acc)
				}
				WinoWeightGradFinish(p, grad, acc)
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(2*float64(p.MACs())*n/sec/1e9, "GFLOP/s")
		})
	}
}

// TestWinoWeightGradChecks: shapes it does not handle and slices too short panic with a
// message naming what is wrong, before any kernel runs.
func TestWinoWeightGradChecks(t *testing.T) { isatest.Run(t, testWinoWeightGradChecks) }

func testWinoWeightGradChecks(t *testing.T) {
	needAsm(t) // on the go path WinoWeightGradAdd refuses every shape
	p := ConvParams{InC: 16, InH: 8, InW: 8, OutC: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	l := CNHW(2, 8, 8)
	ok := func() ([]float32, []float32, []float32) {
		return make([]float32, 2*16*64), make([]float32, 2*16*64), make([]float32, WinoWeightGradSize(p))
	}
	for _, tc := range []struct {
		name, want string
		call       func()
	}{
		{"stride 2", "not a 3×3 stride-1", func() {
			q := p
			q.StrideH, q.StrideW = 2, 2
			x, dy, acc := ok()
			WinoWeightGradAdd(q, 2, x, l, dy, l, acc)
		}},
		{"24 input channels", "channels in 16s", func() {
			q := p
			q.InC = 24
			x, dy, acc := ok()
			WinoWeightGradAdd(q, 2, x, l, dy, l, acc)
		}},
		{"short input", "input", func() {
			x, dy, acc := ok()
			WinoWeightGradAdd(p, 2, x[:100], l, dy, l, acc)
		}},
		{"short output gradient", "output gradient", func() {
			x, dy, acc := ok()
			WinoWeightGradAdd(p, 2, x, l, dy[:100], l, acc)
		}},
		{"short accumulator", "accumulator", func() {
			x, dy, acc := ok()
			WinoWeightGradAdd(p, 2, x, l, dy, l, acc[:10])
		}},
		{"short gradient", "gradient of 10", func() {
			_, _, acc := ok()
			WinoWeightGradFinish(p, make([]float32, 10), acc)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), tc.want) {
					t.Fatalf("panic %v, want one mentioning %q", r, tc.want)
				}
			}()
			tc.call()
		})
	}
}
