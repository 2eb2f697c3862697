package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The Winograd weight gradient (kernels/winograd_dw.go): winoDyL6 transforms tiles of the
// output gradient with A·dY·Aᵀ, 8 channels per vector, and winoDW16 accumulates the
// per-plane products ∂U_ξ = D_ξ·V_ξᵀ. winoDyL6Go and winoDW16Go are the specifications.

func winoDW(tb winoTables) {
	winoDyL6(tb)
	winoDW16()
}

// winoA emits A·d for four vectors d (kept) with temporaries t (four) and the broadcast
// constants c2 = 2, c4 = 4, c8 = 8; it returns the six results, in t and two of out. Same
// factorisation as winoACol (4·d2 and 2·d1 are exact, so the FMAs round as the Go code).
func winoA(d, t, out []VecPhysical, c2, c4, c8 VecPhysical) []VecPhysical {
	a, b, c, e := t[0], t[1], t[2], t[3]
	VADDPS(d[2], d[0], a)
	VADDPS(d[3], d[1], b)
	VMOVAPS(d[0], c)
	VFMADD231PS(c4, d[2], c) // c = d0 + 4·d2
	VMULPS(c2, d[1], e)
	VFMADD231PS(c8, d[3], e) // e = 2·d1 + 8·d3
	VADDPS(b, a, out[0])
	VSUBPS(b, a, out[1])
	VADDPS(e, c, a)
	VSUBPS(e, c, b)
	return []VecPhysical{d[0], out[0], out[1], a, b, d[3]}
}

func winoDyL6(tb winoTables) {
	TEXT("winoDyL6", NOSPLIT, "func(q *float32, qs, th, tw int, d *float32, ds int)")
	Pragma("noescape")
	Doc(
		"winoDyL6 is the F4 output-gradient transform A·dY·Aᵀ of th×tw tiles in lane-major",
		"layout (see winoDyL6Go): tile (ty, tx) reads q[(4ty+i)*qs + 8(4tx+j) + l], i, j < 4,",
		"and writes element ξ to d[ξ*ds + 8(ty*tw+tx) + l].",
	)
	tmp := AllocLocal(24 * 32)
	c2, c4, c8 := Y13, Y14, Y15
	VBROADCASTSS(tb.consts, c2)
	VBROADCASTSS(tb.consts.Offset(4), c4)
	VBROADCASTSS(tb.consts.Offset(12), c8)
	in := []VecPhysical{Y0, Y1, Y2, Y3}
	temps := []VecPhysical{Y4, Y5, Y6, Y7}
	outs := []VecPhysical{Y8, Y9}

	qrow := Load(Param("q"), GP64())
	qs := Load(Param("qs"), GP64())
	SHLQ(U8(2), qs)
	qs3 := GP64()
	LEAQ(Mem{Base: qs, Index: qs, Scale: 2}, qs3)
	dp := Load(Param("d"), GP64())
	ds := Load(Param("ds"), GP64())
	SHLQ(U8(2), ds)
	th := Load(Param("th"), GP64())

	Label("wdy_row")
	qt := GP64()
	MOVQ(qrow, qt)
	ntile := Load(Param("tw"), GP64())
	Label("wdy_tile")
	Comment("Columns: A down each of the four columns of the tile, to the stack.")
	for j := 0; j < 4; j++ {
		VMOVUPS(Mem{Base: qt, Disp: 32 * j}, in[0])
		VMOVUPS(Mem{Base: qt, Index: qs, Scale: 1, Disp: 32 * j}, in[1])
		VMOVUPS(Mem{Base: qt, Index: qs, Scale: 2, Disp: 32 * j}, in[2])
		VMOVUPS(Mem{Base: qt, Index: qs3, Scale: 1, Disp: 32 * j}, in[3])
		for i, v := range winoA(in, temps, outs, c2, c4, c8) {
			VMOVUPS(v, tmp.Offset(32*(4*i+j)))
		}
	}
	Comment("Rows: A along each of the six rows, to the 36 planes of D.")
	p := GP64()
	MOVQ(dp, p)
	for i := 0; i < 6; i++ {
		for j := range in {
			VMOVUPS(tmp.Offset(32*(4*i+j)), in[j])
		}
		for k, v := range winoA(in, temps, outs, c2, c4, c8) {
			VMOVUPS(v, Mem{Base: p})
			if i < 5 || k < 5 {
				ADDQ(ds, p)
			}
		}
	}
	ADDQ(U8(32), dp)
	ADDQ(U32(128), qt)
	DECQ(ntile)
	JNZ(LabelRef("wdy_tile"))
	// Next tile row: 4 rows of q down.
	LEAQ(Mem{Base: qrow, Index: qs, Scale: 4}, qrow)
	DECQ(th)
	JNZ(LabelRef("wdy_row"))
	VZEROUPPER()
	RET()
}

// winoDW16 emits the accumulation of one Winograd plane's weight gradient: blocks of 4 output
// by 16 input channels, the sum over the k tiles in eight registers (B: two vector loads per
// tile, the two 8-channel groups of the block's columns; A: four broadcasts), then added to U.
func winoDW16() {
	TEXT("winoDW16", NOSPLIT, "func(k int, d *float32, dgs, no int, v *float32, vgs, ni int, u *float32)")
	Pragma("noescape")
	Doc(
		"winoDW16 adds u[o*ni + i] += Σ_t d[(o/8)*dgs + 8t + o%8]·v[(i/8)*vgs + 8t + i%8] for",
		"o < no, i < ni, t < k (see winoDW16Go); no a multiple of 4, ni of 16, k positive.",
	)
	accs := []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7}
	vgs := Load(Param("vgs"), GP64())
	SHLQ(U8(2), vgs)
	ni4 := Load(Param("ni"), GP64())
	SHLQ(U8(2), ni4) // bytes per row of U
	vcol := Load(Param("v"), GP64())
	ucol := Load(Param("u"), GP64())
	nib := Load(Param("ni"), GP64())
	SHRQ(U8(4), nib)

	Label("wdw_col")
	arow := Load(Param("d"), GP64())
	urow := GP64()
	MOVQ(ucol, urow)
	nob := Load(Param("no"), GP64())
	SHRQ(U8(2), nob)
	half := GP64() // 0 for the first four rows of an 8-row group, 16 bytes for the second
	XORQ(half, half)

	Label("wdw_blk")
	for _, a := range accs {
		VXORPS(a, a, a)
	}
	ap, bp := GP64(), GP64()
	LEAQ(Mem{Base: arow, Index: half, Scale: 1}, ap)
	MOVQ(vcol, bp)
	k := Load(Param("k"), GP64())
	step := func(disp int) {
		VMOVUPS(Mem{Base: bp, Disp: disp}, Y8)
		VMOVUPS(Mem{Base: bp, Index: vgs, Scale: 1, Disp: disp}, Y9)
		for r := 0; r < 4; r++ {
			bc := []VecPhysical{Y10, Y11}[r%2]
			VBROADCASTSS(Mem{Base: ap, Disp: disp + 4*r}, bc)
			VFMADD231PS(Y8, bc, accs[2*r])
			VFMADD231PS(Y9, bc, accs[2*r+1])
		}
	}
	CMPQ(k, U8(4))
	JL(LabelRef("wdw_tail"))
	Label("wdw_loop4")
	for s := 0; s < 4; s++ {
		step(32 * s)
	}
	ADDQ(U8(128), ap)
	ADDQ(U8(128), bp)
	SUBQ(U8(4), k)
	CMPQ(k, U8(4))
	JGE(LabelRef("wdw_loop4"))
	Label("wdw_tail")
	TESTQ(k, k)
	JZ(LabelRef("wdw_store"))
	Label("wdw_loop1")
	step(0)
	ADDQ(U8(32), ap)
	ADDQ(U8(32), bp)
	DECQ(k)
	JNZ(LabelRef("wdw_loop1"))

	Label("wdw_store")
	for r := 0; r < 4; r++ {
		VADDPS(Mem{Base: urow}, accs[2*r], accs[2*r])
		VADDPS(Mem{Base: urow, Disp: 32}, accs[2*r+1], accs[2*r+1])
		VMOVUPS(accs[2*r], Mem{Base: urow})
		VMOVUPS(accs[2*r+1], Mem{Base: urow, Disp: 32})
		ADDQ(ni4, urow)
	}
	// Next block of rows: the other half of this 8-row group, or the next group.
	XORQ(U8(16), half)
	JNZ(LabelRef("wdw_same"))
	dgs := Load(Param("dgs"), GP64())
	SHLQ(U8(2), dgs)
	ADDQ(dgs, arow)
	Label("wdw_same")
	DECQ(nob)
	JNZ(LabelRef("wdw_blk"))

	// Next 16 columns: two groups of V on, 64 bytes of U on.
	LEAQ(Mem{Base: vcol, Index: vgs, Scale: 2}, vcol)
	ADDQ(U8(64), ucol)
	DECQ(nib)
	JNZ(LabelRef("wdw_col"))
	VZEROUPPER()
	RET()
}
