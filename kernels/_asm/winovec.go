package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Winograd transforms with 16 tiles a vector (AVX-512F). The row kernels
// (winoIn6, winoOut6, …) take 8 tiles of one tile row a ymm vector, and on
// ResNet's 14×14 and 7×7 maps (4 tiles a row) half of every vector is empty.
// These take up to 16 tiles of one to four tile rows in a zmm, lane l for the
// l-th tile in V's (row-major) order, so that V and M are read and written a
// whole vector at a time. The tiles' windows overlap and are m columns apart,
// so they are not contiguous in the input: a call first copies the input rows
// its tiles read into four zero-padded blocks of 16 columns (block b, row i
// from the input row y0+rows[b]+i, columns cols[b]…, as the layer's
// descriptor kernels.winoVecDesc says), then builds each window element (i, j)
// of all its tiles with two two-table permutes (VPERMT2PS: blocks 0 and 1,
// blocks 2 and 3) and a blend. The output side undoes that per block of 16
// output columns. The arithmetic is the row kernels' (same factorisation and
// order: Bᵀ down the columns, then along the rows), so the results are
// bit-identical to theirs.

// Offsets in kernels.winoVecDesc (checked by a test of package kernels).
const (
	vdInIdx   = 0   // [6][16]int32: input permute index per window column j
	vdOutIdx  = 384 // [4][16]int32: output permute index per output block
	vdInRow   = 640 // [4]int: input block b reads rows y0+inRow[b]+i
	vdInCol   = 672 // [4]int: … from column inCol[b] (bytes, may be negative)
	vdInMask  = 704 // [4]int: … lanes of columns inside the row
	vdOutRow  = 736 // [4]int: output block b is row yo+outRow[b]+r
	vdOutCol  = 768 // [4]int: … from column outCol[b] (bytes)
	vdOutMask = 800 // [4]int: … lanes of columns inside the row
	vdRowB    = 832 // int: input row bytes
	vdOwB     = 840 // int: output row bytes
	vdSeg     = 848 // int: lanes taken from the second permute (input)
	vdBlend   = 856 // int: lanes taken from the second permute (output, F4)
)

func winoVec(tb winoTables) {
	winoVecIn(tb, 6)
	winoVecIn(tb, 4)
	winoVecOut(tb, 6)
	winoVecOut(tb, 4)
}

// winoVecIn emits winoInV6 (a = 6, F4) or winoInV4 (a = 4, F2).
func winoVecIn(tb winoTables, a int) {
	m := a - 2
	name := fmt.Sprintf("winoInV%d", a)
	TEXT(name, NOSPLIT, "func(plane *float32, inH, y0 int, d *int32, e *float32, v *float32, stride, store int)")
	Pragma("noescape")
	Doc(
		name+" transforms up to 16 tiles of one channel (F"+fmt.Sprint(m)+") as the descriptor d",
		"(kernels.winoVecDesc) lays them out: plane is the channel (inH rows), y0 the",
		"input row of the first tile row's window, e scratch of "+fmt.Sprint(16*(4*a+a*a))+" values; element",
		"ξ of the tile in lane l goes to v[ξ*stride+l] for the lanes set in store.",
	)
	lbl := func(s string) string { return name + "_" + s }
	plane := Load(Param("plane"), GP64())
	inH := Load(Param("inH"), GP64())
	y0 := Load(Param("y0"), GP64())
	d := Load(Param("d"), GP64())
	e := Load(Param("e"), GP64())
	rowB := GP64()
	MOVQ(Mem{Base: d, Disp: vdRowB}, rowB)
	zero := Z31
	VXORPS(zero, zero, zero)

	Comment("Stage block b's a rows in e, zero outside the plane.")
	for b := 0; b < 4; b++ {
		k := GP64()
		MOVQ(Mem{Base: d, Disp: vdInMask + 8*b}, k)
		KMOVW(k.As32(), K1)
		y := GP64()
		MOVQ(y0, y)
		ADDQ(Mem{Base: d, Disp: vdInRow + 8*b}, y)
		p := GP64()
		MOVQ(y, p)
		IMULQ(rowB, p)
		ADDQ(plane, p)
		ADDQ(Mem{Base: d, Disp: vdInCol + 8*b}, p) // dereferenced only inside the plane
		for i := 0; i < a; i++ {
			zl, nl := lbl(fmt.Sprintf("z%d_%d", b, i)), lbl(fmt.Sprintf("n%d_%d", b, i))
			dst := Mem{Base: e, Disp: 64 * (a*b + i)}
			CMPQ(y, inH)
			JAE(LabelRef(zl)) // unsigned: y < 0 as well
			VMOVUPS_Z(Mem{Base: p}, K1, Z0)
			VMOVUPS(Z0, dst)
			JMP(LabelRef(nl))
			Label(zl)
			VMOVUPS(zero, dst)
			Label(nl)
			if i < a-1 {
				INCQ(y)
				ADDQ(rowB, p)
			}
		}
	}

	k := GP64()
	MOVQ(Mem{Base: d, Disp: vdSeg}, k)
	KMOVW(k.As32(), K2)
	x := []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5}[:a]
	bt := func(x []VecPhysical) []VecPhysical {
		if a == 6 {
			return winoBT(x, []VecPhysical{Z9, Z10, Z11}, Z29, Z30)
		}
		return winoBT2(x, []VecPhysical{Z9})
	}
	if a == 6 {
		VBROADCASTSS(tb.consts.Offset(4), Z29)
		VBROADCASTSS(tb.consts.Offset(8), Z30)
	}
	blk := func(b, i int) Mem { return Mem{Base: e, Disp: 64 * (a*b + i)} }
	// U (the column pass's results) follows the blocks: U[i][j] at 4a + a·i + j.
	u := func(i, j int) Mem { return Mem{Base: e, Disp: 64 * (4*a + a*i + j)} }
	Comment("Columns: window column j of every tile, then Bᵀ down it.")
	for j := 0; j < a; j++ {
		I, t1, t2 := Z6, Z7, Z8
		VMOVUPS(Mem{Base: d, Disp: vdInIdx + 64*j}, I)
		for i := 0; i < a; i++ {
			VMOVUPS(blk(0, i), t1)
			VPERMT2PS(blk(1, i), I, t1)
			VMOVUPS(blk(2, i), t2)
			VPERMT2PS(blk(3, i), I, t2)
			VBLENDMPS(t2, t1, K2, x[i])
		}
		for i, o := range bt(x) {
			VMOVUPS(o, u(i, j))
		}
	}
	Comment("Rows: Bᵀ along each row of U, element ξ = a·i + j to plane ξ.")
	Load(Param("store"), k)
	KMOVW(k.As32(), K3)
	v := Load(Param("v"), GP64())
	stride := Load(Param("stride"), GP64())
	SHLQ(U8(2), stride)
	for i := 0; i < a; i++ {
		for j := range x {
			VMOVUPS(u(i, j), x[j])
		}
		for _, o := range bt(x) {
			VMOVUPS(o, K3, Mem{Base: v})
			ADDQ(stride, v)
		}
	}
	VZEROUPPER()
	RET()
}

// winoVecOut emits winoOutV6 (a = 6, F4) or winoOutV4 (a = 4, F2).
func winoVecOut(tb winoTables, a int) {
	m := a - 2
	name := fmt.Sprintf("winoOutV%d", a)
	TEXT(name, NOSPLIT, "func(mt *float32, stride int, d *int32, e *float32, out, res *float32, oh, yo, lanes, flags int, bias float32)")
	Pragma("noescape")
	Doc(
		name+" inverts up to 16 tiles of one output channel (F"+fmt.Sprint(m)+") laid out as the",
		"descriptor d says: the tile in lane l (of those set in lanes; the others are",
		"not read) reads mt[ξ*stride+l]; output block b",
		"(row yo+outRow[b]+r of the plane out, if below oh) gets its columns plus bias,",
		"plus the same values of res if flags&1, then ReLU if flags&2. e is scratch",
		"of "+fmt.Sprint(16*m*a)+" values.",
	)
	lbl := func(s string) string { return name + "_" + s }
	mp := Load(Param("mt"), GP64())
	s := Load(Param("stride"), GP64())
	SHLQ(U8(2), s)
	sa := GP64() // a planes
	MOVQ(s, sa)
	IMUL3Q(U32(uint64(a)), sa, sa)
	d := Load(Param("d"), GP64())
	e := Load(Param("e"), GP64())
	x := []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5}[:a]
	c2, c4, c8 := Z9, Z10, Z11
	at := func(x []VecPhysical) []VecPhysical {
		if a == 6 {
			return winoAT(x, []VecPhysical{Z6, Z7}, c2, c4, c8)
		}
		return winoAT2(x)
	}
	if a == 6 {
		VBROADCASTSS(tb.consts, c2)
		VBROADCASTSS(tb.consts.Offset(4), c4)
		VBROADCASTSS(tb.consts.Offset(12), c8)
	}
	tt := func(r, j int) Mem { return Mem{Base: e, Disp: 64 * (a*r + j)} }
	ln := GP64()
	Load(Param("lanes"), ln)
	KMOVW(ln.As32(), K6)
	Comment("Columns: Aᵀ down window column j of every tile.")
	for j := 0; j < a; j++ {
		p := GP64()
		MOVQ(mp, p)
		for k := 0; k < j; k++ {
			ADDQ(s, p)
		}
		for i := range x {
			VMOVUPS_Z(Mem{Base: p}, K6, x[i])
			if i < a-1 {
				ADDQ(sa, p)
			}
		}
		for r, o := range at(x) {
			VMOVUPS(o, tt(r, j))
		}
	}

	Comment("Rows: Aᵀ along row r of every tile, then output row r of each block.")
	zero, bias := Z31, Z30
	VXORPS(zero, zero, zero)
	b, err := Param("bias").Resolve()
	if err != nil {
		panic(err)
	}
	VBROADCASTSS(b.Addr, bias)
	masks := []Register{K1, K2, K3, K4}
	k := GP64()
	for bl, km := range masks {
		MOVQ(Mem{Base: d, Disp: vdOutMask + 8*bl}, k)
		KMOVW(k.As32(), km)
	}
	MOVQ(Mem{Base: d, Disp: vdBlend}, k)
	KMOVW(k.As32(), K5)
	I := []VecPhysical{Z20, Z21, Z22, Z23}
	for bl := range I {
		VMOVUPS(Mem{Base: d, Disp: vdOutIdx + 64*bl}, I[bl])
	}
	outP := Load(Param("out"), GP64())
	resP := Load(Param("res"), GP64())
	oh := Load(Param("oh"), GP64())
	yo := Load(Param("yo"), GP64())
	flags := Load(Param("flags"), GP64())
	y, q := GP64(), GP64()
	t1, t2, row, rv := Z12, Z13, Z14, Z15
	for r := 0; r < m; r++ {
		for j := range x {
			VMOVUPS(tt(r, j), x[j])
		}
		yv := at(x)
		for _, v := range yv {
			VADDPS(bias, v, v)
		}
		for bl := range I {
			skip := lbl(fmt.Sprintf("skip%d_%d", r, bl))
			MOVQ(yo, y)
			ADDQ(Mem{Base: d, Disp: vdOutRow + 8*bl}, y)
			if r > 0 {
				ADDQ(U8(uint64(r)), y)
			}
			CMPQ(y, oh)
			JGE(LabelRef(skip))
			MOVQ(y, q)
			IMULQ(Mem{Base: d, Disp: vdOwB}, q)
			ADDQ(Mem{Base: d, Disp: vdOutCol + 8*bl}, q)
			if m == 4 {
				VMOVAPS(yv[0], t1)
				VPERMT2PS(yv[1], I[bl], t1)
				VMOVAPS(yv[2], t2)
				VPERMT2PS(yv[3], I[bl], t2)
				VBLENDMPS(t2, t1, K5, row)
			} else {
				VMOVAPS(yv[0], row)
				VPERMT2PS(yv[1], I[bl], row)
			}
			noRes := lbl(fmt.Sprintf("nores%d_%d", r, bl))
			TESTQ(U32(1), flags)
			JZ(LabelRef(noRes))
			VMOVUPS_Z(Mem{Base: resP, Index: q, Scale: 1}, masks[bl], rv)
			VADDPS(rv, row, row)
			Label(noRes)
			noReLU := lbl(fmt.Sprintf("norelu%d_%d", r, bl))
			TESTQ(U32(2), flags)
			JZ(LabelRef(noReLU))
			VMAXPS(row, zero, row) // a NaN stays NaN, as in the row kernels
			Label(noReLU)
			VMOVUPS(row, masks[bl], Mem{Base: outP, Index: q, Scale: 1})
			Label(skip)
		}
	}
	VZEROUPPER()
	RET()
}
