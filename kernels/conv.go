package kernels

import "fmt"

// ConvParams describes a 2-D convolution of one InC×InH×InW image with
// OutC×InC×KH×KW weights (no groups, no dilation), PyTorch's Conv2d
// arithmetic: zero padding, floor division for the output size.
type ConvParams struct {
	InC, InH, InW    int
	OutC, KH, KW     int
	StrideH, StrideW int
	PadH, PadW       int
}

// OutH is the output height (InH+2·PadH-KH)/StrideH+1.
func (p ConvParams) OutH() int { return (p.InH+2*p.PadH-p.KH)/p.StrideH + 1 }

// OutW is the output width (InW+2·PadW-KW)/StrideW+1.
func (p ConvParams) OutW() int { return (p.InW+2*p.PadW-p.KW)/p.StrideW + 1 }

// MACs is the number of multiply-adds of one image.
func (p ConvParams) MACs() int64 {
	return int64(p.OutC) * int64(p.OutH()) * int64(p.OutW()) * int64(p.InC) * int64(p.KH) * int64(p.KW)
}

// Validate reports whether the parameters describe a convolution with a
// non-empty output.
func (p ConvParams) Validate() error {
	switch {
	case p.InC < 1 || p.InH < 1 || p.InW < 1 || p.OutC < 1 || p.KH < 1 || p.KW < 1:
		return fmt.Errorf("kernels: conv %+v: sizes must be positive", p)
	case p.StrideH < 1 || p.StrideW < 1:
		return fmt.Errorf("kernels: conv %+v: strides must be positive", p)
	case p.PadH < 0 || p.PadW < 0:
		return fmt.Errorf("kernels: conv %+v: padding must not be negative", p)
	case p.InH+2*p.PadH < p.KH || p.InW+2*p.PadW < p.KW:
		return fmt.Errorf("kernels: conv %+v: kernel %d×%d larger than the padded input %d×%d",
			p, p.KH, p.KW, p.InH+2*p.PadH, p.InW+2*p.PadW)
	}
	return nil
}

// CheckConv2D reports whether Conv2D accepts these arguments: valid
// parameters, weights of exactly OutC·InC·KH·KW values, bias of OutC values or
// none, and input, residual (if any), output and scratch of at least their
// sizes (only that prefix is used, so callers may reuse max-size buffers).
func CheckConv2D(p ConvParams, in, w, bias, residual, out, scratch []float32) error {
	if err := p.Validate(); err != nil {
		return err
	}
	outN := p.OutC * p.OutH() * p.OutW()
	if len(w) != p.OutC*p.InC*p.KH*p.KW {
		return fmt.Errorf("kernels: conv %+v: weights has %d values, want %d", p, len(w), p.OutC*p.InC*p.KH*p.KW)
	}
	if len(bias) != 0 && len(bias) != p.OutC {
		return fmt.Errorf("kernels: conv %+v: bias has %d values, want %d", p, len(bias), p.OutC)
	}
	atLeast := []struct {
		name     string
		got, exp int
		optional bool
	}{
		{"input", len(in), p.InC * p.InH * p.InW, false},
		{"residual", len(residual), outN, true},
		{"output", len(out), outN, false},
		{"scratch", len(scratch), ConvScratch(p), false},
	}
	for _, s := range atLeast {
		if s.got < s.exp && !(s.optional && s.got == 0) {
			return fmt.Errorf("kernels: conv %+v: %s has %d values, want at least %d", p, s.name, s.got, s.exp)
		}
	}
	return nil
}

// ConvScratch is the scratch size Conv2D needs for p, in float32 values.
// It is 0 for every convolution today: the temporary matrices (phase planes,
// Winograd's transformed tiles) come from the package's own recycled buffers
// (scratch.go), sized by the largest layer seen.
func ConvScratch(p ConvParams) int { return 0 }

// Conv2D computes out = act(conv(in, w) + bias + residual) for one image:
// in is InC×InH×InW, w is OutC×InC×KH×KW, bias OutC values or nil, residual
// OutC×OutH×OutW or nil, out OutC×OutH×OutW (in, residual and out may be
// longer; the rest is left alone); act is ReLU when relu is set, else the
// identity. Bias, residual and ReLU are fused into the GEMM's
// epilogue. out must not overlap the other arguments (residual may not alias
// out either). It panics with the CheckConv2D error on bad sizes.
func Conv2D(p ConvParams, in, w, bias, residual []float32, relu bool, out, scratch []float32) {
	if err := CheckConv2D(p, in, w, bias, residual, out, scratch); err != nil {
		panic(err)
	}
	conv2D(p, 1, in, w, nil, bias, residual, relu, out, nil)
}

// Conv2DPacked is Conv2D with weights prepacked by PackConvWeights, which
// saves repacking them on every call.
func Conv2DPacked(p ConvParams, in []float32, w *PackedA, bias, residual []float32, relu bool, out, scratch []float32) {
	k := p.InC * p.KH * p.KW
	if w == nil {
		panic(fmt.Errorf("kernels: conv %+v: nil packed weights", p))
	}
	if w.Rows() != p.OutC || w.Cols() != k {
		panic(fmt.Errorf("kernels: conv %+v: packed weights are %d×%d, want %d×%d", p, w.Rows(), w.Cols(), p.OutC, k))
	}
	// The dense weights are not needed; check the rest with a stand-in length.
	if err := CheckConv2D(p, in, w.data[:p.OutC*k], bias, residual, out, scratch); err != nil {
		panic(err)
	}
	conv2D(p, 1, in, nil, w, bias, residual, relu, out, nil)
}

// batchCols is the GEMM width up to which conv2D puts the images of a batch
// side by side in one GEMM: a 7×7 map is 49 columns, a poor fit for 16-wide
// panels, and each image would read all the weights again.
const batchCols = 512

// conv2D runs n images (one after another in in, residual and out) through
// the convolution as a GEMM with weights w or pw. geom, if not nil, is the
// phase geometry of p (see newPhaseGeom), cached by the caller.
func conv2D(p ConvParams, n int, in, w []float32, pw *PackedA, bias, residual []float32, relu bool, out []float32, geom *phaseGeom) {
	dense := p.KH == 1 && p.KW == 1 && p.StrideH == 1 && p.StrideW == 1 && p.PadH == 0 && p.PadW == 0
	if !dense && geom == nil {
		geom = newPhaseGeom(p)
	}
	cols := p.OutH() * p.OutW() // GEMM columns per image
	if !dense {
		cols = geom.n
	}
	per := max(1, min(n, batchCols/cols))
	inN, outN := p.InC*p.InH*p.InW, p.OutC*p.OutH()*p.OutW()
	for i := 0; i < n; i += per {
		k := min(per, n-i)
		var res []float32
		if len(residual) > 0 {
			res = residual[i*outN : (i+k)*outN]
		}
		convGroup(p, k, in[i*inN:(i+k)*inN], w, pw, nilIfEmpty(bias), res, relu, out[i*outN:(i+k)*outN], geom)
	}
}

// convGroup is conv2D for n images computed by one GEMM.
func convGroup(p ConvParams, n int, in, w []float32, pw *PackedA, bias, residual []float32, relu bool, out []float32, geom *phaseGeom) {
	hw := p.OutH() * p.OutW()
	k := p.InC * p.KH * p.KW
	cur := curISA()
	asm := cur.asm
	g := gemmArgs{
		m: p.OutC, k: k,
		a: w, lda: k, pa: pw,
		ep:  epilogue{bias: bias, res: residual, ldr: hw, relu: relu},
		isa: cur,
	}
	// The extended output has rows of ew columns, oh rows, cols per image.
	oh, ow, ew, cols := p.OutH(), p.OutW(), p.OutW(), hw
	if geom != nil {
		ew, cols = geom.ew, geom.n
	}
	g.n = n * cols
	var bands []int  // the plane rows of the column tasks of one image (phaseGeom.bands)
	rowWise := false // convRows computes it
	if geom == nil {
		g.b = &imagesB{src: in, rowStride: hw, imgStride: p.InC * hw, cols: hw, imgs: n}
	} else {
		size := p.InC * geom.planes * geom.plane // per image
		e := getScratch(n * size)
		defer putScratch(e)
		g.b = &imagesB{src: *e, off: geom.off, imgStride: size, cols: cols, imgs: n}
		if bands = geom.bands(&g); bands != nil {
			parallel(len(bands)-1, func(i int) {
				geom.fill(in, *e, 0, p.InC, bands[i], bands[i+1], asm)
			})
		} else if rowWise = n == 1 && ew != ow && byRows(&g, ow, ew); rowWise {
			// Each thread fills the plane rows that start its output rows (convRows).
			chunks := min(oh, Threads())
			parallel(chunks, func(i int) {
				r1 := (i + 1) * oh / chunks
				if i == chunks-1 {
					r1 = geom.rows
				}
				geom.fill(in, *e, 0, p.InC, i*oh/chunks, r1, asm)
			})
		} else {
			chunks := workChunks(n*p.InC, n*p.InC*p.InH*p.InW)
			parallel(chunks, func(i int) {
				for j := i * n * p.InC / chunks; j < (i+1)*n*p.InC/chunks; j++ {
					img, c := j/p.InC, j%p.InC
					geom.fill(in[img*p.InC*p.InH*p.InW:], (*e)[img*size:], c, c+1, 0, geom.rows, asm)
				}
			})
		}
	}
	if n == 1 && ew == ow {
		g.c, g.ldc = out, hw // the GEMM's output is the convolution's
		g.run()
		return
	}
	if rowWise {
		convRows(&g, oh, ow, ew, out, residual)
		return
	}
	// Compute into a scratch matrix, then copy each image's rows out (and
	// drop the extra columns). A residual is added while copying, so ReLU
	// waits too.
	ext := getScratch(p.OutC * g.n)
	defer putScratch(ext)
	g.c, g.ldc = *ext, g.n
	if residual != nil {
		g.ep.res, g.ep.relu = nil, false
	}
	g.run()
	if bands != nil {
		// Each task copies the output rows its GEMM task computed.
		parallel(len(bands)-1, func(i int) {
			for o := range p.OutC {
				for y := min(bands[i], oh); y < min(bands[i+1], oh); y++ {
					copyRow(out, *ext, residual, o, 0, y, g.n, cols, ew, ow, hw, p.OutC, relu, asm)
				}
			}
		})
		return
	}
	chunks := workChunks(p.OutC, p.OutC*n*hw)
	parallel(chunks, func(i int) {
		for o := i * p.OutC / chunks; o < (i+1)*p.OutC/chunks; o++ {
			for img := range n {
				for y := range oh {
					copyRow(out, *ext, residual, o, img, y, g.n, cols, ew, ow, hw, p.OutC, relu, asm)
				}
			}
		}
	})
}

// convByRows enables convRows; benchmarks switch it off to compare.
var convByRows = true

// byRows reports whether the GEMM g of one image's extended output (rows of ew
// columns, ow of them kept) is better computed output row by output row,
// straight into the output (convRows): where the AVX-512 kernel reads B in
// place and a row's own panels (the last one rounded up to 16 columns, or
// costed four times over where the column kernels take it) cost fewer
// columns than the extended row. ResNet's 7×7/2 stem (ow 112 = 48+48+16, ew
// 115) qualifies; its 3×3/2 layer into 28×28 (a 32-column panel for 28
// columns, ew 29) does not.
func byRows(g *gemmArgs, ow, ew int) bool {
	ker := g.isa.gemm
	if !convByRows || !gemmInPlace || !ker.inPlace || !g.isa.asm || g.pa == nil {
		return false
	}
	full, r := ow/ker.nr*ker.nr, ow%ker.nr
	cost := full
	switch {
	case r > 0 && r <= colsKernel && gemmColumns:
		cost += 4 * r
	case r > 0:
		cost += (r + 15) / 16 * 16
	}
	return cost < ew
}

// convRows computes the convolution of one image whose GEMM g has an
// extended output (oh rows of ew columns, ow kept) one output row at a time:
// the row's GEMM reads the phase planes in place from the row's start and
// writes its ow columns into out, epilogue (bias, residual, ReLU) included,
// with no scratch matrix to fill and copy out. For ResNet's stem that matrix
// was 3.3 MB, written and read back on every pass, from memory on a cold
// cache. Each thread takes a contiguous run of output rows.
func convRows(g *gemmArgs, oh, ow, ew int, out, residual []float32) {
	hw := oh * ow
	ker := g.isa.gemm
	src := g.b.(*imagesB)
	chunks := min(oh, Threads())
	if g.k <= ker.kc && src.off != nil {
		// One K block (the stem's 147): channel panels outside, output rows inside, so the
		// stores run down 16 channels' planes in order instead of across all 64 (the stem
		// 1.16–1.24 ms a one-thread pass against 1.26–1.39; ResNet-50 0.989 of the time on
		// one thread, 0.992 on two, ABBA rounds on the Zen 5 VM). Only the first sweep
		// prefetches the next B panel (panelPrefetch): the later ones find the thread's
		// planes in L2, and the prefetches cost the two-thread stem 5% (hot caches) and
		// 3% (after a 32 MB flush) against prefetching in every sweep; none at all measured
		// 0.983 hot but 1.007 after the flush (alternating runs, 800 a side, Zen 5 VM).
		sw := newRowSweep(g, src.src, src.off.off, ew, ow)
		parallel(chunks, func(i int) {
			y0, y1 := i*oh/chunks, (i+1)*oh/chunks
			for ic := 0; ic < g.m; ic += rowsGroup * ker.mr {
				mc := min(rowsGroup*ker.mr, g.m-ic)
				for y := y0; y < y1; y++ {
					var res []float32
					if residual != nil {
						res = residual[y*ow:]
					}
					sw.row(y, ic, mc, out[y*ow:], hw, res)
				}
			}
		})
		return
	}
	parallel(chunks, func(i int) {
		buf := ker.buf()
		defer ker.putBuf(buf)
		for y := i * oh / chunks; y < (i+1)*oh/chunks; y++ {
			b := *src
			b.src, b.cols = src.src[y*ew:], ow
			row := *g
			row.b, row.n = &b, ow
			row.c, row.ldc = out[y*ow:], hw
			if residual != nil {
				row.ep.res = residual[y*ow:]
			}
			row.rect(0, g.m, 0, ow, *buf)
		}
	})
}

// rowsGroup is the row panels of A (16 channels on AVX-512) a sweep of
// convRows' one-K-block route takes down its output rows.
const rowsGroup = 2

// rowSweep is convRows' one-K-block route: g's GEMM with A packed for its
// kernel and B the phase planes src (rows of ew values, im2col row p at
// off[p]), computed one output row of ow columns and one group of row
// panels at a time (convRows, convRowsPool).
type rowSweep struct {
	g             *gemmArgs
	ker           *gemmKernel
	a             []float32 // the packed A block
	src           []float32
	off           []int
	ew, ow, flags int
}

func newRowSweep(g *gemmArgs, src []float32, off []int, ew, ow int) rowSweep {
	ker := g.isa.gemm
	pa := g.pa.forKernel(ker)
	aoff, _ := pa.block(0)
	return rowSweep{g: g, ker: ker, a: pa.data[aoff:], src: src, off: off[:g.k], ew: ew, ow: ow, flags: g.ep.flags()}
}

// row computes output row y of channels ic…ic+mc-1 into c (a channel ldc
// values after the one before), adding the residual res at the same places
// if it is not nil. Only the first group's sweep (ic = 0) prefetches the next
// B panel: the later ones find the thread's planes in L2.
func (s *rowSweep) row(y, ic, mc int, c []float32, ldc int, res []float32) {
	kc, mr := s.g.k, s.ker.mr
	row := *s.g
	row.n = s.ow
	row.noPrefetch = ic > 0
	row.c, row.ldc = c, ldc
	if res != nil {
		row.ep.res = res
	}
	row.macroInPlace(s.ker, s.a[ic*kc:], kc*mr, s.src[y*s.ew:], s.off, ic, mc, 0, s.ow, kc, s.flags, nil)
}

// copyRow copies row y of output channel o of image img from the extended
// output ext (rows of ew values, cols per image, n columns in all) to out,
// adding the residual and applying ReLU if there is one (else the GEMM did).
func copyRow(out, ext, residual []float32, o, img, y, n, cols, ew, ow, hw, outC int, relu, asm bool) {
	src := ext[o*n+img*cols+y*ew:][:ow]
	at := (img*outC+o)*hw + y*ow
	dst := out[at : at+ow]
	if residual == nil {
		copy(dst, src)
		return
	}
	addReLURow(dst, src, residual[at:at+ow], relu, asm)
}

// addReLURow sets dst = src + res, then ReLU if relu (a NaN stays NaN).
func addReLURow(dst, src, res []float32, relu, asm bool) {
	if asm && len(dst) > 0 {
		_, _ = src[len(dst)-1], res[len(dst)-1]
		r := 0
		if relu {
			r = 1
		}
		addReLU(&dst[0], &src[0], &res[0], len(dst), r)
		return
	}
	for x, v := range src[:len(dst)] {
		v += res[x]
		if relu && v < 0 {
			v = 0
		}
		dst[x] = v
	}
}

func nilIfEmpty(s []float32) []float32 {
	if len(s) == 0 {
		return nil
	}
	return s
}
