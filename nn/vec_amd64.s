//go:build !noasm

#include "textflag.h"

// AVX2 loops of batch normalisation; see vec.go. n is a positive multiple of 8: the loops
// take 16 values per round and a last 8 if n is an odd multiple of 8.

// HADD leaves the sum of the eight lanes of y (x its low half) in the low lane of x.
#define HADD(y, x) VEXTRACTF128 $1, y, X15; VADDPS X15, x, x; VHADDPS x, x, x; VHADDPS x, x, x

// func sumVec(x *float32, n int) float32
TEXT ·sumVec(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ CX, DX
	SHRQ $4, CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	JZ   tail
loop:
	VADDPS 0(SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	ADDQ $64, SI
	DECQ CX
	JNZ  loop
tail:
	TESTQ $8, DX
	JZ    done
	VADDPS 0(SI), Y0, Y0
done:
	VADDPS Y1, Y0, Y0
	HADD(Y0, X0)
	MOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

// func sqDevVec(x *float32, n int, m float32) float32
TEXT ·sqDevVec(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ CX, DX
	SHRQ $4, CX
	VBROADCASTSS m+16(FP), Y14
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	JZ   tail
loop:
	VMOVUPS 0(SI), Y2
	VMOVUPS 32(SI), Y3
	VSUBPS Y14, Y2, Y2
	VSUBPS Y14, Y3, Y3
	VFMADD231PS Y2, Y2, Y0
	VFMADD231PS Y3, Y3, Y1
	ADDQ $64, SI
	DECQ CX
	JNZ  loop
tail:
	TESTQ $8, DX
	JZ    done
	VMOVUPS 0(SI), Y2
	VSUBPS Y14, Y2, Y2
	VFMADD231PS Y2, Y2, Y0
done:
	VADDPS Y1, Y0, Y0
	HADD(Y0, X0)
	MOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func gradSumsVec(gr, x, y *float32, n int, m float32, out *float32)
// out[0] = Σ g, out[1] = Σ g·(x − m), with g first zeroed in place where y is not > 0 when
// y is not nil.
TEXT ·gradSumsVec(SB), NOSPLIT, $0-48
	MOVQ gr+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ CX, R8
	SHRQ $4, CX
	VBROADCASTSS m+32(FP), Y14
	VXORPS Y13, Y13, Y13
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	TESTQ DX, DX
	JZ    plain
	TESTQ CX, CX
	JZ    maskedtail
masked:
	VMOVUPS 0(SI), Y4
	VMOVUPS 32(SI), Y5
	VCMPPS  $0x11, 0(DX), Y13, Y6 // 0 < y (ordered: NaN fails)
	VCMPPS  $0x11, 32(DX), Y13, Y7
	VANDPS  Y6, Y4, Y4
	VANDPS  Y7, Y5, Y5
	VMOVUPS Y4, 0(SI)
	VMOVUPS Y5, 32(SI)
	VADDPS  Y4, Y0, Y0
	VADDPS  Y5, Y1, Y1
	VMOVUPS 0(DI), Y8
	VMOVUPS 32(DI), Y9
	VSUBPS  Y14, Y8, Y8
	VSUBPS  Y14, Y9, Y9
	VFMADD231PS Y8, Y4, Y2
	VFMADD231PS Y9, Y5, Y3
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, DX
	DECQ CX
	JNZ  masked
maskedtail:
	TESTQ $8, R8
	JZ    done
	VMOVUPS 0(SI), Y4
	VCMPPS  $0x11, 0(DX), Y13, Y6
	VANDPS  Y6, Y4, Y4
	VMOVUPS Y4, 0(SI)
	VADDPS  Y4, Y0, Y0
	VMOVUPS 0(DI), Y8
	VSUBPS  Y14, Y8, Y8
	VFMADD231PS Y8, Y4, Y2
	JMP  done
plain:
	TESTQ CX, CX
	JZ    plaintail
plainloop:
	VMOVUPS 0(SI), Y4
	VMOVUPS 32(SI), Y5
	VADDPS  Y4, Y0, Y0
	VADDPS  Y5, Y1, Y1
	VMOVUPS 0(DI), Y8
	VMOVUPS 32(DI), Y9
	VSUBPS  Y14, Y8, Y8
	VSUBPS  Y14, Y9, Y9
	VFMADD231PS Y8, Y4, Y2
	VFMADD231PS Y9, Y5, Y3
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  plainloop
plaintail:
	TESTQ $8, R8
	JZ    done
	VMOVUPS 0(SI), Y4
	VADDPS  Y4, Y0, Y0
	VMOVUPS 0(DI), Y8
	VSUBPS  Y14, Y8, Y8
	VFMADD231PS Y8, Y4, Y2
done:
	MOVQ out+40(FP), SI
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	HADD(Y0, X0)
	HADD(Y2, X2)
	MOVSS X0, 0(SI)
	MOVSS X2, 4(SI)
	VZEROUPPER
	RET

// func applyVec(x, res, y *float32, n int, a, s, floor float32)
// y = max(floor, x·a + s + res) (res optional), NaN propagating: floor 0 is a ReLU, −Inf none.
TEXT ·applyVec(SB), NOSPLIT, $0-44
	MOVQ x+0(FP), SI
	MOVQ res+8(FP), DX
	MOVQ y+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ CX, R8
	SHRQ $4, CX
	VBROADCASTSS a+32(FP), Y12
	VBROADCASTSS s+36(FP), Y13
	VBROADCASTSS floor+40(FP), Y14
	TESTQ DX, DX
	JZ    nores
	TESTQ CX, CX
	JZ    restail
withres:
	VMOVUPS 0(SI), Y0
	VMOVUPS 32(SI), Y1
	VFMADD213PS Y13, Y12, Y0 // x·a + s
	VFMADD213PS Y13, Y12, Y1
	VADDPS  0(DX), Y0, Y0
	VADDPS  32(DX), Y1, Y1
	VMAXPS  Y0, Y14, Y0 // max(floor, t), t when NaN
	VMAXPS  Y1, Y14, Y1
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	DECQ CX
	JNZ  withres
restail:
	TESTQ $8, R8
	JZ    resdone
	VMOVUPS 0(SI), Y0
	VFMADD213PS Y13, Y12, Y0
	VADDPS  0(DX), Y0, Y0
	VMAXPS  Y0, Y14, Y0
	VMOVUPS Y0, 0(DI)
resdone:
	VZEROUPPER
	RET
nores:
	TESTQ CX, CX
	JZ    notail
noresloop:
	VMOVUPS 0(SI), Y0
	VMOVUPS 32(SI), Y1
	VFMADD213PS Y13, Y12, Y0
	VFMADD213PS Y13, Y12, Y1
	VMAXPS  Y0, Y14, Y0
	VMAXPS  Y1, Y14, Y1
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  noresloop
notail:
	TESTQ $8, R8
	JZ    nodone
	VMOVUPS 0(SI), Y0
	VFMADD213PS Y13, Y12, Y0
	VMAXPS  Y0, Y14, Y0
	VMOVUPS Y0, 0(DI)
nodone:
	VZEROUPPER
	RET

// func coefVec(gr, x, dx *float32, n int, md, mu, k, scale float32)
// dx = (g − md − (x − mu)·k)·scale
TEXT ·coefVec(SB), NOSPLIT, $0-48
	MOVQ gr+0(FP), SI
	MOVQ x+8(FP), DX
	MOVQ dx+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ CX, R8
	SHRQ $4, CX
	VBROADCASTSS md+32(FP), Y11
	VBROADCASTSS mu+36(FP), Y12
	VBROADCASTSS k+40(FP), Y13
	VBROADCASTSS scale+44(FP), Y14
	JZ   tail
loop:
	VMOVUPS 0(DX), Y0
	VMOVUPS 32(DX), Y1
	VSUBPS  Y12, Y0, Y0 // x − mu
	VSUBPS  Y12, Y1, Y1
	VMOVUPS 0(SI), Y2
	VMOVUPS 32(SI), Y3
	VSUBPS  Y11, Y2, Y2 // g − md
	VSUBPS  Y11, Y3, Y3
	VFNMADD231PS Y13, Y0, Y2 // − (x − mu)·k
	VFNMADD231PS Y13, Y1, Y3
	VMULPS  Y14, Y2, Y2
	VMULPS  Y14, Y3, Y3
	VMOVUPS Y2, 0(DI)
	VMOVUPS Y3, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	DECQ CX
	JNZ  loop
tail:
	TESTQ $8, R8
	JZ    done
	VMOVUPS 0(DX), Y0
	VSUBPS  Y12, Y0, Y0
	VMOVUPS 0(SI), Y2
	VSUBPS  Y11, Y2, Y2
	VFNMADD231PS Y13, Y0, Y2
	VMULPS  Y14, Y2, Y2
	VMOVUPS Y2, 0(DI)
done:
	VZEROUPPER
	RET

// func padRows(src, dst *float32, h, w, pw int)
// Copies h rows of w values (w a multiple of 8) from src (rows contiguous) to dst (rows pw
// apart, starting one value in), zeroing the value before and after each row.
TEXT ·padRows(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ h+16(FP), CX
	MOVQ w+24(FP), DX
	SHRQ $3, DX
	MOVQ pw+32(FP), R8
	SHLQ $2, R8
	XORL AX, AX
row:
	MOVL AX, 0(DI)
	LEAQ 4(DI), R9
	MOVQ DX, R10
vec:
	VMOVUPS (SI), Y0
	VMOVUPS Y0, (R9)
	ADDQ $32, SI
	ADDQ $32, R9
	DECQ R10
	JNZ  vec
	MOVL AX, 0(R9)
	ADDQ R8, DI
	DECQ CX
	JNZ  row
	VZEROUPPER
	RET

// func addVec(dst, src *float32, n int)
// dst[i] += src[i] for i < n, n a positive multiple of 8.
TEXT ·addVec(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ CX, DX
	SHRQ $5, CX
	JZ   rest
quad:
	VMOVUPS 0(DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VADDPS  0(SI), Y0, Y0
	VADDPS  32(SI), Y1, Y1
	VADDPS  64(SI), Y2, Y2
	VADDPS  96(SI), Y3, Y3
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, DI
	ADDQ $128, SI
	DECQ CX
	JNZ  quad
rest:
	ANDQ $31, DX
	SHRQ $3, DX
	JZ   done
one:
	VMOVUPS 0(DI), Y0
	VADDPS  0(SI), Y0, Y0
	VMOVUPS Y0, 0(DI)
	ADDQ $32, DI
	ADDQ $32, SI
	DECQ DX
	JNZ  one
done:
	VZEROUPPER
	RET
