package kernels

// Packing copies blocks of A and B into the micro-panel order the
// micro-kernel streams through: an A panel is kc steps of mr row values, a B
// panel is kc steps of nr column values. Missing rows/columns of the last
// panel are zero so the micro-kernel never needs a bounds check.

// packA packs rows i0..i0+mc-1, columns k0..k0+kc-1 of the row-major A (lda)
// into dst as ceil(mc/mr) panels of kc×mr values.
func packA(dst, a []float32, lda, i0, mc, k0, kc, mr int) {
	for ir := 0; ir < mc; ir += mr {
		d := dst[ir*kc : ir*kc+kc*mr]
		rows := min(mr, mc-ir)
		base := (i0+ir)*lda + k0
		switch {
		case rows == 6 && mr == 6:
			s0 := a[base : base+kc]
			s1 := a[base+lda : base+lda+kc]
			s2 := a[base+2*lda : base+2*lda+kc]
			s3 := a[base+3*lda : base+3*lda+kc]
			s4 := a[base+4*lda : base+4*lda+kc]
			s5 := a[base+5*lda : base+5*lda+kc]
			for p := range s0 {
				q := (*[6]float32)(d[p*6:])
				q[0], q[1], q[2], q[3], q[4], q[5] = s0[p], s1[p], s2[p], s3[p], s4[p], s5[p]
			}
		case rows == 8 && mr == 8:
			s0 := a[base : base+kc]
			s1 := a[base+lda : base+lda+kc]
			s2 := a[base+2*lda : base+2*lda+kc]
			s3 := a[base+3*lda : base+3*lda+kc]
			s4 := a[base+4*lda : base+4*lda+kc]
			s5 := a[base+5*lda : base+5*lda+kc]
			s6 := a[base+6*lda : base+6*lda+kc]
			s7 := a[base+7*lda : base+7*lda+kc]
			for p := range s0 {
				q := (*[8]float32)(d[p*8:])
				q[0], q[1], q[2], q[3] = s0[p], s1[p], s2[p], s3[p]
				q[4], q[5], q[6], q[7] = s4[p], s5[p], s6[p], s7[p]
			}
		default:
			if rows < mr {
				clear(d)
			}
			for r := 0; r < rows; r++ {
				s := a[base+r*lda : base+r*lda+kc]
				for p, v := range s {
					d[p*mr+r] = v
				}
			}
		}
	}
}

// bSource produces packed blocks of the K×N matrix B, which need not exist
// in memory (a convolution's im2col matrix is generated while packing).
type bSource interface {
	// packB writes rows k0..k0+kc-1, columns j0..j0+nc-1 of B into dst as
	// ceil(nc/nr) panels of kc×nr values ker.panelStride(kc) apart (nr =
	// ker.nr), zero-padding the last panel. row is scratch space for at least
	// nc values. asm selects the assembly kernels, as for the rest of the GEMM.
	packB(dst, row []float32, k0, kc, j0, nc int, ker *gemmKernel, asm bool)
}

// denseB is a row-major B with row stride ldb.
type denseB struct {
	b   []float32
	ldb int
}

func (s denseB) packB(dst, _ []float32, k0, kc, j0, nc int, ker *gemmKernel, asm bool) {
	// Row by row: B is read sequentially, each nr-value piece goes to its panel.
	for p := 0; p < kc; p++ {
		src := s.b[(k0+p)*s.ldb+j0 : (k0+p)*s.ldb+j0+nc]
		scatterRow(dst, src, p, kc, ker, asm)
	}
}

// scatterRow writes src, row p of a B block of kc rows, into its panels.
func scatterRow(dst, src []float32, p, kc int, ker *gemmKernel, asm bool) {
	nr := ker.nr
	nc := len(src)
	full := nc / nr * nr
	d := dst[p*nr:]
	ps := ker.panelStride(kc)
	if full > 0 {
		ker.copyPanels(full/nr, src, d, ps, asm)
	}
	if full < nc {
		q := d[full/nr*ps : full/nr*ps+nr]
		clear(q[copy(q, src[full:]):])
	}
}

// transB is B = Xᵀ for a row-major X (row stride ldx): B[k][j] = x[j*ldx+k].
type transB struct {
	x   []float32
	ldx int
}

func (s transB) packB(dst, _ []float32, k0, kc, j0, nc int, ker *gemmKernel, _ bool) {
	nr := ker.nr
	for jp := 0; jp < nc; jp += nr {
		d := dst[jp/nr*ker.panelStride(kc):][:kc*nr]
		cols := min(nr, nc-jp)
		if cols < nr {
			clear(d)
		}
		for jj := 0; jj < cols; jj++ {
			row := (j0 + jp + jj) * s.ldx
			for p, v := range s.x[row+k0 : row+k0+kc] {
				d[p*nr+jj] = v
			}
		}
	}
}
