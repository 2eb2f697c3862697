package kernels

import "fmt"

// Linear computes out = w·in + bias for one vector: w is len(out)×len(in)
// row-major (PyTorch's Linear.weight), bias len(out) values or nil. It
// panics with a descriptive error if the sizes disagree.
func Linear(in, w, bias, out []float32) {
	inF, outF := len(in), len(out)
	if err := CheckLinear(1, inF, outF, len(in), len(w), len(bias), len(out)); err != nil {
		panic(err)
	}
	asm := curISA().asm
	// Four rows per gemv4 call; chunks are whole groups of four rows.
	groups := ceilDiv(outF, 4)
	chunks := chunksFor(groups, outF*inF/4)
	parallel(chunks, func(i int) {
		lo, hi := i*groups/chunks*4, min((i+1)*groups/chunks*4, outF)
		gemv(inF, w[lo*inF:hi*inF], in, out[lo:hi], asm)
		if bias != nil {
			for o := lo; o < hi; o++ {
				out[o] += bias[o]
			}
		}
	})
}

// gemv sets y = a·x for the len(y)×len(x) row-major a.
func gemv(k int, a, x, y []float32, asm bool) {
	r := 0
	if asm && k > 0 {
		for ; r+4 <= len(y); r += 4 {
			gemv4(k, &a[r*k], k, &x[0], &y[r])
		}
	}
	for ; r < len(y); r++ {
		y[r] = dot(a[r*k:(r+1)*k], x)
	}
}

// dot is the portable dot product, four partial sums to shorten the
// dependency chain (the assembly uses sixteen).
func dot(a, x []float32) float32 {
	x = x[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * x[i]
		s1 += a[i+1] * x[i+1]
		s2 += a[i+2] * x[i+2]
		s3 += a[i+3] * x[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// LinearBatch computes out[b] = w·in[b] + bias for n vectors: in is n×inF,
// w is outF×inF, bias outF values or nil, out n×outF (in and out may be
// longer). It runs as one GEMM
// with B = wᵀ packed straight from w, the bias written first and
// accumulated onto. It panics with a descriptive error on bad sizes.
func LinearBatch(n int, in []float32, inF int, w []float32, outF int, bias, out []float32) {
	if err := CheckLinear(n, inF, outF, len(in), len(w), len(bias), len(out)); err != nil {
		panic(err)
	}
	if n == 1 {
		Linear(in[:inF], w, bias, out[:outF])
		return
	}
	for b := 0; b < n; b++ {
		if bias != nil {
			copy(out[b*outF:(b+1)*outF], bias)
		} else {
			clear(out[b*outF : (b+1)*outF])
		}
	}
	g := gemmArgs{m: n, n: outF, k: inF, a: in, lda: inF, b: transB{w, inF}, c: out, ldc: outF, accumulate: true}
	g.run()
}

// CheckLinear reports whether LinearBatch (n vectors) or Linear (n = 1)
// accepts these slice lengths: w exactly outF×inF, bias outF values or none,
// in and out at least n×inF and n×outF (Linear takes its sizes from them).
func CheckLinear(n, inF, outF, lenIn, lenW, lenBias, lenOut int) error {
	switch {
	case n < 0 || inF < 0 || outF < 0:
		return fmt.Errorf("kernels: linear: negative size n=%d in=%d out=%d", n, inF, outF)
	case lenIn < n*inF:
		return fmt.Errorf("kernels: linear: input has %d values, want at least %d (%d×%d)", lenIn, n*inF, n, inF)
	case lenW != outF*inF:
		return fmt.Errorf("kernels: linear: weight has %d values, want %d (%d×%d)", lenW, outF*inF, outF, inF)
	case lenBias != 0 && lenBias != outF:
		return fmt.Errorf("kernels: linear: bias has %d values, want %d", lenBias, outF)
	case lenOut < n*outF:
		return fmt.Errorf("kernels: linear: output has %d values, want at least %d (%d×%d)", lenOut, n*outF, n, outF)
	}
	return nil
}
