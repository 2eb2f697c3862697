package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// maxPool3s2 emits one output row of a 3×3, stride-2, padding-1 max pool:
// out[x] = max over rows r0…r2 and input columns 2x-1…2x+1 (column -1 and
// columns ≥ w are padding, which never wins). A NaN anywhere in the window
// makes the output NaN, as in PyTorch (maxPoolPlane is the specification).
// 16 input columns give 8 outputs: the even and odd columns are deinterleaved
// and column 2x-1 is the odd one of the previous output, carried in a register.
func maxPool3s2(tb winoTables) {
	TEXT("maxPool3s2Row", NOSPLIT, "func(r0, r1, r2 *float32, w int, out *float32, ow int)")
	Pragma("noescape")
	Doc(
		"maxPool3s2Row writes out[x] = max(r_i[2x-1+j], i, j < 3) for x < ow, columns outside",
		"0…w-1 excluded; a NaN in a window gives NaN. Padding rows are passed as copies",
		"of a valid row.",
	)
	neg := GLOBL("neginf", RODATA|NOPTR)
	DATA(0, U32(math.Float32bits(float32(math.Inf(-1)))))
	rotR := GLOBL("rotright", RODATA|NOPTR)
	for i := 0; i < 8; i++ {
		DATA(4*i, U32((i+7)%8)) // lane l takes lane l-1
	}
	r := []Register{Load(Param("r0"), GP64()), Load(Param("r1"), GP64()), Load(Param("r2"), GP64())}
	w := Load(Param("w"), GP64())
	op := Load(Param("out"), GP64())
	ow := Load(Param("ow"), GP64())
	ninf, idx, carry := Y15, Y14, Y13
	VBROADCASTSS(neg, ninf)
	VMOVDQU(rotR, idx)
	VMOVAPS(ninf, carry) // column -1 is padding

	// maxn sets d = max(a, b), NaN if either is NaN; t is clobbered.
	maxn := func(a, b, d, t VecPhysical) {
		VCMPPS(U8(3), b, a, t) // unordered: either is NaN
		VMAXPS(b, a, d)
		VORPS(t, d, d) // all ones is a NaN
	}
	// mask sets m to the lanes below n (clamped to 0…8) using GP scratch.
	mask := func(n Register, m VecPhysical) {
		c, z, e := GP64(), GP64(), GP64()
		MOVQ(n, c)
		MOVQ(U32(8), e)
		CMPQ(c, e)
		CMOVQGT(e, c)
		XORQ(z, z)
		CMPQ(c, z)
		CMOVQLT(z, c)
		LEAQ(tb.masks.Offset(32), e)
		SHLQ(U8(2), c)
		SUBQ(c, e)
		VMOVDQU(Mem{Base: e}, m)
	}
	left := GP64() // input columns left from this group on
	MOVQ(w, left)
	Label("mp_loop")
	TESTQ(ow, ow)
	JLE(LabelRef("mp_done"))
	// Vertical maximum of the 16 columns, as two vectors.
	v := []VecPhysical{Y0, Y1}
	CMPQ(left, U8(16))
	JL(LabelRef("mp_vtail"))
	for h := range v {
		VMOVUPS(Mem{Base: r[0], Disp: 32 * h}, v[h])
		VMOVUPS(Mem{Base: r[1], Disp: 32 * h}, Y2)
		maxn(v[h], Y2, v[h], Y3)
		VMOVUPS(Mem{Base: r[2], Disp: 32 * h}, Y2)
		maxn(v[h], Y2, v[h], Y3)
	}
	JMP(LabelRef("mp_horiz"))
	Label("mp_vtail")
	Comment("Fewer than 16 columns: masked loads, padding lanes -inf.")
	n := GP64()
	for h := range v {
		MOVQ(left, n)
		SUBQ(U8(8*h), n)
		mask(n, Y4)
		for i := range r {
			VMASKMOVPS(Mem{Base: r[i], Disp: 32 * h}, Y4, Y2)
			VBLENDVPS(Y4, Y2, ninf, Y2) // lanes off the mask: -inf
			if i == 0 {
				VMOVAPS(Y2, v[h])
			} else {
				maxn(v[h], Y2, v[h], Y3)
			}
		}
	}

	Label("mp_horiz")
	// Even columns 2x, odd columns 2x+1; 2x-1 is the previous odd column.
	VSHUFPS(U8(0x88), v[1], v[0], Y4)
	VPERMPD(U8(0xD8), Y4, Y4)
	VSHUFPS(U8(0xDD), v[1], v[0], Y5)
	VPERMPD(U8(0xD8), Y5, Y5)
	VPERMPS(Y5, idx, Y6)              // lane l = odd l-1, lane 0 = odd 7
	VBLENDPS(U8(0x01), carry, Y6, Y7) // lane 0 from the previous group
	VMOVAPS(Y6, carry)
	maxn(Y4, Y5, Y4, Y3)
	maxn(Y4, Y7, Y4, Y3)
	CMPQ(ow, U8(8))
	JL(LabelRef("mp_otail"))
	VMOVUPS(Y4, Mem{Base: op})
	JMP(LabelRef("mp_next"))
	Label("mp_otail")
	mask(ow, Y2)
	VMASKMOVPS(Y4, Y2, Mem{Base: op})
	Label("mp_next")
	for i := range r {
		ADDQ(U8(64), r[i])
	}
	ADDQ(U8(32), op)
	SUBQ(U8(16), left)
	SUBQ(U8(8), ow)
	JMP(LabelRef("mp_loop"))
	Label("mp_done")
	VZEROUPPER()
	RET()
}
