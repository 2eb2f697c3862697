//go:build !noasm

#include "textflag.h"

// The NEON Winograd F(4×4, 3×3) transforms of the neon path (see
// winograd_neon.go), vectorised over 4 tiles of one tile row: the same
// factorisation as winoBTCol and winoATCol (the specification,
// winograd_go.go). Vector FADD, FSUB, FMLA, FMLS and MOV are WORDs: Go's
// assembler lacks them (encodings from the Arm ARM, checked with llvm-mc);
// arguments are register numbers, operand order Arm's (destination first).

#define FADD4(d, n, m) WORD $(0x4e20d400 | ((m)<<16) | ((n)<<5) | (d))
#define FSUB4(d, n, m) WORD $(0x4ea0d400 | ((m)<<16) | ((n)<<5) | (d))
#define FMAX4(d, n, m) WORD $(0x4e20f400 | ((m)<<16) | ((n)<<5) | (d))
// FMLA Vd.4S, Vn.4S, Vm.4S: Vd += Vn·Vm; FMLS: Vd -= Vn·Vm.
#define FMLA4(d, n, m) WORD $(0x4e20cc00 | ((m)<<16) | ((n)<<5) | (d))
#define FMLS4(d, n, m) WORD $(0x4ea0cc00 | ((m)<<16) | ((n)<<5) | (d))
// MOV Vd.16B, Vn.16B (ORR Vd, Vn, Vn).
#define VMOV4(d, n) WORD $(0x4ea01c00 | ((n)<<16) | ((n)<<5) | (d))

// BT is the F4 Bᵀx of winoBTCol on the vectors x0…x5 (overwritten), with
// temporaries t0…t2 and the constants 4 in V30, 5 in V31. The results
// Bᵀx[0…5] are left in t1, x2, x4, t2, t0, x5.
#define BT(x0, x1, x2, x3, x4, x5, t0, t1, t2) \
	FSUB4(t0, x4, x2); \
	FSUB4(t1, x3, x1); \
	FADD4(t1, t1, t1); \
	FADD4(t2, t0, t1); \
	FSUB4(t0, t0, t1); \
	VMOV4(t1, x4); \
	FMLA4(t1, x0, 30); \
	FMLS4(t1, x2, 31); \
	FMLA4(x5, x1, 30); \
	FMLS4(x5, x3, 31); \
	FMLS4(x4, x2, 30); \
	FMLS4(x3, x1, 30); \
	FADD4(x2, x4, x3); \
	FSUB4(x4, x4, x3)

// winoshift holds, for a shift s in -4…4 at byte 16(s+4), the TBL indices
// that move lane l+s of a vector to lane l and zero the lanes whose source
// is outside 0…3.
// shift -4
DATA	winoshift<>+0(SB)/4, $0xffffffff
DATA	winoshift<>+4(SB)/4, $0xffffffff
DATA	winoshift<>+8(SB)/4, $0xffffffff
DATA	winoshift<>+12(SB)/4, $0xffffffff
// shift -3
DATA	winoshift<>+16(SB)/4, $0xffffffff
DATA	winoshift<>+20(SB)/4, $0xffffffff
DATA	winoshift<>+24(SB)/4, $0xffffffff
DATA	winoshift<>+28(SB)/4, $0x03020100
// shift -2
DATA	winoshift<>+32(SB)/4, $0xffffffff
DATA	winoshift<>+36(SB)/4, $0xffffffff
DATA	winoshift<>+40(SB)/4, $0x03020100
DATA	winoshift<>+44(SB)/4, $0x07060504
// shift -1
DATA	winoshift<>+48(SB)/4, $0xffffffff
DATA	winoshift<>+52(SB)/4, $0x03020100
DATA	winoshift<>+56(SB)/4, $0x07060504
DATA	winoshift<>+60(SB)/4, $0x0b0a0908
// shift +0
DATA	winoshift<>+64(SB)/4, $0x03020100
DATA	winoshift<>+68(SB)/4, $0x07060504
DATA	winoshift<>+72(SB)/4, $0x0b0a0908
DATA	winoshift<>+76(SB)/4, $0x0f0e0d0c
// shift +1
DATA	winoshift<>+80(SB)/4, $0x07060504
DATA	winoshift<>+84(SB)/4, $0x0b0a0908
DATA	winoshift<>+88(SB)/4, $0x0f0e0d0c
DATA	winoshift<>+92(SB)/4, $0xffffffff
// shift +2
DATA	winoshift<>+96(SB)/4, $0x0b0a0908
DATA	winoshift<>+100(SB)/4, $0x0f0e0d0c
DATA	winoshift<>+104(SB)/4, $0xffffffff
DATA	winoshift<>+108(SB)/4, $0xffffffff
// shift +3
DATA	winoshift<>+112(SB)/4, $0x0f0e0d0c
DATA	winoshift<>+116(SB)/4, $0xffffffff
DATA	winoshift<>+120(SB)/4, $0xffffffff
DATA	winoshift<>+124(SB)/4, $0xffffffff
// shift +4
DATA	winoshift<>+128(SB)/4, $0xffffffff
DATA	winoshift<>+132(SB)/4, $0xffffffff
DATA	winoshift<>+136(SB)/4, $0xffffffff
DATA	winoshift<>+140(SB)/4, $0xffffffff
GLOBL	winoshift<>(SB), RODATA|NOPTR, $144

// STORE6 stores the vectors a…f to (R15), (R15)+R19, …, (R15)+5·R19.
#define STORE6(a, b, c, d, e, f) \
	VST1	[a.S4], (R15); \
	ADD	R19, R15; \
	VST1	[b.S4], (R15); \
	ADD	R19, R15; \
	VST1	[c.S4], (R15); \
	ADD	R19, R15; \
	VST1	[d.S4], (R15); \
	ADD	R19, R15; \
	VST1	[e.S4], (R15); \
	ADD	R19, R15; \
	VST1	[f.S4], (R15)

// func winoIn6N(rows **float32, inW, padW int, e *float32, ew, groups int, v *float32, stride int)
TEXT ·winoIn6N(SB), NOSPLIT|NOFRAME, $0-64
	MOVD	rows+0(FP), R0
	MOVD	0(R0), R1
	MOVD	8(R0), R2
	MOVD	16(R0), R3
	MOVD	24(R0), R4
	MOVD	32(R0), R5
	MOVD	40(R0), R6
	MOVD	inW+8(FP), R7
	MOVD	padW+16(FP), R8
	MOVD	e+24(FP), R9
	MOVD	ew+32(FP), R10
	LSL	$2, R10
	FMOVS	$4.0, F30
	VDUP	V30.S[0], V30.S4
	FMOVS	$5.0, F31
	VDUP	V31.S[0], V31.S4
	MOVD	$winoshift<>(SB), R13

	// Vertical pass: E = Bᵀ·rows, 4 columns at a time, into E columns
	// 0…8⌈(inW+padW)/8⌉-1 (those winoIn6 writes); E column c is input column
	// lo = c-padW. The row pointers follow column lo.
	NEG	R8, R11
	LSL	$2, R8
	SUB	R8, R1
	SUB	R8, R2
	SUB	R8, R3
	SUB	R8, R4
	SUB	R8, R5
	SUB	R8, R6
	LSR	$2, R8
	ADD	R7, R8, R14
	ADD	$7, R14
	LSR	$3, R14
	LSL	$3, R14
	SUB	R8, R14 // end of lo
	MOVD	R9, R12
	SUB	$4, R7, R17 // last full start column, inW-4 (inW ≥ 4)
vloop:
	CMP	R14, R11
	BGE	hpass
	TBNZ	$63, R11, vedge
	CMP	R17, R11
	BGT	vedge
	VLD1	(R1), [V0.S4]
	VLD1	(R2), [V1.S4]
	VLD1	(R3), [V2.S4]
	VLD1	(R4), [V3.S4]
	VLD1	(R5), [V4.S4]
	VLD1	(R6), [V5.S4]
	B	vcompute
vedge:
	// Columns lo…lo+3 cross the row's ends: load the 4 columns at
	// base = clamp(lo, 0, inW-4) and move lane l+s to lane l (s = lo-base,
	// clamped to -4…4) with zeros where l+s is outside 0…3.
	CMP	$0, R11
	CSEL	LT, ZR, R11, R15
	CMP	R17, R15
	CSEL	GT, R17, R15, R15 // base
	SUB	R15, R11, R16 // s
	MOVD	$-4, R20
	CMP	R20, R16
	CSEL	LT, R20, R16, R21
	MOVD	$4, R20
	CMP	R20, R21
	CSEL	GT, R20, R21, R21
	ADD	$4, R21
	LSL	$4, R21
	ADD	R13, R21
	VLD1	(R21), [V29.B16]
	LSL	$2, R16 // the rows point at lo; base is 4s bytes before
	SUB	R16, R1, R20
	VLD1	(R20), [V0.B16]
	SUB	R16, R2, R20
	VLD1	(R20), [V1.B16]
	SUB	R16, R3, R20
	VLD1	(R20), [V2.B16]
	SUB	R16, R4, R20
	VLD1	(R20), [V3.B16]
	SUB	R16, R5, R20
	VLD1	(R20), [V4.B16]
	SUB	R16, R6, R20
	VLD1	(R20), [V5.B16]
	VTBL	V29.B16, [V0.B16], V0.B16
	VTBL	V29.B16, [V1.B16], V1.B16
	VTBL	V29.B16, [V2.B16], V2.B16
	VTBL	V29.B16, [V3.B16], V3.B16
	VTBL	V29.B16, [V4.B16], V4.B16
	VTBL	V29.B16, [V5.B16], V5.B16
vcompute:
	BT(0, 1, 2, 3, 4, 5, 6, 7, 24)
	MOVD	R12, R15
	MOVD	R10, R19
	STORE6(V7, V2, V4, V24, V6, V5)
	ADD	$16, R1
	ADD	$16, R2
	ADD	$16, R3
	ADD	$16, R4
	ADD	$16, R5
	ADD	$16, R6
	ADD	$16, R12
	ADD	$4, R11
	B	vloop

hpass:
	// Horizontal pass: per row of E, groups of 8 tiles; tile k of a group
	// is E[4k…4k+5]. LD4 splits 16 columns into phases 0…3 of 4 tiles;
	// phases 4 and 5 are phases 0 and 1 of the next tile.
	MOVD	stride+56(FP), R19
	LSL	$2, R19
	MOVD	v+48(FP), R20
	MOVD	R9, R21
	MOVD	$6, R22
hrow:
	MOVD	groups+40(FP), R23
	MOVD	R21, R24
	MOVD	R20, R25
hgroup:
	VLD4.P	64(R24), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD4.P	64(R24), [V16.S4, V17.S4, V18.S4, V19.S4]
	VLD1	(R24), [V20.S2] // E[32], E[33]: the next group's first tile
	VEXT	$4, V16.B16, V0.B16, V4.B16
	VEXT	$4, V17.B16, V1.B16, V5.B16
	VDUP	V20.S[1], V21.S4
	VEXT	$4, V20.B16, V16.B16, V22.B16
	VEXT	$4, V21.B16, V17.B16, V23.B16
	BT(0, 1, 2, 3, 4, 5, 6, 7, 24)
	BT(16, 17, 18, 19, 22, 23, 25, 26, 27)
	MOVD	R25, R15
	STORE6(V7, V2, V4, V24, V6, V5)
	ADD	$16, R25, R15
	STORE6(V26, V18, V22, V27, V25, V23)
	ADD	$32, R25
	SUBS	$1, R23
	BNE	hgroup
	ADD	R10, R21
	// The next row of E: its six planes start 6 planes further.
	ADD	R19, R20
	ADD	R19, R20
	ADD	R19, R20
	ADD	R19, R20
	ADD	R19, R20
	ADD	R19, R20
	SUBS	$1, R22
	BNE	hrow
	RET

// ATC is the F4 Aᵀm of winoATCol, in its order of operations, on the
// vectors m0…m5 (overwritten) with temporaries t0, t1; the results go to
// y0…y3. The multiples 2d, 4c, 8d are sums (exact, as the products are).
#define ATC(m0, m1, m2, m3, m4, m5, t0, t1, y0, y1, y2, y3) \
	FADD4(t0, m1, m2); \
	FSUB4(m1, m1, m2); \
	FADD4(t1, m3, m4); \
	FSUB4(m3, m3, m4); \
	FADD4(m0, m0, t0); \
	FADD4(y0, m0, t1); \
	FADD4(m2, m3, m3); \
	FADD4(y1, m1, m2); \
	FADD4(m2, m2, m2); \
	FADD4(m2, m2, m2); \
	FADD4(m2, m1, m2); \
	FADD4(y3, m2, m5); \
	FADD4(t1, t1, t1); \
	FADD4(t1, t1, t1); \
	FADD4(y2, t0, t1)

// COLUMN applies Aᵀ down column ν of the block's tiles: the planes ξ = 6i+ν
// at (R13) + i·6·stride, into t[i][ν] = V(8+6i+ν).
#define COLUMN(nu) \
	MOVD	R0, R13; \
	ADD	R14, R0; \
	VLD1.P	(R13)(R2), [V0.S4]; \
	VLD1.P	(R13)(R2), [V1.S4]; \
	VLD1.P	(R13)(R2), [V2.S4]; \
	VLD1.P	(R13)(R2), [V3.S4]; \
	VLD1.P	(R13)(R2), [V4.S4]; \
	VLD1	(R13), [V5.S4]; \
	ATC(0, 1, 2, 3, 4, 5, 6, 7, 8+(nu), 14+(nu), 20+(nu), 26+(nu))

// ROW applies Aᵀ along row i of the first pass (t[i][0…5] from V(t)) into
// V0…V3 (output columns 0…3 of the 4 tiles), adding the bias (V6).
#define ROW(t) \
	ATC((t), (t)+1, (t)+2, (t)+3, (t)+4, (t)+5, 4, 5, 0, 1, 2, 3); \
	FADD4(0, 0, 6); \
	FADD4(1, 1, 6); \
	FADD4(2, 2, 6); \
	FADD4(3, 3, 6)

#define ADDRES(a, b, c, d) \
	FADD4(0, 0, a); \
	FADD4(1, 1, b); \
	FADD4(2, 2, c); \
	FADD4(3, 3, d)

#define RELU \
	FMAX4(0, 0, 7); \
	FMAX4(1, 1, 7); \
	FMAX4(2, 2, 7); \
	FMAX4(3, 3, 7)

// func winoOut6N(m *float32, stride, n int, out, res **float32, flags int, bias float32)
TEXT ·winoOut6N(SB), NOSPLIT|NOFRAME, $0-52
	MOVD	m+0(FP), R15
	MOVD	stride+8(FP), R1
	LSL	$2, R1
	ADD	R1, R1, R2
	ADD	R1, R2
	ADD	R2, R2 // 6·stride
	MOVD	n+16(FP), R3
	MOVD	out+24(FP), R13
	MOVD	0(R13), R4
	MOVD	8(R13), R5
	MOVD	16(R13), R6
	MOVD	24(R13), R7
	MOVD	flags+40(FP), R12
	TBZ	$0, R12, block
	MOVD	res+32(FP), R13
	MOVD	0(R13), R8
	MOVD	8(R13), R9
	MOVD	16(R13), R10
	MOVD	24(R13), R11
block:
	// First pass: Aᵀ down the six columns of the 4 tiles at R15.
	MOVD	R15, R0
	MOVD	R1, R14
	COLUMN(0)
	COLUMN(1)
	COLUMN(2)
	COLUMN(3)
	COLUMN(4)
	COLUMN(5)
	FMOVS	bias+48(FP), F6
	VDUP	V6.S[0], V6.S4
	VEOR	V7.B16, V7.B16, V7.B16

	// Second pass per output row: the residual (flags&1, loaded
	// deinterleaved into the row's free first-pass registers), ReLU
	// (flags&2), and the store, interleaved into 16 consecutive columns.
	ROW(8)
	TBZ	$0, R12, relu0
	VLD4	(R8), [V8.S4, V9.S4, V10.S4, V11.S4]
	ADDRES(8, 9, 10, 11)
relu0:
	TBZ	$1, R12, store0
	RELU
store0:
	VST4	[V0.S4, V1.S4, V2.S4, V3.S4], (R4)

	ROW(14)
	TBZ	$0, R12, relu1
	VLD4	(R9), [V14.S4, V15.S4, V16.S4, V17.S4]
	ADDRES(14, 15, 16, 17)
relu1:
	TBZ	$1, R12, store1
	RELU
store1:
	VST4	[V0.S4, V1.S4, V2.S4, V3.S4], (R5)

	ROW(20)
	TBZ	$0, R12, relu2
	VLD4	(R10), [V20.S4, V21.S4, V22.S4, V23.S4]
	ADDRES(20, 21, 22, 23)
relu2:
	TBZ	$1, R12, store2
	RELU
store2:
	VST4	[V0.S4, V1.S4, V2.S4, V3.S4], (R6)

	ROW(26)
	TBZ	$0, R12, relu3
	VLD4	(R11), [V26.S4, V27.S4, V28.S4, V29.S4]
	ADDRES(26, 27, 28, 29)
relu3:
	TBZ	$1, R12, store3
	RELU
store3:
	VST4	[V0.S4, V1.S4, V2.S4, V3.S4], (R7)

	ADD	$16, R15
	ADD	$64, R4
	ADD	$64, R5
	ADD	$64, R6
	ADD	$64, R7
	ADD	$64, R8
	ADD	$64, R9
	ADD	$64, R10
	ADD	$64, R11
	SUBS	$1, R3
	BNE	block
	RET
