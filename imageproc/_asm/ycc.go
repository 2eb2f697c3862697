package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// jdcolor.c's build_ycc_rgb_table constants, FIX(x) = int(x·2^16 + 0.5); must
// match imageproc's tables (TestYCbCrAVX2Exhaustive compares every Y, Cb, Cr).
const (
	fixCrR = 91881  // FIX(1.40200)
	fixCbB = 116130 // FIX(1.77200)
	fixCrG = 46802  // FIX(0.71414)
	fixCbG = 22554  // FIX(0.34414)
)

var yccConsts, rgbShuf Mem

func yccData() {
	// Eight lanes each: 128, FIX(1.402), FIX(1.772), -FIX(0.71414),
	// -FIX(0.34414), 1<<15, 255.
	yccConsts = GLOBL("yccConsts", RODATA|NOPTR)
	for k, v := range []int32{128, fixCrR, fixCbB, -fixCrG, -fixCbG, 1 << 15, 255} {
		for i := 0; i < 8; i++ {
			DATA(32*k+4*i, U32(uint32(v)))
		}
	}
	// VPSHUFB mask dropping every fourth byte of each 128-bit lane (RGB0 ×4
	// to RGB ×4 in the low 12 bytes).
	rgbShuf = GLOBL("yccRGBShuf", RODATA|NOPTR)
	for lane := 0; lane < 2; lane++ {
		for i, v := range []byte{0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 0x80, 0x80, 0x80, 0x80} {
			DATA(16*lane+i, U8(v))
		}
	}
}

func yccConst(k int) Mem { m := yccConsts; m.Disp += 32 * k; return m }

// yccToRGB converts rows of Y, Cb, Cr samples.
func yccToRGB() {
	TEXT("yccToRGBAVX2", NOSPLIT, "func(out *uint8, y, cb, cr *uint8, groups int)")
	Pragma("noescape")
	Doc(
		"yccToRGBAVX2 converts groups·8 pixels with jdcolor.c's fixed-point",
		"formulas (the values of its tables, computed in 32-bit lanes):",
		"R = y + (FIX(1.402)·(cr-128) + 2^15)>>16, B = y + (FIX(1.772)·(cb-128) + 2^15)>>16,",
		"G = y + (2^15 - FIX(0.34414)·(cb-128) - FIX(0.71414)·(cr-128))>>16, each",
		"clamped to 0..255, stored as RGB. It writes 28 bytes per 24 of a group:",
		"out needs 4 bytes more than 24·groups.",
	)
	out := Load(Param("out"), GP64())
	yp := Load(Param("y"), GP64())
	cb := Load(Param("cb"), GP64())
	cr := Load(Param("cr"), GP64())
	n := Load(Param("groups"), GP64())
	TESTQ(n, n)
	JZ(LabelRef("c_done"))
	// Y8..Y14: 128, crR, cbB, crG, cbG, half, 255; Y15: byte shuffle.
	for k := 0; k < 7; k++ {
		VMOVDQU(yccConst(k), []VecPhysical{Y8, Y9, Y10, Y11, Y12, Y13, Y14}[k])
	}
	VMOVDQU(rgbShuf, Y15)
	Label("c_loop")
	VPMOVZXBD(Mem{Base: yp}, Y0)
	VPMOVZXBD(Mem{Base: cb}, Y1)
	VPMOVZXBD(Mem{Base: cr}, Y2)
	VPSUBD(Y8, Y1, Y1) // cb - 128
	VPSUBD(Y8, Y2, Y2) // cr - 128
	// R
	VPMULLD(Y9, Y2, Y3)
	VPADDD(Y13, Y3, Y3)
	VPSRAD(U8(16), Y3, Y3)
	VPADDD(Y0, Y3, Y3)
	// B
	VPMULLD(Y10, Y1, Y5)
	VPADDD(Y13, Y5, Y5)
	VPSRAD(U8(16), Y5, Y5)
	VPADDD(Y0, Y5, Y5)
	// G
	VPMULLD(Y12, Y1, Y4)
	VPMULLD(Y11, Y2, Y6)
	VPADDD(Y6, Y4, Y4)
	VPADDD(Y13, Y4, Y4)
	VPSRAD(U8(16), Y4, Y4)
	VPADDD(Y0, Y4, Y4)
	// Clamp to 0..255 and pack R | G<<8 | B<<16 per lane.
	VPXOR(Y7, Y7, Y7)
	for _, r := range []VecPhysical{Y3, Y4, Y5} {
		VPMAXSD(Y7, r, r)
		VPMINSD(Y14, r, r)
	}
	VPSLLD(U8(8), Y4, Y4)
	VPSLLD(U8(16), Y5, Y5)
	VPOR(Y4, Y3, Y3)
	VPOR(Y5, Y3, Y3)
	VPSHUFB(Y15, Y3, Y3)
	VMOVDQU(X3, Mem{Base: out})
	VEXTRACTI128(U8(1), Y3, X3)
	VMOVDQU(X3, Mem{Base: out, Disp: 12})
	ADDQ(U8(8), yp)
	ADDQ(U8(8), cb)
	ADDQ(U8(8), cr)
	ADDQ(U8(24), out)
	DECQ(n)
	JNZ(LabelRef("c_loop"))
	Label("c_done")
	VZEROUPPER()
	RET()
}

// fancy420 is h2v2_fancy_upsample's horizontal step for the interior of a
// row.
func fancy420() {
	TEXT("fancy420AVX2", NOSPLIT, "func(line *uint8, in0, in1 *uint8, groups int)")
	Pragma("noescape")
	Doc(
		"fancy420AVX2 computes line[2c] = (3·s[c] + s[c-1] + 8)>>4 and",
		"line[2c+1] = (3·s[c] + s[c+1] + 7)>>4 for 16·groups consecutive c,",
		"where s[c] = 3·in0[c] + in1[c] (jdsample.c's h2v2_fancy_upsample):",
		"line, in0 and in1 point at c = the first one, and in0[-1], in1[-1] and",
		"the 16·groups+1 samples after must be readable (17 loaded per 16).",
	)
	line := Load(Param("line"), GP64())
	in0 := Load(Param("in0"), GP64())
	in1 := Load(Param("in1"), GP64())
	n := Load(Param("groups"), GP64())
	TESTQ(n, n)
	JZ(LabelRef("f_done"))
	// Y12: 8 (words), Y13: 7.
	MOVL(U32(8), EAX)
	VMOVD(EAX, X12)
	VPBROADCASTW(X12, Y12)
	MOVL(U32(7), EAX)
	VMOVD(EAX, X13)
	VPBROADCASTW(X13, Y13)
	Label("f_loop")
	// s at c-1, c, c+1: three unaligned loads of 16 samples each.
	for k, y := range []VecPhysical{Y0, Y1, Y2} {
		VPMOVZXBW(Mem{Base: in0, Disp: k - 1}, y)
		VPMOVZXBW(Mem{Base: in1, Disp: k - 1}, Y3)
		VPSLLW(U8(1), y, Y4)
		VPADDW(Y4, y, y) // 3·in0
		VPADDW(Y3, y, y)
	}
	// 3·s[c]
	VPSLLW(U8(1), Y1, Y4)
	VPADDW(Y4, Y1, Y1)
	VPADDW(Y1, Y0, Y0) // even: 3s + s[c-1]
	VPADDW(Y12, Y0, Y0)
	VPSRLW(U8(4), Y0, Y0)
	VPADDW(Y1, Y2, Y2) // odd: 3s + s[c+1]
	VPADDW(Y13, Y2, Y2)
	VPSRLW(U8(4), Y2, Y2)
	// Interleave even and odd words (within 128-bit lanes), then pack to
	// bytes: [e0 o0 … e3 o3 | e8 o8 …] and [e4 o4 … | e12 …] pack to
	// e0 o0 … e7 o7 | e8 o8 … e15 o15.
	VPUNPCKLWD(Y2, Y0, Y3)
	VPUNPCKHWD(Y2, Y0, Y4)
	VPACKUSWB(Y4, Y3, Y3)
	VMOVDQU(Y3, Mem{Base: line})
	ADDQ(U8(16), in0)
	ADDQ(U8(16), in1)
	ADDQ(U8(32), line)
	DECQ(n)
	JNZ(LabelRef("f_loop"))
	Label("f_done")
	VZEROUPPER()
	RET()
}

// fancy422 is h2v1_fancy_upsample for the interior of a row.
func fancy422() {
	TEXT("fancy422AVX2", NOSPLIT, "func(line *uint8, in *uint8, groups int)")
	Pragma("noescape")
	Doc(
		"fancy422AVX2 computes line[2c] = (3·in[c] + in[c-1] + 1)>>2 and",
		"line[2c+1] = (3·in[c] + in[c+1] + 2)>>2 for 16·groups consecutive c",
		"(jdsample.c's h2v1_fancy_upsample): line and in point at c = the first",
		"one, and in[-1] and the 16·groups+1 samples after must be readable.",
	)
	line := Load(Param("line"), GP64())
	in := Load(Param("in"), GP64())
	n := Load(Param("groups"), GP64())
	TESTQ(n, n)
	JZ(LabelRef("g_done"))
	// Y12: 1 (words), Y13: 2.
	MOVL(U32(1), EAX)
	VMOVD(EAX, X12)
	VPBROADCASTW(X12, Y12)
	MOVL(U32(2), EAX)
	VMOVD(EAX, X13)
	VPBROADCASTW(X13, Y13)
	Label("g_loop")
	VPMOVZXBW(Mem{Base: in, Disp: -1}, Y0)
	VPMOVZXBW(Mem{Base: in}, Y1)
	VPMOVZXBW(Mem{Base: in, Disp: 1}, Y2)
	VPSLLW(U8(1), Y1, Y4)
	VPADDW(Y4, Y1, Y1) // 3·in[c]
	VPADDW(Y1, Y0, Y0)
	VPADDW(Y12, Y0, Y0)
	VPSRLW(U8(2), Y0, Y0)
	VPADDW(Y1, Y2, Y2)
	VPADDW(Y13, Y2, Y2)
	VPSRLW(U8(2), Y2, Y2)
	VPUNPCKLWD(Y2, Y0, Y3)
	VPUNPCKHWD(Y2, Y0, Y4)
	VPACKUSWB(Y4, Y3, Y3)
	VMOVDQU(Y3, Mem{Base: line})
	ADDQ(U8(16), in)
	ADDQ(U8(32), line)
	DECQ(n)
	JNZ(LabelRef("g_loop"))
	Label("g_done")
	VZEROUPPER()
	RET()
}
