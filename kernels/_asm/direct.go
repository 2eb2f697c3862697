package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// convDirect512 emits convDirect64x<np>: a direct stride-2 convolution block
// of 64 output channels (four zmm vectors of 16) by np consecutive output
// pixels of one output row, 4·np zmm accumulators, with no im2col: for each
// input channel, kernel row and kernel column, it broadcasts the np input
// values the pixels see (two floats apart: stride 2) and multiplies them by
// the tap's 64 weights, laid out [ic][kh][kw][64] for the block. It is
// ONNX Runtime's NCHWc pointwise/direct orientation (vectors of output
// channels, broadcasts of pixels) on NCHW data: the strided layers' phase
// planes and panel gathers are not needed. The sums run over (ic, kh, kw) in
// order, one fused multiply-add each, so the result does not depend on how
// the caller splits the work. Epilogue: bias, ReLU (flags 1: bias, 2: ReLU),
// then a scatter into NCHW (idx holds lane·OH·OW, the output channel stride
// in floats).
func convDirect512(np int) {
	name := fmt.Sprintf("convDirect64x%d", np)
	TEXT(name, NOSPLIT, "func(x, w *float32, ic, nkh, nkw, plane, row, wic, wkh int, out *float32, idx *int32, bias, tmp *float32, flags int)")
	Pragma("noescape")
	Doc(
		fmt.Sprintf("%s computes, for o < 64 and p < %d, T[o][p] = Σ_{c<ic, i<nkh, j<nkw}", name, np),
		"w[c·wic/4 + i·wkh/4 + j·64 + o] · x[c·plane/4 + i·row/4 + 2p + j] (strides in bytes), then",
		"out[idx[o%16]+(o/16)·16·idx[1] + p] = max(0 if flags&2, T + bias[o] if flags&1). With",
		"flags&4 the sums start from tmp[p·64+o] instead of 0 (the same chain of fused",
		"multiply-adds continued: K blocks give one call's bits); without flags&8 they go",
		"back to tmp[p·64+o] instead of through the epilogue.",
	)
	acc := func(f, p int) VecPhysical { return zmm[f*np+p] }
	// each runs body for every accumulator, vector of channels f, pixel p.
	each := func(body func(f, p int)) {
		for f := 0; f < 4; f++ {
			for p := 0; p < np; p++ {
				body(f, p)
			}
		}
	}
	tmpAt := func(base Register, f, p int) Mem { return Mem{Base: base, Disp: 4 * (p*64 + 16*f)} }
	wv := Z24
	bc := func(p int) VecPhysical { return zmm[25+p] }

	x := Load(Param("x"), GP64())
	w := Load(Param("w"), GP64())
	ic := Load(Param("ic"), GP64())
	fl0 := Load(Param("flags"), GP64())
	tp := Load(Param("tmp"), GP64())
	TESTQ(U32(4), fl0)
	JZ(LabelRef(name + "_zero"))
	each(func(f, p int) { VMOVUPS(tmpAt(tp, f, p), acc(f, p)) })
	JMP(LabelRef(name + "_ic"))
	Label(name + "_zero")
	each(func(f, p int) { VPXORD(acc(f, p), acc(f, p), acc(f, p)) })
	xr, wr, kh, kw := GP64(), GP64(), GP64(), GP64()
	xk, wk, t := GP64(), GP64(), GP64()
	Label(name + "_ic")
	MOVQ(x, xr)
	MOVQ(w, wr)
	Load(Param("nkh"), kh)
	Label(name + "_kh")
	MOVQ(xr, xk)
	MOVQ(wr, wk)
	Load(Param("nkw"), kw)
	Label(name + "_kw")
	for p := 0; p < np; p++ {
		VBROADCASTSS(Mem{Base: xk, Disp: 8 * p}, bc(p))
	}
	for f := 0; f < 4; f++ {
		VMOVUPS(Mem{Base: wk, Disp: 64 * f}, wv)
		for p := 0; p < np; p++ {
			VFMADD231PS(wv, bc(p), acc(f, p))
		}
	}
	ADDQ(U8(4), xk)
	ADDQ(U32(256), wk)
	DECQ(kw)
	JNZ(LabelRef(name + "_kw"))
	// next ends the loop over kh or ic: the input and weight pointers move on by
	// the strides in parameters xs and ws, and it runs again while n is left.
	next := func(xs string, xp Register, ws string, wp Register, n Register, loop string) {
		Load(Param(xs), t)
		ADDQ(t, xp)
		Load(Param(ws), t)
		ADDQ(t, wp)
		DECQ(n)
		JNZ(LabelRef(name + loop))
	}
	next("row", xr, "wkh", wr, kh, "_kh")
	next("plane", x, "wic", w, ic, "_ic")

	fl := Load(Param("flags"), GP64())
	TESTQ(U32(8), fl)
	JNZ(LabelRef(name + "_final"))
	tq := Load(Param("tmp"), GP64())
	each(func(f, p int) { VMOVUPS(acc(f, p), tmpAt(tq, f, p)) })
	VZEROUPPER()
	RET()
	Label(name + "_final")
	TESTQ(U32(1), fl)
	JZ(LabelRef(name + "_relu"))
	b := Load(Param("bias"), GP64())
	for f := 0; f < 4; f++ {
		VMOVUPS(Mem{Base: b, Disp: 64 * f}, wv)
		for p := 0; p < np; p++ {
			VADDPS(wv, acc(f, p), acc(f, p))
		}
	}
	Label(name + "_relu")
	TESTQ(U32(2), fl)
	JZ(LabelRef(name + "_store"))
	VPXORD(wv, wv, wv)
	each(func(f, p int) { VMAXPS(acc(f, p), wv, acc(f, p)) }) // a NaN in acc stays, as in epilogue512
	Label(name + "_store")
	ix := Load(Param("idx"), GP64())
	VMOVDQU32(Mem{Base: ix}, Z31)
	o := Load(Param("out"), GP64())
	// The channel stride in bytes times 16: the next vector of 16 channels.
	s16 := GP64()
	MOVLQSX(Mem{Base: ix, Disp: 4}, s16)
	SHLQ(U8(6), s16) // ·16 channels ·4 bytes
	for f := 0; f < 4; f++ {
		for p := 0; p < np; p++ {
			KXNORW(K1, K1, K1)
			VSCATTERDPS(acc(f, p), K1, Mem{Base: o, Index: Z31, Scale: 4, Disp: 4 * p})
		}
		if f < 3 {
			ADDQ(s16, o)
		}
	}
	VZEROUPPER()
	RET()
}
