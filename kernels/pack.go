package kernels

// Packing copies blocks of A and B into the micro-panel order the
// micro-kernel streams through: an A panel is kc steps of mr row values, a B
// panel is kc steps of nr column values. Missing rows/columns of the last
// panel are zero so the micro-kernel never needs a bounds check.

// packA packs rows i0..i0+mc-1, columns k0..k0+kc-1 of the row-major A (lda)
// into dst as ceil(mc/mr) panels of kc×mr values.
func packA(dst, a []float32, lda, i0, mc, k0, kc int) {
	for ir := 0; ir < mc; ir += mr {
		d := dst[ir*kc : ir*kc+kc*mr]
		rows := min(mr, mc-ir)
		base := (i0+ir)*lda + k0
		if rows < mr {
			clear(d)
			for r := 0; r < rows; r++ {
				s := a[base+r*lda : base+r*lda+kc]
				for p, v := range s {
					d[p*mr+r] = v
				}
			}
			continue
		}
		s0 := a[base : base+kc]
		s1 := a[base+lda : base+lda+kc]
		s2 := a[base+2*lda : base+2*lda+kc]
		s3 := a[base+3*lda : base+3*lda+kc]
		s4 := a[base+4*lda : base+4*lda+kc]
		s5 := a[base+5*lda : base+5*lda+kc]
		for p := range s0 {
			q := (*[mr]float32)(d[p*mr:])
			q[0], q[1], q[2], q[3], q[4], q[5] = s0[p], s1[p], s2[p], s3[p], s4[p], s5[p]
		}
	}
}

// panelStride is the distance between the B panels of a block of kc rows:
// kc·nr values and one cache line more, so that consecutive panels are not
// a multiple of 4 KiB apart (kc = 64, 256, …), which would put every store
// of a packed row into the same L1 set.
func panelStride(kc int) int { return kc*nr + nr }

// bSource produces packed blocks of the K×N matrix B, which need not exist
// in memory (a convolution's im2col matrix is generated while packing).
type bSource interface {
	// packB writes rows k0..k0+kc-1, columns j0..j0+nc-1 of B into dst as
	// ceil(nc/nr) panels of kc×nr values panelStride(kc) apart, zero-padding
	// the last panel. row is scratch space for at least nc values. asm selects
	// the assembly kernels, as for the rest of the GEMM.
	packB(dst, row []float32, k0, kc, j0, nc int, asm bool)
}

// denseB is a row-major B with row stride ldb.
type denseB struct {
	b   []float32
	ldb int
}

func (s denseB) packB(dst, _ []float32, k0, kc, j0, nc int, asm bool) {
	// Row by row: B is read sequentially, each nr-value piece goes to its panel.
	for p := 0; p < kc; p++ {
		src := s.b[(k0+p)*s.ldb+j0 : (k0+p)*s.ldb+j0+nc]
		scatterRow(dst, src, p, kc, asm)
	}
}

// scatterRow writes src, row p of a B block of kc rows, into its panels.
func scatterRow(dst, src []float32, p, kc int, asm bool) {
	nc := len(src)
	full := nc / nr * nr
	d := dst[p*nr:]
	ps := panelStride(kc)
	if full > 0 {
		_ = d[(full/nr-1)*ps+nr-1] // bounds of the last piece
		if asm {
			copyPanels16(full/nr, &src[0], &d[0], ps)
		} else {
			copyPanelsGo(full/nr, src, d, ps)
		}
	}
	if full < nc {
		q := d[full/nr*ps : full/nr*ps+nr]
		clear(q[copy(q, src[full:]):])
	}
}

// copyPanelsGo copies src[nr·i : nr·i+nr] to dst[i·stride : i·stride+nr]
// for i < n; copyPanels16 is its assembly version.
func copyPanelsGo(n int, src, dst []float32, stride int) {
	for i := 0; i < n; i++ {
		s := (*[nr]float32)(src[i*nr:])
		d := (*[nr]float32)(dst[i*stride:])
		for j := range d {
			d[j] = s[j]
		}
	}
}

// transB is B = Xᵀ for a row-major X (row stride ldx): B[k][j] = x[j*ldx+k].
type transB struct {
	x   []float32
	ldx int
}

func (s transB) packB(dst, _ []float32, k0, kc, j0, nc int, _ bool) {
	for jp := 0; jp < nc; jp += nr {
		d := dst[jp/nr*panelStride(kc):][:kc*nr]
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
