package kernels

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// B in place. The AVX-512 path's GEMM reads B where its rows already lie in
// memory — the activations of a 1×1 convolution, the phase planes of a
// strided one, Winograd's V matrices — with kernel8x48ip, instead of copying
// every value of B into packed panels first. Packing cost 5.5% of a
// ResNet-50 pass on one Zen 4 core (copyPanels48 in a CPU profile) and more
// on two, where both tasks of a split by rows pack the same B. On one Zen 4
// core (BenchmarkGemmInPlace) a 64×256 by 256×3136 product ran at 84–88
// GFLOP/s packed and 107 in place, 256×256 by 256×3136 at 91–92 and 97.
// The packed panel bought little locality: a kc×48 panel of kc = 256 (48
// KiB) outgrows a 32 KiB L1, so both ways B comes from L2 while the row
// panels of A sweep under it.

// gemmInPlace enables the in-place B path; tests and benchmarks switch it
// off to compare with packing.
var gemmInPlace = true

// offTable is the row offsets of a B whose rows are ld apart.
type offTable struct {
	off []int
	max int
}

var (
	strideTables sync.Map // [2]int{ld, k} → *offTable
	strideCount  atomic.Int64
)

// maxStrideTables bounds the cache of row-offset tables: a model has a
// dozen or so (row stride, rows) pairs per input size (ResNet-50: 11 at 224×224);
// a caller feeding ever new sizes gets fresh tables past the bound instead
// of a growing cache, which holds at most 256 × 2048 ints (4 MiB).
const maxStrideTables = 256

// strideOffsets returns the offsets k·ld of rows 0…k-1.
func strideOffsets(ld, k int) *offTable {
	key := [2]int{ld, k}
	if t, ok := strideTables.Load(key); ok {
		return t.(*offTable)
	}
	t := &offTable{off: make([]int, k), max: (k - 1) * ld}
	for i := range t.off {
		t.off[i] = i * ld
	}
	if strideCount.Load() < maxStrideTables {
		if prev, loaded := strideTables.LoadOrStore(key, t); loaded {
			return prev.(*offTable)
		}
		strideCount.Add(1)
	}
	return t
}

// packNarrow reports whether B is better packed, though it lies in memory:
// a narrow B (a 14×14 or 7×7 map at batch 1: 196 or 49 columns) under 1024
// rows of A or more, whose packed panels are read by 128 row panels of A or
// more, which amortise the copy, while in place its rows (196 or 49 values
// apart) straddle one cache line more each. Measured on Zen 4: 1024×256 by
// 256×196 ran at 101 GFLOP/s packed and 99 in place, ResNet-50's 512→2048
// layer at 7×7 2–4% slower in place, while the other layers ran as fast or
// up to 13% faster in place (interleaved medians of every layer kind, one
// and two threads). Where the L1 holds a whole packed panel (kc×48, 48
// KiB), most convolutions' B is packed: see packConv.
func (g *gemmArgs) packNarrow() bool { return g.m >= 1024 && g.n <= 256 }

// packConv reports whether a convolution's B, with cols columns an image,
// is better packed on a CPU whose L1 holds a packed kc×48 panel (48 KiB:
// Intel since Golden Cove, AMD Zen 5): there the packed panel stays in L1
// while the row panels of A sweep under it, where rows read in place (kc
// streams a map row apart) come back from L2. Packed: B under at least 128
// rows of A (16 row panels to amortise the copy), and B under 64 rows where
// it is wide (more than 256 columns: ImageNet ResNets' 56×56 layers). In
// ImageNet ResNets that is every layer but the stem (convRows) and
// Winograd's; no CIFAR layer (16–64 rows; 64 only at 8×8).
//
// Measured on the 2-core Intel Xeon (48 KiB L1d), session 19, medians of
// 30–40 in-process alternations with 4 rotating operands: 512×1024 by
// 1024×196 149 GFLOP/s packed against 138 in place on one thread, 204
// against 178 on two; 512×2048 by 2048×49 97 against 89; 512×128 by
// 128×784 (bias, residual, ReLU) 139–142 against 128–129 on one thread, 232
// against 213 on two. In ResNet-50 passes (ABBA, per-layer medians of 10
// rounds): 1024→512 at 14×14 −0.11…−0.17 ms in four runs, the 3×3/2 layers
// into 14×14 and 7×7 −0.04…−0.23, 128→512 at 28×28 −0.26…−0.43 ms, the
// 3×3/2 layer into 28×28 −0.08…−0.34, 1×1/2 256→512 −0.09…−0.31. Rows
// padded to whole cache lines ran as slowly in place as unpadded ones: it
// is where the panel lives, not line splits.
// Session 20 (same Xeon, a busy stretch) added the wide K = 64 layers and
// the 64-row ones at 56×56, packed with K = 64 row panel by row panel
// (macro512): 256×64 by 64×3136 with bias, residual and ReLU 103–107
// GFLOP/s against 80 in place on one thread, 196–200 against 152 on two;
// 64×256 by 256×3136 86 against 72 and 174 against 143; in ResNet-50
// passes (in-process alternation, 40 rounds) 64→256 −0.50…−0.71 ms, 256→64
// −0.12…−0.18, 256→128 −0.09…−0.11 on two threads, whole passes 0.975,
// 0.985 (two threads) and 0.976 (one); ResNet-18 0.99.
// Winograd's plane GEMMs (dense B) stay in place: their 16-column planes at
// 14×14, packed, cost 0.47 ms a pass. CIFAR's layers stay in place:
// touching the B blocks of the pooled buffers for their 16×16 and 8×8 maps
// took a 30 s serving soak's RSS from 50 to 57 MiB over the run (the soak
// allows 10% growth). The Zen 5 VM (also 48 KiB) has not measured this rule.
// Of these, B under at most 128 rows with K over 64 is gathered panel by
// panel instead of packed by blocks (gatherB).
func (g *gemmArgs) packConv(cols int) bool {
	return g.isa.gemm.l1Panel && g.m >= 64 && (g.m >= 128 || cols > 256)
}

// gatherB reports whether a convolution's B that packConv would pack is
// read in place instead with each full panel gathered into one contiguous
// kc×48 copy just before the row panels of A sweep it (gatherPanel48,
// macroInPlace): under at most 128 rows of A with K over rowsOuterK
// (ResNet-50's 256→64 and 256→128 layers at 56×56, 512→128 at 28×28, the
// 3×3/2 layer 128→128). With so few row panels the packed B block serves
// one sweep only, yet at nc = 2016 and kc = 256 it is 2 MiB, a 2 MiB L2's
// worth: packed whole, it is written out and read back from L3 or memory,
// where the one-panel copy (48 KiB) is read back from L1 and L2 and its
// rows arrive early (the next panel is prefetched while this one is
// multiplied, as in place). Same kernel sums, same bits. Measured on the
// 2-core Intel Xeon (session 22; ResNet-50 passes alternating the two ways,
// medians of 40 paired per-layer differences): 256→64 at 56×56 −0.25 ms a
// pass on one thread (1.95 → 1.71) and −0.20 on two (1.37 → 1.17); 256→128
// at 56×56 −0.24 and −0.23 on one thread, −0.18 on two; 512→128 at 28×28
// −0.02…−0.04 and −0.13; every other layer within ±0.08 (noise). Up to 256
// rows (512→256 and 1024→256, the 3×3/2 layer 256→256) nothing beyond
// noise, so they stay packed. Packing in groups of 4 panels (192 columns)
// gained as much on 256→64 but lost elsewhere; groups of 1 and 2 through
// the packing code were slower (+0.7, +0.19: a call per row); prefetching
// two panels ahead instead of one +0.04.
func (g *gemmArgs) gatherB() bool {
	s, ok := g.b.(*imagesB)
	return ok && g.isa.gemm.nr == 48 && g.m <= 128 && g.k > rowsOuterK && g.packConv(s.cols)
}

// inPlace returns B's columns jc…jc+nc-1 in place: row p is
// src[off[p] : off[p]+nc]. ok is false where B must be packed: no in-place
// kernel on this path, a B that is not in memory, or a block spanning
// images.
func (g *gemmArgs) inPlace(jc, nc int) (src []float32, off []int, ok bool) {
	if !gemmInPlace || !g.isa.gemm.inPlace || !g.isa.asm || g.packNarrow() {
		return nil, nil, false
	}
	var t *offTable
	switch s := g.b.(type) {
	case denseB:
		src, t = s.b[jc:], strideOffsets(s.ldb, g.k)
	case *imagesB:
		img, c0 := jc/s.cols, jc%s.cols
		if c0+nc > s.cols {
			return nil, nil, false
		}
		if g.packConv(s.cols) && !g.gatherB() {
			return nil, nil, false
		}
		src = s.src[img*s.imgStride+c0:]
		if s.off != nil {
			t = s.off
		} else {
			t = strideOffsets(s.rowStride, g.k)
		}
	default:
		return nil, nil, false
	}
	if len(t.off) < g.k || t.max+nc > len(src) {
		return nil, nil, false // not expected: the caller's sizes were checked
	}
	return src, t.off, true
}

// macroInPlace is macro for the in-place kernel: src holds B's columns from
// jc on, row p of the block at src[off[p]:]. With a panel buffer pbuf (kc·nr
// values; gatherB), each full panel is first gathered into it and multiplied
// by the packed kernel.
func (g *gemmArgs) macroInPlace(ker *gemmKernel, ablk []float32, astride int, src []float32, off []int, ic, mc, jc, nc, kc, flags int, pbuf []float32) {
	_ = off[kc-1]
	if kc <= rowsOuterK && flags&flagResidual != 0 {
		g.macroInPlaceRows(ablk, astride, src, off, ic, mc, jc, nc, kc, flags)
		return
	}
	mr, nr := ker.mr, ker.nr
	nq := ceilDiv(mc, mr) // row-panel calls a B panel
	full := nc / nr * nr  // columns in full panels: kernel8x48ip straight from band
	band := g.band(ic, mc, jc, full, flags)
	if pbuf != nil {
		pbuf = pbuf[:kc*nr]
	}
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		b := unsafe.SliceData(src[jr:])
		gathered := pbuf != nil && jr < full
		if gathered {
			gatherPanel48(kc, b, &off[0], &pbuf[0])
		}
		// The next panel's rows, a share before each of this panel's
		// row-panel calls (see panelPrefetch).
		var next *float32
		if panelPrefetch && !g.noPrefetch && jr+nr < nc {
			next = unsafe.SliceData(src[jr+nr:])
		}
		for ir := 0; ir < mc; ir += mr {
			if next != nil {
				q := ir / mr
				if p0, p1 := q*kc/nq, (q+1)*kc/nq; p1 > p0 {
					prefetchPanel(p1-p0, next, &off[p0])
				}
			}
			ap := ablk[ir/mr*astride:][:kc*mr]
			if gathered {
				c, res, bias := band.at(ir, jr)
				kernel8x48(kc, &ap[0], &pbuf[0], c, g.ldc, min(mr, mc-ir), nr, flags, bias, res, g.ep.ldr, fullMask)
				continue
			}
			if jr < full {
				c, res, bias := band.at(ir, jr)
				kernel8x48ip(kc, &ap[0], b, &off[0], c, g.ldc, min(mr, mc-ir), nr, flags, bias, res, g.ep.ldr, fullMask)
				continue
			}
			if col32(cols, mc-ir) {
				g.edgeCol32(ablk[ir/mr*astride:], astride, b, off, kc, ic+ir, jc+jr, min(4*mr, mc-ir), flags)
				ir += 3 * mr
				continue
			}
			g.tileInPlace(ap, b, off, kc, ic+ir, jc+jr, min(mr, mc-ir), cols, flags)
		}
	}
}

// tileInPlace computes the rows×cols tile of C at row i, column j from the
// A panel ap and B's rows at b + off[p], epilogue included: the column
// kernels for the last ≤ colsKernel columns, else kernel8x48ip.
func (g *gemmArgs) tileInPlace(ap []float32, b *float32, off []int, kc, i, j, rows, cols, flags int) {
	if cols <= colsKernel && gemmColumns {
		g.edgeCols(ap, b, off, kc, i, j, rows, cols, flags)
		return
	}
	c, bias, res := g.tile(i, j, rows, cols, flags)
	kernel8x48ip(kc, &ap[0], b, &off[0], &c[0], g.ldc, rows, cols, flags, first(bias), first(res), g.ep.ldr, uint64(1)<<cols-1)
}

// rowsOuterK is the deepest K block whose in-place GEMM runs row panel by
// row panel (macroInPlaceRows) instead of column panel by column panel, when
// its epilogue adds a residual; packed, on the AVX-512 path, whatever the
// epilogue (macro512).
// With a shallow K the micro-kernel's epilogue is a large share of its
// memory traffic: at kc = 64 an 8×48 tile reads 1.5 KiB of residual and
// writes 1.5 KiB of C for 12 KiB of B and 2 KiB of A, and C and the residual
// (3.2 MB each in ResNet-50's 64→256 layers at 56×56) are cold. Column panel
// by column panel, consecutive tiles lie 8 rows apart, so every tile's C and
// residual lines are fresh misses that no prefetcher foresaw; row panel by
// row panel, a tile continues the 16 row streams of the last one, which the
// L2 streamer follows, while the B block (kc·nc values, 504 KiB) is reread
// from L2 and the A panel (2 KiB) stays in L1. Measured on the 2-core Intel
// Xeon (Sapphire Rapids class, 2 MiB L2), session 19: 256×64 by 64×3136
// with bias, residual and ReLU, 4 rotating operands, 12–17% faster on one
// thread and 8–12% on two (in-process alternation); in ResNet-50 passes the
// 64→256 layers took 0.23–0.34 ms less on two threads and 1.2 ms less on one
// (ABBA, per-layer medians of 8–12 rounds); without a residual the two
// orders ran alike; with kc = 128 (512×128 by 128×784) 3–4% faster alone but
// +0.06 ms in passes, so the bound stays at 64; Winograd's 64-channel plane
// GEMMs (no epilogue, C in L2) ran 0.18 ms slower a ResNet-18 pass row panel
// by row panel, so the order is kept for GEMMs that add a residual. A
// variable so tests can run both orders.
var rowsOuterK = 64

// macroInPlaceRows is macroInPlace with the row panels of A outside: each
// row panel sweeps all nc columns, so C is written in mr long row streams.
// The tiles and their products are those of macroInPlace; only their order
// differs, so the results are bit-identical. The kernel is told not to
// prefetch its C and residual tiles (flagNoPrefetch): in this order they
// continue the streams the hardware already follows, and the 64 prefetches
// a tile cost the 256×64 by 64×3136 GEMM 5–7% on the Intel Xeon (one thread
// and two, three runs of 60 in-process alternations; in ResNet-50 passes
// the 64→256 layers −0.23 ms a pass on one thread, unchanged on two).
func (g *gemmArgs) macroInPlaceRows(ablk []float32, astride int, src []float32, off []int, ic, mc, jc, nc, kc, flags int) {
	mr, nr := g.isa.gemm.mr, g.isa.gemm.nr
	full := nc / nr * nr // columns in full panels
	flags |= flagNoPrefetch
	for ir := 0; ir < mc; ir += mr {
		ap := ablk[ir/mr*astride:][:kc*mr]
		rows := min(mr, mc-ir)
		band := g.band(ic+ir, rows, jc, full, flags)
		for jr := 0; jr < nc; jr += nr {
			// The first row panel reads B from memory: prefetch the next panel.
			if ir == 0 && panelPrefetch && !g.noPrefetch && jr+nr < nc {
				prefetchPanel(kc, unsafe.SliceData(src[jr+nr:]), &off[0])
			}
			b := unsafe.SliceData(src[jr:])
			if jr < full {
				c, res, bias := band.at(0, jr)
				kernel8x48ip(kc, &ap[0], b, &off[0], c, g.ldc, rows, nr, flags, bias, res, g.ep.ldr, fullMask)
				continue
			}
			g.tileInPlace(ap, b, off, kc, ic+ir, jc+jr, rows, nc-jr, flags)
		}
	}
}

// panelPrefetch makes macroInPlace prefetch the next B micro-panel into L2
// while the row panels of A run over the current one. In place, a panel's
// kc rows lie a row of the map apart (12.5 KiB at 56×56), too many streams
// for the hardware prefetchers, so the first row panel to touch a cold
// panel waited on up to kc·4 line misses; in a pass the activations have
// usually left L2 by then. Measured on the 2-vCPU Zen 5 VM in a busy phase
// (alternating runs, 10–16 rounds): the 1×1 layers whose B is large gained
// in every comparison (a pass: 128→512 at 28×28 −0.16…−0.30 ms, 256→64 at
// 56×56 −0.13…−0.16, 512→128 at 28×28 −0.10…−0.13); whole ResNet-50
// passes 0.969–1.005 of the time on two threads (0.972 on one), ResNet-18
// 0.996–1.014 (noise). Prefetching into L1 (PREFETCHT0) measured alike
// (0.988 / 0.961); prefetching the next C and residual tiles too lost 2.6%.
// Benchmarks and tests switch it off to compare.
var panelPrefetch = true

// colsKernel is the widest edge panel of the AVX-512 path computed by the
// column kernels kernel8x<c>ip instead of kernel8x48: ResNet's maps leave 1
// column past the panels of 48 at 7×7 (49), 4 at 14×14 (196), 16 or none
// at the larger ones; 8×48 spends a whole 8-column half (8 FMAs a step) on
// them, the column kernel one FMA per column. A 1×1 layer at 7×7 then costs
// 49 columns of work instead of 56: ResNet-50's 2048→512 layers at 7×7 ran
// 13% faster, 512→2048 5%, on one Zen 4 core and on two (interleaved
// medians); the 14×14 layers, with 4 columns left, as fast as before.
const colsKernel = 4

// gemmColumns enables the column kernels; benchmarks switch it off to
// compare.
var gemmColumns = true

// edgeCol32 computes rows i…i+rows-1 (24 < rows ≤ 32), column j of C, the
// last column of a GEMM, with kernel32x1ip: four row panels of A, panel q
// at ablk[q·astride], B's row p at b + off[p], epilogue included; the same
// results as four edgeCols calls. On the 2-core Intel Xeon (session 20,
// in-process alternation): ResNet-50's 1×1 layers at 7×7 −0.15…−0.25 ms a
// one-thread pass, whole passes' 10th percentiles −1% on one thread and two.
func (g *gemmArgs) edgeCol32(ablk []float32, astride int, b *float32, off []int, kc, i, j, rows, flags int) {
	_, _ = ablk[3*astride+kc*8-1], off[kc-1]
	c, bias, res := g.tile(i, j, rows, 1, flags)
	kernel32x1ip(kc, &ablk[0], astride, b, &off[0], &c[0], g.ldc, rows, flags, first(bias), first(res), g.ep.ldr)
}

// col32 reports whether the last panel, cols wide, is served by edgeCol32
// for the rows rows left of the block: a single column, four row panels.
func col32(cols, rows int) bool { return cols == 1 && gemmColumns && rows > 24 }

// edgeCols computes rows i…i+rows-1, columns j…j+cols-1 (cols ≤ colsKernel)
// of C with a column kernel, B's row p at b + off[p], epilogue included.
func (g *gemmArgs) edgeCols(ap []float32, b *float32, off []int, kc, i, j, rows, cols, flags int) {
	_, _ = ap[kc*8-1], off[kc-1]
	c, bias, res := g.tile(i, j, rows, cols, flags)
	cp, bp, rp := &c[0], first(bias), first(res)
	switch cols {
	case 1:
		kernel8x1ip(kc, &ap[0], b, &off[0], cp, g.ldc, rows, flags, bp, rp, g.ep.ldr)
	case 2:
		kernel8x2ip(kc, &ap[0], b, &off[0], cp, g.ldc, rows, flags, bp, rp, g.ep.ldr)
	case 3:
		kernel8x3ip(kc, &ap[0], b, &off[0], cp, g.ldc, rows, flags, bp, rp, g.ep.ldr)
	default:
		kernel8x4ip(kc, &ap[0], b, &off[0], cp, g.ldc, rows, flags, bp, rp, g.ep.ldr)
	}
}
