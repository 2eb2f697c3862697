package kernels

// Tile shape of the go and avx2 micro-kernels (kernelGoBlocked, kernel6x16):
// 6 rows by 16 columns of C. The assembly in _asm uses the same values.
const (
	mr = 6
	nr = 16
)

// Epilogue flags of the micro-kernel, applied in this order to the tile T=A·B:
// T += C (flagLoad), T[r] += bias[r], T += residual, T = max(0, T), then C = T.
const (
	flagLoad     = 1
	flagBias     = 2
	flagResidual = 4
	flagReLU     = 8
	// flagNoPrefetch tells the AVX-512 8×48 kernels not to prefetch their
	// C and residual tiles; other kernels ignore it.
	flagNoPrefetch = 16
)

// kernelGo is the readable specification of the go path's micro-kernel
// kernelGoBlocked and, with kernelSpec, of kernel6x16.
// a holds k steps of mr values (column p of an mr-row panel of A), b holds k
// steps of nr values (row p of an nr-column panel of B). It writes the first
// rows (1…mr) rows of the mr×nr tile to c with row stride ldc; only those
// rows of C, bias (one value per row) and res (row stride ldr) are read, and
// bias and res only when their flag is set.
func kernelGo(k int, a, b, c []float32, ldc, rows, flags int, bias, res []float32, ldr int) {
	// t[r*nr+j] = Σ_p a[p*mr+r]·b[p*nr+j], computed for 2 rows × 4 columns at
	// a time so the eight running sums stay in registers.
	var t [mr * nr]float32
	a = a[:k*mr]
	b = b[:k*nr]
	for r := 0; r < mr; r += 2 {
		for j := 0; j < nr; j += 4 {
			var s00, s01, s02, s03, s10, s11, s12, s13 float32
			for p := 0; p < k; p++ {
				ap := a[p*mr+r : p*mr+r+2]
				bp := b[p*nr+j : p*nr+j+4]
				a0, a1 := ap[0], ap[1]
				b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
				s00 += a0 * b0
				s01 += a0 * b1
				s02 += a0 * b2
				s03 += a0 * b3
				s10 += a1 * b0
				s11 += a1 * b1
				s12 += a1 * b2
				s13 += a1 * b3
			}
			t[r*nr+j], t[r*nr+j+1], t[r*nr+j+2], t[r*nr+j+3] = s00, s01, s02, s03
			t[(r+1)*nr+j], t[(r+1)*nr+j+1], t[(r+1)*nr+j+2], t[(r+1)*nr+j+3] = s10, s11, s12, s13
		}
	}
	epilogueGo(&t, c, ldc, rows, flags, bias, res, ldr)
}

// epilogueGo stores rows of the tile t into c after the epilogue flags ask
// for: add the existing C, add bias[r] to row r, add the residual, then ReLU.
// Both Go micro-kernels end with it.
func epilogueGo(t *[mr * nr]float32, c []float32, ldc, rows, flags int, bias, res []float32, ldr int) {
	for r := 0; r < rows; r++ {
		tr := (*[nr]float32)(t[r*nr:])
		cr := (*[nr]float32)(c[r*ldc:])
		if flags&flagLoad != 0 {
			for j := range tr {
				tr[j] += cr[j]
			}
		}
		if flags&flagBias != 0 {
			for j := range tr {
				tr[j] += bias[r]
			}
		}
		if flags&flagResidual != 0 {
			rr := (*[nr]float32)(res[r*ldr:])
			for j := range tr {
				tr[j] += rr[j]
			}
		}
		if flags&flagReLU != 0 {
			for j := range tr {
				if tr[j] < 0 {
					tr[j] = 0
				}
			}
		}
		*cr = *tr
	}
}

// kernelSpec is the specification of every micro-kernel, for a tile of
// mr×nr (the packed panels' shape): T[r][j] = Σ_p a[p·mr+r]·b[p·nr+j], then,
// for r < rows and j < cols, c[r·ldc+j] = epilogue(T) as in kernelGo. Only
// those rows and columns of C, bias and res are read or written.
func kernelSpec(mr, nr, k int, a, b, c []float32, ldc, rows, cols, flags int, bias, res []float32, ldr int) {
	for r := 0; r < rows; r++ {
		for j := 0; j < cols; j++ {
			var t float32
			for p := 0; p < k; p++ {
				t += a[p*mr+r] * b[p*nr+j]
			}
			if flags&flagLoad != 0 {
				t += c[r*ldc+j]
			}
			if flags&flagBias != 0 {
				t += bias[r]
			}
			if flags&flagResidual != 0 {
				t += res[r*ldr+j]
			}
			if flags&flagReLU != 0 && t < 0 {
				t = 0
			}
			c[r*ldc+j] = t
		}
	}
}
