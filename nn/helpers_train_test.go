package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// randVec returns n values uniform in [-1, 1).
func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = 2*r.Float32() - 1
	}
	return v
}

// dot64 is Σ a·b in float64: the scalar "loss" L = <w, y> whose gradient with respect to y is
// w, so a layer's backward pass with dy = w must give ∂L/∂input.
func dot64(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// checkFD compares analytic gradients with central differences of loss with respect to the
// entries of param (perturbed in place by ±eps and restored). At most maxChecks entries are
// tried (spread over the slice). The error of each is compared with tol·(max |analytic| + 1e-3).
func checkFD(t *testing.T, what string, param, analytic []float32, loss func() float64, eps, tol float64, maxChecks int) {
	t.Helper()
	if len(param) != len(analytic) {
		t.Fatalf("%s: %d parameters, %d gradients", what, len(param), len(analytic))
	}
	scale := 1e-3
	for _, g := range analytic {
		scale = max(scale, math.Abs(float64(g)))
	}
	step := max(1, len(param)/maxChecks)
	worst, at := 0.0, -1
	for i := 0; i < len(param); i += step {
		orig := param[i]
		param[i] = float32(float64(orig) + eps)
		up := float64(param[i]) - float64(orig)
		lp := loss()
		param[i] = float32(float64(orig) - eps)
		down := float64(orig) - float64(param[i])
		lm := loss()
		param[i] = orig
		num := (lp - lm) / (up + down)
		if e := math.Abs(num-float64(analytic[i])) / scale; e > worst {
			worst, at = e, i
		}
	}
	if worst > tol {
		t.Errorf("%s: finite differences disagree at %d: error %.3g of max |grad| %.3g (tolerance %.3g)", what, at, worst, scale, tol)
	}
}

// maxRelErr is max |a − b| / max |b|.
func maxRelErr(a, b []float32) float64 {
	var d, m float64
	for i := range b {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
		m = max(m, math.Abs(float64(b[i])))
	}
	if m == 0 {
		return d
	}
	return d / m
}

// withChunk runs f with chunks of the given size (im2col values for the GEMM path, pixels for
// the direct kernels); 1 means one image per chunk, so multi-chunk paths run on tiny shapes.
func withChunk(size int, f func()) {
	prevF, prevP := chunkFloats, directPixels
	chunkFloats, directPixels = size, size
	defer func() { chunkFloats, directPixels = prevF, prevP }()
	f()
}
