package kernels

// im2colB is the im2col matrix of a convolution as a bSource: row k =
// (c, kh, kw) and column j = (oh, ow) hold in[c, oh·sh-ph+kh, ow·sw-pw+kw],
// or 0 in the padding. It is generated block by block while packing.
type im2colB struct {
	p    ConvParams
	in   []float32
	outW int
}

func (s *im2colB) packB(dst, row []float32, k0, kc, j0, nc int) {
	p := s.p
	khw := p.KH * p.KW
	plane := p.InH * p.InW
	asm := useAsm.Load()
	row = row[:nc]
	for kk := 0; kk < kc; kk++ {
		k := k0 + kk
		c, r := k/khw, k%khw
		s.fillRow(row, s.in[c*plane:(c+1)*plane], r/p.KW, r%p.KW, j0, asm)
		scatterRow(dst, row, kk, kc, asm)
	}
}

// fillRow writes columns j0..j0+len(row)-1 of the im2col row for kernel
// offset (kh, kw) over the input channel plane x.
func (s *im2colB) fillRow(row, x []float32, kh, kw, j0 int, asm bool) {
	p := s.p
	oh, ow := j0/s.outW, j0%s.outW
	for off := 0; off < len(row); oh, ow = oh+1, 0 {
		n := min(s.outW-ow, len(row)-off)
		seg := row[off : off+n]
		off += n
		ih := oh*p.StrideH - p.PadH + kh
		if ih < 0 || ih >= p.InH {
			clear(seg)
			continue
		}
		xr := x[ih*p.InW : (ih+1)*p.InW]
		// Zeros for outputs left of input column 0, the gathered inputs, zeros
		// right of the last column.
		iw := ow*p.StrideW - p.PadW + kw // input column of seg[0]
		sw := p.StrideW
		lo := min(max(ceilDiv(-iw, sw), 0), n)
		hi := max(min(ceilDiv(p.InW-iw, sw), n), lo)
		clear(seg[:lo])
		if lo < hi {
			gather(seg[lo:hi], xr[iw+lo*sw:iw+(hi-1)*sw+1], sw, asm)
		}
		clear(seg[hi:])
	}
}

// gather sets dst[t] = src[t·stride]; src ends at the last value read.
func gather(dst, src []float32, stride int, asm bool) {
	t := 0
	switch {
	case stride == 1:
		copy(dst, src)
		return
	case asm && stride == 2:
		// Vector blocks read 16 values for 8 outputs; stop while inside src.
		blocks := min(len(dst)/8, len(src)/16)
		if blocks > 0 {
			gatherEven8(blocks, &src[0], &dst[0])
			t = 8 * blocks
		}
	}
	for ; t < len(dst); t++ {
		dst[t] = src[t*stride]
	}
}
