package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Lane-major Winograd F(4×4, 3×3) transforms for batches: each vector holds
// one pixel (or one tile element) of 8 images, so a tile is transformed with
// plain vector arithmetic, whatever the map width (the row-major kernels of
// winograd.go vectorise over 8 tiles of one tile row and waste most lanes on
// maps narrower than 32 columns). lanesIn8 and lanesOut8 move between 8
// image planes and the lane-major layout. winoInL6Go, winoOutL6Go,
// lanesIn8Go and lanesOut8Go in kernels/winograd_lanes.go are the
// specification.

func winoLanes(tb winoTables) {
	lanesIn8()
	lanesOut8()
	winoInL6(tb)
	winoOutL6(tb)
	winoGemm()
}

// transpose8x8 transposes the 8×8 matrix in rows r (lane j of r[i] is
// element (i, j)) using temporaries t; r is overwritten and the columns are
// returned (they are t).
func transpose8x8(r, t []VecPhysical) []VecPhysical {
	for i := 0; i < 4; i++ {
		VUNPCKLPS(r[2*i+1], r[2*i], t[2*i])   // r(2i)₀ r(2i+1)₀ r(2i)₁ r(2i+1)₁ | 4, 5
		VUNPCKHPS(r[2*i+1], r[2*i], t[2*i+1]) // columns 2, 3 | 6, 7
	}
	for h := 0; h < 2; h++ { // rows 0-3, rows 4-7
		a, b := t[4*h:], r[4*h:]
		VSHUFPS(U8(0x44), a[2], a[0], b[0]) // column 0 | 4 of four rows
		VSHUFPS(U8(0xEE), a[2], a[0], b[1]) // column 1 | 5
		VSHUFPS(U8(0x44), a[3], a[1], b[2]) // column 2 | 6
		VSHUFPS(U8(0xEE), a[3], a[1], b[3]) // column 3 | 7
	}
	for j := 0; j < 4; j++ {
		VPERM2F128(U8(0x20), r[j+4], r[j], t[j])
		VPERM2F128(U8(0x31), r[j+4], r[j], t[j+4])
	}
	return t
}

var (
	rowRegs = []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7}
	tmpRegs = []VecPhysical{Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15}
)

func lanesIn8() {
	TEXT("lanesIn8", NOSPLIT, "func(src **float32, w, h int, dst *float32, ds int)")
	Pragma("noescape")
	Doc(
		"lanesIn8 interleaves 8 planes of h×w values (src[l], rows contiguous) into",
		"dst[y*ds + 8x + l]; w must be a positive multiple of 8.",
	)
	srcP := Load(Param("src"), GP64())
	h := Load(Param("h"), GP64())
	dp := Load(Param("dst"), GP64())
	ds := Load(Param("ds"), GP64())
	SHLQ(U8(2), ds)
	off := GP64()
	XORQ(off, off)
	Label("li8_row")
	wb := Load(Param("w"), GP64())
	SHRQ(U8(3), wb)
	dq := GP64()
	MOVQ(dp, dq)
	Label("li8_blk")
	t := GP64()
	for l, r := range rowRegs {
		MOVQ(Mem{Base: srcP, Disp: 8 * l}, t)
		VMOVUPS(Mem{Base: t, Index: off, Scale: 1}, r)
	}
	for j, c := range transpose8x8(rowRegs, tmpRegs) {
		VMOVUPS(c, Mem{Base: dq, Disp: 32 * j})
	}
	ADDQ(U8(32), off)
	ADDQ(U32(256), dq)
	DECQ(wb)
	JNZ(LabelRef("li8_blk"))
	ADDQ(ds, dp)
	DECQ(h)
	JNZ(LabelRef("li8_row"))
	VZEROUPPER()
	RET()
}

func lanesOut8() {
	TEXT("lanesOut8", NOSPLIT, "func(src *float32, w, h, ss int, dst, res **float32, flags int, bias float32)")
	Pragma("noescape")
	Doc(
		"lanesOut8 is the inverse of lanesIn8 with an epilogue: dst[l][y*w + x] =",
		"src[y*ss + 8x + l] + bias, plus res[l][y*w + x] if flags&1, then ReLU if",
		"flags&2; w must be a positive multiple of 8. res may be dst.",
	)
	sp := Load(Param("src"), GP64())
	h := Load(Param("h"), GP64())
	ss := Load(Param("ss"), GP64())
	SHLQ(U8(2), ss)
	dstP := Load(Param("dst"), GP64())
	resP := Load(Param("res"), GP64())
	flags := Load(Param("flags"), GP64())
	b, err := Param("bias").Resolve()
	if err != nil {
		panic(err)
	}
	off := GP64()
	XORQ(off, off)
	Label("lo8_row")
	wb := Load(Param("w"), GP64())
	SHRQ(U8(3), wb)
	sq := GP64()
	MOVQ(sp, sq)
	Label("lo8_blk")
	for j, r := range rowRegs {
		VMOVUPS(Mem{Base: sq, Disp: 32 * j}, r)
	}
	c := transpose8x8(rowRegs, tmpRegs)
	bias, zero := Y0, Y1
	VBROADCASTSS(b.Addr, bias)
	VXORPS(zero, zero, zero)
	for _, v := range c {
		VADDPS(bias, v, v)
	}
	t := GP64()
	TESTQ(U32(1), flags)
	JZ(LabelRef("lo8_relu"))
	for l, v := range c {
		MOVQ(Mem{Base: resP, Disp: 8 * l}, t)
		VADDPS(Mem{Base: t, Index: off, Scale: 1}, v, v)
	}
	Label("lo8_relu")
	TESTQ(U32(2), flags)
	JZ(LabelRef("lo8_store"))
	for _, v := range c {
		VMAXPS(v, zero, v) // a NaN stays NaN
	}
	Label("lo8_store")
	for l, v := range c {
		MOVQ(Mem{Base: dstP, Disp: 8 * l}, t)
		VMOVUPS(v, Mem{Base: t, Index: off, Scale: 1})
	}
	ADDQ(U8(32), off)
	ADDQ(U32(256), sq)
	DECQ(wb)
	JNZ(LabelRef("lo8_blk"))
	ADDQ(ss, sp)
	DECQ(h)
	JNZ(LabelRef("lo8_row"))
	VZEROUPPER()
	RET()
}

func winoInL6(tb winoTables) {
	TEXT("winoInL6", NOSPLIT, "func(p *float32, rs, th, tw int, e, v *float32, vs int)")
	Pragma("noescape")
	Doc(
		"winoInL6 is the F4 input transform of th×tw tiles of 8 images in lane-major",
		"layout (see winoInL6Go): tile (ty, tx) reads p[(4ty+i)*rs + 8(4tx+j) + l], i, j < 6,",
		"and writes element ξ to v[ξ*vs + 8(ty*tw+tx) + l]; e is scratch of 6·8(4tw+2) values.",
	)
	c4, c5 := Y13, Y14
	VBROADCASTSS(tb.consts.Offset(4), c4)
	VBROADCASTSS(tb.consts.Offset(8), c5)
	temps := []VecPhysical{Y10, Y11, Y12}
	x := []VecPhysical{Y4, Y5, Y6, Y7, Y8, Y9}

	prow := Load(Param("p"), GP64())
	rs := Load(Param("rs"), GP64())
	SHLQ(U8(2), rs)
	th := Load(Param("th"), GP64())
	vrow := Load(Param("v"), GP64())
	vs := Load(Param("vs"), GP64())
	SHLQ(U8(2), vs)
	ew := Load(Param("tw"), GP64()) // bytes per E row: 32(4tw+2)
	SHLQ(U8(7), ew)
	ADDQ(U8(64), ew)

	Label("wil6_row")
	Comment("Columns: Bᵀ down every column of the tile row, into E.")
	pc, ec := GP64(), GP64()
	MOVQ(prow, pc)
	e := Load(Param("e"), GP64())
	MOVQ(e, ec)
	ncol := Load(Param("tw"), GP64())
	SHLQ(U8(2), ncol)
	ADDQ(U8(2), ncol)
	Label("wil6_col")
	loadSix(pc, GP64(), rs, x)
	y := winoBT(x, temps, c4, c5)
	e3 := GP64()
	LEAQ(Mem{Base: ec, Index: ew, Scale: 2}, e3)
	ADDQ(ew, e3)
	VMOVUPS(y[0], Mem{Base: ec})
	VMOVUPS(y[1], Mem{Base: ec, Index: ew, Scale: 1})
	VMOVUPS(y[2], Mem{Base: ec, Index: ew, Scale: 2})
	VMOVUPS(y[3], Mem{Base: e3})
	VMOVUPS(y[4], Mem{Base: e3, Index: ew, Scale: 1})
	VMOVUPS(y[5], Mem{Base: e3, Index: ew, Scale: 2})
	ADDQ(U8(32), pc)
	ADDQ(U8(32), ec)
	DECQ(ncol)
	JNZ(LabelRef("wil6_col"))

	Comment("Rows: Bᵀ along each row of E for every tile, to the 36 planes of V.")
	et, vt := GP64(), GP64()
	MOVQ(e, et)
	MOVQ(vrow, vt)
	ntile := Load(Param("tw"), GP64())
	Label("wil6_tile")
	er, q := GP64(), GP64()
	MOVQ(et, er)
	MOVQ(vt, q)
	for i := 0; i < 6; i++ {
		for j := range x {
			VMOVUPS(Mem{Base: er, Disp: 32 * j}, x[j])
		}
		for k, o := range winoBT(x, temps, c4, c5) {
			VMOVUPS(o, Mem{Base: q})
			if i < 5 || k < 5 {
				ADDQ(vs, q)
			}
		}
		if i < 5 {
			ADDQ(ew, er)
		}
	}
	ADDQ(U32(128), et)
	ADDQ(U8(32), vt)
	DECQ(ntile)
	JNZ(LabelRef("wil6_tile"))

	// Next tile row: 4 input rows down, tw tiles on.
	for i := 0; i < 4; i++ {
		ADDQ(rs, prow)
	}
	tw := Load(Param("tw"), GP64())
	SHLQ(U8(5), tw)
	ADDQ(tw, vrow)
	DECQ(th)
	JNZ(LabelRef("wil6_row"))
	VZEROUPPER()
	RET()
}

func winoOutL6(tb winoTables) {
	TEXT("winoOutL6", NOSPLIT, "func(m *float32, ms, th, tw int, q *float32, qs int)")
	Pragma("noescape")
	Doc(
		"winoOutL6 inverts th×tw F4 tiles of 8 images in lane-major layout (see",
		"winoOutL6Go): tile (ty, tx) reads m[ξ*ms + 8(ty*tw+tx) + l] and writes output",
		"pixel (i, j), i, j < 4, to q[(4ty+i)*qs + 8(4tx+j) + l].",
	)
	tmp := AllocLocal(24 * 32)
	c2, c4, c8 := Y9, Y10, Y11
	VBROADCASTSS(tb.consts, c2)
	VBROADCASTSS(tb.consts.Offset(4), c4)
	VBROADCASTSS(tb.consts.Offset(12), c8)
	temps := []VecPhysical{Y6, Y7}
	mr := []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5}

	mp := Load(Param("m"), GP64())
	s := Load(Param("ms"), GP64())
	SHLQ(U8(2), s)
	s6 := GP64()
	LEAQ(Mem{Base: s, Index: s, Scale: 2}, s6)
	SHLQ(U8(1), s6)
	qrow := Load(Param("q"), GP64())
	qs := Load(Param("qs"), GP64())
	SHLQ(U8(2), qs)
	th := Load(Param("th"), GP64())

	Label("wol6_row")
	qt := GP64()
	MOVQ(qrow, qt)
	ntile := Load(Param("tw"), GP64())
	Label("wol6_tile")
	Comment("Columns: Aᵀ down each of the six columns of the tile, to the stack.")
	winoATColumns(mp, s, s6, mr, temps, c2, c4, c8, tmp)
	Comment("Rows: Aᵀ along each row, four output pixels each.")
	qr := GP64()
	MOVQ(qt, qr)
	for i := 0; i < 4; i++ {
		for nu := range mr {
			VMOVUPS(tmp.Offset(32*(6*i+nu)), mr[nu])
		}
		for j, v := range winoAT(mr, temps, c2, c4, c8) {
			VMOVUPS(v, Mem{Base: qr, Disp: 32 * j})
		}
		if i < 3 {
			ADDQ(qs, qr)
		}
	}
	ADDQ(U8(32), mp)
	ADDQ(U32(128), qt)
	DECQ(ntile)
	JNZ(LabelRef("wol6_tile"))
	for i := 0; i < 4; i++ {
		ADDQ(qs, qrow)
	}
	DECQ(th)
	JNZ(LabelRef("wol6_row"))
	VZEROUPPER()
	RET()
}

// winoGemm emits the GEMMs of the Winograd planes, whose K (the channels) is short: a whole
// C = A·B in one call, B read in place (no packing: a 16-column panel of K ≤ 256 rows stays
// in L1 while every 6-row panel of A passes over it), no epilogue. With K = 16…64 the Go
// driver's per-tile work and B packing cost as much as the multiply-adds.
func winoGemm() {
	TEXT("winoGemm16", NOSPLIT, "func(k int, a *float32, m int, b *float32, ldb int, c *float32, ldc, n int)")
	Pragma("noescape")
	Doc(
		"winoGemm16 sets C = A·B for the m×k matrix A packed in panels of 6 rows (k·6 values",
		"each, rows past m zero, as PackedA for k ≤ kcBlock), B k×n (row stride ldb) and C",
		"m×n (row stride ldc); n must be a positive multiple of 16, k and m positive.",
	)
	ldb := Load(Param("ldb"), GP64())
	SHLQ(U8(2), ldb)
	ldb3 := GP64()
	LEAQ(Mem{Base: ldb, Index: ldb, Scale: 2}, ldb3)
	bcol := Load(Param("b"), GP64())
	ccol := Load(Param("c"), GP64())
	nleft := Load(Param("n"), GP64())

	Label("wg_col")
	apan := Load(Param("a"), GP64())
	crow := GP64()
	MOVQ(ccol, crow)
	mleft := Load(Param("m"), GP64())

	Label("wg_panel")
	for r := 0; r < mr; r++ {
		for h := 0; h < 2; h++ {
			VXORPS(acc(r, h), acc(r, h), acc(r, h))
		}
	}
	k := Load(Param("k"), GP64())
	ap, bp := GP64(), GP64()
	MOVQ(apan, ap)
	MOVQ(bcol, bp)
	step := func(aoff int, b Mem) {
		VMOVUPS(b, Y12)
		VMOVUPS(b.Offset(32), Y13)
		for r := 0; r < mr; r++ {
			bc := []VecPhysical{Y14, Y15}[r%2]
			VBROADCASTSS(Mem{Base: ap, Disp: aoff + 4*r}, bc)
			VFMADD231PS(Y12, bc, acc(r, 0))
			VFMADD231PS(Y13, bc, acc(r, 1))
		}
	}
	CMPQ(k, U8(4))
	JL(LabelRef("wg_tail"))
	Label("wg_loop4")
	step(0, Mem{Base: bp})
	step(4*mr, Mem{Base: bp, Index: ldb, Scale: 1})
	step(8*mr, Mem{Base: bp, Index: ldb, Scale: 2})
	step(12*mr, Mem{Base: bp, Index: ldb3, Scale: 1})
	ADDQ(U8(16*mr), ap)
	LEAQ(Mem{Base: bp, Index: ldb, Scale: 4}, bp)
	SUBQ(U8(4), k)
	CMPQ(k, U8(4))
	JGE(LabelRef("wg_loop4"))
	Label("wg_tail")
	TESTQ(k, k)
	JZ(LabelRef("wg_store"))
	Label("wg_loop1")
	step(0, Mem{Base: bp})
	ADDQ(U8(4*mr), ap)
	ADDQ(ldb, bp)
	DECQ(k)
	JNZ(LabelRef("wg_loop1"))

	Label("wg_store")
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	row := GP64()
	MOVQ(crow, row)
	for r := 0; r < mr; r++ {
		VMOVUPS(acc(r, 0), Mem{Base: row})
		VMOVUPS(acc(r, 1), Mem{Base: row, Disp: 32})
		if r < mr-1 {
			CMPQ(mleft, U8(r+1))
			JLE(LabelRef("wg_next"))
			ADDQ(ldc, row)
		}
	}
	Label("wg_next")
	// The next panel of A (k·6 values on) and of C (6 rows down).
	MOVQ(ap, apan)
	for r := 0; r < mr; r++ {
		ADDQ(ldc, crow)
	}
	SUBQ(U8(mr), mleft)
	JG(LabelRef("wg_panel"))

	ADDQ(U8(64), bcol)
	ADDQ(U8(64), ccol)
	SUBQ(U8(16), nleft)
	JNZ(LabelRef("wg_col"))
	VZEROUPPER()
	RET()
}
