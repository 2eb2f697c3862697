// Command asm generates the AVX2 assembly of package imageproc with avo.
//
// Run it through `go generate ./imageproc` from the repository root; it writes
// imageproc/avx2_amd64.s and the Go declarations
// imageproc/avx2_stub_amd64.go. The kernels are the inner loops of the
// resampler (see resample_avx2.go): Resample.c's fixed-point sums in 32-bit
// lanes, which are exact for the weights lanesFit accepts, so the bytes are
// those of the Go code and of Pillow; and of libjpeg-turbo's chroma
// upsampling and colour conversion (ycc.go), whose tables are fixed-point
// formulas computed here in 16- and 32-bit lanes, bit for bit.
package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// precisionBits must match imageproc's (Resample.c's PRECISION_BITS).
const precisionBits = 22

func main() {
	ConstraintExpr("!noasm")
	consts()
	widenRGB()
	hResample()
	vResample()
	yccData()
	yccToRGB()
	fancy420()
	fancy422()
	idctData()
	idct()
	Generate()
}

var half, halfLow, packOrder, widenShuf Mem

func consts() {
	half = GLOBL("resampleHalf", RODATA|NOPTR)
	for i := 0; i < 8; i++ {
		DATA(4*i, U32(1<<(precisionBits-1)))
	}
	// The rounding term in the low four lanes only: the high half of the
	// horizontal accumulator is added to the low half before the shift.
	halfLow = GLOBL("resampleHalfLow", RODATA|NOPTR)
	for i := 0; i < 8; i++ {
		v := uint32(0)
		if i < 4 {
			v = 1 << (precisionBits - 1)
		}
		DATA(4*i, U32(v))
	}
	// After VPACKSSDW and VPACKUSWB of four accumulators a, b, c, d (eight
	// lanes each), the dwords hold a0-3 b0-3 c0-3 d0-3 a4-7 b4-7 c4-7 d4-7.
	packOrder = GLOBL("resamplePackOrder", RODATA|NOPTR)
	for i, v := range []uint32{0, 4, 1, 5, 2, 6, 3, 7} {
		DATA(4*i, U32(v))
	}
	// VPSHUFB mask spreading four RGB pixels (12 bytes) to RGB0 quadruples.
	widenShuf = GLOBL("resampleWidenShuf", RODATA|NOPTR)
	for i, v := range []byte{0, 1, 2, 0x80, 3, 4, 5, 0x80, 6, 7, 8, 0x80, 9, 10, 11, 0x80} {
		DATA(i, U8(v))
	}
}

// widenRGB is widen4 for groups of four pixels.
func widenRGB() {
	TEXT("widenAVX2", NOSPLIT, "func(dst *int32, src *uint8, groups int)")
	Pragma("noescape")
	Doc(
		"widenAVX2 writes groups·4 pixels of src (RGB bytes) to dst as int32",
		"lanes R, G, B, 0. It reads 16 bytes per group of 12, so src needs 4",
		"bytes more than 12·groups.",
	)
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("groups"), GP64())
	TESTQ(n, n)
	JZ(LabelRef("w_done"))
	VMOVDQU(widenShuf, X15)
	Label("w_loop")
	VMOVDQU(Mem{Base: src}, X0)
	VPSHUFB(X15, X0, X0)
	VPMOVZXBD(X0, Y1)
	VPSRLDQ(U8(8), X0, X0)
	VPMOVZXBD(X0, Y2)
	VMOVDQU(Y1, Mem{Base: dst})
	VMOVDQU(Y2, Mem{Base: dst, Disp: 32})
	ADDQ(U8(12), src)
	ADDQ(U8(64), dst)
	DECQ(n)
	JNZ(LabelRef("w_loop"))
	Label("w_done")
	VZEROUPPER()
	RET()
}

// hResample is the horizontal pass over one widened source row.
func hResample() {
	TEXT("hResampleAVX2", NOSPLIT, "func(dst *uint8, src *int32, start *int32, w *int32, n, pairs int)")
	Pragma("noescape")
	Doc(
		"hResampleAVX2 computes n output pixels of one row. Pixel x reads the source",
		"pixels from start[x] on, widened to four int32 lanes each (R, G, B, 0), two",
		"at a time against w's eight lanes (two tap weights, each four times); its",
		"pairs products are summed with the rounding term, shifted right by",
		"precisionBits and saturated to bytes, and R, G, B stored at dst[3x:]. Four",
		"bytes are written per pixel: dst needs one byte more than 3n.",
	)
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	start := Load(Param("start"), GP64())
	w := Load(Param("w"), GP64())
	n := Load(Param("n"), GP64())
	pairs := Load(Param("pairs"), GP64())
	TESTQ(n, n)
	JZ(LabelRef("h_done"))
	VMOVDQU(halfLow, Y15)
	p := GP64()
	j := GP64()
	Label("h_pixel")
	MOVLQSX(Mem{Base: start}, p)
	SHLQ(U8(4), p) // 16 bytes per widened pixel
	ADDQ(src, p)
	VMOVDQA(Y15, Y0)
	VPXOR(Y1, Y1, Y1)
	MOVQ(pairs, j)
	// Two accumulators for two pairs of taps per round.
	CMPQ(j, U8(2))
	JB(LabelRef("h_one"))
	Label("h_two")
	VMOVDQU(Mem{Base: p}, Y2)
	VPMULLD(Mem{Base: w}, Y2, Y2)
	VPADDD(Y2, Y0, Y0)
	VMOVDQU(Mem{Base: p, Disp: 32}, Y3)
	VPMULLD(Mem{Base: w, Disp: 32}, Y3, Y3)
	VPADDD(Y3, Y1, Y1)
	ADDQ(U8(64), p)
	ADDQ(U8(64), w)
	SUBQ(U8(2), j)
	CMPQ(j, U8(2))
	JAE(LabelRef("h_two"))
	Label("h_one")
	TESTQ(j, j)
	JZ(LabelRef("h_sum"))
	VMOVDQU(Mem{Base: p}, Y2)
	VPMULLD(Mem{Base: w}, Y2, Y2)
	VPADDD(Y2, Y0, Y0)
	ADDQ(U8(32), w)
	Label("h_sum")
	VPADDD(Y1, Y0, Y0)
	VEXTRACTI128(U8(1), Y0, X1)
	VPADDD(X1, X0, X0)
	VPSRAD(U8(precisionBits), X0, X0)
	VPACKSSDW(X0, X0, X0)
	VPACKUSWB(X0, X0, X0)
	VMOVD(X0, Mem{Base: dst})
	ADDQ(U8(3), dst)
	ADDQ(U8(4), start)
	DECQ(n)
	JNZ(LabelRef("h_pixel"))
	Label("h_done")
	VZEROUPPER()
	RET()
}

// vResample is the vertical pass for one output row.
func vResample() {
	TEXT("vResampleAVX2", NOSPLIT, "func(dst *uint8, base *uint8, offs *int, w *int32, taps, n int)")
	Pragma("noescape")
	Doc(
		"vResampleAVX2 computes n bytes of an output row (n a multiple of 8):",
		"dst[i] = clip8(half + Σ_t w[t]·base[offs[t]+i]), reading row t of the taps",
		"at base+offs[t]. It takes 32 bytes per round, then 8.",
	)
	dst := Load(Param("dst"), GP64())
	base := Load(Param("base"), GP64())
	offs := Load(Param("offs"), GP64())
	w := Load(Param("w"), GP64())
	taps := Load(Param("taps"), GP64())
	n := Load(Param("n"), GP64())
	VMOVDQU(half, Y14)
	VMOVDQU(packOrder, Y13)
	i := GP64()
	t := GP64()
	r := GP64()
	XORQ(i, i)
	Label("v_wide")
	MOVQ(n, r)
	SUBQ(i, r)
	CMPQ(r, U8(32))
	JB(LabelRef("v_narrow"))
	VMOVDQA(Y14, Y0)
	VMOVDQA(Y14, Y1)
	VMOVDQA(Y14, Y2)
	VMOVDQA(Y14, Y3)
	XORQ(t, t)
	Label("v_wide_tap")
	MOVQ(Mem{Base: offs, Index: t, Scale: 8}, r)
	ADDQ(base, r)
	ADDQ(i, r)
	VPBROADCASTD(Mem{Base: w, Index: t, Scale: 4}, Y4)
	for k := 0; k < 4; k++ {
		y := []VecPhysical{Y5, Y6, Y7, Y8}[k]
		VPMOVZXBD(Mem{Base: r, Disp: 8 * k}, y)
		VPMULLD(Y4, y, y)
		VPADDD(y, []VecPhysical{Y0, Y1, Y2, Y3}[k], []VecPhysical{Y0, Y1, Y2, Y3}[k])
	}
	INCQ(t)
	CMPQ(t, taps)
	JB(LabelRef("v_wide_tap"))
	for _, y := range []VecPhysical{Y0, Y1, Y2, Y3} {
		VPSRAD(U8(precisionBits), y, y)
	}
	VPACKSSDW(Y1, Y0, Y0)
	VPACKSSDW(Y3, Y2, Y2)
	VPACKUSWB(Y2, Y0, Y0)
	VPERMD(Y0, Y13, Y0)
	VMOVDQU(Y0, Mem{Base: dst, Index: i, Scale: 1})
	ADDQ(U8(32), i)
	JMP(LabelRef("v_wide"))

	Label("v_narrow")
	CMPQ(i, n)
	JAE(LabelRef("v_done"))
	VMOVDQA(Y14, Y0)
	XORQ(t, t)
	Label("v_narrow_tap")
	MOVQ(Mem{Base: offs, Index: t, Scale: 8}, r)
	ADDQ(base, r)
	ADDQ(i, r)
	VPBROADCASTD(Mem{Base: w, Index: t, Scale: 4}, Y4)
	VPMOVZXBD(Mem{Base: r}, Y5)
	VPMULLD(Y4, Y5, Y5)
	VPADDD(Y5, Y0, Y0)
	INCQ(t)
	CMPQ(t, taps)
	JB(LabelRef("v_narrow_tap"))
	VPSRAD(U8(precisionBits), Y0, Y0)
	VPACKSSDW(Y0, Y0, Y0)
	VPACKUSWB(Y0, Y0, Y0)
	VPERMD(Y0, Y13, Y0)
	VMOVQ(X0, Mem{Base: dst, Index: i, Scale: 1})
	ADDQ(U8(8), i)
	JMP(LabelRef("v_narrow"))

	Label("v_done")
	VZEROUPPER()
	RET()
}
