package nn

import "math"

// Channel reductions for batch normalisation. A float64 running sum over millions of values
// is a dependency chain of several cycles per value; instead four float32 partial sums run
// side by side over blocks of reduceBlock values and each block's total is added in float64.
// A block's rounding error is a few float32 ulps of its own (small) sum, far below what the
// float32 data carry, so the result keeps float64-accumulation accuracy for practical purposes.

const reduceBlock = 256

// vecBlock is the block of the AVX2 versions: sixteen float32 lanes of 64 values each, the
// same depth of float32 summation as the scalar blocks (a multiple of 8).
const vecBlock = 1024

// vecLen is how much of a slice of n values the AVX2 loops take (a multiple of 8): none on
// a path without them.
func vecLen(n int) int {
	if !useAVX2() {
		return 0
	}
	return n &^ 7
}

// sum64 is Σ x.
func sum64(x []float32) float64 {
	var total float64
	for nv := vecLen(len(x)); nv > 0; nv -= min(nv, vecBlock) {
		n := min(nv, vecBlock)
		total += float64(sumVec(&x[0], n))
		x = x[n:]
	}
	for len(x) > 0 {
		b := x[:min(len(x), reduceBlock)]
		x = x[len(b):]
		var s0, s1, s2, s3 float32
		i := 0
		for ; i+4 <= len(b); i += 4 {
			s0 += b[i]
			s1 += b[i+1]
			s2 += b[i+2]
			s3 += b[i+3]
		}
		for ; i < len(b); i++ {
			s0 += b[i]
		}
		total += float64((s0 + s1) + (s2 + s3))
	}
	return total
}

// sqDev64 is Σ (x − m)², the deviations taken in float32.
func sqDev64(x []float32, m float32) float64 {
	var total float64
	for nv := vecLen(len(x)); nv > 0; nv -= min(nv, vecBlock) {
		n := min(nv, vecBlock)
		total += float64(sqDevVec(&x[0], n, m))
		x = x[n:]
	}
	for len(x) > 0 {
		b := x[:min(len(x), reduceBlock)]
		x = x[len(b):]
		var s0, s1, s2, s3 float32
		i := 0
		for ; i+4 <= len(b); i += 4 {
			d0, d1, d2, d3 := b[i]-m, b[i+1]-m, b[i+2]-m, b[i+3]-m
			s0 += d0 * d0
			s1 += d1 * d1
			s2 += d2 * d2
			s3 += d3 * d3
		}
		for ; i < len(b); i++ {
			d := b[i] - m
			s0 += d * d
		}
		total += float64((s0 + s1) + (s2 + s3))
	}
	return total
}

// gradSums returns Σ g and Σ g·(x − m) for the batch-norm backward pass. If y is not nil, g
// is first masked by the ReLU whose output y was (zeroed in place where y ≤ 0 or NaN).
func gradSums(g, x, y []float32, m float32) (sum, dot float64) {
	x = x[:len(g)]
	if y != nil {
		y = y[:len(g)]
	}
	var out [2]float32
	for nv := vecLen(len(g)); nv > 0; nv -= min(nv, vecBlock) {
		n := min(nv, vecBlock)
		var yp *float32
		if y != nil {
			yp = &y[0]
			y = y[n:]
		}
		gradSumsVec(&g[0], &x[0], yp, n, m, &out[0])
		sum += float64(out[0])
		dot += float64(out[1])
		g, x = g[n:], x[n:]
	}
	for len(g) > 0 {
		n := min(len(g), reduceBlock)
		gb, xb := g[:n], x[:n]
		if y != nil {
			maskByOutput(gb, y[:n])
			y = y[n:]
		}
		g, x = g[n:], x[n:]
		var s0, s1, s2, s3, d0, d1, d2, d3 float32
		i := 0
		for ; i+4 <= n; i += 4 {
			g0, g1, g2, g3 := gb[i], gb[i+1], gb[i+2], gb[i+3]
			s0 += g0
			s1 += g1
			s2 += g2
			s3 += g3
			d0 += g0 * (xb[i] - m)
			d1 += g1 * (xb[i+1] - m)
			d2 += g2 * (xb[i+2] - m)
			d3 += g3 * (xb[i+3] - m)
		}
		for ; i < n; i++ {
			s0 += gb[i]
			d0 += gb[i] * (xb[i] - m)
		}
		sum += float64((s0 + s1) + (s2 + s3))
		dot += float64((d0 + d1) + (d2 + d3))
	}
	return sum, dot
}

// maskByOutput zeroes g where y ≤ 0 or is NaN (the ReLU's backward pass), in place. ReLU
// outputs are zero about half the time at random, so a branch would mispredict constantly;
// the test is done on the bits instead: y > 0 exactly when 1 ≤ bits ≤ bits(+Inf) as int32.
func maskByOutput(g, y []float32) {
	y = y[:len(g)]
	for i, v := range y {
		b := int32(math.Float32bits(v))
		drop := uint32(((b - 1) | (0x7f800000 - b)) >> 31)
		g[i] = math.Float32frombits(math.Float32bits(g[i]) &^ drop)
	}
}
