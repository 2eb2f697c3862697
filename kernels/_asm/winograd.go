package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The Winograd F(4×4, 3×3) and F(2×2, 3×3) transforms of package kernels,
// vectorised over 8 tiles of one tile row. winoInputGo, winoOutputGo,
// winoInput2Go and winoOutput2Go in kernels/winograd_go.go are their
// specification (same factorisation).

// winoTables are the constant tables: a lane mask table (mask of the n
// lanes below n at byte offset 4·(8-n)), the lane rotation index of VPERMPS
// (lane l takes lane l+1) and the scalars 2, 4, 5, 8.
type winoTables struct{ masks, rot, consts Mem }

// lanesMask loads into dst the ymm mask of lanes < n (0 ≤ n ≤ 8) from winomask, the
// bytes at 4(8-n) past its 8 set lanes; it scales n (to bytes) and uses tmp.
func (tb winoTables) lanesMask(n, tmp Register, dst VecPhysical) {
	LEAQ(tb.masks.Offset(32), tmp)
	SHLQ(U8(2), n)
	SUBQ(n, tmp)
	VMOVDQU(Mem{Base: tmp}, dst)
}

func winoData() winoTables {
	var t winoTables
	t.masks = GLOBL("winomask", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		v := uint32(0)
		if i < 8 {
			v = 0xffffffff
		}
		DATA(4*i, U32(v))
	}
	t.rot = GLOBL("winorot", RODATA|NOPTR)
	for i := 0; i < 8; i++ {
		DATA(4*i, U32((i+1)%8))
	}
	t.consts = GLOBL("winoconst", RODATA|NOPTR)
	for i, v := range []float32{2, 4, 5, 8} {
		DATA(4*i, U32(math.Float32bits(v))) // F32 would print 2 as an integer
	}
	return t
}

// winoBT emits the F4 Bᵀx for six vectors x (overwritten) using
// temporaries t and the broadcast constants c4 = 4, c5 = 5; it returns the
// registers of the six results. Same factorisation as winoBTCol.
func winoBT(x []VecPhysical, t []VecPhysical, c4, c5 VecPhysical) []VecPhysical {
	VSUBPS(x[2], x[4], t[0])     // r = x4 - x2
	VSUBPS(x[1], x[3], t[1])     // x3 - x1
	VADDPS(t[1], t[1], t[1])     // s = 2(x3 - x1)
	VADDPS(t[1], t[0], t[2])     // out3 = r + s
	VSUBPS(t[1], t[0], t[0])     // out4 = r - s
	VFMADD132PS(c4, x[4], x[0])  // x0 = 4x0 + x4
	VFNMADD231PS(c5, x[2], x[0]) // out0 = 4x0 - 5x2 + x4
	VFMADD231PS(c4, x[1], x[5])  // x5 = 4x1 + x5
	VFNMADD231PS(c5, x[3], x[5]) // out5 = 4x1 - 5x3 + x5
	VFNMADD231PS(c4, x[2], x[4]) // p = x4 - 4x2
	VFNMADD231PS(c4, x[1], x[3]) // q = x3 - 4x1
	VADDPS(x[3], x[4], x[2])     // out1 = p + q
	VSUBPS(x[3], x[4], x[4])     // out2 = p - q
	return []VecPhysical{x[0], x[2], x[4], t[2], t[0], x[5]}
}

// winoBT2 emits the F2 Bᵀx = (x0-x2, x1+x2, x2-x1, x1-x3) for four vectors
// x (overwritten) with one temporary t.
func winoBT2(x []VecPhysical, t []VecPhysical) []VecPhysical {
	VADDPS(x[2], x[1], t[0]) // out1 = x1 + x2
	VSUBPS(x[2], x[0], x[0]) // out0 = x0 - x2
	VSUBPS(x[1], x[2], x[2]) // out2 = x2 - x1
	VSUBPS(x[3], x[1], x[1]) // out3 = x1 - x3
	return []VecPhysical{x[0], t[0], x[2], x[1]}
}

// winoAT emits the F4 Aᵀm for six vectors m (overwritten) with temporaries
// t and constants c2, c4, c8; it returns the four result registers.
func winoAT(m []VecPhysical, t []VecPhysical, c2, c4, c8 VecPhysical) []VecPhysical {
	VADDPS(m[2], m[1], t[0]) // a = m1 + m2
	VSUBPS(m[2], m[1], m[1]) // b = m1 - m2
	VADDPS(m[4], m[3], t[1]) // c = m3 + m4
	VSUBPS(m[4], m[3], m[3]) // d = m3 - m4
	VADDPS(t[0], m[0], m[0])
	VADDPS(t[1], m[0], m[0])    // y0 = m0 + a + c
	VADDPS(m[1], m[5], m[5])    // m5 + b
	VFMADD231PS(c8, m[3], m[5]) // y3 = m5 + b + 8d
	VFMADD231PS(c2, m[3], m[1]) // y1 = b + 2d
	VFMADD231PS(c4, t[1], t[0]) // y2 = a + 4c
	return []VecPhysical{m[0], m[1], t[0], m[5]}
}

// winoAT2 emits the F2 Aᵀm = (m0+m1+m2, m1-m2-m3) for four vectors m
// (overwritten), results in m[0] and m[1].
func winoAT2(m []VecPhysical) []VecPhysical {
	VADDPS(m[1], m[0], m[0])
	VADDPS(m[2], m[0], m[0])
	VSUBPS(m[2], m[1], m[1])
	VSUBPS(m[3], m[1], m[1])
	return m[:2]
}

// inputTransform describes one input transform kernel.
type inputTransform struct {
	name   string
	a      int // rows per tile (α)
	doc    []string
	bt     func(x []VecPhysical) []VecPhysical            // the 1-D transform
	hgroup func(ep, vp, stride Register, x []VecPhysical) // one horizontal group
	egroup int                                            // bytes of E per group
}

// winoInputKernel emits func(rows **float32, inW, padW int, e *float32, ew,
// groups int, v *float32, stride int): the α input rows go through the
// vertical pass into the α rows of E (at e + ξ·ew), each row of E through
// the horizontal pass into α planes of v (stride floats apart, 8 tiles per
// group). padW must be below 8.
func winoInputKernel(tr inputTransform, tb winoTables) {
	TEXT(tr.name, NOSPLIT, "func(rows **float32, inW, padW int, e *float32, ew, groups int, v *float32, stride int)")
	Pragma("noescape")
	Doc(tr.doc...)
	rowsP := Load(Param("rows"), GP64())
	r := make([]GPVirtual, tr.a)
	for i := range r {
		r[i] = GP64()
		MOVQ(Mem{Base: rowsP, Disp: 8 * i}, r[i])
	}
	inW := Load(Param("inW"), GP64())
	padW := Load(Param("padW"), GP64())
	e := Load(Param("e"), GP64())
	ew := Load(Param("ew"), GP64())
	SHLQ(U8(2), ew)
	x := []VecPhysical{Y4, Y5, Y6, Y7, Y8, Y9}[:tr.a]
	mask := []VecPhysical{Y10, Y11}
	lbl := func(s string) string { return tr.name + "_" + s }

	// The vertical pass writes E in the 32-byte slots the horizontal pass
	// reads back (a load straddling two recent stores would stall on store
	// forwarding): slot j holds E columns 8j…8j+7, input columns 8j-padW….
	Comment("Vertical pass: E = Bᵀ·rows, 8 columns at a time.")
	// lo = input column of lane 0 (may be negative); the row pointers are
	// moved to column lo, and lanes outside 0…inW-1 are masked off.
	lo := GP64()
	MOVQ(padW, lo)
	NEGQ(lo)
	SHLQ(U8(2), padW)
	for i := range r {
		SUBQ(padW, r[i])
	}
	eo := GP64()
	MOVQ(e, eo)
	Label(lbl("vloop"))
	CMPQ(lo, inW)
	JGE(LabelRef(lbl("hpass")))
	// Full vector if 0 <= lo and lo+8 <= inW.
	TESTQ(lo, lo)
	JS(LabelRef(lbl("vmask")))
	hi := GP64()
	LEAQ(Mem{Base: lo, Disp: 8}, hi)
	CMPQ(hi, inW)
	JG(LabelRef(lbl("vmask")))
	for i := range x {
		VMOVUPS(Mem{Base: r[i]}, x[i])
	}
	JMP(LabelRef(lbl("vcompute")))

	Label(lbl("vmask"))
	Comment("Edge vector: lanes l with 0 <= lo+l < inW; masked loads never fault.")
	la, lb, z, t := GP64(), GP64(), GP64(), GP64()
	XORQ(z, z)
	MOVQ(lo, la) // la = max(0, -lo): first valid lane
	NEGQ(la)
	CMPQ(la, z)
	CMOVQLT(z, la)
	MOVQ(inW, lb) // lb = min(8, inW-lo): end of valid lanes
	SUBQ(lo, lb)
	MOVQ(U32(8), t)
	CMPQ(lb, t)
	CMOVQGT(t, lb)
	// Mask of lanes < n: winomask at byte 4(8-n); lanes >= la = not lanes < la.
	tb.lanesMask(lb, t, mask[0])
	tb.lanesMask(la, t, mask[1])
	VANDNPS(mask[0], mask[1], mask[0]) // lanes < lb and not lanes < la
	for i := range x {
		VMASKMOVPS(Mem{Base: r[i]}, mask[0], x[i])
	}

	Label(lbl("vcompute"))
	p := GP64()
	MOVQ(eo, p)
	for i, o := range tr.bt(x) {
		VMOVUPS(o, Mem{Base: p})
		if i < tr.a-1 {
			ADDQ(ew, p)
		}
	}
	for i := range r {
		ADDQ(U8(32), r[i])
	}
	ADDQ(U8(32), eo)
	ADDQ(U8(8), lo)
	JMP(LabelRef(lbl("vloop")))

	Label(lbl("hpass"))
	Comment("Horizontal pass: for each row of E, 8 tiles per group.")
	stride := Load(Param("stride"), GP64())
	SHLQ(U8(2), stride)
	vrow := Load(Param("v"), GP64())
	erow := GP64()
	MOVQ(e, erow)
	rowsLeft := GP64()
	MOVQ(U32(uint64(tr.a)), rowsLeft)
	Label(lbl("hrow"))
	groups := Load(Param("groups"), GP64())
	ep, vp := GP64(), GP64()
	MOVQ(erow, ep)
	MOVQ(vrow, vp)
	Label(lbl("hgroup"))
	tr.hgroup(ep, vp, stride, x)
	ADDQ(U32(uint64(tr.egroup)), ep)
	ADDQ(U8(32), vp)
	DECQ(groups)
	JNZ(LabelRef(lbl("hgroup")))

	ADDQ(ew, erow)
	// Next E row: its α results start α V planes further.
	for i := 0; i < tr.a; i++ {
		ADDQ(stride, vrow)
	}
	DECQ(rowsLeft)
	JNZ(LabelRef(lbl("hrow")))
	VZEROUPPER()
	RET()
}

// storePlanes stores the results to vp, vp+stride, vp+2·stride, ….
func storePlanes(vp, stride Register, out []VecPhysical) {
	p := GP64()
	MOVQ(vp, p)
	for i, o := range out {
		VMOVUPS(o, Mem{Base: p})
		if i < len(out)-1 {
			ADDQ(stride, p)
		}
	}
}

// rotateIn sets dst = src moved down one lane, lane 7 taken from lane 0 of
// next (lane l of dst is lane l+1 of src): the phase of the next tile.
func rotateIn(src, next, dst, tmp, idx VecPhysical) {
	VPERMPS(src, idx, dst)
	VBROADCASTSS(next.AsX(), tmp)
	VBLENDPS(U8(0x80), tmp, dst, dst)
}

func winoInput4(tb winoTables) {
	c4, c5, idx := Y13, Y14, Y15
	winoInputKernel(inputTransform{
		name: "winoIn6", a: 6, egroup: 128,
		doc: []string{
			"winoIn6 transforms one F4 tile row of one channel (see winoInputGo): rows are",
			"the six input rows (inW values each), e is 6×ew scratch whose margins are",
			"zero, and element ξ of tile 8q+k goes to v[ξ*stride + 8q+k] for q < groups,",
			"k < 8; padW must be below 8.",
		},
		bt: func(x []VecPhysical) []VecPhysical {
			VBROADCASTSS(tb.consts.Offset(4), c4)
			VBROADCASTSS(tb.consts.Offset(8), c5)
			return winoBT(x, []VecPhysical{Y10, Y11, Y12}, c4, c5)
		},
		hgroup: func(ep, vp, stride Register, x []VecPhysical) {
			a := []VecPhysical{Y0, Y1, Y2, Y3}
			for i := range a {
				VMOVUPS(Mem{Base: ep, Disp: 32 * i}, a[i])
			}
			// Tile k of the group is E[4k…4k+5]: deinterleave the 32 values
			// into phases 0…3 (an 8×4 transpose); phases 4, 5 are phases 0,
			// 1 of the next tile, the last lane from the next group's slot.
			VPERM2F128(U8(0x20), a[2], a[0], Y4)
			VPERM2F128(U8(0x31), a[2], a[0], Y5)
			VPERM2F128(U8(0x20), a[3], a[1], Y6)
			VPERM2F128(U8(0x31), a[3], a[1], Y7)
			VUNPCKLPS(Y5, Y4, Y0)
			VUNPCKHPS(Y5, Y4, Y1)
			VUNPCKLPS(Y7, Y6, Y2)
			VUNPCKHPS(Y7, Y6, Y3)
			VSHUFPS(U8(0x44), Y2, Y0, x[0])
			VSHUFPS(U8(0xEE), Y2, Y0, x[1])
			VSHUFPS(U8(0x44), Y3, Y1, x[2])
			VSHUFPS(U8(0xEE), Y3, Y1, x[3])
			// A whole-slot load: a scalar load from inside a recent vector
			// store would stall on store forwarding.
			VMOVUPS(Mem{Base: ep, Disp: 128}, Y2)
			VMOVDQU(tb.rot, idx)
			rotateIn(x[0], Y2, x[4], Y0, idx)
			VPERMILPS(U8(0x55), Y2, Y1) // E[33] to lane 0
			rotateIn(x[1], Y1, x[5], Y0, idx)
			VBROADCASTSS(tb.consts.Offset(4), c4)
			VBROADCASTSS(tb.consts.Offset(8), c5)
			storePlanes(vp, stride, winoBT(x, []VecPhysical{Y10, Y11, Y12}, c4, c5))
		},
	}, tb)
}

func winoInput2(tb winoTables) {
	idx := Y15
	winoInputKernel(inputTransform{
		name: "winoIn4", a: 4, egroup: 64,
		doc: []string{
			"winoIn4 transforms one F2 tile row of one channel (see winoInput2Go), as",
			"winoIn6 with four rows and tiles 2 columns apart.",
		},
		bt: func(x []VecPhysical) []VecPhysical { return winoBT2(x, []VecPhysical{Y10}) },
		hgroup: func(ep, vp, stride Register, x []VecPhysical) {
			// Tile k of the group is E[2k…2k+3]: even and odd columns of
			// the group's 16 values are phases 0 and 1; phases 2, 3 are those
			// of the next tile.
			VMOVUPS(Mem{Base: ep}, Y0)
			VMOVUPS(Mem{Base: ep, Disp: 32}, Y1)
			VSHUFPS(U8(0x88), Y1, Y0, x[0])
			VPERMPD(U8(0xD8), x[0], x[0])
			VSHUFPS(U8(0xDD), Y1, Y0, x[1])
			VPERMPD(U8(0xD8), x[1], x[1])
			VMOVUPS(Mem{Base: ep, Disp: 64}, Y2)
			VMOVDQU(tb.rot, idx)
			rotateIn(x[0], Y2, x[2], Y0, idx)
			VPERMILPS(U8(0x55), Y2, Y1)
			rotateIn(x[1], Y1, x[3], Y0, idx)
			storePlanes(vp, stride, winoBT2(x, []VecPhysical{Y10}))
		},
	}, tb)
}

// outputTransform describes one output transform kernel: prepare emits
// the first pass of a group of 8 tiles (Aᵀ down the columns), row(i) the
// second for output row i, returning its vectors of 8 consecutive output
// columns with the bias added. Y12 and Y13 are free for the epilogue after
// row, Y14 and Y15 hold zero and the bias throughout.
type outputTransform struct {
	name    string
	m       int // output rows (and columns) per tile
	doc     []string
	prepare func(mp, s Register)
	row     func(i int, bias VecPhysical) []VecPhysical
}

// winoOutputKernel emits func(m *float32, stride, groups, ow int, out, res
// **float32, flags int, bias float32): per group of 8 tiles, the transform,
// then per output row i the residual res[i] (if flags&1), ReLU (if flags&2)
// and the store to out[i], masked to the ow columns of the row.
func winoOutputKernel(tr outputTransform, tb winoTables) {
	TEXT(tr.name, NOSPLIT, "func(m *float32, stride, groups, ow int, out, res **float32, flags int, bias float32)")
	Pragma("noescape")
	Doc(tr.doc...)
	lbl := func(s string) string { return tr.name + "_" + s }
	mp := Load(Param("m"), GP64())
	s := Load(Param("stride"), GP64())
	SHLQ(U8(2), s)
	zero, bias := Y14, Y15
	VXORPS(zero, zero, zero)
	b, err := Param("bias").Resolve()
	if err != nil {
		panic(err)
	}
	VBROADCASTSS(b.Addr, bias)
	nv := Load(Param("ow"), GP64()) // columns left from this group on
	col := GP64()                   // byte offset of this group's first column
	XORQ(col, col)
	q := Load(Param("groups"), GP64())
	groupCols := 8 * tr.m

	Label(lbl("group"))
	tr.prepare(mp, s)
	// A partial group (nv < groupCols) masks the one vector that is cut and
	// skips those past it: masked moves are slow.
	mbase := GP64()
	LEAQ(tb.masks.Offset(32), mbase)
	tn := GP64()
	MOVQ(nv, tn)
	SHLQ(U8(2), tn)
	SUBQ(tn, mbase) // mask of vector k at mbase + 32k
	for i := 0; i < tr.m; i++ {
		rv := tr.row(i, bias)
		each := func(name string, body func(k int, masked bool)) {
			for k := range rv {
				l := lbl(fmt.Sprintf("%s%d_%d", name, i, k))
				CMPQ(nv, U8(8*k+8))
				JGE(LabelRef(l + "_full"))
				CMPQ(nv, U8(8*k))
				JLE(LabelRef(l + "_done"))
				body(k, true)
				JMP(LabelRef(l + "_done"))
				Label(l + "_full")
				body(k, false)
				Label(l + "_done")
			}
		}
		flags := Load(Param("flags"), GP64())
		TESTQ(U32(1), flags)
		JZ(LabelRef(lbl(fmt.Sprintf("relu%d", i))))
		resArr := Load(Param("res"), GP64())
		rp := GP64()
		MOVQ(Mem{Base: resArr, Disp: 8 * i}, rp)
		ADDQ(col, rp)
		each("res", func(k int, masked bool) {
			if masked {
				VMOVDQU(Mem{Base: mbase, Disp: 32 * k}, Y12)
				VMASKMOVPS(Mem{Base: rp, Disp: 32 * k}, Y12, Y13)
				VADDPS(Y13, rv[k], rv[k])
			} else {
				VADDPS(Mem{Base: rp, Disp: 32 * k}, rv[k], rv[k])
			}
		})
		Label(lbl(fmt.Sprintf("relu%d", i)))
		TESTQ(U32(2), flags)
		JZ(LabelRef(lbl(fmt.Sprintf("store%d", i))))
		for _, v := range rv {
			VMAXPS(v, zero, v) // a NaN stays NaN, as in the micro-kernel
		}
		Label(lbl(fmt.Sprintf("store%d", i)))
		outArr := Load(Param("out"), GP64())
		op := GP64()
		MOVQ(Mem{Base: outArr, Disp: 8 * i}, op)
		ADDQ(col, op)
		each("st", func(k int, masked bool) {
			if masked {
				VMOVDQU(Mem{Base: mbase, Disp: 32 * k}, Y12)
				VMASKMOVPS(rv[k], Y12, Mem{Base: op, Disp: 32 * k})
			} else {
				VMOVUPS(rv[k], Mem{Base: op, Disp: 32 * k})
			}
		})
	}
	ADDQ(U8(32), mp)
	SUBQ(U8(uint64(groupCols)), nv)
	ADDQ(U32(uint64(4*groupCols)), col)
	DECQ(q)
	JNZ(LabelRef(lbl("group")))
	VZEROUPPER()
	RET()
}

func winoOutput4(tb winoTables) {
	var tmp Mem
	c2, c4, c8 := Y9, Y10, Y11
	consts := func() {
		VBROADCASTSS(tb.consts, c2)
		VBROADCASTSS(tb.consts.Offset(4), c4)
		VBROADCASTSS(tb.consts.Offset(12), c8)
	}
	winoOutputKernel(outputTransform{
		name: "winoOut6", m: 4,
		doc: []string{
			"winoOut6 inverts one F4 tile row of one output channel (see winoOutputGo):",
			"tile 8q+k reads m[ξ*stride + 8q+k]; output row i (of four) gets columns",
			"32q…32q+31 below ow, plus bias, plus res[i] if flags&1, then ReLU if flags&2.",
		},
		prepare: func(mp, s Register) {
			if tmp.Base == nil {
				tmp = AllocLocal(24 * 32)
			}
			consts()
			s6 := GP64()
			LEAQ(Mem{Base: s, Index: s, Scale: 2}, s6)
			SHLQ(U8(1), s6)
			Comment("Columns: Aᵀ down each of the six columns of every tile, to the stack.")
			winoATColumns(mp, s, s6, []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5}, []VecPhysical{Y6, Y7}, c2, c4, c8, tmp)
		},
		row: func(i int, bias VecPhysical) []VecPhysical {
			consts() // the epilogue of the previous row used Y12, Y13
			m := []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5}
			for nu := range m {
				VMOVUPS(tmp.Offset(32*(6*i+nu)), m[nu])
			}
			y := winoAT(m, []VecPhysical{Y6, Y7}, c2, c4, c8)
			for _, v := range y {
				VADDPS(bias, v, v)
			}
			// y[j] holds column j of tiles 0…7; interleave to 4 vectors of
			// 8 consecutive columns (tiles 2k, 2k+1).
			VUNPCKLPS(y[1], y[0], Y2)
			VUNPCKHPS(y[1], y[0], Y3)
			VUNPCKLPS(y[3], y[2], Y4)
			VUNPCKHPS(y[3], y[2], Y8)
			VSHUFPS(U8(0x44), Y4, Y2, Y12)
			VSHUFPS(U8(0xEE), Y4, Y2, Y13)
			VSHUFPS(U8(0x44), Y8, Y3, Y2)
			VSHUFPS(U8(0xEE), Y8, Y3, Y4)
			rv := []VecPhysical{Y0, Y1, Y3, Y5}
			VPERM2F128(U8(0x20), Y13, Y12, rv[0])
			VPERM2F128(U8(0x20), Y4, Y2, rv[1])
			VPERM2F128(U8(0x31), Y13, Y12, rv[2])
			VPERM2F128(U8(0x31), Y4, Y2, rv[3])
			return rv
		},
	}, tb)
}

func winoOutput2(tb winoTables) {
	// t[i][ν] (first pass result, row i of column ν) lives in Y(2ν+i).
	t := func(i, nu int) VecPhysical { return []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7}[2*nu+i] }
	winoOutputKernel(outputTransform{
		name: "winoOut4", m: 2,
		doc: []string{
			"winoOut4 inverts one F2 tile row of one output channel (see winoOutput2Go),",
			"as winoOut6 with two output rows and 16 columns per group.",
		},
		prepare: func(mp, s Register) {
			s4 := GP64()
			LEAQ(Mem{Base: s, Index: s, Scale: 2}, s4)
			ADDQ(s, s4)
			for nu := 0; nu < 4; nu++ {
				p := GP64()
				MOVQ(mp, p)
				for k := 0; k < nu; k++ {
					ADDQ(s, p)
				}
				m := []VecPhysical{t(0, nu), t(1, nu), Y8, Y9}
				VMOVUPS(Mem{Base: p}, m[0])
				VMOVUPS(Mem{Base: p, Index: s4, Scale: 1}, m[1])
				VMOVUPS(Mem{Base: p, Index: s4, Scale: 2}, m[2])
				LEAQ(Mem{Base: p, Index: s4, Scale: 2}, p)
				VMOVUPS(Mem{Base: p, Index: s4, Scale: 1}, m[3])
				winoAT2(m)
			}
		},
		row: func(i int, bias VecPhysical) []VecPhysical {
			y := winoAT2([]VecPhysical{t(i, 0), t(i, 1), t(i, 2), t(i, 3)})
			for _, v := range y {
				VADDPS(bias, v, v)
			}
			// Columns 2k, 2k+1 are tile k's two outputs.
			VUNPCKLPS(y[1], y[0], Y8)
			VUNPCKHPS(y[1], y[0], Y9)
			VPERM2F128(U8(0x20), Y9, Y8, Y10)
			VPERM2F128(U8(0x31), Y9, Y8, Y11)
			return []VecPhysical{Y10, Y11}
		},
	}, tb)
}

// winoATColumns applies Aᵀ down each of the six columns of a 6×6 tile of M, whose plane ξ
// starts at mp + ξ·s (s6 = 6·s), and stores the 4×6 result, column by column, to tmp.
func winoATColumns(mp, s, s6 Register, m, temps []VecPhysical, c2, c4, c8 VecPhysical, tmp Mem) {
	for nu := 0; nu < 6; nu++ {
		p, p3 := GP64(), GP64()
		MOVQ(mp, p)
		for k := 0; k < nu; k++ {
			ADDQ(s, p)
		}
		loadSix(p, p3, s6, m)
		for i, v := range winoAT(m, temps, c2, c4, c8) {
			VMOVUPS(v, tmp.Offset(32*(6*i+nu)))
		}
	}
}

// loadSix loads six vectors stride bytes apart from base into v, using p3 for base+3·stride.
func loadSix(base, p3, stride Register, v []VecPhysical) {
	LEAQ(Mem{Base: base, Index: stride, Scale: 2}, p3)
	ADDQ(stride, p3)
	VMOVUPS(Mem{Base: base}, v[0])
	VMOVUPS(Mem{Base: base, Index: stride, Scale: 1}, v[1])
	VMOVUPS(Mem{Base: base, Index: stride, Scale: 2}, v[2])
	VMOVUPS(Mem{Base: p3}, v[3])
	VMOVUPS(Mem{Base: p3, Index: stride, Scale: 1}, v[4])
	VMOVUPS(Mem{Base: p3, Index: stride, Scale: 2}, v[5])
}
