package kernels

// Conv2DPlannedMaxPool is Conv2DPlanned without a residual followed by
// MaxPool2D(OutC, OutH, OutW, 3, 2, 1): ResNet's stem and its pool. out is
// n×OutC×PH×PW with PH = (OutH-1)/2+1 (likewise PW). Where the convolution is
// computed output row by output row (convRows: the 7×7/2 stem at 224×224 on
// the AVX-512 path), each thread keeps its last three rows of a 16-channel
// group in a small ring and pools them as soon as they are complete, so the
// convolution's output (3.2 MB for the stem) is never written out and read
// back; elsewhere it runs the two steps, the convolution into convOut
// (n×OutC×OutH×OutW values, or nil for a scratch buffer). The result is the
// same either way, bit for bit. It panics with the CheckConv2DPlanned error
// on bad arguments.
func Conv2DPlannedMaxPool(p ConvParams, n int, in []float32, pl *ConvPlan, bias []float32, relu bool, convOut, out []float32) {
	oh, ow := p.OutH(), p.OutW()
	ph, pw := (oh-1)/2+1, (ow-1)/2+1
	if err := checkConvPlanned(p, n, in, pl, bias, nil, len(out), "pooled output", n*p.OutC*ph*pw); err != nil {
		panic(err)
	}
	if n == 0 {
		return
	}
	bias = nilIfEmpty(bias)
	if poolFused && pl.winograd(p) == nil {
		if geom := pl.phaseGeom(p); geom != nil && convRowsPool(p, n, in, pl.packed, geom, bias, relu, out) {
			return
		}
	}
	if convOut == nil {
		tmp := getScratch(n * p.OutC * oh * ow)
		defer putScratch(tmp)
		convOut = *tmp
	}
	Conv2DPlanned(p, n, in, pl, bias, nil, relu, convOut)
	MaxPool2D(n*p.OutC, oh, ow, 3, 2, 1, convOut, out)
}

// poolFused enables the fused route; tests switch it off to compare.
var poolFused = true

// convRowsPool computes the convolution p of n images and its 3×3/2 max pool
// into out the fused way, or reports false (doing nothing) where p is not
// computed by rows in one K block.
func convRowsPool(p ConvParams, n int, in []float32, pw *PackedA, geom *phaseGeom, bias []float32, relu bool, out []float32) bool {
	cur := curISA()
	ker := cur.gemm
	k := p.InC * p.KH * p.KW
	oh, ow, ew := p.OutH(), p.OutW(), geom.ew
	g := gemmArgs{m: p.OutC, k: k, pa: pw, ep: epilogue{bias: bias, relu: relu}, isa: cur, n: geom.n}
	if ew == ow || k > ker.kc || !byRows(&g, ow, ew) {
		return false
	}
	ph, pwid := (oh-1)/2+1, (ow-1)/2+1
	size := p.InC * geom.planes * geom.plane
	e := getScratch(size)
	defer putScratch(e)
	sw := newRowSweep(&g, *e, geom.off.off, ew, ow)
	gc := rowsGroup * ker.mr
	chunks := min(ph, Threads())
	inN := p.InC * p.InH * p.InW
	for img := range n {
		src := in[img*inN : (img+1)*inN]
		dst := out[img*p.OutC*ph*pwid : (img+1)*p.OutC*ph*pwid]
		// Thread i pools rows [r0, r1) from convolution rows [2r0-1, 2r1-1]; it
		// fills the plane rows [2r0, 2r1) (the last thread to the end).
		parallel(chunks, func(i int) {
			r0, r1 := i*ph/chunks, (i+1)*ph/chunks
			y1 := min(2*r1, oh)
			if i == chunks-1 {
				y1 = geom.rows
			}
			geom.fill(src, *e, 0, p.InC, min(2*r0, oh), y1, cur.asm)
		})
		parallel(chunks, func(i int) {
			r0, r1 := i*ph/chunks, (i+1)*ph/chunks
			ylo, yhi := max(2*r0-1, 0), min(2*r1, oh)
			ring := getSlotScratch(i, p.OutC*3*ow)
			defer putSlotScratch(i, ring)
			rg := *ring
			for ic := 0; ic < p.OutC; ic += gc {
				mc := min(gc, p.OutC-ic)
				for y := ylo; y < yhi; y++ {
					sw.row(y, ic, mc, rg[y%3*ow:], 3*ow, nil)
					// Pool row r once its last row, min(2r+1, oh-1), is in.
					r := y / 2
					if y%2 == 0 && y != oh-1 || r < r0 || r >= r1 {
						continue
					}
					a, b, c := max(2*r-1, 0), 2*r, min(2*r+1, oh-1)
					for ch := ic; ch < ic+mc; ch++ {
						base := ch * 3 * ow
						maxPool3s2Row(&rg[base+a%3*ow], &rg[base+b%3*ow], &rg[base+c%3*ow], ow, &dst[(ch*ph+r)*pwid], pwid)
					}
				}
			}
		})
	}
	return true
}
