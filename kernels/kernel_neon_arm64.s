//go:build !noasm

#include "textflag.h"

// The NEON GEMM micro-kernels of the neon path (see kernel_neon_arm64.go).
//
// Tile 8×12: the 24 accumulators are V8–V31 (row r, columns 4j…4j+3 in
// V(8+3r+j)), one k step loads the 8 A values into V0–V1 and the 12 B values
// into V2–V4, and each accumulator takes one FMLA by element (B vector times
// one lane of A). V5–V7 are scratch for the epilogue.
//
// Go's assembler has no by-element FMLA and no vector FADD or FMAX, so those
// are emitted as WORDs by the macros below (encodings from the Arm ARM,
// checked with llvm-mc); the operand order in the comments is Arm's.

// FMLA Vd.4S, Vn.4S, Vm.S[i]: Vd += Vn·Vm[i].
#define FMLAE(d, n, m, i) WORD $(0x4f801000 | (((i)&1)<<21) | ((m)<<16) | (((i)>>1)<<11) | ((n)<<5) | (d))
// FADD Vd.4S, Vn.4S, Vm.4S.
#define FADD4(d, n, m) WORD $(0x4e20d400 | ((m)<<16) | ((n)<<5) | (d))
// FMAX Vd.4S, Vn.4S, Vm.4S (a NaN operand gives NaN).
#define FMAX4(d, n, m) WORD $(0x4e20f400 | ((m)<<16) | ((n)<<5) | (d))

// ROW12 adds B (V2–V4) times lane i of A register va to the accumulators
// d…d+2 of one row.
#define ROW12(d, va, i) \
	FMLAE(d, 2, va, i); \
	FMLAE(d+1, 3, va, i); \
	FMLAE(d+2, 4, va, i)

// STEP12 is one k step of the 8×12 tile: A and B advance by one step.
#define STEP12 \
	VLD1.P	32(R1), [V0.S4, V1.S4]; \
	VLD1.P	48(R2), [V2.S4, V3.S4, V4.S4]; \
	ROW12(8, 0, 0); \
	ROW12(11, 0, 1); \
	ROW12(14, 0, 2); \
	ROW12(17, 0, 3); \
	ROW12(20, 1, 0); \
	ROW12(23, 1, 1); \
	ROW12(26, 1, 2); \
	ROW12(29, 1, 3)

// ADD12 adds the 12 values at (R10) to the accumulators d…d+2.
#define ADD12(d) \
	VLD1	(R10), [V2.S4, V3.S4, V4.S4]; \
	FADD4(d, d, 2); \
	FADD4(d+1, d+1, 3); \
	FADD4(d+2, d+2, 4)

// BIAS12 adds the value at (R7), broadcast, to the accumulators d…d+2 and
// advances R7 to the next row's bias.
#define BIAS12(d) \
	VLD1R.P	4(R7), [V5.S4]; \
	FADD4(d, d, 5); \
	FADD4(d+1, d+1, 5); \
	FADD4(d+2, d+2, 5)

// RELU12 clamps the accumulators d…d+2 at zero (V7).
#define RELU12(d) \
	FMAX4(d, d, 7); \
	FMAX4(d+1, d+1, 7); \
	FMAX4(d+2, d+2, 7)

#define ZERO(v) VEOR v.B16, v.B16, v.B16

// func kernel8x12(k int, a, b, c *float32, ldc, rows, flags int, bias, res *float32, ldr int)
TEXT ·kernel8x12(SB), NOSPLIT|NOFRAME, $0-80
	MOVD	k+0(FP), R0
	MOVD	a+8(FP), R1
	MOVD	b+16(FP), R2
	ZERO(V8); ZERO(V9); ZERO(V10); ZERO(V11); ZERO(V12); ZERO(V13)
	ZERO(V14); ZERO(V15); ZERO(V16); ZERO(V17); ZERO(V18); ZERO(V19)
	ZERO(V20); ZERO(V21); ZERO(V22); ZERO(V23); ZERO(V24); ZERO(V25)
	ZERO(V26); ZERO(V27); ZERO(V28); ZERO(V29); ZERO(V30); ZERO(V31)

	// Main loop: 4 k steps per iteration.
	CMP	$4, R0
	BLT	tail
loop4:
	STEP12
	STEP12
	STEP12
	STEP12
	SUB	$4, R0
	CMP	$4, R0
	BGE	loop4
tail:
	CBZ	R0, epilogue
loop1:
	STEP12
	SUBS	$1, R0
	BNE	loop1

epilogue:
	MOVD	c+24(FP), R3
	MOVD	ldc+32(FP), R4
	LSL	$2, R4
	MOVD	rows+40(FP), R5
	MOVD	flags+48(FP), R6

	// Accumulate (flag 1): T += C, rows < R5.
	TBZ	$0, R6, bias
	MOVD	R3, R10
	ADD12(8)
	CMP	$1, R5
	BLE	bias
	ADD	R4, R10
	ADD12(11)
	CMP	$2, R5
	BLE	bias
	ADD	R4, R10
	ADD12(14)
	CMP	$3, R5
	BLE	bias
	ADD	R4, R10
	ADD12(17)
	CMP	$4, R5
	BLE	bias
	ADD	R4, R10
	ADD12(20)
	CMP	$5, R5
	BLE	bias
	ADD	R4, R10
	ADD12(23)
	CMP	$6, R5
	BLE	bias
	ADD	R4, R10
	ADD12(26)
	CMP	$7, R5
	BLE	bias
	ADD	R4, R10
	ADD12(29)

bias:
	// Bias (flag 2): T[r] += bias[r].
	TBZ	$1, R6, residual
	MOVD	bias+56(FP), R7
	BIAS12(8)
	CMP	$1, R5
	BLE	residual
	BIAS12(11)
	CMP	$2, R5
	BLE	residual
	BIAS12(14)
	CMP	$3, R5
	BLE	residual
	BIAS12(17)
	CMP	$4, R5
	BLE	residual
	BIAS12(20)
	CMP	$5, R5
	BLE	residual
	BIAS12(23)
	CMP	$6, R5
	BLE	residual
	BIAS12(26)
	CMP	$7, R5
	BLE	residual
	BIAS12(29)

residual:
	// Residual (flag 4): T += res (row stride ldr).
	TBZ	$2, R6, relu
	MOVD	res+64(FP), R10
	MOVD	ldr+72(FP), R9
	LSL	$2, R9
	ADD12(8)
	CMP	$1, R5
	BLE	relu
	ADD	R9, R10
	ADD12(11)
	CMP	$2, R5
	BLE	relu
	ADD	R9, R10
	ADD12(14)
	CMP	$3, R5
	BLE	relu
	ADD	R9, R10
	ADD12(17)
	CMP	$4, R5
	BLE	relu
	ADD	R9, R10
	ADD12(20)
	CMP	$5, R5
	BLE	relu
	ADD	R9, R10
	ADD12(23)
	CMP	$6, R5
	BLE	relu
	ADD	R9, R10
	ADD12(26)
	CMP	$7, R5
	BLE	relu
	ADD	R9, R10
	ADD12(29)

relu:
	// ReLU (flag 8): T = max(T, 0), every row (the extra ones are not stored).
	TBZ	$3, R6, store
	ZERO(V7)
	RELU12(8); RELU12(11); RELU12(14); RELU12(17)
	RELU12(20); RELU12(23); RELU12(26); RELU12(29)

store:
	MOVD	R3, R10
	VST1	[V8.S4, V9.S4, V10.S4], (R10)
	CMP	$1, R5
	BLE	done
	ADD	R4, R10
	VST1	[V11.S4, V12.S4, V13.S4], (R10)
	CMP	$2, R5
	BLE	done
	ADD	R4, R10
	VST1	[V14.S4, V15.S4, V16.S4], (R10)
	CMP	$3, R5
	BLE	done
	ADD	R4, R10
	VST1	[V17.S4, V18.S4, V19.S4], (R10)
	CMP	$4, R5
	BLE	done
	ADD	R4, R10
	VST1	[V20.S4, V21.S4, V22.S4], (R10)
	CMP	$5, R5
	BLE	done
	ADD	R4, R10
	VST1	[V23.S4, V24.S4, V25.S4], (R10)
	CMP	$6, R5
	BLE	done
	ADD	R4, R10
	VST1	[V26.S4, V27.S4, V28.S4], (R10)
	CMP	$7, R5
	BLE	done
	ADD	R4, R10
	VST1	[V29.S4, V30.S4, V31.S4], (R10)
done:
	RET

// ROW8 and ROW4 are ROW12 for the first 8 or 4 columns; the narrow kernels
// keep row r in V(8+2r)…V(9+2r) and V(8+r).
#define ROW8(d, va, i) \
	FMLAE(d, 2, va, i); \
	FMLAE(d+1, 3, va, i)

#define ROW4(d, va, i) \
	FMLAE(d, 2, va, i)

// func kernel8x8(k int, a, b, c *float32, ldc int)
TEXT ·kernel8x8(SB), NOSPLIT|NOFRAME, $0-40
	MOVD	k+0(FP), R0
	MOVD	a+8(FP), R1
	MOVD	b+16(FP), R2
	MOVD	$48, R11 // B panels are 12 wide
	ZERO(V8); ZERO(V9); ZERO(V10); ZERO(V11); ZERO(V12); ZERO(V13); ZERO(V14); ZERO(V15)
	ZERO(V16); ZERO(V17); ZERO(V18); ZERO(V19); ZERO(V20); ZERO(V21); ZERO(V22); ZERO(V23)
	CBZ	R0, store8
loop8:
	VLD1.P	32(R1), [V0.S4, V1.S4]
	VLD1.P	(R2)(R11), [V2.S4, V3.S4]
	ROW8(8, 0, 0)
	ROW8(10, 0, 1)
	ROW8(12, 0, 2)
	ROW8(14, 0, 3)
	ROW8(16, 1, 0)
	ROW8(18, 1, 1)
	ROW8(20, 1, 2)
	ROW8(22, 1, 3)
	SUBS	$1, R0
	BNE	loop8
store8:
	MOVD	c+24(FP), R3
	MOVD	ldc+32(FP), R4
	LSL	$2, R4
	VST1	[V8.S4, V9.S4], (R3)
	ADD	R4, R3
	VST1	[V10.S4, V11.S4], (R3)
	ADD	R4, R3
	VST1	[V12.S4, V13.S4], (R3)
	ADD	R4, R3
	VST1	[V14.S4, V15.S4], (R3)
	ADD	R4, R3
	VST1	[V16.S4, V17.S4], (R3)
	ADD	R4, R3
	VST1	[V18.S4, V19.S4], (R3)
	ADD	R4, R3
	VST1	[V20.S4, V21.S4], (R3)
	ADD	R4, R3
	VST1	[V22.S4, V23.S4], (R3)
	RET

// func kernel8x4(k int, a, b, c *float32, ldc int)
TEXT ·kernel8x4(SB), NOSPLIT|NOFRAME, $0-40
	MOVD	k+0(FP), R0
	MOVD	a+8(FP), R1
	MOVD	b+16(FP), R2
	MOVD	$48, R11 // B panels are 12 wide
	ZERO(V8); ZERO(V9); ZERO(V10); ZERO(V11); ZERO(V12); ZERO(V13); ZERO(V14); ZERO(V15)
	CBZ	R0, store4
loop4n:
	VLD1.P	32(R1), [V0.S4, V1.S4]
	VLD1.P	(R2)(R11), [V2.S4]
	ROW4(8, 0, 0)
	ROW4(9, 0, 1)
	ROW4(10, 0, 2)
	ROW4(11, 0, 3)
	ROW4(12, 1, 0)
	ROW4(13, 1, 1)
	ROW4(14, 1, 2)
	ROW4(15, 1, 3)
	SUBS	$1, R0
	BNE	loop4n
store4:
	MOVD	c+24(FP), R3
	MOVD	ldc+32(FP), R4
	LSL	$2, R4
	VST1	[V8.S4], (R3)
	ADD	R4, R3
	VST1	[V9.S4], (R3)
	ADD	R4, R3
	VST1	[V10.S4], (R3)
	ADD	R4, R3
	VST1	[V11.S4], (R3)
	ADD	R4, R3
	VST1	[V12.S4], (R3)
	ADD	R4, R3
	VST1	[V13.S4], (R3)
	ADD	R4, R3
	VST1	[V14.S4], (R3)
	ADD	R4, R3
	VST1	[V15.S4], (R3)
	RET
