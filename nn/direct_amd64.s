//go:build !noasm

#include "textflag.h"

// Direct 3×3 convolution kernels (AVX2 + FMA) for stride 1 over zero-padded planes; see
// direct.go for the layouts. Accumulators: Y(3·o + v) for output row o < 4 and pixel vector
// v < 3 (convTile4x3), or output row o and kernel column kx < 3 (dwTile4x3).

// ROW multiplies the three pixel vectors in Y12–Y14 by the broadcast weight w and adds the
// products to one output row's accumulators.
#define ROW(w, a, b, c) VBROADCASTSS w, Y15; VFMADD231PS Y12, Y15, a; VFMADD231PS Y13, Y15, b; VFMADD231PS Y14, Y15, c

// TAP loads the three pixel vectors at x0, x1, x2 and applies the four weights at wo(BX).
#define TAP(x0, x1, x2, wo) VMOVUPS x0, Y12; VMOVUPS x1, Y13; VMOVUPS x2, Y14; ROW(wo(BX), Y0, Y1, Y2); ROW(wo+4(BX), Y3, Y4, Y5); ROW(wo+8(BX), Y6, Y7, Y8); ROW(wo+12(BX), Y9, Y10, Y11)

// OUT stores (or, with acc, adds) the accumulators of one output row o at row address r.
#define OUT(r0, r1, r2, a, b, c) VMOVUPS a, r0; VMOVUPS b, r1; VMOVUPS c, r2
#define ADDOUT(r0, r1, r2, a, b, c) VADDPS r0, a, a; VADDPS r1, b, b; VADDPS r2, c, c; VMOVUPS a, r0; VMOVUPS b, r1; VMOVUPS c, r2

// func convTile4x3(c int, x0, x1, x2 *float32, cs, rs int, w *float32, y0, y1, y2 *float32, ys int, acc bool)
TEXT ·convTile4x3(SB), NOSPLIT, $0-89
	MOVQ c+0(FP), CX
	MOVQ x0+8(FP), SI
	MOVQ x1+16(FP), DI
	MOVQ x2+24(FP), R8
	MOVQ cs+32(FP), R9
	SHLQ $2, R9
	MOVQ rs+40(FP), R10
	SHLQ $2, R10
	MOVQ w+48(FP), BX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

channel:
	TAP(0(SI), 0(DI), 0(R8), 0)
	TAP(4(SI), 4(DI), 4(R8), 16)
	TAP(8(SI), 8(DI), 8(R8), 32)
	TAP(0(SI)(R10*1), 0(DI)(R10*1), 0(R8)(R10*1), 48)
	TAP(4(SI)(R10*1), 4(DI)(R10*1), 4(R8)(R10*1), 64)
	TAP(8(SI)(R10*1), 8(DI)(R10*1), 8(R8)(R10*1), 80)
	TAP(0(SI)(R10*2), 0(DI)(R10*2), 0(R8)(R10*2), 96)
	TAP(4(SI)(R10*2), 4(DI)(R10*2), 4(R8)(R10*2), 112)
	TAP(8(SI)(R10*2), 8(DI)(R10*2), 8(R8)(R10*2), 128)
	ADDQ $144, BX
	ADDQ R9, SI
	ADDQ R9, DI
	ADDQ R9, R8
	DECQ CX
	JNZ  channel

	MOVQ y0+56(FP), SI
	MOVQ y1+64(FP), DI
	MOVQ y2+72(FP), R8
	MOVQ ys+80(FP), R9
	SHLQ $2, R9
	LEAQ (R9)(R9*2), R10
	MOVBLZX acc+88(FP), AX
	TESTQ AX, AX
	JNZ   accumulate
	OUT((SI), (DI), (R8), Y0, Y1, Y2)
	OUT((SI)(R9*1), (DI)(R9*1), (R8)(R9*1), Y3, Y4, Y5)
	OUT((SI)(R9*2), (DI)(R9*2), (R8)(R9*2), Y6, Y7, Y8)
	OUT((SI)(R10*1), (DI)(R10*1), (R8)(R10*1), Y9, Y10, Y11)
	VZEROUPPER
	RET

accumulate:
	ADDOUT((SI), (DI), (R8), Y0, Y1, Y2)
	ADDOUT((SI)(R9*1), (DI)(R9*1), (R8)(R9*1), Y3, Y4, Y5)
	ADDOUT((SI)(R9*2), (DI)(R9*2), (R8)(R9*2), Y6, Y7, Y8)
	ADDOUT((SI)(R10*1), (DI)(R10*1), (R8)(R10*1), Y9, Y10, Y11)
	VZEROUPPER
	RET

// GRAD multiplies the output-gradient vector at d by the three shifted input vectors in
// Y12–Y14 and adds the products to one output row's accumulators.
#define GRAD(d, a, b, c) VMOVUPS d, Y15; VFMADD231PS Y12, Y15, a; VFMADD231PS Y13, Y15, b; VFMADD231PS Y14, Y15, c

// HSUM adds the eight lanes of accumulator y (x its low half) to the float at m.
#define HSUM(y, x, m) VEXTRACTF128 $1, y, X15; VADDPS X15, x, x; VHADDPS x, x, x; VHADDPS x, x, x; VADDSS m, x, x; VMOVSS x, m

// func dwTile4x3(nimg, h, vecs int, dy *float32, ds, drow, dimg int, x *float32, xskip int, out *float32, os int)
TEXT ·dwTile4x3(SB), NOSPLIT, $0-88
	MOVQ nimg+0(FP), R11
	MOVQ dy+24(FP), SI
	MOVQ ds+32(FP), R9
	SHLQ $2, R9
	LEAQ (R9)(R9*2), R10
	MOVQ drow+40(FP), R14
	SHLQ $2, R14
	MOVQ dimg+48(FP), R15
	SHLQ $2, R15
	MOVQ x+56(FP), DI
	MOVQ xskip+64(FP), BX
	SHLQ $2, BX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

image:
	MOVQ h+8(FP), R12

row:
	MOVQ vecs+16(FP), R13

vec:
	VMOVUPS 0(DI), Y12
	VMOVUPS 4(DI), Y13
	VMOVUPS 8(DI), Y14
	GRAD((SI), Y0, Y1, Y2)
	GRAD((SI)(R9*1), Y3, Y4, Y5)
	GRAD((SI)(R9*2), Y6, Y7, Y8)
	GRAD((SI)(R10*1), Y9, Y10, Y11)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ R13
	JNZ  vec
	ADDQ $8, DI // the two padding columns
	ADDQ R14, SI
	DECQ R12
	JNZ  row
	ADDQ BX, DI // the two padding rows
	ADDQ R15, SI
	DECQ R11
	JNZ  image

	MOVQ out+72(FP), SI
	MOVQ os+80(FP), R9
	SHLQ $2, R9
	HSUM(Y0, X0, 0(SI))
	HSUM(Y1, X1, 4(SI))
	HSUM(Y2, X2, 8(SI))
	ADDQ R9, SI
	HSUM(Y3, X3, 0(SI))
	HSUM(Y4, X4, 4(SI))
	HSUM(Y5, X5, 8(SI))
	ADDQ R9, SI
	HSUM(Y6, X6, 0(SI))
	HSUM(Y7, X7, 4(SI))
	HSUM(Y8, X8, 8(SI))
	ADDQ R9, SI
	HSUM(Y9, X9, 0(SI))
	HSUM(Y10, X10, 4(SI))
	HSUM(Y11, X11, 8(SI))
	VZEROUPPER
	RET
