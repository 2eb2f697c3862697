package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Whole-plane Winograd transforms for maps of 4×4 tiles (AVX-512F): ResNet's
// 14×14 maps under F(4×4,3×3) and 7×7 ones under F(2×2,3×3). The row kernels
// (winoIn6, winoOut6, …) work on one tile row at a time, 8 tiles a vector:
// on such maps a tile row has 4 tiles, so half of every vector is empty and a
// call does 4 tiles' work. Here one zmm holds all 16 tiles of a channel, lane
// 4·ty+tx for tile (ty, tx), which is also their order in V and M, and one call
// transforms a whole channel. The tiles' windows overlap and are m columns
// apart, so they are not contiguous in the input: each vector of window
// element (i, j) is built by two two-table permutes (VPERMT2PS) of the input
// rows, tile rows 0 and 1 from one, 2 and 3 from the other, and a blend. The
// arithmetic is the row kernels' (same factorisation, same order: Bᵀ down the
// columns first, then along the rows), so the results are bit-identical to
// theirs.

func winoPlane(tb winoTables) {
	winoPlaneIn(tb, 6)
	winoPlaneIn(tb, 4)
	idx := winoPlaneOutData()
	winoPlaneOut(tb, 6, idx)
	winoPlaneOut(tb, 4, idx)
}

// winoPlaneOutData emits the output permutes' index vectors: for F4 (at 0)
// and F2 (at 256), one per tile row ty, lane c of output row m·ty+r taking
// tile (ty, c/m)'s column c mod m: lane 4ty + c/m of Y(r, c mod m), the first
// table holding the even columns of a tile, the second the odd ones.
func winoPlaneOutData() Mem {
	t := GLOBL("winoplaneout", RODATA|NOPTR)
	for k, m := range []int{4, 2} {
		for ty := 0; ty < 4; ty++ {
			for c := 0; c < 16; c++ {
				v := 0
				if c < 4*m {
					v = 4*ty + c/m + 16*(c%m%2)
				}
				DATA(256*k+64*ty+4*c, U32(uint64(v)))
			}
		}
	}
	return t
}

// winoPlaneIn emits winoInP6 (a = 6, F4) or winoInP4 (a = 4, F2).
func winoPlaneIn(tb winoTables, a int) {
	m := a - 2
	nrows := 3*m + a // input rows the four tile rows read
	name := fmt.Sprintf("winoInP%d", a)
	TEXT(name, NOSPLIT, "func(plane *float32, inW, inH, padH, lanes int, idx *int32, e *float32, v *float32, stride int)")
	Pragma("noescape")
	Doc(
		name+" transforms one channel of a map of 4×4 tiles (F"+fmt.Sprint(m)+"): plane is the",
		"inH×inW channel (inW ≤ 15), its row y read as scratch row y+padH (zero outside",
		"the plane); lanes is the mask of lanes below inW; idx holds one permute",
		"index vector per window column j (lane 4ty+tx: the row lane of column",
		"m·tx+j-padW, 15 where that is outside the row, +16 for odd ty); e is",
		fmt.Sprintf("scratch of %d values; element ξ of tile l goes to v[ξ*stride+l].", 16*(nrows+a*a)),
	)
	lbl := func(s string) string { return name + "_" + s }
	plane := Load(Param("plane"), GP64())
	rowB := Load(Param("inW"), GP64())
	SHLQ(U8(2), rowB)
	inH := Load(Param("inH"), GP64())
	padH := Load(Param("padH"), GP64())
	lanes := GP64()
	Load(Param("lanes"), lanes)
	KMOVW(lanes.As32(), K1)
	e := Load(Param("e"), GP64())

	Comment("Stage the rows the tiles read, zero-padded to 16 lanes, in e.")
	y := GP64()
	MOVQ(padH, y)
	NEGQ(y)
	t := GP64()
	MOVQ(padH, t)
	IMULQ(rowB, t)
	SUBQ(t, plane) // the row pointer of y, dereferenced only for 0 ≤ y < inH
	zero := Z31
	VXORPS(zero, zero, zero)
	ep := GP64()
	MOVQ(e, ep)
	n := GP64()
	MOVQ(U32(uint64(nrows)), n)
	Label(lbl("stage"))
	CMPQ(y, inH)
	JAE(LabelRef(lbl("zero"))) // unsigned: y < 0 as well
	VMOVUPS_Z(Mem{Base: plane}, K1, Z0)
	VMOVUPS(Z0, Mem{Base: ep})
	JMP(LabelRef(lbl("next")))
	Label(lbl("zero"))
	VMOVUPS(zero, Mem{Base: ep})
	Label(lbl("next"))
	ADDQ(rowB, plane)
	INCQ(y)
	ADDQ(U8(64), ep)
	DECQ(n)
	JNZ(LabelRef(lbl("stage")))

	tmp := GP32()
	MOVL(U32(0xff00), tmp)
	KMOVW(tmp, K2) // lanes of tile rows 2 and 3
	idx := Load(Param("idx"), GP64())
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
	// U (the column pass's results) follows the staged rows in e: U[i][j] at
	// row nrows + a·i + j.
	u := func(i, j int) Mem { return Mem{Base: e, Disp: 64 * (nrows + a*i + j)} }
	Comment("Columns: window column j of all 16 tiles, then Bᵀ down it.")
	for j := 0; j < a; j++ {
		I, t1, t2 := Z6, Z7, Z8
		VMOVUPS(Mem{Base: idx, Disp: 64 * j}, I)
		for i := 0; i < a; i++ {
			VMOVUPS(Mem{Base: e, Disp: 64 * i}, t1)
			VPERMT2PS(Mem{Base: e, Disp: 64 * (m + i)}, I, t1)
			VMOVUPS(Mem{Base: e, Disp: 64 * (2*m + i)}, t2)
			VPERMT2PS(Mem{Base: e, Disp: 64 * (3*m + i)}, I, t2)
			VBLENDMPS(t2, t1, K2, x[i])
		}
		for i, o := range bt(x) {
			VMOVUPS(o, u(i, j))
		}
	}
	Comment("Rows: Bᵀ along each row of U, element ξ = a·i + j to plane ξ.")
	v := Load(Param("v"), GP64())
	stride := Load(Param("stride"), GP64())
	SHLQ(U8(2), stride)
	for i := 0; i < a; i++ {
		for j := range x {
			VMOVUPS(u(i, j), x[j])
		}
		for _, o := range bt(x) {
			VMOVUPS(o, Mem{Base: v})
			ADDQ(stride, v)
		}
	}
	VZEROUPPER()
	RET()
}

// winoPlaneOut emits winoOutP6 (a = 6, F4) or winoOutP4 (a = 4, F2).
func winoPlaneOut(tb winoTables, a int, outIdx Mem) {
	m := a - 2
	name := fmt.Sprintf("winoOutP%d", a)
	TEXT(name, NOSPLIT, "func(mt *float32, stride int, e *float32, out, res *float32, ow, oh, lanes, flags int, bias float32)")
	Pragma("noescape")
	Doc(
		name+" inverts one output channel of a map of 4×4 tiles (F"+fmt.Sprint(m)+"): tile l reads",
		"mt[ξ*stride+l]; output row y < oh of the oh×ow plane out gets its ow columns",
		"(lanes is the mask of lanes below ow), plus bias, plus the same row of res if",
		fmt.Sprintf("flags&1, then ReLU if flags&2. e is scratch of %d values.", 16*m*a),
	)
	lbl := func(s string) string { return name + "_" + s }
	mp := Load(Param("mt"), GP64())
	s := Load(Param("stride"), GP64())
	SHLQ(U8(2), s)
	sa := GP64() // a planes
	MOVQ(s, sa)
	IMUL3Q(U32(uint64(a)), sa, sa)
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
	Comment("Columns: Aᵀ down window column j of all 16 tiles.")
	for j := 0; j < a; j++ {
		p := GP64()
		MOVQ(mp, p)
		for k := 0; k < j; k++ {
			ADDQ(s, p)
		}
		for i := range x {
			VMOVUPS(Mem{Base: p}, x[i])
			if i < a-1 {
				ADDQ(sa, p)
			}
		}
		for r, o := range at(x) {
			VMOVUPS(o, tt(r, j))
		}
	}

	Comment("Rows: Aᵀ along row r of every tile, then each output row m·ty+r.")
	zero, bias := Z31, Z30
	VXORPS(zero, zero, zero)
	b, err := Param("bias").Resolve()
	if err != nil {
		panic(err)
	}
	VBROADCASTSS(b.Addr, bias)
	lanes := GP64()
	Load(Param("lanes"), lanes)
	KMOVW(lanes.As32(), K1)
	tmp := GP32()
	MOVL(U32(0xcccc), tmp)
	KMOVW(tmp, K2) // F4: lanes of tile columns 2 and 3
	I := []VecPhysical{Z20, Z21, Z22, Z23}
	base := GP64()
	LEAQ(outIdx, base)
	off := 0
	if a == 4 {
		off = 256
	}
	for ty := range I {
		VMOVUPS(Mem{Base: base, Disp: off + 64*ty}, I[ty])
	}
	outP := Load(Param("out"), GP64())
	resP := Load(Param("res"), GP64())
	rowB := Load(Param("ow"), GP64())
	SHLQ(U8(2), rowB)
	oh := Load(Param("oh"), GP64())
	flags := Load(Param("flags"), GP64())
	q := GP64()
	t1, t2, row, rv := Z12, Z13, Z14, Z15
	for r := 0; r < m; r++ {
		for j := range x {
			VMOVUPS(tt(r, j), x[j])
		}
		y := at(x)
		for _, v := range y {
			VADDPS(bias, v, v)
		}
		for ty := 0; ty < 4; ty++ {
			yrow := m*ty + r
			skip := lbl(fmt.Sprintf("skip%d", yrow))
			CMPQ(oh, U32(uint64(yrow)))
			JLE(LabelRef(skip))
			IMUL3Q(U32(uint64(yrow)), rowB, q)
			if m == 4 {
				VMOVAPS(y[0], t1)
				VPERMT2PS(y[1], I[ty], t1)
				VMOVAPS(y[2], t2)
				VPERMT2PS(y[3], I[ty], t2)
				VBLENDMPS(t2, t1, K2, row)
			} else {
				VMOVAPS(y[0], row)
				VPERMT2PS(y[1], I[ty], row)
			}
			noRes := lbl(fmt.Sprintf("nores%d", yrow))
			TESTQ(U32(1), flags)
			JZ(LabelRef(noRes))
			VMOVUPS_Z(Mem{Base: resP, Index: q, Scale: 1}, K1, rv)
			VADDPS(rv, row, row)
			Label(noRes)
			noReLU := lbl(fmt.Sprintf("norelu%d", yrow))
			TESTQ(U32(2), flags)
			JZ(LabelRef(noReLU))
			VMAXPS(row, zero, row) // a NaN stays NaN, as in the row kernels
			Label(noReLU)
			VMOVUPS(row, K1, Mem{Base: outP, Index: q, Scale: 1})
			Label(skip)
		}
	}
	VZEROUPPER()
	RET()
}
