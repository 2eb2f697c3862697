package kernels

import "slices"

// Convolutions other than 1×1 stride 1 read their input through phase
// planes. With stride s, input row y = oh·s - pad + kh is row oh + dh of
// phase a, where kh - pad = s·dh + a (0 <= a < s), and likewise for columns.
// A plane holds in[c][i·sh+a][(j+base)·sw+b] with zero margins, in rows of ew
// values: column j of the GEMM's output then reads element j + offset(kh, kw)
// of a plane, so every row of the im2col matrix is a contiguous slice, read
// in place or packed with a plain copy.
//
// Columns come in variants (b, base). With stride 1, one variant per phase b
// starting at the smallest shift: rows are ew = OW + KW - 1 wide and the GEMM
// computes an "extended" output whose KW - 1 extra columns per row are
// dropped. With a column stride of 2 or more and a narrow output, every
// column shift dw gets its own variant (base = dw), rows are exactly OW wide
// and nothing is dropped:
// a 3×3/2 layer fills three column planes per row phase instead of two, but
// its 14×14 → 7×7 GEMM computes 49 columns instead of 56 (28 → 14: 196
// instead of 210) and writes its output, residual and ReLU in place instead
// of through a scratch matrix and a copy. It pays where the dropped columns
// are many: see splitColumns.

// phaseSplit is splitColumns' choice; tests force either way on every
// strided convolution, benchmarks compare.
var phaseSplit = splitAuto

const (
	splitAuto   = iota // by the rule of splitColumns
	splitNever         // always the extended output
	splitAlways        // a plane per column shift wherever the column stride is > 1
)

// splitColumns reports whether a convolution with column stride sw, output
// width ow and column shifts spanning span gets a plane per shift: strided,
// and the extended output's span extra columns per row over 5% of ow.
// Measured on one and two Zen 4 cores (medians of 21 interleaved rounds,
// with bias, residual and ReLU), against the extended output: ResNet-50's
// 3×3/2 layers 4–13% faster into 7×7 and 3–8% into 14×14, alike (±3%) into
// 28×28, where one column in 29 is dropped; the 7×7/2 stem, whose seven
// column shifts make seven planes of each of its 3 channels, 1% slower on
// one thread and 22% on two.
func splitColumns(sw, ow, span int) bool {
	switch {
	case sw == 1 || phaseSplit == splitNever:
		return false
	case phaseSplit == splitAlways:
		return true
	}
	return 20*span > ow
}

// colVariant is one kind of column plane: plane column j is input column
// (j+base)·sw + b.
type colVariant struct{ b, base int }

// phaseGeom is the phase decomposition of one convolution.
type phaseGeom struct {
	p        ConvParams
	oh, ow   int
	dhMin    int          // smallest row shift (floor((0-pad)/s))
	rows, ew int          // rows and row width of a plane
	plane    int          // values per plane (with slack)
	cv       []colVariant // the column variants the kernel's columns read
	planes   int          // planes per channel: sh·len(cv)
	n        int          // columns of the (extended) output: oh·ew
	extended bool         // ew > ow: the output must be compacted
	off      *offTable    // start of im2col row k = (c, kh, kw) in the planes
	sh, sw   int
	usedH    []bool // row phases some kernel row reads (1×1/2 reads one)
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
	g := &phaseGeom{p: p, oh: p.OutH(), ow: p.OutW(), sh: p.StrideH, sw: p.StrideW}
	g.dhMin = floorDiv(-p.PadH, p.StrideH)
	dhMax := floorDiv(p.KH-1-p.PadH, p.StrideH)
	g.rows = g.oh + dhMax - g.dhMin
	dwMin, dwMax := floorDiv(-p.PadW, g.sw), floorDiv(p.KW-1-p.PadW, g.sw)
	split := splitColumns(g.sw, g.ow, dwMax-dwMin)
	g.ew = g.ow
	if !split {
		g.ew += dwMax - dwMin
	}
	// The variant of each kernel column, and the column it starts at in that plane.
	vOf, shift := make([]int, p.KW), make([]int, p.KW)
	for kw := range p.KW {
		b, dw := mod(kw-p.PadW, g.sw), floorDiv(kw-p.PadW, g.sw)
		key := colVariant{b: b, base: dwMin}
		if split {
			key.base = dw
		}
		v := slices.Index(g.cv, key)
		if v < 0 {
			v = len(g.cv)
			g.cv = append(g.cv, key)
		}
		vOf[kw], shift[kw] = v, dw-key.base
	}
	g.plane = g.rows*g.ew + g.ew // slack: the last row's largest column shift
	g.planes = g.sh * len(g.cv)
	g.n = g.oh * g.ew
	g.extended = g.ew > g.ow
	g.usedH = make([]bool, g.sh)
	for kh := range p.KH {
		g.usedH[mod(kh-p.PadH, g.sh)] = true
	}
	// Row k = (c, kh, kw) of the im2col matrix starts at off[k].
	off := make([]int, p.InC*p.KH*p.KW)
	for c := range p.InC {
		for kh := range p.KH {
			a, dh := mod(kh-p.PadH, g.sh), floorDiv(kh-p.PadH, g.sh)
			for kw := range p.KW {
				plane := (c*g.sh+a)*len(g.cv) + vOf[kw]
				off[(c*p.KH+kh)*p.KW+kw] = plane*g.plane + (dh-g.dhMin)*g.ew + shift[kw]
			}
		}
	}
	g.off = &offTable{off: off, max: slices.Max(off)}
	return g
}

// bands splits the GEMM g of a strided convolution of one image by columns
// alone where that cuts it evenly (at least 4 column panels a thread), and
// returns the plane rows each of its tasks fills, task i rows [rows[i],
// rows[i+1]): the rows its own columns read first. Each thread then reads the
// planes it wrote itself (all but the last row shifts at its band's end) and
// the input rows it wrote in the layer before, whose column splits cut by
// pixels too, and copies out the output rows it computed. Filled by channels
// and split by rows, as the cost model alone chose for ResNet-50's 3×3/2 layer
// into 28×28 (by 0.2%), each thread read half its planes, half its inputs and
// half its output rows from the other core, which costs where the cores do not
// share a cache (see winograd_tiled.go). Measured on the Zen 5 VM with its
// vCPUs on different CCDs (ResNet-50, two threads, alternating runs): the
// 3×3/2 layers 2.74–2.78 ms a pass against 2.79–2.87, the 1×1/2 ones 1.74–1.84
// against 1.77–1.83. Not for the few channels of an image (the 7×7/2 stem's
// 3): no layer before wrote them, and its two-thread fill measured 5–9%
// slower in bands than by channel. nil where g is not cut so: the caller
// fills by channels.
func (pg *phaseGeom) bands(g *gemmArgs) []int {
	t := Threads()
	if g.n != pg.n || t < 2 || pg.p.InC < 8 || ceilDiv(g.n, g.isa.gemm.nr) < 4*t {
		return nil
	}
	g.colsOnly = true
	tm, tn := g.split()
	if tm != 1 || tn < 2 {
		g.colsOnly = false
		return nil
	}
	rows := make([]int, tn+1)
	for j := 1; j < tn; j++ {
		n0, _ := g.colRange(j, tn)
		rows[j] = max(rows[j-1], min(n0/pg.ew, pg.rows))
	}
	rows[tn] = pg.rows
	return rows
}

// mod is a mod b in [0, b) for b > 0.
func mod(a, b int) int { return a - floorDiv(a, b)*b }

// fill writes rows r0…r1-1 of the planes of channels c0…c1-1 of the image in
// to e (planes values per channel, from channel 0); the rows of a plane and
// its slack, 0…g.rows, so that r1 = g.rows also clears the slack.
func (g *phaseGeom) fill(in, e []float32, c0, c1, r0, r1 int, asm bool) {
	p := g.p
	end := r1 * g.ew
	if r1 == g.rows {
		end = g.plane
	}
	for c := c0; c < c1; c++ {
		src := in[c*p.InH*p.InW : (c+1)*p.InH*p.InW]
		for a := range g.sh {
			if !g.usedH[a] {
				continue
			}
			for v, cv := range g.cv {
				// One clear of the plane gives every margin its zeros: rows of 7
				// to 28 values made per-row clears and calls most of the cost of
				// filling the small maps. ResNet-50's strided layers filled
				// their planes in 1.73 ms a pass with those, 0.88 ms with this
				// (one Zen 4 core; 1.8 → 4.4 GB/s written at 14×14).
				dst := e[((c*g.sh+a)*len(g.cv)+v)*g.plane:][:g.plane]
				clear(dst[r0*g.ew : end])
				// Column j is input column (j+base)·sw + b: zeros left of
				// column 0 and right of the row, the gathered inputs between.
				x0 := cv.base*g.sw + cv.b // input column of j = 0
				lo := min(max(ceilDiv(-x0, g.sw), 0), g.ew)
				hi := max(min(ceilDiv(p.InW-x0, g.sw), g.ew), lo)
				if lo == hi {
					continue
				}
				if asm && g.sw == 2 && hi-lo >= 8 {
					// All rows of the plane that read the input (y in [0, InH)) in one call.
					i0 := max(r0, ceilDiv(-a, g.sh)-g.dhMin)
					i1 := min(r1, ceilDiv(p.InH-a, g.sh)-g.dhMin)
					if i0 < i1 {
						n := hi - lo
						s0 := ((i0+g.dhMin)*g.sh+a)*p.InW + x0 + lo*g.sw
						last := s0 + (i1-1-i0)*g.sh*p.InW + (n-1)*g.sw
						_, _ = src[last], dst[(i1-1)*g.ew+hi-1] // the last values read and written
						gatherEvenRows(i1-i0, n, min(n/8, (2*n-1)/16), &src[s0], g.sh*p.InW, &dst[i0*g.ew+lo], g.ew)
					}
					continue
				}
				for i := r0; i < r1; i++ {
					y := (i+g.dhMin)*g.sh + a
					if y < 0 || y >= p.InH {
						continue
					}
					row := dst[i*g.ew+lo : i*g.ew+hi]
					xr := src[y*p.InW+x0+lo*g.sw : y*p.InW+x0+(hi-1)*g.sw+1]
					if len(row) < 8 {
						for t := range row {
							row[t] = xr[t*g.sw]
						}
						continue
					}
					gather(row, xr, g.sw, asm)
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
	case asm && stride == 2 && len(dst) > 0:
		// Vector blocks read 16 values for 8 outputs; stop while inside src.
		_ = src[2*(len(dst)-1)] // the last value read
		gatherEvenRows(1, len(dst), min(len(dst)/8, len(src)/16), &src[0], 0, &dst[0], 0)
		return
	}
	for ; t < len(dst); t++ {
		dst[t] = src[t*stride]
	}
}
