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
		tb.lanesMask(c, e, m)
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

// addReLU emits dst[i] = src[i] + res[i], then max(0, ·) if relu != 0, for
// i < n: the residual stage of convolutions whose GEMM output is compacted.
func addReLU(tb winoTables) {
	TEXT("addReLU", NOSPLIT, "func(dst, src, res *float32, n, relu int)")
	Pragma("noescape")
	Doc("addReLU sets dst[i] = src[i] + res[i] for i < n, then clamps negatives to zero if relu != 0 (a NaN stays NaN).")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	res := Load(Param("res"), GP64())
	n := Load(Param("n"), GP64())
	relu := Load(Param("relu"), GP64())
	zero := Y15
	VXORPS(zero, zero, zero)
	i := GP64()
	XORQ(i, i)
	Label("ar_loop")
	left := GP64()
	MOVQ(n, left)
	SUBQ(i, left)
	CMPQ(left, U8(8))
	JL(LabelRef("ar_tail"))
	VMOVUPS(Mem{Base: src, Index: i, Scale: 4}, Y0)
	VADDPS(Mem{Base: res, Index: i, Scale: 4}, Y0, Y0)
	TESTQ(relu, relu)
	JZ(LabelRef("ar_store"))
	VMAXPS(Y0, zero, Y0)
	Label("ar_store")
	VMOVUPS(Y0, Mem{Base: dst, Index: i, Scale: 4})
	ADDQ(U8(8), i)
	JMP(LabelRef("ar_loop"))
	Label("ar_tail")
	TESTQ(left, left)
	JLE(LabelRef("ar_done"))
	m := GP64()
	tb.lanesMask(left, m, Y1)
	VMASKMOVPS(Mem{Base: src, Index: i, Scale: 4}, Y1, Y0)
	VMASKMOVPS(Mem{Base: res, Index: i, Scale: 4}, Y1, Y2)
	VADDPS(Y2, Y0, Y0)
	TESTQ(relu, relu)
	JZ(LabelRef("ar_tstore"))
	VMAXPS(Y0, zero, Y0)
	Label("ar_tstore")
	VMASKMOVPS(Y0, Y1, Mem{Base: dst, Index: i, Scale: 4})
	Label("ar_done")
	VZEROUPPER()
	RET()
}

// epilogueRow emits the last step of a GEMM whose K blocks were summed apart
// (gemm_ksplit.go): c[i] += t[i], then the micro-kernels' epilogue in their
// order, bias, residual, ReLU, chosen by the same flag bits.
func epilogueRow(tb winoTables) {
	TEXT("epilogueRow", NOSPLIT, "func(c, t, res *float32, n int, bias float32, flags int)")
	Pragma("noescape")
	Doc(
		"epilogueRow sets c[i] = t[i] + c[i], then adds bias (flags&flagBias) and res[i]",
		"(flags&flagResidual) and clamps negatives to zero (flags&flagReLU; a NaN stays NaN), for i < n.",
	)
	c := Load(Param("c"), GP64())
	t := Load(Param("t"), GP64())
	res := Load(Param("res"), GP64())
	n := Load(Param("n"), GP64())
	flags := Load(Param("flags"), GP64())
	zero, bias := Y15, Y14
	VXORPS(zero, zero, zero)
	VBROADCASTSS(NewParamAddr("bias", 32), bias)
	i, left, m := GP64(), GP64(), GP64()
	XORQ(i, i)
	// body applies the epilogue to Y0, loading the operands with load.
	body := func(pre string, load func(base Register, dst VecPhysical)) {
		TESTQ(U32(flagBias), flags)
		JZ(LabelRef(pre + "_res"))
		VADDPS(bias, Y0, Y0)
		Label(pre + "_res")
		TESTQ(U32(flagResidual), flags)
		JZ(LabelRef(pre + "_relu"))
		load(res, Y1)
		VADDPS(Y1, Y0, Y0)
		Label(pre + "_relu")
		TESTQ(U32(flagReLU), flags)
		JZ(LabelRef(pre + "_done"))
		VMAXPS(Y0, zero, Y0)
		Label(pre + "_done")
	}
	Label("er_loop")
	MOVQ(n, left)
	SUBQ(i, left)
	CMPQ(left, U8(8))
	JL(LabelRef("er_tail"))
	VMOVUPS(Mem{Base: t, Index: i, Scale: 4}, Y0)
	VADDPS(Mem{Base: c, Index: i, Scale: 4}, Y0, Y0)
	body("er_v", func(base Register, dst VecPhysical) { VMOVUPS(Mem{Base: base, Index: i, Scale: 4}, dst) })
	VMOVUPS(Y0, Mem{Base: c, Index: i, Scale: 4})
	ADDQ(U8(8), i)
	JMP(LabelRef("er_loop"))
	Label("er_tail")
	TESTQ(left, left)
	JLE(LabelRef("er_end"))
	tb.lanesMask(left, m, Y2)
	VMASKMOVPS(Mem{Base: t, Index: i, Scale: 4}, Y2, Y0)
	VMASKMOVPS(Mem{Base: c, Index: i, Scale: 4}, Y2, Y1)
	VADDPS(Y1, Y0, Y0)
	body("er_t", func(base Register, dst VecPhysical) { VMASKMOVPS(Mem{Base: base, Index: i, Scale: 4}, Y2, dst) })
	VMASKMOVPS(Y0, Y2, Mem{Base: c, Index: i, Scale: 4})
	Label("er_end")
	VZEROUPPER()
	RET()
}
