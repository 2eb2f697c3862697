package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/internal/isatest"
)

// refConv is the obviously correct direct convolution in float64, also
// returning Σ|w·x| per output for the error bound.
func refConv(p ConvParams, in, w []float32) (out, mag []float64) {
	oh, ow := p.OutH(), p.OutW()
	out = make([]float64, p.OutC*oh*ow)
	mag = make([]float64, len(out))
	for o := 0; o < p.OutC; o++ {
		for y := 0; y < oh; y++ {
			for x := 0; x < ow; x++ {
				var s, sa float64
				for c := 0; c < p.InC; c++ {
					for ky := 0; ky < p.KH; ky++ {
						for kx := 0; kx < p.KW; kx++ {
							iy := y*p.StrideH - p.PadH + ky
							ix := x*p.StrideW - p.PadW + kx
							if iy < 0 || iy >= p.InH || ix < 0 || ix >= p.InW {
								continue
							}
							v := float64(w[((o*p.InC+c)*p.KH+ky)*p.KW+kx]) * float64(in[(c*p.InH+iy)*p.InW+ix])
							s += v
							sa += math.Abs(v)
						}
					}
				}
				out[(o*oh+y)*ow+x] = s
				mag[(o*oh+y)*ow+x] = sa
			}
		}
	}
	return out, mag
}

// convCases are the ResNet layer types at small sizes, plus odd shapes.
var convCases = []struct {
	name string
	p    ConvParams
}{
	{"stem 7x7/2 pad3", ConvParams{InC: 3, InH: 37, InW: 33, OutC: 8, KH: 7, KW: 7, StrideH: 2, StrideW: 2, PadH: 3, PadW: 3}},
	{"stem 7x7/2 pad3 wide", ConvParams{InC: 3, InH: 11, InW: 224, OutC: 12, KH: 7, KW: 7, StrideH: 2, StrideW: 2, PadH: 3, PadW: 3}}, // by rows: 112 = 48+48+16 columns
	{"3x3/2 pad1 wide K", ConvParams{InC: 40, InH: 5, InW: 224, OutC: 10, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},    // by rows, K = 360: several K blocks
	{"stem 7x7/2 pad3 192", ConvParams{InC: 3, InH: 9, InW: 192, OutC: 9, KH: 7, KW: 7, StrideH: 2, StrideW: 2, PadH: 3, PadW: 3}},    // by rows: 96 = 2·48
	{"3x3/1 pad1", ConvParams{InC: 16, InH: 14, InW: 14, OutC: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}},
	{"3x3/1 pad1 odd", ConvParams{InC: 5, InH: 9, InW: 23, OutC: 7, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}},
	{"3x3/2 pad1", ConvParams{InC: 8, InH: 15, InW: 15, OutC: 13, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
	{"3x3/2 pad1 even", ConvParams{InC: 8, InH: 16, InW: 16, OutC: 12, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
	{"3x3/2 pad1 into 28x28", ConvParams{InC: 8, InH: 56, InW: 56, OutC: 16, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}}, // column bands on 3 threads
	{"3x3/2 pad1 wide", ConvParams{InC: 4, InH: 9, InW: 41, OutC: 7, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
	{"1x1/2 wide", ConvParams{InC: 5, InH: 6, InW: 50, OutC: 9, KH: 1, KW: 1, StrideH: 2, StrideW: 2}},
	{"1x1/1", ConvParams{InC: 32, InH: 7, InW: 9, OutC: 20, KH: 1, KW: 1, StrideH: 1, StrideW: 1}},
	{"1x1/2", ConvParams{InC: 16, InH: 15, InW: 14, OutC: 24, KH: 1, KW: 1, StrideH: 2, StrideW: 2}},
	{"1x1/1 big K", ConvParams{InC: 300, InH: 5, InW: 7, OutC: 9, KH: 1, KW: 1, StrideH: 1, StrideW: 1}},
	{"3x3/1 big K", ConvParams{InC: 40, InH: 6, InW: 6, OutC: 11, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}},
	{"asymmetric", ConvParams{InC: 3, InH: 10, InW: 12, OutC: 5, KH: 3, KW: 5, StrideH: 1, StrideW: 2, PadH: 2, PadW: 0}},
	{"pad wider than kernel reach", ConvParams{InC: 2, InH: 3, InW: 3, OutC: 3, KH: 2, KW: 2, StrideH: 1, StrideW: 1, PadH: 3, PadW: 3}},
	{"1x1 tiny", ConvParams{InC: 1, InH: 1, InW: 1, OutC: 1, KH: 1, KW: 1, StrideH: 1, StrideW: 1}},
	{"5x5/3 pad2", ConvParams{InC: 3, InH: 17, InW: 19, OutC: 5, KH: 5, KW: 5, StrideH: 3, StrideW: 3, PadH: 2, PadW: 2}},
	{"2x2/2 no pad", ConvParams{InC: 4, InH: 9, InW: 10, OutC: 6, KH: 2, KW: 2, StrideH: 2, StrideW: 2}},
	{"3x1 strides 1,3", ConvParams{InC: 2, InH: 8, InW: 20, OutC: 3, KH: 3, KW: 1, StrideH: 1, StrideW: 3, PadH: 1, PadW: 0}},
	{"1x1/2 padded", ConvParams{InC: 3, InH: 7, InW: 8, OutC: 4, KH: 1, KW: 1, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
}

// Every case on every path, with and without the epilogue's parts, on one thread and three,
// packed and not; strided ones also with a plane per column shift and with the extended
// output (conv_pack.go), whichever splitColumns would choose, which packed weights on the
// AVX-512 path compute row by row where byRows says so.
func TestConv2D(t *testing.T) {
	defer func(prev int) { phaseSplit = prev }(phaseSplit)
	isatest.Run(t, func(t *testing.T) {
		for ci, tc := range convCases {
			modes := []int{splitAuto}
			if tc.p.StrideW > 1 {
				modes = []int{splitNever, splitAlways}
			}
			for _, mode := range modes {
				for _, ep := range []struct{ bias, res, relu bool }{{}, {true, false, false}, {false, true, true}, {true, true, true}} {
					for _, threads := range []int{1, 3} {
						for _, packed := range []bool{false, true} {
							name := fmt.Sprintf("%s/split=%d/bias=%v,res=%v,relu=%v/t%d/packed=%v", tc.name, mode, ep.bias, ep.res, ep.relu, threads, packed)
							t.Run(name, func(t *testing.T) {
								phaseSplit = mode
								withThreads(threads, func() { runConvCase(t, tc.p, ep.bias, ep.res, ep.relu, uint64(ci), packed) })
							})
						}
					}
				}
			}
		}
	})
}

// The rule of splitColumns on ResNet's strided layers (output widths at 224×224) and others.
func TestSplitColumns(t *testing.T) {
	for _, tc := range []struct {
		sw, ow, span int
		want         bool
	}{
		{2, 28, 1, false},  // 3×3/2 from 56: one column in 29 dropped
		{2, 14, 1, true},   // from 28: one in 15
		{2, 7, 1, true},    // from 14: one in 8
		{2, 112, 3, false}, // the 7×7/2 stem
		{2, 56, 3, true},   // a 7×7/2 stem on 112×112 input: 3 in 59
		{2, 7, 0, false},   // 1×1/2: nothing dropped either way
		{1, 7, 2, false},   // stride 1: one plane per phase
	} {
		if got := splitColumns(tc.sw, tc.ow, tc.span); got != tc.want {
			t.Errorf("splitColumns(sw %d, ow %d, span %d) = %v, want %v", tc.sw, tc.ow, tc.span, got, tc.want)
		}
	}
}

func runConvCase(t *testing.T, p ConvParams, withBias, withRes, relu bool, seed uint64, packed bool) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	in := randSlice(r, p.InC*p.InH*p.InW)
	w := randSlice(r, p.OutC*p.InC*p.KH*p.KW)
	n := p.OutC * p.OutH() * p.OutW()
	var bias, res []float32
	if withBias {
		bias = randSlice(r, p.OutC)
	}
	if withRes {
		res = randSlice(r, n)
	}
	out := fill(make([]float32, n), float32(math.NaN()))
	if packed {
		Conv2DPacked(p, in, PackConvWeights(p, w), bias, res, relu, out, make([]float32, ConvScratch(p)))
	} else {
		Conv2D(p, in, w, bias, res, relu, out, make([]float32, ConvScratch(p)))
	}

	want, mag := refConv(p, in, w)
	tol := make([]float64, n)
	hw := p.OutH() * p.OutW()
	for i := range want {
		add := 0.0
		if bias != nil {
			want[i] += float64(bias[i/hw])
			add += math.Abs(float64(bias[i/hw]))
		}
		if res != nil {
			want[i] += float64(res[i])
			add += math.Abs(float64(res[i]))
		}
		if relu && want[i] < 0 {
			want[i] = 0
		}
		tol[i] = bound(p.InC*p.KH*p.KW, 2, mag[i], add)
	}
	checkClose(t, "out", p.OutC, hw, out, hw, want, tol)
}

func TestConvParams(t *testing.T) {
	p := ConvParams{InC: 3, InH: 224, InW: 224, OutC: 64, KH: 7, KW: 7, StrideH: 2, StrideW: 2, PadH: 3, PadW: 3}
	if p.OutH() != 112 || p.OutW() != 112 {
		t.Errorf("stem output %d×%d, want 112×112", p.OutH(), p.OutW())
	}
	if got, want := p.MACs(), int64(64*112*112*3*7*7); got != want {
		t.Errorf("stem MACs %d, want %d", got, want)
	}
	q := ConvParams{InC: 64, InH: 56, InW: 56, OutC: 128, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}
	if q.OutH() != 28 || q.OutW() != 28 {
		t.Errorf("3×3/2 output %d×%d, want 28×28", q.OutH(), q.OutW())
	}
}

func TestCheckConv2D(t *testing.T) {
	p := ConvParams{InC: 2, InH: 4, InW: 4, OutC: 3, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	in, w, out := make([]float32, 32), make([]float32, 54), make([]float32, 48)
	tests := []struct {
		name                   string
		p                      ConvParams
		in, w, bias, res, outs []float32
		want                   string
	}{
		{"ok", p, in, w, nil, nil, out, ""},
		{"ok all", p, in, w, make([]float32, 3), make([]float32, 48), out, ""},
		{"zero stride", ConvParams{InC: 2, InH: 4, InW: 4, OutC: 3, KH: 3, KW: 3}, in, w, nil, nil, out, "strides must be positive"},
		{"negative pad", ConvParams{InC: 2, InH: 4, InW: 4, OutC: 3, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: -1}, in, w, nil, nil, out, "padding"},
		{"kernel too big", ConvParams{InC: 2, InH: 2, InW: 4, OutC: 3, KH: 3, KW: 3, StrideH: 1, StrideW: 1}, in, w, nil, nil, out, "larger than the padded input"},
		{"zero size", ConvParams{InC: 0, InH: 4, InW: 4, OutC: 3, KH: 3, KW: 3, StrideH: 1, StrideW: 1}, in, w, nil, nil, out, "sizes must be positive"},
		{"short input", p, in[:31], w, nil, nil, out, "input has 31 values, want at least 32"},
		{"long weights", p, in, make([]float32, 55), nil, nil, out, "weights has 55 values, want 54"},
		{"bias", p, in, w, make([]float32, 2), nil, out, "bias has 2 values, want 3"},
		{"residual", p, in, w, nil, make([]float32, 47), out, "residual has 47 values, want at least 48"},
		{"output", p, in, w, nil, nil, out[:40], "output has 40 values, want at least 48"},
		{"longer buffers", p, make([]float32, 40), w, nil, make([]float32, 60), make([]float32, 50), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckConv2D(tc.p, tc.in, tc.w, tc.bias, tc.res, tc.outs, nil)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// The rule of byRows on ResNet's stems and strided layers.
func TestByRows(t *testing.T) {
	isatest.Run(t, func(t *testing.T) {
		cur := curISA()
		g := gemmArgs{isa: cur, pa: &PackedA{}}
		inPlace := cur.gemm.inPlace && cur.asm
		for _, tc := range []struct {
			ow, ew int
			want   bool
		}{
			{112, 115, true},  // the 7×7/2 stem at 224×224: 48+48+16 columns
			{96, 99, true},    // two whole panels
			{56, 59, false},   // a stem at 112×112: 48+8, the 8 costed as 16
			{28, 29, false},   // 3×3/2 into 28×28: 32 columns for 28
			{97, 100, false},  // 96 and one column for the column kernel, costed 4
			{112, 112, false}, // nothing extended
		} {
			if got := byRows(&g, tc.ow, tc.ew); got != (tc.want && inPlace) {
				t.Errorf("byRows(ow %d, ew %d) = %v on %s", tc.ow, tc.ew, got, ISA())
			}
		}
		g.pa = nil
		if byRows(&g, 112, 115) {
			t.Error("byRows without packed weights")
		}
	})
}
