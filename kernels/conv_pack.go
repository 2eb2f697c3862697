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
		s.fillRow(row, s.in[c*plane:(c+1)*plane], r/p.KW, r%p.KW, j0)
		scatterRow(dst, row, kk, kc, asm)
	}
}

// fillRow writes columns j0..j0+len(row)-1 of the im2col row for kernel
// offset (kh, kw) over the input channel plane x.
func (s *im2colB) fillRow(row, x []float32, kh, kw, j0 int) {
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
		iw := ow*p.StrideW - p.PadW + kw // input column of seg[0]
		if p.StrideW == 1 {
			// Zeros left of column 0, a copy, zeros right of the last column.
			lo := min(max(-iw, 0), n)
			hi := max(min(p.InW-iw, n), lo)
			clear(seg[:lo])
			if lo < hi {
				copy(seg[lo:hi], xr[iw+lo:iw+hi])
			}
			clear(seg[hi:])
			continue
		}
		// Strided gather over the outputs t whose input column is inside.
		sw := p.StrideW
		lo := min(max(ceilDiv(-iw, sw), 0), n)
		hi := max(min(ceilDiv(p.InW-iw, sw), n), lo)
		clear(seg[:lo])
		if lo < hi {
			src := xr[iw+lo*sw : iw+(hi-1)*sw+1]
			dst := seg[lo:hi]
			for t := range dst {
				dst[t] = src[t*sw]
			}
		}
		clear(seg[hi:])
	}
}
