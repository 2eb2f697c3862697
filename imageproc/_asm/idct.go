package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Go 1.26 image/jpeg's inverse DCT (imageproc/jpegidct.go), eight rows or
// columns at a time: every operation there is an int32 add, subtract,
// multiply (low 32 bits), or shift, which VPADDD, VPSUBD, VPMULLD, VPSLLD
// and VPSRAD do lane by lane with the same wrapping, so the results are
// identical bit for bit (TestIDCTAVX2MatchesGo checks random blocks).

// The 60-bit fixed-point constants of jpegidct.go.
const (
	cos1          = 1130768441178740757
	sin1          = 224923827593068887
	cos3          = 958619196450722178
	sin3          = 640528868967736374
	sqrt2inv      = 815238614083298888
	sqrt2inv_cos6 = 311978311033955632
	sqrt2inv_sin6 = 753182269664427492
)

func dctFix(x uint64, bits int) int32 { return int32((x + (1 << (59 - bits))) >> (60 - bits)) }

// idctConsts lists every 8-lane constant the kernel uses, in the order of
// the GLOBL; idctConst finds one.
var (
	idctConstList []int32
	idctConstMem  Mem
	idctShuffle   Mem
)

func idctConst(v int32) Mem {
	for i, c := range idctConstList {
		if c == v {
			m := idctConstMem
			m.Disp += 32 * i
			return m
		}
	}
	panic(fmt.Sprintf("idct constant %d not declared", v))
}

// boxConsts are kcos, ksin-kcos and kcos+ksin of a dctBox.
func boxConsts(kcos, ksin int32) []int32 { return []int32{kcos, ksin - kcos, kcos + ksin} }

func idctData() {
	var list []int32
	list = append(list, boxConsts(dctFix(sqrt2inv_cos6, 18), -dctFix(sqrt2inv_sin6, 18))...)
	list = append(list, boxConsts(dctFix(cos3, 12), -dctFix(sin3, 12))...)
	list = append(list, boxConsts(dctFix(cos1, 12), -dctFix(sin1, 12))...)
	list = append(list, boxConsts(dctFix(sqrt2inv_cos6, 12), -dctFix(sqrt2inv_sin6, 12))...)
	list = append(list, dctFix(sqrt2inv, 8), dctFix(sqrt2inv, 14), 1<<19)
	seen := map[int32]bool{}
	for _, v := range list {
		if !seen[v] {
			seen[v] = true
			idctConstList = append(idctConstList, v)
		}
	}
	idctConstMem = GLOBL("idctConsts", RODATA|NOPTR)
	for i, v := range idctConstList {
		for l := 0; l < 8; l++ {
			DATA(32*i+4*l, U32(uint32(v)))
		}
	}
	// Bytes 0x80, to add 128 to signed bytes (XOR).
	idctShuffle = GLOBL("idctBias", RODATA|NOPTR)
	for i := 0; i < 32; i++ {
		DATA(i, U8(0x80))
	}
}

type vec = VecVirtual

func vadd(a, b Register) vec { r := YMM(); VPADDD(b, a, r); return r }
func vsub(a, b Register) vec { r := YMM(); VPSUBD(b, a, r); return r }
func vmulc(a Register, c int32) vec {
	r := YMM()
	VPMULLD(idctConst(c), a, r)
	return r
}
func vsra(a Register, n int) vec { r := YMM(); VPSRAD(U8(n), a, r); return r }
func vsll(a Register, n int) vec { r := YMM(); VPSLLD(U8(n), a, r); return r }

// dctBox: ksum = kcos·(x0+x1); y0 = ksum + (ksin-kcos)·x1; y1 = ksum - (kcos+ksin)·x0.
func vbox(x0, x1 Register, kcos, ksin int32) (vec, vec) {
	ksum := vmulc(vadd(x0, x1), kcos)
	y0 := vadd(ksum, vmulc(x1, ksin-kcos))
	y1 := vsub(ksum, vmulc(x0, kcos+ksin))
	return y0, y1
}

// rowPass is idctRow with lane l holding row l: in[k] is input k of every
// row; the result's [k] is output k.
func rowPass(in [8]Register) [8]Register {
	x0, x7, x2, x5, x1, x6, x3, x4 := Register(in[0]), Register(in[1]), Register(in[2]), Register(in[3]), Register(in[4]), Register(in[5]), Register(in[6]), Register(in[7])
	x0 = vsll(x0, 17)
	x1 = vsll(x1, 17)
	x0, x1 = vadd(x0, x1), vsub(x0, x1)
	x2, x3 = vbox(x2, x3, dctFix(sqrt2inv_cos6, 18), -dctFix(sqrt2inv_sin6, 18))
	x1, x2 = vadd(x1, x2), vsub(x1, x2)
	x0, x3 = vadd(x0, x3), vsub(x0, x3)
	x4 = vsll(x4, 7)
	x7 = vsll(x7, 7)
	x7, x4 = vadd(x7, x4), vsub(x7, x4)
	x6 = vmulc(x6, dctFix(sqrt2inv, 8))
	x5 = vmulc(x5, dctFix(sqrt2inv, 8))
	x7, x5 = vadd(x7, x5), vsub(x7, x5)
	x4, x6 = vadd(x4, x6), vsub(x4, x6)
	x4, x7 = vbox(vsra(x4, 2), vsra(x7, 2), dctFix(cos3, 12), -dctFix(sin3, 12))
	x5, x6 = vbox(vsra(x5, 2), vsra(x6, 2), dctFix(cos1, 12), -dctFix(sin1, 12))
	x0, x7 = vadd(x0, x7), vsub(x0, x7)
	x1, x6 = vadd(x1, x6), vsub(x1, x6)
	x2, x5 = vadd(x2, x5), vsub(x2, x5)
	x3, x4 = vadd(x3, x4), vsub(x3, x4)
	return [8]Register{x0, x1, x2, x3, x4, x5, x6, x7}
}

// colPass is idctCol with lane l holding column l: in[r] is row r.
func colPass(in [8]Register) [8]Register {
	x0, x7, x2, x5, x1, x6, x3, x4 := Register(in[0]), Register(in[1]), Register(in[2]), Register(in[3]), Register(in[4]), Register(in[5]), Register(in[6]), Register(in[7])
	x0 = vadd(x0, idctConstReg(1<<19))
	x0, x1 = vsra(vadd(x0, x1), 2), vsra(vsub(x0, x1), 2)
	x2, x3 = vbox(vsra(x2, 13), vsra(x3, 13), dctFix(sqrt2inv_cos6, 12), -dctFix(sqrt2inv_sin6, 12))
	x1, x2 = vadd(x1, x2), vsub(x1, x2)
	x0, x3 = vadd(x0, x3), vsub(x0, x3)
	x7, x4 = vadd(x7, x4), vsub(x7, x4)
	x5 = vmulc(vsra(x5, 13), dctFix(sqrt2inv, 14))
	x6 = vmulc(vsra(x6, 13), dctFix(sqrt2inv, 14))
	x7, x5 = vadd(x7, x5), vsub(x7, x5)
	x4, x6 = vadd(x4, x6), vsub(x4, x6)
	x4, x7 = vbox(vsra(x4, 14), vsra(x7, 14), dctFix(cos3, 12), -dctFix(sin3, 12))
	x5, x6 = vbox(vsra(x5, 14), vsra(x6, 14), dctFix(cos1, 12), -dctFix(sin1, 12))
	x0, x7 = vadd(x0, x7), vsub(x0, x7)
	x1, x6 = vadd(x1, x6), vsub(x1, x6)
	x2, x5 = vadd(x2, x5), vsub(x2, x5)
	x3, x4 = vadd(x3, x4), vsub(x3, x4)
	out := [8]Register{x0, x1, x2, x3, x4, x5, x6, x7}
	for i := range out {
		out[i] = vsra(out[i], 18)
	}
	return out
}

// idctConstReg loads a constant into a register (for an add).
func idctConstReg(v int32) vec {
	r := YMM()
	VMOVDQU(idctConst(v), r)
	return r
}

// transpose8 transposes the 8×8 int32 matrix whose rows are in[0..7].
func transpose8(in [8]Register) [8]Register {
	var t, u, out [8]Register
	for i := 0; i < 4; i++ {
		lo, hi := YMM(), YMM()
		VPUNPCKLDQ(in[2*i+1], in[2*i], lo)
		VPUNPCKHDQ(in[2*i+1], in[2*i], hi)
		t[2*i], t[2*i+1] = lo, hi
	}
	// t[0] = r0r1 pairs of columns 0,1 | 4,5; t[1] = columns 2,3 | 6,7; …
	for h := 0; h < 2; h++ {
		a, b := t[4*h], t[4*h+2] // rows 4h..4h+3, columns 0,1 | 4,5
		c, d := t[4*h+1], t[4*h+3]
		u0, u1, u2, u3 := YMM(), YMM(), YMM(), YMM()
		VPUNPCKLQDQ(b, a, u0) // column 0 | 4
		VPUNPCKHQDQ(b, a, u1) // column 1 | 5
		VPUNPCKLQDQ(d, c, u2) // column 2 | 6
		VPUNPCKHQDQ(d, c, u3) // column 3 | 7
		u[4*h], u[4*h+1], u[4*h+2], u[4*h+3] = u0, u1, u2, u3
	}
	for k := 0; k < 4; k++ {
		lo, hi := YMM(), YMM()
		VPERM2I128(U8(0x20), u[4+k], u[k], lo) // rows 0-3 then 4-7 of column k
		VPERM2I128(U8(0x31), u[4+k], u[k], hi) // column k+4
		out[k], out[k+4] = lo, hi
	}
	return out
}

func idct() {
	TEXT("idctAVX2", NOSPLIT, "func(b *int32, q *int32, dst *uint8, stride int)")
	Pragma("noescape")
	Doc(
		"idctAVX2 is reconstructBlock's arithmetic for one block: b (64 int32",
		"coefficients, natural order) times q, image/jpeg's IDCT (rows, then",
		"columns), then +128 clipped to 0..255, stored as 8 rows of 8 bytes at",
		"dst, stride bytes apart. b is left unchanged.",
	)
	bp := Load(Param("b"), GP64())
	qp := Load(Param("q"), GP64())
	var rows [8]Register
	for r := 0; r < 8; r++ {
		v := YMM()
		VMOVDQU(Mem{Base: bp, Disp: 32 * r}, v)
		VPMULLD(Mem{Base: qp, Disp: 32 * r}, v, v)
		rows[r] = v
	}
	cols := rowPass(transpose8(rows))
	res := colPass(transpose8(cols))
	dst := Load(Param("dst"), GP64())
	stride := Load(Param("stride"), GP64())
	bias := YMM()
	VMOVDQU(idctShuffle, bias)
	order := YMM()
	VMOVDQU(packOrder, order)
	for h := 0; h < 2; h++ {
		a, b := YMM(), YMM()
		VPACKSSDW(res[4*h+1], res[4*h], a)   // rows 4h, 4h+1 as int16
		VPACKSSDW(res[4*h+3], res[4*h+2], b) // rows 4h+2, 4h+3
		VPACKSSWB(b, a, a)                   // clamp to -128..127
		VPERMD(a, order, a)                  // rows 4h..4h+3, 8 bytes each
		VPXOR(bias, a, a)                    // +128
		lo := a.AsX()
		VMOVQ(lo, Mem{Base: dst})
		ADDQ(stride, dst)
		VPEXTRQ(U8(1), lo, Mem{Base: dst})
		ADDQ(stride, dst)
		hi := XMM()
		VEXTRACTI128(U8(1), a, hi)
		VMOVQ(hi, Mem{Base: dst})
		ADDQ(stride, dst)
		VPEXTRQ(U8(1), hi, Mem{Base: dst})
		if h == 0 {
			ADDQ(stride, dst)
		}
	}
	VZEROUPPER()
	RET()
}
