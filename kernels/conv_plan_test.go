package kernels

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/internal/isatest"
)

func TestPlanConvAlgorithm(t *testing.T) {
	conv := func(c, h, k, s int) ConvParams {
		return ConvParams{InC: c, InH: h, InW: h, OutC: c, KH: k, KW: k, StrideH: s, StrideW: s, PadH: k / 2, PadW: k / 2}
	}
	tests := []struct {
		name string
		p    ConvParams
		want string
	}{
		{"3x3/1 size unknown", conv(16, 0, 3, 1), "winograd"},
		{"3x3/1 56x56", conv(16, 56, 3, 1), "winograd-f4"},
		{"3x3/1 14x14", conv(32, 14, 3, 1), "winograd-f4"},
		{"3x3/1 7x7", conv(32, 7, 3, 1), "winograd-f2"},
		{"3x3/1 9x9", conv(32, 9, 3, 1), "winograd-f2"},
		{"3x3/1 10x10", conv(32, 10, 3, 1), "winograd-f4"},
		{"3x3/1 few channels", conv(8, 32, 3, 1), "gemm"},
		{"3x3/2", conv(32, 56, 3, 2), "gemm"},
		{"1x1", conv(32, 14, 1, 1), "gemm"},
		{"7x7/2 stem", ConvParams{InC: 3, InH: 224, InW: 224, OutC: 64, KH: 7, KW: 7, StrideH: 2, StrideW: 2, PadH: 3, PadW: 3}, "gemm"},
	}
	for _, tc := range tests {
		w := make([]float32, tc.p.OutC*tc.p.InC*tc.p.KH*tc.p.KW)
		if got := PlanConv(tc.p, w).Algorithm(); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestConv2DPlanned runs every convolution case, GEMM and Winograd, through
// plans at batch 1 and 3 against the float64 reference: GEMM plans within
// the rigorous float32 bound, Winograd plans within winoTol.
func TestConv2DPlanned(t *testing.T) {
	type tcase struct {
		name string
		p    ConvParams
	}
	var cases []tcase
	for _, c := range convCases {
		cases = append(cases, tcase{c.name, c.p})
	}
	// Maps wide enough that a batch of 3 is split into GEMM groups of 2 and 1.
	cases = append(cases,
		tcase{"1x1 groups 2+1", ConvParams{InC: 8, InH: 15, InW: 15, OutC: 7, KH: 1, KW: 1, StrideH: 1, StrideW: 1}},
		tcase{"3x3/2 groups 2+1", ConvParams{InC: 3, InH: 28, InW: 28, OutC: 5, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}})
	// Winograd-sized versions (at least 16 channels) of the 3×3/1 shapes.
	for _, c := range winoCases {
		p := c.p
		p.InC, p.OutC = max(p.InC, 16), max(p.OutC, 17)
		cases = append(cases, tcase{"wino " + c.name, p})
	}
	isatest.Run(t, func(t *testing.T) {
		for _, tc := range cases {
			// One image on one thread, a batch on three.
			for _, nt := range []struct{ n, threads int }{{1, 1}, {3, 3}} {
				for _, ep := range []struct{ bias, res, relu bool }{{}, {true, true, true}} {
					name := fmt.Sprintf("%s/n%d/bias=%v,res=%v,relu=%v/t%d", tc.name, nt.n, ep.bias, ep.res, ep.relu, nt.threads)
					t.Run(name, func(t *testing.T) {
						withThreads(nt.threads, func() { runPlannedCase(t, tc.p, nt.n, ep.bias, ep.res, ep.relu, nameSeed(tc.name)) })
					})
				}
			}
		}
	})
}

// nameSeed seeds a case's data from its name, so that adding a case leaves the others' data
// as it was.
func nameSeed(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

func runPlannedCase(t *testing.T, p ConvParams, n int, withBias, withRes, relu bool, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 9))
	in := randSlice(r, n*p.InC*p.InH*p.InW)
	w := randSlice(r, p.OutC*p.InC*p.KH*p.KW)
	outN := n * p.OutC * p.OutH() * p.OutW()
	var bias, res []float32
	if withBias {
		bias = randSlice(r, p.OutC)
	}
	if withRes {
		res = randSlice(r, outN)
	}
	pl := PlanConv(p, w)
	out := fill(make([]float32, outN+3), float32(math.NaN()))
	Conv2DPlanned(p, n, in, pl, bias, res, relu, out[:outN])
	for i := outN; i < len(out); i++ {
		if out[i] == out[i] {
			t.Fatalf("wrote past the output: out[%d] = %g", i, out[i])
		}
	}
	want, mag := refConvBatch(p, n, in, w, bias, res, relu)
	if strings.HasPrefix(pl.Algorithm(), "winograd") {
		checkPlanes(t, out, want, mag, p.OutH()*p.OutW())
		return
	}
	tol := make([]float64, len(want))
	for i := range tol {
		tol[i] = bound(p.InC*p.KH*p.KW, 2, mag[i], 0)
	}
	checkClose(t, pl.Algorithm(), 1, outN, out, outN, want, tol)
}

func TestCheckConv2DPlanned(t *testing.T) {
	p := ConvParams{InC: 16, InH: 6, InW: 6, OutC: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	pl := PlanConv(p, make([]float32, 16*16*9))
	other := p
	other.OutC = 8
	wrongPad := p
	wrongPad.PadW = 0
	bigger := p
	bigger.InH, bigger.InW = 9, 9
	in, out := make([]float32, 2*16*36), make([]float32, 2*16*36)
	tests := []struct {
		name          string
		p             ConvParams
		n             int
		pl            *ConvPlan
		in, bias, res []float32
		out           []float32
		want          string
	}{
		{"ok", p, 2, pl, in, nil, nil, out, ""},
		{"ok other input size", bigger, 1, pl, make([]float32, 16*81), make([]float32, 16), make([]float32, 16*81), make([]float32, 16*81), ""},
		{"nil plan", p, 1, nil, in, nil, nil, out, "nil plan"},
		{"other channels", other, 1, pl, in, nil, nil, out, "plan is for"},
		{"other padding", wrongPad, 1, pl, in, nil, nil, out, "plan is for"},
		{"negative batch", p, -1, pl, in, nil, nil, out, "negative batch"},
		{"short input", p, 2, pl, in[:100], nil, nil, out, "input has 100 values, want at least 1152 for 2 images"},
		{"short output", p, 2, pl, in, nil, nil, out[:1000], "output has 1000 values"},
		{"short residual", p, 2, pl, in, nil, make([]float32, 5), out, "residual has 5 values"},
		{"bias", p, 1, pl, in, make([]float32, 3), nil, out, "bias has 3 values, want 16"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckConv2DPlanned(tc.p, tc.n, tc.in, tc.pl, tc.bias, tc.res, tc.out)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestPlanConvLazy checks that a plan without a size hint picks the
// Winograd variant on its first call, from that call's map, once, also when
// the first calls are concurrent (run with -race), and that it keeps no
// reference to the caller's weights.
func TestPlanConvLazy(t *testing.T) {
	for _, tc := range []struct {
		h    int
		want string
	}{{7, "winograd-f2"}, {12, "winograd-f4"}} {
		p := ConvParams{InC: 16, OutC: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
		r := rand.New(rand.NewPCG(uint64(tc.h), 1))
		w := randSlice(r, 16*16*9)
		pl := PlanConv(p, w)
		want := append([]float32(nil), w...)
		clear(w) // the caller reuses its buffer
		p.InH, p.InW = tc.h, tc.h
		in := randSlice(r, 2*16*tc.h*tc.h)
		outs := make([][]float32, 4)
		done := make(chan bool)
		for i := range outs {
			outs[i] = make([]float32, 2*16*tc.h*tc.h)
			go func() {
				Conv2DPlanned(p, 2, in, pl, nil, nil, false, outs[i])
				done <- true
			}()
		}
		for range outs {
			<-done
		}
		if got := pl.Algorithm(); got != tc.want {
			t.Errorf("%dx%d: %s, want %s", tc.h, tc.h, got, tc.want)
		}
		ref, mag := refConvBatch(p, 2, in, want, nil, nil, false)
		for _, o := range outs {
			checkPlanes(t, o, ref, mag, tc.h*tc.h)
		}
		// Another size later reuses the variant chosen first.
		q := p
		q.InH, q.InW = 20, 20
		Conv2DPlanned(q, 1, make([]float32, 16*400), pl, nil, nil, false, make([]float32, 16*400))
		if got := pl.Algorithm(); got != tc.want {
			t.Errorf("after a second size: %s, want %s", got, tc.want)
		}
	}
}

func TestPlanConvBadWeights(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "weights has 5 values, want 36") {
			t.Fatalf("panic %v, want the weight size error", r)
		}
	}()
	PlanConv(ConvParams{InC: 1, OutC: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1}, make([]float32, 5))
}
