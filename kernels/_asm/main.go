// Command asm generates the AVX2+FMA assembly of package kernels with avo.
//
// Run it through `go generate ./kernels` from the repository root; it writes
// kernels/kernels_amd64.s and the Go declarations kernels/kernels_stub_amd64.go.
// The micro-kernel computes one MR×NR tile of C from a packed A micro-panel
// (k steps of MR values) and a packed B micro-panel (k steps of NR values);
// the Go function kernelGo in kernels/kernel_go.go is its specification.
package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Tile shape; must match mr and nr in kernels/kernel_go.go.
const (
	mr = 6
	nr = 16
)

// Epilogue flag bits; must match flagLoad… in kernels/kernel_go.go.
const (
	flagLoad     = 1 // add the existing C tile (accumulate)
	flagBias     = 2 // add bias[r] to row r
	flagResidual = 4 // add the residual tile
	flagReLU     = 8 // clamp negatives to zero, last
	// flagNoPrefetch: the 8×48 kernels skip prefetching their C and residual
	// tiles (the caller's tile order streams them).
	flagNoPrefetch = 16
)

func main() {
	ConstraintExpr("!noasm")
	microKernel()
	narrowKernel()
	gemv4()
	copyPanels()
	gatherEvenRowsAsm()
	tb := winoData()
	winoInput4(tb)
	winoInput2(tb)
	winoOutput4(tb)
	winoOutput2(tb)
	winoLanes(tb)
	winoDW(tb)
	maxPool3s2(tb)
	addReLU(tb)
	epilogueRow(tb)
	microKernel512(8, 3, false) // see gemmAVX512 in kernels/gemm_kernel.go for the choice
	microKernel512(8, 3, true)
	for c := 1; c <= 4; c++ {
		colKernel512(c)
	}
	colKernel32x1()
	copyPanels512(3)
	prefetchPanel()
	gatherPanel48()
	winoGemm512()
	for np := 1; np <= 6; np++ {
		convDirect512(np)
	}
	winoVec(tb)
	Generate()
}

// acc returns the accumulator holding row r, half h (columns 8h..8h+7).
func acc(r, h int) VecPhysical {
	return []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11}[2*r+h]
}

func microKernel() {
	TEXT("kernel6x16", NOSPLIT, "func(k int, a, b, c *float32, ldc, rows, flags int, bias, res *float32, ldr int)")
	Pragma("noescape")
	Doc(
		"kernel6x16 computes the 6×16 tile T = Σ_p a[p*6+r]·b[p*16+j] over k steps and",
		"stores c[r*ldc+j] = epilogue(T) for r < rows, the epilogue chosen by flags (see kernelGo).",
	)
	k := Load(Param("k"), GP64())
	ap := Load(Param("a"), GP64())
	bp := Load(Param("b"), GP64())

	// Start bringing the C tile into the cache: the stores of the epilogue
	// would otherwise each wait for a line from memory or L3. Short K loops
	// (under 128 steps) end before the lines could arrive: no prefetch.
	CMPQ(k, U8(128))
	JL(LabelRef("pf_done"))
	{
		prefetchTile("c", "ldc")
		// Likewise the residual tile, read by the epilogue.
		fl := Load(Param("flags"), GP64())
		TESTQ(U32(flagResidual), fl)
		JZ(LabelRef("pf_done"))
		prefetchTile("res", "ldr")
		Label("pf_done")
	}
	for r := 0; r < mr; r++ {
		for h := 0; h < 2; h++ {
			VXORPS(acc(r, h), acc(r, h), acc(r, h))
		}
	}

	// step emits one k step reading A at byte offset aoff and B at boff.
	step := func(aoff, boff int) {
		VMOVUPS(Mem{Base: bp, Disp: boff}, Y12)
		VMOVUPS(Mem{Base: bp, Disp: boff + 32}, Y13)
		for r := 0; r < mr; r++ {
			bc := []VecPhysical{Y14, Y15}[r%2]
			VBROADCASTSS(Mem{Base: ap, Disp: aoff + 4*r}, bc)
			VFMADD231PS(Y12, bc, acc(r, 0))
			VFMADD231PS(Y13, bc, acc(r, 1))
		}
	}

	const unroll = 4
	Comment("Main loop: unrolled by 4 k steps.")
	CMPQ(k, U8(unroll))
	JL(LabelRef("tail"))
	Label("loop4")
	PREFETCHT0(Mem{Base: bp, Disp: 4 * nr * 16})
	PREFETCHT0(Mem{Base: ap, Disp: 3072}) // A streams from L3 or memory when prepacked
	for u := 0; u < unroll; u++ {
		step(4*mr*u, 4*nr*u)
	}
	ADDQ(U32(4*mr*unroll), ap)
	ADDQ(U32(4*nr*unroll), bp)
	SUBQ(U8(unroll), k)
	CMPQ(k, U8(unroll))
	JGE(LabelRef("loop4"))

	Label("tail")
	TESTQ(k, k)
	JZ(LabelRef("epilogue"))
	Label("loop1")
	step(0, 0)
	ADDQ(U32(4*mr), ap)
	ADDQ(U32(4*nr), bp)
	DECQ(k)
	JNZ(LabelRef("loop1"))

	Label("epilogue")
	flags := Load(Param("flags"), GP64())
	cp := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)

	nrows := Load(Param("rows"), GP64())

	// rows emits body(r, row) for the first nrows rows, row = base + r*stride;
	// name labels the exit.
	rows := func(name string, base, stride Register, body func(r int, row Mem)) {
		row, left := GP64(), GP64()
		MOVQ(base, row)
		MOVQ(nrows, left)
		for r := 0; r < mr; r++ {
			body(r, Mem{Base: row})
			if r < mr-1 {
				DECQ(left)
				JZ(LabelRef(name))
				ADDQ(stride, row)
			}
		}
		Label(name)
	}

	Comment("Accumulate: T += C.")
	TESTQ(U32(flagLoad), flags)
	JZ(LabelRef("bias"))
	rows("load_done", cp, ldc, func(r int, row Mem) {
		VADDPS(row, acc(r, 0), acc(r, 0))
		VADDPS(row.Offset(32), acc(r, 1), acc(r, 1))
	})

	Label("bias")
	Comment("Bias: T[r] += bias[r].")
	TESTQ(U32(flagBias), flags)
	JZ(LabelRef("residual"))
	bias := Load(Param("bias"), GP64())
	four := GP64()
	MOVQ(U32(4), four)
	rows("bias_done", bias, four, func(r int, row Mem) {
		VBROADCASTSS(row, Y12)
		VADDPS(Y12, acc(r, 0), acc(r, 0))
		VADDPS(Y12, acc(r, 1), acc(r, 1))
	})

	Label("residual")
	Comment("Residual: T += res.")
	TESTQ(U32(flagResidual), flags)
	JZ(LabelRef("relu"))
	res := Load(Param("res"), GP64())
	ldr := Load(Param("ldr"), GP64())
	SHLQ(U8(2), ldr)
	rows("res_done", res, ldr, func(r int, row Mem) {
		VADDPS(row, acc(r, 0), acc(r, 0))
		VADDPS(row.Offset(32), acc(r, 1), acc(r, 1))
	})

	Label("relu")
	Comment("ReLU: T = max(0, T); a NaN in T stays NaN, as in kernelGo.")
	TESTQ(U32(flagReLU), flags)
	JZ(LabelRef("store"))
	VXORPS(Y12, Y12, Y12)
	for r := 0; r < mr; r++ {
		for h := 0; h < 2; h++ {
			VMAXPS(acc(r, h), Y12, acc(r, h))
		}
	}

	Label("store")
	rows("store_done", cp, ldc, func(r int, row Mem) {
		VMOVUPS(acc(r, 0), row)
		VMOVUPS(acc(r, 1), row.Offset(32))
	})
	VZEROUPPER()
	RET()
}

// gemv4 emits y[r] = Σ_p a[r*lda+p]·x[p] for r < 4, sharing the loads of x.
func gemv4() {
	TEXT("gemv4", NOSPLIT, "func(k int, a *float32, lda int, x, y *float32)")
	Pragma("noescape")
	Doc("gemv4 computes four dot products y[r] = Σ_p a[r*lda+p]·x[p], p < k, r < 4.")
	k := Load(Param("k"), GP64())
	a0 := Load(Param("a"), GP64())
	lda := Load(Param("lda"), GP64())
	SHLQ(U8(2), lda)
	xp := Load(Param("x"), GP64())
	a1, a2, a3 := GP64(), GP64(), GP64()
	LEAQ(Mem{Base: a0, Index: lda, Scale: 1}, a1)
	LEAQ(Mem{Base: a1, Index: lda, Scale: 1}, a2)
	LEAQ(Mem{Base: a2, Index: lda, Scale: 1}, a3)
	rowp := []Register{a0, a1, a2, a3}

	// Two accumulators per row hide the FMA latency.
	accs := [4][2]VecPhysical{{Y0, Y1}, {Y2, Y3}, {Y4, Y5}, {Y6, Y7}}
	for r := range accs {
		for h := range accs[r] {
			VXORPS(accs[r][h], accs[r][h], accs[r][h])
		}
	}
	i := GP64()
	XORQ(i, i)
	end16 := GP64()
	MOVQ(k, end16)
	ANDQ(I32(-16), end16)

	Label("gv_loop16")
	CMPQ(i, end16)
	JGE(LabelRef("gv_tail8"))
	VMOVUPS(Mem{Base: xp, Index: i, Scale: 4}, Y8)
	VMOVUPS(Mem{Base: xp, Index: i, Scale: 4, Disp: 32}, Y9)
	for r := 0; r < 4; r++ {
		VFMADD231PS(Mem{Base: rowp[r], Index: i, Scale: 4}, Y8, accs[r][0])
		VFMADD231PS(Mem{Base: rowp[r], Index: i, Scale: 4, Disp: 32}, Y9, accs[r][1])
	}
	ADDQ(U32(16), i)
	JMP(LabelRef("gv_loop16"))

	Label("gv_tail8")
	// Fold the second accumulators into the first.
	for r := 0; r < 4; r++ {
		VADDPS(accs[r][1], accs[r][0], accs[r][0])
	}
	end8 := GP64()
	MOVQ(k, end8)
	ANDQ(I32(-8), end8)
	CMPQ(i, end8)
	JGE(LabelRef("gv_reduce"))
	VMOVUPS(Mem{Base: xp, Index: i, Scale: 4}, Y8)
	for r := 0; r < 4; r++ {
		VFMADD231PS(Mem{Base: rowp[r], Index: i, Scale: 4}, Y8, accs[r][0])
	}
	ADDQ(U32(8), i)

	Label("gv_reduce")
	// Horizontal sums: Y0,Y2,Y4,Y6 -> X0 lanes 0..3 = the four results.
	for r := 0; r < 4; r++ {
		hi := []VecPhysical{X8, X9, X10, X11}[r]
		VEXTRACTF128(U8(1), accs[r][0], hi)
		VADDPS(hi, accs[r][0].AsX(), accs[r][0].AsX())
	}
	VHADDPS(X2, X0, X0) // X0 = {r0 p01, r0 p23, r1 p01, r1 p23}
	VHADDPS(X6, X4, X4) // X4 = {r2…, r3…}
	VHADDPS(X4, X0, X0) // X0 = {r0, r1, r2, r3}

	Comment("Scalar tail, at most 7 steps.")
	Label("gv_tail1")
	CMPQ(i, k)
	JGE(LabelRef("gv_done"))
	VMOVSS(Mem{Base: xp, Index: i, Scale: 4}, X8)
	for r := 0; r < 4; r++ {
		t := []VecPhysical{X12, X13, X14, X15}[r]
		VMOVSS(Mem{Base: rowp[r], Index: i, Scale: 4}, t)
		VMULSS(X8, t, t)
	}
	// Pack the four products into one vector and add.
	VINSERTPS(U8(0x10), X13, X12, X12)
	VINSERTPS(U8(0x20), X14, X12, X12)
	VINSERTPS(U8(0x30), X15, X12, X12)
	VADDPS(X12, X0, X0)
	INCQ(i)
	JMP(LabelRef("gv_tail1"))

	Label("gv_done")
	yp := Load(Param("y"), GP64())
	VMOVUPS(X0, Mem{Base: yp})
	VZEROUPPER()
	RET()
}

// copyPanels emits the inner loop of B packing: n pieces of nr contiguous
// source values, piece i going to dst + i*stride.
func copyPanels() {
	TEXT("copyPanels16", NOSPLIT, "func(n int, src, dst *float32, stride int)")
	Pragma("noescape")
	Doc("copyPanels16 copies src[16i:16i+16] to dst[i*stride:i*stride+16] for i < n.")
	n := Load(Param("n"), GP64())
	src := Load(Param("src"), GP64())
	dst := Load(Param("dst"), GP64())
	stride := Load(Param("stride"), GP64())
	SHLQ(U8(2), stride)
	TESTQ(n, n)
	JZ(LabelRef("cp_done"))
	Label("cp_loop")
	VMOVUPS(Mem{Base: src}, Y0)
	VMOVUPS(Mem{Base: src, Disp: 32}, Y1)
	VMOVUPS(Y0, Mem{Base: dst})
	VMOVUPS(Y1, Mem{Base: dst, Disp: 32})
	ADDQ(U32(64), src)
	ADDQ(stride, dst)
	DECQ(n)
	JNZ(LabelRef("cp_loop"))
	Label("cp_done")
	VZEROUPPER()
	RET()
}

// narrowKernel emits kernel6x8, the micro-kernel for a right-edge tile of at
// most 8 columns: the same packed panels, only the first half of each B step
// is read. Even and odd k steps use separate accumulators (12 chains keep
// both FMA pipes busy) that are summed at the end. No epilogue: the caller
// merges the tile.
func narrowKernel() {
	TEXT("kernel6x8", NOSPLIT, "func(k int, a, b, c *float32, ldc int)")
	Pragma("noescape")
	Doc("kernel6x8 stores c[r*ldc+j] = Σ_p a[p*6+r]·b[p*16+j] for r < 6, j < 8.")
	k := Load(Param("k"), GP64())
	ap := Load(Param("a"), GP64())
	bp := Load(Param("b"), GP64())
	for r := 0; r < mr; r++ {
		for h := 0; h < 2; h++ {
			VXORPS(acc(r, h), acc(r, h), acc(r, h))
		}
	}
	// step emits one k step into accumulator set h.
	step := func(aoff, boff, h int) {
		bv := []VecPhysical{Y12, Y13}[h]
		VMOVUPS(Mem{Base: bp, Disp: boff}, bv)
		for r := 0; r < mr; r++ {
			bc := []VecPhysical{Y14, Y15}[r%2]
			VBROADCASTSS(Mem{Base: ap, Disp: aoff + 4*r}, bc)
			VFMADD231PS(bv, bc, acc(r, h))
		}
	}
	const unroll = 4
	CMPQ(k, U8(unroll))
	JL(LabelRef("n8_tail"))
	Label("n8_loop4")
	for u := 0; u < unroll; u++ {
		step(4*mr*u, 4*nr*u, u%2)
	}
	ADDQ(U32(4*mr*unroll), ap)
	ADDQ(U32(4*nr*unroll), bp)
	SUBQ(U8(unroll), k)
	CMPQ(k, U8(unroll))
	JGE(LabelRef("n8_loop4"))
	Label("n8_tail")
	TESTQ(k, k)
	JZ(LabelRef("n8_store"))
	Label("n8_loop1")
	step(0, 0, 0)
	ADDQ(U32(4*mr), ap)
	ADDQ(U32(4*nr), bp)
	DECQ(k)
	JNZ(LabelRef("n8_loop1"))

	Label("n8_store")
	cp := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	for r := 0; r < mr; r++ {
		VADDPS(acc(r, 1), acc(r, 0), acc(r, 0))
		VMOVUPS(acc(r, 0), Mem{Base: cp})
		if r < mr-1 {
			ADDQ(ldc, cp)
		}
	}
	VZEROUPPER()
	RET()
}

// gatherEvenRowsAsm emits gatherEvenRows, the stride-2 im2col gather dst[t] = src[2t] over
// many rows in one call, 8 outputs per step from two loads, a lane-wise shuffle and a
// cross-lane permute: a strided layer's phase plane is rows of an input map's even columns,
// and a call per row of 7 to 56 values (the plane fill of ResNet-50's stride-2 layers made
// ~30,000 of them a pass) cost more than the gather.
func gatherEvenRowsAsm() {
	TEXT("gatherEvenRows", NOSPLIT, "func(rows, n, blocks int, src *float32, ss int, dst *float32, ds int)")
	Pragma("noescape")
	Doc(
		"gatherEvenRows sets dst[r*ds+t] = src[r*ss+2t] for r < rows, t < n; the first 8·blocks",
		"values of a row come from vector blocks that read src[r*ss : r*ss+16·blocks], the rest one by one.",
	)
	rows := Load(Param("rows"), GP64())
	n := Load(Param("n"), GP64())
	blocks := Load(Param("blocks"), GP64())
	src := Load(Param("src"), GP64())
	ss := Load(Param("ss"), GP64())
	SHLQ(U8(2), ss)
	dst := Load(Param("dst"), GP64())
	ds := Load(Param("ds"), GP64())
	SHLQ(U8(2), ds)
	s, d, b, t := GP64(), GP64(), GP64(), GP64()
	TESTQ(rows, rows)
	JZ(LabelRef("ger_done"))
	Label("ger_row")
	MOVQ(src, s)
	MOVQ(dst, d)
	MOVQ(blocks, b)
	TESTQ(b, b)
	JZ(LabelRef("ger_tail"))
	Label("ger_block")
	VMOVUPS(Mem{Base: s}, Y0)
	VMOVUPS(Mem{Base: s, Disp: 32}, Y1)
	// Per 128-bit lane: {Y0[0], Y0[2], Y1[0], Y1[2]} | {Y0[4], Y0[6], Y1[4], Y1[6]}.
	VSHUFPS(U8(0x88), Y1, Y0, Y2)
	// Reorder the 64-bit pairs 0,2,1,3.
	VPERMPD(U8(0xD8), Y2, Y2)
	VMOVUPS(Y2, Mem{Base: d})
	ADDQ(U32(64), s)
	ADDQ(U32(32), d)
	DECQ(b)
	JNZ(LabelRef("ger_block"))
	Label("ger_tail")
	// The rest of the row, t = 8·blocks … n-1.
	MOVQ(blocks, t)
	SHLQ(U8(3), t)
	CMPQ(t, n)
	JGE(LabelRef("ger_next"))
	Label("ger_one")
	VMOVSS(Mem{Base: s}, X0)
	VMOVSS(X0, Mem{Base: d})
	ADDQ(U32(8), s)
	ADDQ(U32(4), d)
	INCQ(t)
	CMPQ(t, n)
	JL(LabelRef("ger_one"))
	Label("ger_next")
	ADDQ(ss, src)
	ADDQ(ds, dst)
	DECQ(rows)
	JNZ(LabelRef("ger_row"))
	Label("ger_done")
	VZEROUPPER()
	RET()
}

// prefetchTile prefetches the mr rows of 16 floats of the tile at argument base, whose rows
// are argument ld floats apart: both cache lines of each row (it may straddle two).
func prefetchTile(base, ld string) {
	p := Load(Param(base), GP64())
	stride := Load(Param(ld), GP64())
	SHLQ(U8(2), stride)
	for r := 0; r < mr; r++ {
		PREFETCHT0(Mem{Base: p})
		PREFETCHT0(Mem{Base: p, Disp: 60})
		if r < mr-1 {
			ADDQ(stride, p)
		}
	}
}
