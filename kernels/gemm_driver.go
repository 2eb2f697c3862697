package kernels

import "unsafe"

// The micro-kernel, its tile and the cache blocking come from the path's
// gemmKernel (gemm_kernel.go).

// minParallelFlops is the smallest amount of work worth a pool worker: a
// hand-off costs a few microseconds. A variable so tests can force splitting.
var minParallelFlops = float64(1 << 21)

// streamCost is the cost of reading one prepacked A element from L3 or
// memory (each task streams the A rows it needs), in the units of packCost.
// It was 2, as if the weights came from a nearby cache; a VM's share of the
// L3 rarely holds a network's weights from one pass to the next (ResNet-50's
// 143 MiB), so they come from memory, and a column split makes both threads
// stream all of them. At 8 the two-thread split of ResNet-50's 1024→256
// layers at 14×14 and its 3×3/2 layer into 14×14 turns to rows (each thread
// half the weights, all of B packed): on the 2-core Intel Xeon (session 21,
// passes alternating the two values, per-layer medians of 30 rounds, three
// runs) 1024→256 −7…−14% and the 3×3/2 layer −3…−15%, the other layers
// unchanged, ResNet-18 and batch 8 alike. Same products, same bits. On 4 to
// 16 threads more grids turn to rows (fewer threads streaming the same
// weights); not measured there.
const streamCost = 8

// taskCost is the fixed cost of a task (hand-off, buffers) in multiply-adds.
const taskCost = 100000

// packCost estimates packing one element in units of one multiply-add of the
// micro-kernel; it weighs splitting M (B packed again per row group) against
// splitting N (A packed again per column group).
const packCost = 16

// epilogue is applied to each C tile after its last K block: per-row bias,
// a residual matrix of the same shape as C (row stride ldr), then ReLU.
type epilogue struct {
	bias []float32
	res  []float32
	ldr  int
	relu bool
}

func (e *epilogue) flags() int {
	f := 0
	if e.bias != nil {
		f |= flagBias
	}
	if e.res != nil {
		f |= flagResidual
	}
	if e.relu {
		f |= flagReLU
	}
	return f
}

// gemmArgs is one C = epilogue(A·B [+ C]) with A dense or prepacked and B
// from a bSource. All sizes have been checked by the exported caller.
type gemmArgs struct {
	m, n, k    int
	a          []float32 // dense A, used when pa is nil
	lda        int
	pa         *PackedA // prepacked A, or nil
	b          bSource
	c          []float32
	ldc        int
	accumulate bool
	colsOnly   bool // split by columns alone (phaseGeom.bands)
	// kLo, kHi limit the product to K rows [kLo, kHi) (kHi 0: g.k), whole K
	// blocks, and noEpilogue leaves the epilogue out (gemm_ksplit.go).
	kLo, kHi   int
	noEpilogue bool
	noPrefetch bool // B is in cache already: macroInPlace prefetches no panel
	ep         epilogue
	isa        *isaImpl // the path to run on; run sets it if the caller has not
}

// run computes the product on the worker pool.
func (g *gemmArgs) run() {
	if g.m == 0 || g.n == 0 {
		return
	}
	if g.k == 0 {
		g.emptyK()
		return
	}
	if g.isa == nil {
		g.isa = curISA()
	}
	ker := g.isa.gemm
	if g.pa != nil {
		g.pa = g.pa.forKernel(ker)
	}
	tm, tn := g.split()
	if t, nb := g.kSplit(tm, tn); t > 0 {
		g.runKSplit(t, nb)
		return
	}
	mr := ker.mr
	mt := ceilDiv(g.m, mr)
	parallel(tm*tn, func(i int) {
		ti, tj := i/tn, i%tn
		m0, m1 := ti*mt/tm*mr, min((ti+1)*mt/tm*mr, g.m)
		n0, n1 := g.colRange(tj, tn)
		buf := ker.buf()
		g.rect(m0, m1, n0, n1, *buf)
		ker.putBuf(buf)
	})
}

// colRange is the columns [n0, n1) of C that task column j of tn takes: whole
// panels, the last task's cut by the border.
func (g *gemmArgs) colRange(j, tn int) (n0, n1 int) {
	nr := g.isa.gemm.nr
	nt := ceilDiv(g.n, nr)
	return j * nt / tn * nr, min((j+1)*nt/tn*nr, g.n)
}

// split chooses a tm×tn grid of C rectangles, the tasks the pool's
// goroutines take, with at most one task per goroutine: measured on ResNet-50's
// layers, finer grids (more tasks than threads, for balance when another
// process slows a core) lost 10–25% to repeated packing, A streamed once per
// task instead of once per thread, and hand-offs, while one task per thread
// scales 1.9–2.0× from one thread to two.
// Each task packs its own B columns and its own A rows (or streams them, if
// prepacked), so the cost of a task is its multiply-adds plus that packing
// plus a fixed hand-off cost; the grid with the cheapest largest task wins.
// Task sizes are exact: the panel of C cut by the right border costs half a
// panel when the half-width micro-kernel serves it (see edge), which decides
// whether to split a narrow C (ResNet-50's 7×7 maps, N = 49) by rows instead.
func (g *gemmArgs) split() (tm, tn int) {
	ker := g.isa.gemm
	mr, nr := ker.mr, ker.nr
	mt, nt := ceilDiv(g.m, mr), ceilDiv(g.n, nr)
	t := Threads()
	flops := 2 * float64(g.m) * float64(g.n) * float64(g.k)
	maxTasks := max(1, min(t, mt*nt))
	if minParallelFlops > 0 {
		// Not int(flops/0): +Inf converts to the most negative int on amd64,
		// which left tests that set 0 ("split everything") unsplit.
		maxTasks = max(1, min(maxTasks, int(min(flops/minParallelFlops, float64(maxTasks)))))
	}
	if maxTasks == 1 {
		return 1, 1
	}
	aCost := float64(packCost)
	if g.pa != nil {
		aCost = streamCost
	}
	bCost := float64(packCost)
	if _, _, ok := g.inPlace(0, g.n); ok {
		// Read where it lies (gemm_inplace.go), not copied, but every task
		// still streams the columns it needs, and those another thread wrote
		// come from that core's cache. Costed at nothing, as it once was, B
		// made row splits win by a hair on ResNet-50's wide 1×1 layers, so each
		// thread read the pixels the other had just written: measured on the Zen 4
		// VM in stretches where the two vCPUs sat on different CCDs (reading
		// 1 MiB another core wrote: 39 µs, against 12 µs on one CCD), column
		// splits at 56×56 and 28×28 took a 2-thread pass from 45.2 to 42.9 ms,
		// and from 33.8 to 33.5 ms in quiet stretches.
		bCost = packCost / 2
	}
	// Costs are multiply-adds per step of K, as packing is; a hand-off
	// (a few microseconds) is about taskCost multiply-adds in all.
	fixed := taskCost / float64(g.k)
	// width is the cost of columns n0..n1 in units of columns.
	width := func(n0, n1 int) float64 {
		w := float64(n1 - n0)
		if r := (n1 - n0) % nr; r != 0 {
			switch {
			case ker.kind == kindAVX512:
				w += float64((r+7)/8*8 - r) // an edge panel costs its 8-column halves (the rest are skipped)
			case ker.kind == kindNEON:
				w += float64((r+3)/4*4 - r) // the 8×4, 8×8 or 8×12 kernel
			case r <= nr/2:
				w += float64(nr/2 - r) // half a panel, with the 6×8 kernel
			default:
				w += float64(nr - r) // an edge panel costs a full panel
			}
		}
		return w
	}
	best := -1.0
	tm, tn = 1, 1
	mMax := min(maxTasks, mt)
	if g.colsOnly {
		mMax = 1
	}
	for m := 1; m <= mMax; m++ {
		for n := 1; n <= min(maxTasks/m, nt); n++ {
			// The largest task: products, B packing, A packing or streaming.
			rows := float64(ceilDiv(mt, m) * mr)
			cost := 0.0
			for j := 0; j < n; j++ {
				n0, n1 := g.colRange(j, n)
				cost = max(cost, rows*width(n0, n1)+bCost*float64(n1-n0)+aCost*rows+fixed)
			}
			if best < 0 || cost < best*0.999 {
				best, tm, tn = cost, m, n
			}
		}
	}
	return tm, tn
}

// rect computes rows m0..m1-1, columns n0..n1-1 of C on path g.isa, with
// the blocking of its kernel; buf is one of the kernel's buffers.
func (g *gemmArgs) rect(m0, m1, n0, n1 int, buf []float32) {
	ker := g.isa.gemm
	asm := g.isa.asm
	pa := g.pa
	if pa != nil {
		pa = pa.forKernel(ker)
	}
	kcb, mcb, ncb := ker.kc, ker.mc, ker.nc
	abuf := buf[:mcb*kcb]
	bbuf := buf[mcb*kcb : mcb*kcb+ker.bBlockLen()]
	row := buf[mcb*kcb+ker.bBlockLen():]
	for jc := n0; jc < n1; jc += ncb {
		nc := min(ncb, n1-jc)
		bsrc, boff, inPlace := g.inPlace(jc, nc)
		var pbuf []float32 // a panel of B gathered from its rows (gatherB)
		if inPlace && g.gatherB() {
			pbuf = bbuf
		}
		kHi := g.k
		if g.kHi > 0 {
			kHi = g.kHi
		}
		for pc := g.kLo; pc < kHi; pc += kcb {
			kc := min(kcb, g.k-pc)
			if !inPlace {
				g.b.packB(bbuf, row, pc, kc, jc, nc, ker, asm)
			}
			flags := 0
			if pc > g.kLo || g.accumulate {
				flags |= flagLoad
			}
			if pc+kc == g.k && !g.noEpilogue {
				flags |= g.ep.flags()
			}
			for ic := m0; ic < m1; ic += mcb {
				mc := min(mcb, m1-ic)
				ablk, astride := abuf, kc*ker.mr
				if pa != nil {
					off, _ := pa.block(pc)
					ablk = pa.data[off+ic*kc:]
				} else {
					packA(abuf, g.a, g.lda, ic, mc, pc, kc, ker.mr)
				}
				if inPlace {
					g.macroInPlace(ker, ablk, astride, bsrc, boff[pc:pc+kc], ic, mc, jc, nc, kc, flags, pbuf)
				} else {
					g.macro(ker, ablk, astride, bbuf, ic, mc, jc, nc, kc, flags)
				}
			}
		}
	}
}

// macro runs the micro-kernel over an mc×nc block of C from packed blocks;
// A panel q (rows ic+q·mr…) starts at ablk[q·astride]. Column panel by
// column panel, so a B micro-panel stays in L1 while the row panels of A
// sweep under it; on the AVX-512 path, K blocks of at most rowsOuterK row
// panel by row panel instead (see macro512).
func (g *gemmArgs) macro(ker *gemmKernel, ablk []float32, astride int, bbuf []float32, ic, mc, jc, nc, kc, flags int) {
	mr, nr := ker.mr, ker.nr
	ps := ker.panelStride(kc)
	// Rows of a packed panel for the column kernels, when the last panel is that narrow.
	var colOff []int
	if r := nc % nr; ker.kind == kindAVX512 && gemmColumns && r > 0 && r <= colsKernel {
		colOff = strideOffsets(nr, kc).off
	}
	if ker.kind == kindAVX512 {
		g.macro512(ker, ablk, astride, bbuf, colOff, ic, mc, jc, nc, kc, flags)
		return
	}
	for jr := 0; jr < nc; jr += nr {
		bp := bbuf[jr/nr*ps:][:kc*nr]
		for ir := 0; ir < mc; ir += mr {
			ap := ablk[ir/mr*astride : ir/mr*astride+kc*mr]
			g.packedTile(ker, ap, bp, colOff, kc, ic+ir, jc+jr, min(mr, mc-ir), min(nr, nc-jr), flags)
		}
	}
}

// macro512 is macro on the AVX-512 path. Its full panels go to kernel8x48
// straight from a band of C sliced once a row panel (row order) or once a
// block (column order); the last, narrower panel goes through packedTile.
// Slicing each tile's C, residual and bias and dispatching it on the kernel
// (packedTile) cost about 1% of a ResNet-50 pass: on the 2-core Intel Xeon
// (session 20, in-process alternation of 40 rounds) passes took 0.990–0.994
// of the time on two threads without it, 0.947–0.986 on one.
//
// K blocks of at most rowsOuterK run row panel by row panel. As in place
// (macroInPlaceRows), a shallow K block makes the C and residual tiles a
// large share of a tile's memory traffic, and row panel by row panel each
// tile continues the 8 (16 with a residual) row streams of the last one,
// while the packed B block (kc·nc values: 504 KiB at kc 64) is reread from
// L2, sequentially, panel after panel. Measured on the 2-core Intel Xeon
// (session 20, a busy stretch; in-process alternation, 4 rotating operands,
// 40 rounds): 256×64 by 64×3136 with bias, residual and ReLU 103–107
// GFLOP/s on one thread against 87 column panel by column panel and 80 in
// place (row order), 196–200 against 165 and 152 on two threads; without
// the residual 215 against 196 on two.
func (g *gemmArgs) macro512(ker *gemmKernel, ablk []float32, astride int, bbuf []float32, colOff []int, ic, mc, jc, nc, kc, flags int) {
	mr, nr := ker.mr, ker.nr
	ps := ker.panelStride(kc)
	full := nc / nr * nr // columns in full panels
	if kc <= rowsOuterK {
		flags |= flagNoPrefetch
		for ir := 0; ir < mc; ir += mr {
			ap := ablk[ir/mr*astride:][:kc*mr]
			rows := min(mr, mc-ir)
			band := g.band(ic+ir, rows, jc, full, flags)
			for jr := 0; jr < full; jr += nr {
				c, res, bias := band.at(0, jr)
				kernel8x48(kc, &ap[0], &bbuf[jr/nr*ps:][:kc*nr][0], c, g.ldc, rows, nr, flags, bias, res, g.ep.ldr, fullMask)
			}
			if full < nc {
				g.packedTile(ker, ap, bbuf[full/nr*ps:][:kc*nr], colOff, kc, ic+ir, jc+full, rows, nc-full, flags)
			}
		}
		return
	}
	band := g.band(ic, mc, jc, full, flags)
	for jr := 0; jr < nc; jr += nr {
		bp := bbuf[jr/nr*ps:][:kc*nr]
		for ir := 0; ir < mc; ir += mr {
			ap := ablk[ir/mr*astride:][:kc*mr]
			rows := min(mr, mc-ir)
			if jr < full {
				c, res, bias := band.at(ir, jr)
				kernel8x48(kc, &ap[0], &bp[0], c, g.ldc, rows, nr, flags, bias, res, g.ep.ldr, fullMask)
				continue
			}
			if col32(nc-jr, mc-ir) {
				g.edgeCol32(ablk[ir/mr*astride:], astride, &bp[0], colOff, kc, ic+ir, jc+jr, min(4*mr, mc-ir), flags)
				ir += 3 * mr
				continue
			}
			g.packedTile(ker, ap, bp, colOff, kc, ic+ir, jc+jr, rows, nc-jr, flags)
		}
	}
}

// fullMask is the column mask of a full 8×48 tile.
const fullMask = 1<<48 - 1

// cBand is the part of C that rows i…i+rows-1 and columns j…j+cols-1 span,
// with the same part of the residual and the rows' bias where the epilogue
// adds them: sliced once, bounds checked once, so that the tiles inside can
// be handed to the assembly kernels by pointer.
type cBand struct {
	c, res, bias []float32
	ldc, ldr     int
}

// band returns C's band at row i, column j (none if cols is 0).
func (g *gemmArgs) band(i, rows, j, cols, flags int) cBand {
	if cols == 0 {
		return cBand{}
	}
	b := cBand{c: g.c[i*g.ldc+j : (i+rows-1)*g.ldc+j+cols], ldc: g.ldc, ldr: g.ep.ldr}
	if flags&flagBias != 0 {
		b.bias = g.ep.bias[i : i+rows]
	}
	if flags&flagResidual != 0 {
		b.res = g.ep.res[i*g.ep.ldr+j : (i+rows-1)*g.ep.ldr+j+cols]
	}
	return b
}

// at returns the tile of the band at row r, column col: its C, residual and
// bias (nil where the band has none). A tile that starts in the band and is
// no wider than the columns left of it ends in it: the band's slices end at
// its last row's last column.
func (b *cBand) at(r, col int) (c, res, bias *float32) {
	c = &b.c[r*b.ldc+col]
	if b.res != nil {
		res = &b.res[r*b.ldr+col]
	}
	if b.bias != nil {
		bias = &b.bias[r]
	}
	return c, res, bias
}

// packedTile computes the rows×cols tile of C at row i, column j from the
// packed panels ap and bp: the column kernels for the last ≤ colsKernel
// columns where colOff is set, a local tile where the kernel cannot mask
// its columns, else the path's micro-kernel, epilogue included.
func (g *gemmArgs) packedTile(ker *gemmKernel, ap, bp []float32, colOff []int, kc, i, j, rows, cols, flags int) {
	if cols < ker.nr && ker.kind != kindAVX512 {
		g.edge(ker, ap, bp, kc, i, j, rows, cols, flags)
		return
	}
	if cols <= colsKernel && colOff != nil {
		g.edgeCols(ap, &bp[0], colOff, kc, i, j, rows, cols, flags)
		return
	}
	c, bias, res := g.tile(i, j, rows, cols, flags)
	switch ker.kind {
	case kindAVX512:
		ker.tile512(kc, ap, bp, c, g.ldc, rows, cols, flags, bias, res, g.ep.ldr)
	case kindAVX2:
		kernel6x16(kc, &ap[0], &bp[0], &c[0], g.ldc, rows, flags, first(bias), first(res), g.ep.ldr)
	case kindNEON:
		kernel8x12(kc, &ap[0], &bp[0], &c[0], g.ldc, rows, flags, first(bias), first(res), g.ep.ldr)
	default:
		kernelGoBlocked(kc, ap, bp, c, g.ldc, rows, flags, bias, res, g.ep.ldr)
	}
}

// tile returns the rows×cols tile of C at row i, column j, and the bias and
// residual pieces the epilogue flags ask for (nil otherwise).
func (g *gemmArgs) tile(i, j, rows, cols, flags int) (c, bias, res []float32) {
	c = g.c[i*g.ldc+j : (i+rows-1)*g.ldc+j+cols]
	if flags&flagBias != 0 {
		bias = g.ep.bias[i : i+rows]
	}
	if flags&flagResidual != 0 {
		res = g.ep.res[i*g.ep.ldr+j : (i+rows-1)*g.ep.ldr+j+cols]
	}
	return c, bias, res
}

// edge handles a tile of the 6×16 and 8×12 kernels cut by the right border
// of C (the micro-kernel itself handles missing rows): the micro-kernel, or a
// narrower one that computes the columns needed, writes the product to a
// local tile, then only the rows×cols part is merged.
func (g *gemmArgs) edge(ker *gemmKernel, ap, bp []float32, kc, i, j, rows, cols, flags int) {
	var t [edgeTile]float32
	nr := ker.nr
	switch {
	case ker.kind == kindAVX2 && cols <= nr/2:
		kernel6x8(kc, &ap[0], &bp[0], &t[0], nr) // half the work of a full tile
	case ker.kind == kindAVX2:
		kernel6x16(kc, &ap[0], &bp[0], &t[0], nr, mr, 0, nil, nil, 0)
	case ker.kind == kindNEON && cols <= 4:
		kernel8x4(kc, &ap[0], &bp[0], &t[0], nr)
	case ker.kind == kindNEON && cols <= 8:
		kernel8x8(kc, &ap[0], &bp[0], &t[0], nr)
	case ker.kind == kindNEON:
		kernel8x12(kc, &ap[0], &bp[0], &t[0], nr, ker.mr, 0, nil, nil, 0)
	default:
		kernelGoBlocked(kc, ap, bp, t[:], nr, mr, 0, nil, nil, 0)
	}
	for r := 0; r < rows; r++ {
		tr := t[r*nr : r*nr+cols]
		cr := g.c[(i+r)*g.ldc+j : (i+r)*g.ldc+j+cols]
		g.finish(tr, cr, i+r, j, flags)
	}
}

// edgeTile is the size of the 6×16 and 8×12 tiles (a compile error if the
// 8×12 one outgrows it).
const edgeTile = mr * nr

const _ = uint(edgeTile - 8*12)

// finish applies flags to one row piece t of a tile (row i of C, starting at
// column j) in the order of the micro-kernel and stores it to c.
func (g *gemmArgs) finish(t, c []float32, i, j, flags int) {
	if flags&flagLoad != 0 {
		for x := range t {
			t[x] += c[x]
		}
	}
	if flags&flagBias != 0 {
		b := g.ep.bias[i]
		for x := range t {
			t[x] += b
		}
	}
	if flags&flagResidual != 0 {
		res := g.ep.res[i*g.ep.ldr+j : i*g.ep.ldr+j+len(t)]
		for x := range t {
			t[x] += res[x]
		}
	}
	if flags&flagReLU != 0 {
		for x := range t {
			if t[x] < 0 {
				t[x] = 0
			}
		}
	}
	copy(c, t)
}

// emptyK handles k == 0: A·B is the zero matrix, only C and the epilogue remain.
func (g *gemmArgs) emptyK() {
	flags := g.ep.flags()
	if g.accumulate {
		flags |= flagLoad
	}
	t := make([]float32, g.n)
	for i := 0; i < g.m; i++ {
		clear(t)
		g.finish(t, g.c[i*g.ldc:i*g.ldc+g.n], i, 0, flags)
	}
}

// first returns a pointer to s[0], or nil for an empty s.
func first(s []float32) *float32 {
	if len(s) == 0 {
		return nil
	}
	return unsafe.SliceData(s)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
