package kernels

import "slices"

// Convolutions other than 1×1 stride 1 read their input through phase
// planes. With stride s, input row y = oh·s - pad + kh is row oh + dh of
// phase a, where kh - pad = s·dh + a (0 <= a < s), and likewise for columns.
// Phase plane (a, b) holds in[c][i·sh+a][j·sw+b] with zero margins, laid out
// with rows of ew = OW + (column margins) values. The GEMM then computes an
// "extended" output of OH rows of ew columns: column j of the extended
// output reads element j + offset(kh, kw) of the phase plane, so every row of
// the im2col matrix is a contiguous slice and packing it is a plain copy.
// The ew-OW extra columns per row are computed and dropped.

// phaseGeom is the phase decomposition of one convolution.
type phaseGeom struct {
	p              ConvParams
	oh, ow         int
	dhMin, dwMin   int       // smallest row / column shift (floor((0-pad)/s))
	rows, ew       int       // rows and row width of a phase plane
	plane          int       // values per phase plane (with slack)
	phases         int       // sh·sw
	n              int       // columns of the extended output: oh·ew
	extended       bool      // ew > ow: the output must be compacted
	off            *offTable // start of im2col row k = (c, kh, kw) in the phase planes
	sh, sw, kh, kw int
	usedH, usedW   []bool // phases some kernel row / column reads (1×1/2 reads one)
}

// floorDiv is ⌊a/b⌋ for b > 0.
func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func newPhaseGeom(p ConvParams) *phaseGeom {
	g := &phaseGeom{p: p, oh: p.OutH(), ow: p.OutW(), sh: p.StrideH, sw: p.StrideW, kh: p.KH, kw: p.KW}
	g.dhMin, g.dwMin = floorDiv(-p.PadH, p.StrideH), floorDiv(-p.PadW, p.StrideW)
	dhMax, dwMax := floorDiv(p.KH-1-p.PadH, p.StrideH), floorDiv(p.KW-1-p.PadW, p.StrideW)
	g.ew = g.ow + dwMax - g.dwMin
	g.rows = g.oh + dhMax - g.dhMin
	g.plane = g.rows*g.ew + g.ew // slack: the last row's largest column shift
	g.phases = g.sh * g.sw
	g.n = g.oh * g.ew
	g.extended = g.ew > g.ow
	// Row k = (c, kh, kw) of the im2col matrix starts at off[k].
	g.usedH, g.usedW = make([]bool, g.sh), make([]bool, g.sw)
	for kh := range p.KH {
		g.usedH[mod(kh-p.PadH, g.sh)] = true
	}
	for kw := range p.KW {
		g.usedW[mod(kw-p.PadW, g.sw)] = true
	}
	off := make([]int, p.InC*p.KH*p.KW)
	for c := range p.InC {
		for kh := range p.KH {
			a, dh := mod(kh-p.PadH, g.sh), floorDiv(kh-p.PadH, g.sh)
			for kw := range p.KW {
				b, dw := mod(kw-p.PadW, g.sw), floorDiv(kw-p.PadW, g.sw)
				phase := (c*g.sh+a)*g.sw + b
				off[(c*p.KH+kh)*p.KW+kw] = phase*g.plane + (dh-g.dhMin)*g.ew + dw - g.dwMin
			}
		}
	}
	g.off = &offTable{off: off, max: slices.Max(off)}
	return g
}

// mod is a mod b in [0, b) for b > 0.
func mod(a, b int) int { return a - floorDiv(a, b)*b }

// fill writes the phase planes of channels c0…c1-1 of the image in to e
// (phases·plane values per channel, from channel 0).
func (g *phaseGeom) fill(in, e []float32, c0, c1 int, asm bool) {
	p := g.p
	for c := c0; c < c1; c++ {
		src := in[c*p.InH*p.InW : (c+1)*p.InH*p.InW]
		for a := range g.sh {
			for b := range g.sw {
				if !g.usedH[a] || !g.usedW[b] {
					continue
				}
				dst := e[((c*g.sh+a)*g.sw+b)*g.plane:][:g.plane]
				clear(dst[g.rows*g.ew:])
				for i := range g.rows {
					row := dst[i*g.ew : (i+1)*g.ew]
					y := (i+g.dhMin)*g.sh + a
					if y < 0 || y >= p.InH {
						clear(row)
						continue
					}
					// Column j is input column (j+dwMin)·sw + b: zeros left of
					// column 0, the gathered inputs, zeros right of the row.
					xr := src[y*p.InW : (y+1)*p.InW]
					x0 := g.dwMin*g.sw + b // input column of j = 0
					lo := min(max(ceilDiv(-x0, g.sw), 0), g.ew)
					hi := max(min(ceilDiv(p.InW-x0, g.sw), g.ew), lo)
					clear(row[:lo])
					if lo < hi {
						gather(row[lo:hi], xr[x0+lo*g.sw:x0+(hi-1)*g.sw+1], g.sw, asm)
					}
					clear(row[hi:])
				}
			}
		}
	}
}

// imagesB is the B matrix of a convolution over imgs images side by side:
// row k of image i is src[i·imgStride + off[k] + j] for columns j < cols of
// that image (off[k] = k·rowStride when off is nil: a 1×1 convolution).
type imagesB struct {
	src       []float32
	off       *offTable // row offsets (phaseGeom.off), or nil: off[k] = k·rowStride
	rowStride int
	imgStride int
	cols      int
	imgs      int
}

func (s *imagesB) packB(dst, row []float32, k0, kc, j0, nc int, ker *gemmKernel, asm bool) {
	img0, c0 := j0/s.cols, j0%s.cols
	one := c0+nc <= s.cols // the block lies within one image
	for p := 0; p < kc; p++ {
		off := (k0 + p) * s.rowStride
		if s.off != nil {
			off = s.off.off[k0+p]
		}
		if one {
			o := img0*s.imgStride + off + c0
			scatterRow(dst, s.src[o:o+nc], p, kc, ker, asm)
			continue
		}
		// Gather the row's pieces from consecutive images first.
		for j, img, c := 0, img0, c0; j < nc; img, c = img+1, 0 {
			seg := min(s.cols-c, nc-j)
			o := img*s.imgStride + off + c
			copy(row[j:j+seg], s.src[o:o+seg])
			j += seg
		}
		scatterRow(dst, row[:nc], p, kc, ker, asm)
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
