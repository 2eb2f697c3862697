package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The fused unit must agree with Conv2d followed by BatchNorm2d: same statistics, outputs and
// gradients up to the order of float32 sums (the fused statistics are combined chunk by
// chunk), checked with one image per chunk so that every chunk path runs.
func TestConvBNTrainMatchesLayers(t *testing.T) {
	for _, tc := range []struct {
		in, out, k, s, p, n, h, w int
		relu, res                 bool
	}{
		{3, 4, 3, 1, 1, 4, 7, 6, true, false},
		{4, 4, 3, 1, 1, 3, 5, 5, true, true},
		{3, 6, 1, 2, 0, 3, 7, 5, false, false},
		{4, 3, 1, 1, 0, 2, 4, 4, true, true},
		{2, 4, 3, 2, 1, 3, 8, 7, true, false},
		{4, 8, 3, 1, 1, 3, 4, 8, true, true},   // direct kernels where the CPU has them
		{16, 16, 3, 1, 1, 2, 8, 8, true, true}, // Winograd
	} {
		t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
			withChunk(1, func() {
				r := rand.New(rand.NewPCG(uint64(tc.in), uint64(tc.h)))
				u := NewConvBNTrain(tc.in, tc.out, tc.k, tc.s, tc.p, tc.relu)
				copy(u.Conv.Weight, randVec(r, len(u.Conv.Weight)))
				copy(u.BN.Weight, randVec(r, tc.out))
				copy(u.BN.Bias, randVec(r, tc.out))
				conv, bn := NewConv2d(tc.in, tc.out, tc.k, tc.s, tc.p), NewBatchNorm2d(tc.out)
				copy(conv.Weight, u.Conv.Weight)
				copy(bn.Weight, u.BN.Weight)
				copy(bn.Bias, u.BN.Bias)
				oh, ow := conv.OutSize(tc.h, tc.w)
				m := tc.n * oh * ow
				x := randVec(r, tc.in*tc.n*tc.h*tc.w)
				var res []float32
				if tc.res {
					res = randVec(r, tc.out*m)
				}
				c1, y1 := make([]float32, tc.out*m), make([]float32, tc.out*m)
				c2, y2 := make([]float32, tc.out*m), make([]float32, tc.out*m)
				if err := u.ForwardTrain(tc.n, tc.h, tc.w, x, c1, res, y1); err != nil {
					t.Fatal(err)
				}
				conv.Forward(tc.n, tc.h, tc.w, x, c2)
				if err := bn.ForwardTrain(m, c2, res, y2, tc.relu); err != nil {
					t.Fatal(err)
				}
				near := func(what string, a, b []float32, tol float64) {
					t.Helper()
					if e := maxRelErr(a, b); e > tol || math.IsNaN(e) {
						t.Errorf("%s differs by %g", what, e)
					}
				}
				near("conv output", c1, c2, 0)
				near("output", y1, y2, 1e-6)
				near("running mean", u.BN.RunningMean, bn.RunningMean, 1e-6)
				near("running var", u.BN.RunningVar, bn.RunningVar, 1e-6)
				dy := randVec(r, tc.out*m)
				dy1, dy2 := append([]float32(nil), dy...), append([]float32(nil), dy...)
				dx1, dx2 := make([]float32, len(x)), make([]float32, len(x))
				if err := u.Backward(tc.n, tc.h, tc.w, x, c1, y1, dy1, dx1, BackwardOptions{}); err != nil {
					t.Fatal(err)
				}
				dc := make([]float32, tc.out*m)
				if err := bn.Backward(m, c2, y2, dy2, dc, tc.relu); err != nil {
					t.Fatal(err)
				}
				conv.Backward(tc.n, tc.h, tc.w, x, dc, dx2, false)
				near("masked dy", dy1, dy2, 0)
				// The same with the sums gathered chunk by chunk beforehand (two uneven
				// chunks), as a fused producer of dy does, and with an After hook.
				g1, g2 := append([]float32(nil), u.BN.GradWeight...), append([]float32(nil), u.BN.GradBias...)
				gw := append([]float32(nil), u.Conv.Grad...)
				dy3, dx3 := append([]float32(nil), dy...), make([]float32, len(x))
				s := u.NewGradSums(tc.n)
				u.AddGradSums(s, tc.n, tc.h, tc.w, 1, tc.n, c1, y1, dy3)
				u.AddGradSums(s, tc.n, tc.h, tc.w, 0, 1, c1, y1, dy3)
				seen := make([]bool, tc.n)
				after := func(i0, i1 int) {
					for i := i0; i < i1; i++ {
						seen[i] = true
					}
				}
				if err := u.Backward(tc.n, tc.h, tc.w, x, c1, y1, dy3, dx3, BackwardOptions{Sums: s, After: after}); err != nil {
					t.Fatal(err)
				}
				near("masked dy (sums)", dy3, dy1, 0)
				near("∂γ (sums)", u.BN.GradWeight, g1, 1e-6)
				near("∂β (sums)", u.BN.GradBias, g2, 1e-6)
				near("∂W (sums)", u.Conv.Grad, gw, 1e-6)
				// Gathered in two chunks, the batch-norm sums may round the coefficients
				// differently by an ulp, which F4's transforms carry to ~1e-5 of ∂x (the
				// tolerance of kernels.TestWinogradTolerance).
				dxTol := 1e-6
				if u.Conv.winoOK(u.Conv.geom(tc.h, tc.w)) {
					dxTol = 1e-5
				}
				near("∂x (sums)", dx3, dx1, dxTol)
				for i, ok := range seen {
					if !ok {
						t.Errorf("After never saw image %d", i)
					}
				}
				// A residual for the input gradient: dx = ∂L/∂x + residual, as adding to a
				// copy of it would give (the conv's result plus one rounding).
				resid := randVec(r, len(x))
				dy4, dx4 := append([]float32(nil), dy...), make([]float32, len(x))
				if err := u.Backward(tc.n, tc.h, tc.w, x, c1, y1, dy4, dx4, BackwardOptions{Residual: resid}); err != nil {
					t.Fatal(err)
				}
				sum := make([]float32, len(x))
				for i := range sum {
					sum[i] = dx1[i] + resid[i]
				}
				near("∂x + residual", dx4, sum, 1e-6)
				for _, o := range []BackwardOptions{{Residual: resid, Accumulate: true}, {Residual: resid[1:]}} {
					if err := u.Backward(tc.n, tc.h, tc.w, x, c1, y1, dy4, dx4, o); err == nil {
						t.Errorf("residual of %d values with Accumulate %v accepted", len(o.Residual), o.Accumulate)
					}
				}
				if err := u.Backward(tc.n, tc.h, tc.w, x, c1, y1, dy4, nil, BackwardOptions{Residual: resid}); err == nil {
					t.Error("residual without dx accepted")
				}
				partial := u.NewGradSums(tc.n)
				u.AddGradSums(partial, tc.n, tc.h, tc.w, 1, tc.n, c1, y1, dy3)
				if err := u.Backward(tc.n, tc.h, tc.w, x, c1, y1, dy3, dx3, BackwardOptions{Sums: partial}); err == nil {
					t.Error("sums missing image 0 accepted")
				}
				near("∂γ", u.BN.GradWeight, bn.GradWeight, 1e-5)
				near("∂β", u.BN.GradBias, bn.GradBias, 1e-5)
				near("∂W", u.Conv.Grad, conv.Grad, 1e-5)
				near("∂x", dx1, dx2, 1e-5)
				// Eval mode uses the running statistics.
				if err := u.ForwardEval(tc.n, tc.h, tc.w, x, c1, res, y1); err != nil {
					t.Fatal(err)
				}
				if err := bn.ForwardEval(m, c2, res, y2, tc.relu); err != nil {
					t.Fatal(err)
				}
				near("eval output", y1, y2, 1e-6)
			})
		})
	}
	u := NewConvBNTrain(3, 4, 3, 1, 1, true)
	x, c, y := make([]float32, 3*2*5*5), make([]float32, 4*2*5*5), make([]float32, 4*2*5*5)
	if err := u.ForwardTrain(2, 5, 5, x[:10], c, nil, y); err == nil {
		t.Error("short input accepted")
	}
	if err := u.Backward(2, 5, 5, x, c, nil, y, nil, BackwardOptions{}); err == nil {
		t.Error("backward through a ReLU without its output accepted")
	}
}

func TestMaskByOutput(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	y := []float32{1, 0, float32(math.Copysign(0, -1)), -1, inf, -inf, nan, -nan, math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, math.MaxFloat32}
	keep := []bool{true, false, false, false, true, false, false, false, true, false, true}
	g := make([]float32, len(y))
	for i := range g {
		g[i] = float32(i + 1)
	}
	maskByOutput(g, y)
	for i := range g {
		if want := keep[i]; (g[i] != 0) != want {
			t.Errorf("y = %v: gradient %v, kept should be %v", y[i], g[i], want)
		}
	}
}
