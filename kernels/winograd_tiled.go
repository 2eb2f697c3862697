package kernels

// Tile bands for the row-major Winograd transforms. winoGroup runs its three
// phases over the whole group, each split its own way: the input transform by
// input channels, the GEMMs by planes, the output transform by output
// channels. Every phase then reads what the other threads wrote in the one
// before (half of V and of M on two threads), and the layer's input and output
// are cut by channels while the column-split 1×1 GEMMs around it cut by
// pixels. That is cheap while the cores share a cache, but a virtual machine's
// two vCPUs are not always on one CCD: measured on Zen 4, reading 1 MiB
// another core wrote took 39 µs in stretches where the cores sat on different
// CCDs, against 12 µs on one (10 µs for data the reader wrote itself), and in
// such stretches ResNet-50's transforms took 3.4× (input) and 2.8× (output) as
// long as in quiet ones.
//
// Where an image has more tile rows than a band holds, its rows are cut into
// bands, and each thread takes a contiguous run of bands, as the column-split
// 1×1 GEMMs before and after the layer take the pixels of those rows, and
// runs all three phases on one band at a time with V and M in its own
// scratch: only the input rows at a band's edges come from another core, and a
// band's V and M stay in L2. That scratch is kept per task (getSlotScratch),
// so a thread writes V and M over lines it wrote in the last layer rather than
// over ones another core holds: in the cross-CCD stretches this took ResNet-50
// from 42.5 to 41.2 ms (two threads, alternating runs). The weights, though,
// are read once per band: banding pays where V and M outweigh them
// (winoTiledApplies).
//
// The bands are a property of the layer's shape, never of the thread count,
// and winoGroup computes its GEMMs band by band too: the GEMM micro-kernels
// round a matrix's last columns differently from full panels (they split
// their sums to hide latency), so both routes must cut columns at the same
// places for a model's results not to depend on how many threads ran it.

// tiledBytes bounds the V and M of one band (α² planes of its tiles for the
// input and output channels): 2 MiB, so that ResNet's 56×56 maps (14 F4 tile
// rows of 258 KiB at 64 channels) are cut in two and its 28×28 ones (7 rows,
// 258 KiB each at 128 channels) are not. Measured on ResNet-50 (Zen 4, batch
// 1, medians of alternating runs): 1 MiB and 2 MiB bands alike, both
// 0.5–1% faster than whole planes on two threads in quiet stretches, 1.5%
// on one thread, 3% where the vCPUs sat on different CCDs; batch 16, two
// threads, 1–6%. A variable so tests can cut bands to one row.
var tiledBytes = 2 << 20

// winoBandRows is the most tile rows a band of layer p with algorithm k holds.
func winoBandRows(k *winoKind, p ConvParams) int {
	tw := ceilDiv(p.OutW(), k.m)
	return max(1, tiledBytes/(4*k.planes()*(p.InC+p.OutC)*tw))
}

// bandsPerImage is how many bands each image's tile rows are cut into: 1
// (not cut: the GEMMs take the whole group's columns at once) where an image
// has no more rows than a band holds.
func (g *winoGeom) bandsPerImage() int {
	b := winoBandRows(g.k, g.p)
	if g.th <= b {
		return 1
	}
	return ceilDiv(g.th, b)
}

// band returns the tile rows [r0, r1) of band i, nbi bands an image, in the
// group's row numbering (image by image; tile row r holds tiles r·tw…).
func (g *winoGeom) band(i, nbi int) (r0, r1 int) {
	img, j := i/nbi, i%nbi
	return img*g.th + j*g.th/nbi, img*g.th + (j+1)*g.th/nbi
}

// winoTiledApplies reports whether bands (winoGroupTiled) serve the group of
// geometry g on t threads: where images are cut into bands, there are enough
// bands to give the threads equal shares (t divides them, or at least four
// each), and the group's V and M (tiles·(InC+OutC) a plane) outweigh the
// transformed weights the t threads each read (t·InC·OutC a plane). Of
// ResNet-50's 3×3 layers that is the 56×56 stage on up to two threads at
// batch 1 (V and M six times U), on sixteen at batch 16.
func winoTiledApplies(g *winoGeom, t int) bool {
	nbi := g.bandsPerImage()
	if winoTiledOff || nbi == 1 {
		return false
	}
	nb := g.n * nbi
	if nb < t || (nb%t != 0 && nb < 4*t) {
		return false
	}
	return g.tiles*(g.p.InC+g.p.OutC) >= t*g.p.InC*g.p.OutC
}

// winoTiledOff disables bands, for tests that compare them with whole planes.
var winoTiledOff bool

// winoGroupTiled is winoGroup in tile bands: thread i of t takes bands
// [i·nb/t, (i+1)·nb/t) of the group's nb and runs the three phases on each.
func winoGroupTiled(cur *isaImpl, p ConvParams, n int, in []float32, inL Layout, ww *winoWeights, bias, residual []float32, relu bool, out []float32, outL Layout) {
	g := newWinoGeom(ww.kind, p, n)
	planes := g.k.planes()
	nbi := g.bandsPerImage()
	nb := n * nbi
	t := max(1, min(Threads(), nb))
	// bg is the geometry of a band's V and M, ceil(th/nbi) tile rows at most.
	bg := g
	bg.tiles = ceilDiv(g.th, nbi) * g.tw
	bg.ld = bg.tiles + winoLag
	// The vector kernels serve bands where a call is one tile row (maps of
	// 9–16 tiles a row, ResNet's 56×56); bands of narrower maps (cut only
	// where channels are many more than ResNet's) keep the row kernels.
	vd := ww.vecDesc(cur, p)
	if vd != nil && vd.rows != 1 {
		vd = nil
	}
	if vd != nil {
		bg.ld = bg.tiles
	}
	bg.vs, bg.ms = planeStride(p.InC*bg.ld), planeStride(p.OutC*bg.ld)
	bg.vN, bg.mN = planes*bg.vs, planes*bg.ms
	parallel(t, func(task int) {
		buf := getSlotScratch(task, bg.vN+bg.mN+max(g.k.a*g.ew, winoVecScratch)+p.InW+8+max(g.ow, winoVecScratch))
		defer putSlotScratch(task, buf)
		v, rest := (*buf)[:bg.vN], (*buf)[bg.vN:]
		m, rest := rest[:bg.mN], rest[bg.mN:]
		ne := max(g.k.a*g.ew, winoVecScratch)
		e, rest := rest[:ne], rest[ne:]
		zero, junk := rest[:p.InW+8], rest[p.InW+8:]
		clear(e) // the margins stay zero: they are the horizontal padding
		clear(zero)
		gb := cur.gemm.buf()
		defer cur.gemm.putBuf(gb)
		for b := task * nb / t; b < (task+1)*nb/t; b++ {
			r0, r1 := g.band(b, nbi)
			// Rows in order within a channel: a row's 8-tile stores that run
			// past its end are overwritten by the next row or land in the lag.
			for c := range p.InC {
				for r := r0; r < r1; r++ {
					at := r/g.th*inL.Image + c*inL.Channel
					if vd != nil {
						winoInputVec(g.k, vd, in[at:at+g.inPlane], p, g.th, r%g.th, e, v[c*bg.ld+(r-r0)*g.tw:], bg.vs)
						continue
					}
					bg.inputRow(in[at:at+g.inPlane], zero, e, v[c*bg.ld+(r-r0)*g.tw:], r%g.th, cur)
				}
			}
			cols := (r1 - r0) * g.tw
			for x := range planes {
				ga := bg.planeGemm(ww, x, v, m, cols, cur)
				ga.rect(0, p.OutC, 0, cols, *gb)
			}
			for o := range p.OutC {
				var bo float32
				if bias != nil {
					bo = bias[o]
				}
				for r := r0; r < r1; r++ {
					off := r/g.th*outL.Image + o*outL.Channel
					var res []float32
					if residual != nil {
						res = residual[off : off+g.outPlane]
					}
					if vd != nil {
						winoOutputVec(g.k, vd, m[o*bg.ld+(r-r0)*g.tw:], bg.ms, g.th, r%g.th, junk, out[off:off+g.outPlane], res, g.oh, g.ow, bo, relu)
						continue
					}
					bg.outputRow(m[o*bg.ld+(r-r0)*g.tw:], out[off:off+g.outPlane], res, junk, r%g.th, bo, relu, cur)
				}
			}
		}
	})
}
