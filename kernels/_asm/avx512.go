package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX-512F kernels of the avx512 path: the GEMM micro-kernel with its
// fused epilogue and the B-packing copy. kernelSpec in kernels/kernel_go.go
// is the micro-kernel's specification.

var zmm = []VecPhysical{
	Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
	Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31,
}

var kmask = []Register{K1, K2, K3, K4}

// microKernel512 emits kernel<mr>x<16·nv>: an mr×16nv tile of C in mr·nv zmm
// accumulators, from a packed A panel (k steps of mr values, broadcast) and a
// packed B panel (k steps of 16nv values, nv vector loads per step). Only the
// first cols columns (1…16nv; mask has their bits set) and rows rows are
// read and written, with masked loads and stores, so a tile cut by the
// border of C needs no copy; the k loop computes only the vectors that hold
// columns below cols.
//
// With inPlace, the kernel is kernel<mr>x<16·nv>ip: B is read where it lies
// instead of from a packed panel, row p of the tile's columns at b + off[p]
// (off in floats), with masked loads, so that nothing past column cols is
// read. It saves packing B (a copy of every B value per column block) where
// B's rows already lie in memory: the activations of a 1×1 convolution, the
// phase planes of a strided one, Winograd's V.
func microKernel512(mr, nv int, inPlace bool) {
	nr := 16 * nv
	name := fmt.Sprintf("kernel%dx%d", mr, nr)
	if inPlace {
		name += "ip"
		TEXT(name, NOSPLIT, "func(k int, a, b *float32, off *int, c *float32, ldc, rows, cols, flags int, bias, res *float32, ldr int, mask uint64)")
		Pragma("noescape")
		Doc(
			fmt.Sprintf("%s computes the %d×%d tile T = Σ_p a[p*%d+r]·b[off[p]+j] over k steps and", name, mr, nr, mr),
			"stores c[r*ldc+j] = epilogue(T) for r < rows, j < cols (mask = 1<<cols - 1), the",
			"epilogue chosen by flags (see kernelSpec); it reads b[off[p]+j] for j < cols only.",
			"Unless flags has flagNoPrefetch or k < 16, it first prefetches the C and residual tiles.",
		)
	} else {
		TEXT(name, NOSPLIT, "func(k int, a, b, c *float32, ldc, rows, cols, flags int, bias, res *float32, ldr int, mask uint64)")
		Pragma("noescape")
		Doc(
			fmt.Sprintf("%s computes the %d×%d tile T = Σ_p a[p*%d+r]·b[p*%d+j] over k steps and", name, mr, nr, mr, nr),
			"stores c[r*ldc+j] = epilogue(T) for r < rows, j < cols (mask = 1<<cols - 1), the",
			"epilogue chosen by flags (see kernelSpec). Unless flags has flagNoPrefetch or k < 16,",
			"it first prefetches the C and residual tiles.",
		)
	}
	if mr*nv+nv+1 > len(zmm) {
		panic("tile too large for 32 zmm registers")
	}
	acc := func(r, v int) VecPhysical { return zmm[r*nv+v] }
	bvec := func(v int) VecPhysical { return zmm[mr*nv+v] }
	bc := zmm[31]

	k := Load(Param("k"), GP64())
	ap := Load(Param("a"), GP64())
	bp := Load(Param("b"), GP64())
	cols := Load(Param("cols"), GP64())
	var offp, ro GPVirtual
	if inPlace {
		offp = Load(Param("off"), GP64()).(GPVirtual)
		ro = GP64()
		// The column masks of the loads, as the epilogue's stores use them.
		m := Load(Param("mask"), GP64()).(GPVirtual)
		for v := 0; v < nv; v++ {
			KMOVW(m.As32(), kmask[v])
			if v < nv-1 {
				SHRQ(U8(16), m)
			}
		}
	}

	// Prefetch the C tile (and the residual) unless K is tiny or the
	// caller's order streams them (flagNoPrefetch).
	CMPQ(k, U8(16))
	JL(LabelRef(name + "_pfdone"))
	fl := Load(Param("flags"), GP64())
	TESTQ(U32(flagNoPrefetch), fl)
	JNZ(LabelRef(name + "_pfdone"))
	prefetchRows(mr, nr, "c", "ldc")
	TESTQ(U32(flagResidual), fl)
	JZ(LabelRef(name + "_pfdone"))
	prefetchRows(mr, nr, "res", "ldr")
	Label(name + "_pfdone")

	for r := 0; r < mr; r++ {
		for v := 0; v < nv; v++ {
			VPXORD(acc(r, v), acc(r, v), acc(r, v))
		}
	}

	// One k loop per number h of active 8-column halves (cols ≤ 8h): h/2
	// zmm vectors and, for odd h, a last ymm vector (on CPUs that split zmm
	// operations in two, such as Zen 4, it costs half a zmm one).
	for h := 2 * nv; h >= 1; h-- {
		full, half := h/2, h%2
		vecs := full + half
		lbl := fmt.Sprintf("%s_h%d", name, h)
		Label(lbl)
		if h > 1 {
			CMPQ(cols, U8(8*(h-1)))
			JLE(LabelRef(fmt.Sprintf("%s_h%d", name, h-1)))
		}
		// reg returns the zmm register or, for the half vector, its ymm half.
		reg := func(z VecPhysical, v int) VecPhysical {
			if v == full {
				return z.AsY().(VecPhysical)
			}
			return z
		}
		// With one vector, even and odd steps use separate accumulators (the
		// second vector's): mr chains alone would leave the FMA units waiting
		// on their latency.
		split := vecs == 1 && nv > 1
		step := func(aoff, boff, u int) {
			if inPlace {
				MOVQ(Mem{Base: offp, Disp: 8 * u}, ro)
				for v := 0; v < vecs; v++ {
					VMOVUPS_Z(Mem{Base: bp, Index: ro, Scale: 4, Disp: 64 * v}, kmask[v], reg(bvec(v), v))
				}
			} else {
				for v := 0; v < vecs; v++ {
					VMOVUPS(Mem{Base: bp, Disp: boff + 64*v}, reg(bvec(v), v))
				}
			}
			for r := 0; r < mr; r++ {
				am := Mem{Base: ap, Disp: aoff + 4*r}
				if vecs == 1 {
					set := 0
					if split {
						set = u % 2
					}
					VFMADD231PS_BCST(am, reg(bvec(0), 0), reg(acc(r, set), 0))
					continue
				}
				VBROADCASTSS(am, bc)
				for v := 0; v < vecs; v++ {
					VFMADD231PS(reg(bvec(v), v), reg(bc, v), reg(acc(r, v), v))
				}
			}
		}
		const unroll = 4
		CMPQ(k, U8(unroll))
		JL(LabelRef(lbl + "_tail"))
		Label(lbl + "_loop")
		// B comes from L1 (in place: L1 or L2, where the previous row panel
		// left it); A streams from L2, or from memory when prepacked.
		if !inPlace {
			PREFETCHT0(Mem{Base: bp, Disp: 4 * nr * 8})
		}
		for off := 0; off < 4*mr*unroll; off += 64 {
			PREFETCHT0(Mem{Base: ap, Disp: 3072 + off})
		}
		for u := 0; u < unroll; u++ {
			step(4*mr*u, 4*nr*u, u)
		}
		ADDQ(U32(4*mr*unroll), ap)
		if inPlace {
			ADDQ(U32(8*unroll), offp)
		} else {
			ADDQ(U32(4*nr*unroll), bp)
		}
		SUBQ(U8(unroll), k)
		CMPQ(k, U8(unroll))
		JGE(LabelRef(lbl + "_loop"))
		Label(lbl + "_tail")
		TESTQ(k, k)
		JZ(LabelRef(lbl + "_done"))
		Label(lbl + "_loop1")
		step(0, 0, 0)
		ADDQ(U32(4*mr), ap)
		if inPlace {
			ADDQ(U32(8), offp)
		} else {
			ADDQ(U32(4*nr), bp)
		}
		DECQ(k)
		JNZ(LabelRef(lbl + "_loop1"))
		Label(lbl + "_done")
		if split {
			for r := 0; r < mr; r++ {
				VADDPS(acc(r, 1), acc(r, 0), acc(r, 0))
			}
		}
		JMP(LabelRef(name + "_epilogue"))
	}

	Label(name + "_epilogue")
	flags := Load(Param("flags"), GP64())
	cp := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	nrows := Load(Param("rows"), GP64())
	bias := Load(Param("bias"), GP64())
	res := Load(Param("res"), GP64())
	ldr := Load(Param("ldr"), GP64())
	SHLQ(U8(2), ldr)

	// A full tile (cols = nr) uses plain loads and stores, a partial one
	// the column masks K1….
	CMPQ(cols, U8(nr))
	JE(LabelRef(name + "_full"))
	m := Load(Param("mask"), GP64()).(GPVirtual)
	for v := 0; v < nv; v++ {
		KMOVW(m.As32(), kmask[v])
		if v < nv-1 {
			SHRQ(U8(16), m)
		}
	}
	epilogue512(name+"_part", mr, nv, acc, true, flags, cp, ldc, nrows, bias, res, ldr)
	VZEROUPPER()
	RET()
	Label(name + "_full")
	epilogue512(name+"_full", mr, nv, acc, false, flags, cp, ldc, nrows, bias, res, ldr)
	VZEROUPPER()
	RET()
}

// epilogue512 emits the epilogue of microKernel512 on the accumulators acc:
// T += C, bias, residual, ReLU, store, for the first nrows rows, with the
// column masks K1… if masked.
func epilogue512(pre string, mr, nv int, acc func(r, v int) VecPhysical, masked bool, flags, cp, ldc, nrows, bias, res, ldr Register) {
	tmp := zmm[31]
	// rows emits body(r, row) for the first nrows rows, row = base + r*stride.
	rows := func(name string, base, stride Register, body func(r int, row Mem)) {
		row, left := GP64(), GP64()
		MOVQ(base, row)
		MOVQ(nrows, left)
		for r := 0; r < mr; r++ {
			body(r, Mem{Base: row})
			if r < mr-1 {
				DECQ(left)
				JZ(LabelRef(name))
				if stride != nil {
					ADDQ(stride, row)
				} else {
					ADDQ(U8(4), row)
				}
			}
		}
		Label(name)
	}
	add := func(mem Mem, v int, dst VecPhysical) {
		if masked {
			VADDPS(mem, dst, kmask[v], dst)
		} else {
			VADDPS(mem, dst, dst)
		}
	}

	Comment("Accumulate: T += C.")
	TESTQ(U32(flagLoad), flags)
	JZ(LabelRef(pre + "_bias"))
	rows(pre+"_load_done", cp, ldc, func(r int, row Mem) {
		for v := 0; v < nv; v++ {
			add(row.Offset(64*v), v, acc(r, v))
		}
	})

	Label(pre + "_bias")
	Comment("Bias: T[r] += bias[r].")
	TESTQ(U32(flagBias), flags)
	JZ(LabelRef(pre + "_residual"))
	rows(pre+"_bias_done", bias, nil, func(r int, row Mem) {
		VBROADCASTSS(row, tmp)
		for v := 0; v < nv; v++ {
			VADDPS(tmp, acc(r, v), acc(r, v))
		}
	})

	Label(pre + "_residual")
	Comment("Residual: T += res.")
	TESTQ(U32(flagResidual), flags)
	JZ(LabelRef(pre + "_relu"))
	rows(pre+"_res_done", res, ldr, func(r int, row Mem) {
		for v := 0; v < nv; v++ {
			add(row.Offset(64*v), v, acc(r, v))
		}
	})

	Label(pre + "_relu")
	Comment("ReLU: T = max(0, T); a NaN in T stays NaN, as in kernelSpec.")
	TESTQ(U32(flagReLU), flags)
	JZ(LabelRef(pre + "_store"))
	VPXORD(tmp, tmp, tmp)
	for r := 0; r < mr; r++ {
		for v := 0; v < nv; v++ {
			VMAXPS(acc(r, v), tmp, acc(r, v))
		}
	}

	Label(pre + "_store")
	rows(pre+"_store_done", cp, ldc, func(r int, row Mem) {
		for v := 0; v < nv; v++ {
			if masked {
				VMOVUPS(acc(r, v), kmask[v], row.Offset(64*v))
			} else {
				VMOVUPS(acc(r, v), row.Offset(64*v))
			}
		}
	})
}

// prefetchRows prefetches the mr rows of nr floats of the tile at argument
// base, rows argument ld floats apart: every cache line a row may touch.
func prefetchRows(mr, nr int, base, ld string) {
	p := Load(Param(base), GP64())
	stride := Load(Param(ld), GP64())
	SHLQ(U8(2), stride)
	for r := 0; r < mr; r++ {
		for off := 0; off < 4*nr; off += 64 {
			PREFETCHT0(Mem{Base: p, Disp: off})
		}
		PREFETCHT0(Mem{Base: p, Disp: 4*nr - 4})
		if r < mr-1 {
			ADDQ(stride, p)
		}
	}
}

// copyPanels512 emits copyPanels<16nv>: n pieces of 16nv contiguous source
// values, piece i going to dst + i*stride (B packing).
func copyPanels512(nv int) {
	nr := 16 * nv
	name := fmt.Sprintf("copyPanels%d", nr)
	TEXT(name, NOSPLIT, "func(n int, src, dst *float32, stride int)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s copies src[%di:%di+%d] to dst[i*stride:i*stride+%d] for i < n.", name, nr, nr, nr, nr))
	n := Load(Param("n"), GP64())
	src := Load(Param("src"), GP64())
	dst := Load(Param("dst"), GP64())
	stride := Load(Param("stride"), GP64())
	SHLQ(U8(2), stride)
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	Label(name + "_loop")
	for v := 0; v < nv; v++ {
		VMOVUPS(Mem{Base: src, Disp: 64 * v}, zmm[v])
	}
	for v := 0; v < nv; v++ {
		VMOVUPS(zmm[v], Mem{Base: dst, Disp: 64 * v})
	}
	ADDQ(U32(4*nr), src)
	ADDQ(stride, dst)
	DECQ(n)
	JNZ(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// winoGemm512 emits winoGemm8x48, the AVX-512 version of winoGemm16 for
// the Winograd planes of the lane-major path: C = A·B with A packed in
// panels of 8 rows (as PackedA for the 8×48 kernel, k at most one K block)
// and B read in place, in strips of 48 columns (then one of 32 or 16), so
// that short K (the channels of a CIFAR layer) costs no packing of B.
func winoGemm512() {
	const mr = 8
	name := "winoGemm8x48"
	TEXT(name, NOSPLIT, "func(k int, a *float32, m int, b *float32, ldb int, c *float32, ldc, n int)")
	Pragma("noescape")
	Doc(
		name+" sets C = A·B for the m×k matrix A packed in panels of 8 rows (k·8 values",
		"each, rows past m zero, as PackedA for the 8×48 kernel with k ≤ its kc), B k×n (row",
		"stride ldb) and C m×n (row stride ldc); n must be a positive multiple of 16, k and m",
		"positive.",
	)
	acc := func(r, v int) VecPhysical { return zmm[r*3+v] }
	bvec := func(v int) VecPhysical { return zmm[24+v] }
	bc := zmm[31]

	ldb := Load(Param("ldb"), GP64())
	SHLQ(U8(2), ldb)
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	bcol := Load(Param("b"), GP64())
	ccol := Load(Param("c"), GP64())
	nleft := Load(Param("n"), GP64())

	// strip emits the product for w vectors of columns at bcol/ccol.
	strip := func(w int) {
		pre := fmt.Sprintf("%s_w%d", name, w)
		apan := Load(Param("a"), GP64())
		crow := GP64()
		MOVQ(ccol, crow)
		mleft := Load(Param("m"), GP64())
		Label(pre + "_panel")
		for r := 0; r < mr; r++ {
			for v := 0; v < max(w, 2); v++ {
				VPXORD(acc(r, v), acc(r, v), acc(r, v))
			}
		}
		k := Load(Param("k"), GP64())
		ap, bp := GP64(), GP64()
		MOVQ(apan, ap)
		MOVQ(bcol, bp)
		// One vector: even and odd steps into separate accumulators, as in
		// microKernel512.
		step := func(aoff, u int) {
			for v := 0; v < w; v++ {
				VMOVUPS(Mem{Base: bp, Disp: 64 * v}, bvec(v))
			}
			for r := 0; r < mr; r++ {
				am := Mem{Base: ap, Disp: aoff + 4*r}
				if w == 1 {
					VFMADD231PS_BCST(am, bvec(0), acc(r, u%2))
					continue
				}
				VBROADCASTSS(am, bc)
				for v := 0; v < w; v++ {
					VFMADD231PS(bvec(v), bc, acc(r, v))
				}
			}
			ADDQ(ldb, bp)
		}
		CMPQ(k, U8(2))
		JL(LabelRef(pre + "_tail"))
		Label(pre + "_loop2")
		step(0, 0)
		step(4*mr, 1)
		ADDQ(U8(8*mr), ap)
		SUBQ(U8(2), k)
		CMPQ(k, U8(2))
		JGE(LabelRef(pre + "_loop2"))
		Label(pre + "_tail")
		TESTQ(k, k)
		JZ(LabelRef(pre + "_store"))
		step(0, 0)
		ADDQ(U8(4*mr), ap)

		Label(pre + "_store")
		if w == 1 {
			for r := 0; r < mr; r++ {
				VADDPS(acc(r, 1), acc(r, 0), acc(r, 0))
			}
		}
		row := GP64()
		MOVQ(crow, row)
		for r := 0; r < mr; r++ {
			for v := 0; v < w; v++ {
				VMOVUPS(acc(r, v), Mem{Base: row, Disp: 64 * v})
			}
			if r < mr-1 {
				CMPQ(mleft, U8(r+1))
				JLE(LabelRef(pre + "_next"))
				ADDQ(ldc, row)
			}
		}
		Label(pre + "_next")
		// The next panel of A (k·8 values on) and of C (8 rows down).
		MOVQ(ap, apan)
		LEAQ(Mem{Base: crow, Index: ldc, Scale: 8}, crow)
		SUBQ(U8(mr), mleft)
		JG(LabelRef(pre + "_panel"))
	}

	Label(name + "_col")
	CMPQ(nleft, U8(48))
	JL(LabelRef(name + "_last"))
	strip(3)
	ADDQ(U32(192), bcol)
	ADDQ(U32(192), ccol)
	SUBQ(U8(48), nleft)
	JMP(LabelRef(name + "_col"))
	Label(name + "_last")
	CMPQ(nleft, U8(32))
	JE(LabelRef(name + "_two"))
	CMPQ(nleft, U8(16))
	JNE(LabelRef(name + "_done"))
	strip(1)
	JMP(LabelRef(name + "_done"))
	Label(name + "_two")
	strip(2)
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// colKernel512 emits kernel8x<c>ip, for the last c ≤ 4 columns of a GEMM (a
// 7×7 map at batch 1 has 49 = 48 + 1): it keeps one ymm of 8 rows per
// column, so a column costs one FMA per step instead of the 8 that the
// 8×48 kernel's broadcast of A spends on a whole 8-column half. Four sets
// of accumulators, one per step modulo 4, hide the FMA latency; they are
// summed (s0+s1)+(s2+s3) at the end. Row p of B is at b + off[p], as in
// kernel8x48ip. The epilogue is the micro-kernels' (C, bias, residual, ReLU,
// in that order, for the first rows rows), one value at a time: it used to
// be Go's, a call per row, which with the kernel took 4% of a one-thread
// ResNet-50 pass on the Zen 5 VM for the 2% of its products in these columns.
func colKernel512(c int) {
	name := fmt.Sprintf("kernel8x%dip", c)
	TEXT(name, NOSPLIT, "func(k int, a, b *float32, off *int, c *float32, ldc, rows, flags int, bias, res *float32, ldr int)")
	Pragma("noescape")
	Doc(
		fmt.Sprintf("%s computes T[r][j] = Σ_p a[p*8+r]·b[off[p]+j] over k steps for j < %d,", name, c),
		"summing the steps p mod 4 separately, then (s0+s1)+(s2+s3), and stores",
		"c[r*ldc+j] = epilogue(T) for r < rows, the epilogue chosen by flags (see kernelSpec).",
	)
	ys := []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15}
	acc := func(set, j int) VecPhysical { return ys[set*c+j] }
	av := Y16
	k := Load(Param("k"), GP64())
	ap := Load(Param("a"), GP64())
	bp := Load(Param("b"), GP64())
	offp := Load(Param("off"), GP64())
	ro := GP64()
	for s := 0; s < 4; s++ {
		for j := 0; j < c; j++ {
			VXORPS(acc(s, j), acc(s, j), acc(s, j))
		}
	}
	// step emits step u of the current four (A and off u steps on) into
	// accumulator set `set`.
	step := func(u, set int) {
		VMOVUPS(Mem{Base: ap, Disp: 32 * u}, av)
		MOVQ(Mem{Base: offp, Disp: 8 * u}, ro)
		for j := 0; j < c; j++ {
			VFMADD231PS_BCST(Mem{Base: bp, Index: ro, Scale: 4, Disp: 4 * j}, av, acc(set, j))
		}
	}
	stepsMod4(name, k, step, func() { PREFETCHT0(Mem{Base: ap, Disp: 1024}) }, func() {
		ADDQ(U8(128), ap)
		ADDQ(U8(32), offp)
	})
	colEpilogue(name, c, sumSets(c, acc))
}

// stepsMod4 emits the column kernels' loop over k steps: four at a time, step u of the
// four into accumulator set u (top first, if any; then advance moves the pointers on by
// four steps), then the one to three steps left into sets 0, 1, 2; it ends at name_sum.
func stepsMod4(name string, k Register, step func(u, set int), top, advance func()) {
	CMPQ(k, U8(4))
	JL(LabelRef(name + "_tail"))
	Label(name + "_loop")
	if top != nil {
		top()
	}
	for u := 0; u < 4; u++ {
		step(u, u)
	}
	advance()
	SUBQ(U8(4), k)
	CMPQ(k, U8(4))
	JGE(LabelRef(name + "_loop"))
	Label(name + "_tail")
	TESTQ(k, k)
	JZ(LabelRef(name + "_sum"))
	step(0, 0)
	CMPQ(k, U8(1))
	JE(LabelRef(name + "_sum"))
	step(1, 1)
	CMPQ(k, U8(2))
	JE(LabelRef(name + "_sum"))
	step(2, 2)
	Label(name + "_sum")
}

// sumSets emits (s0+s1)+(s2+s3) of the four accumulator sets of n vectors each, stores
// vector j at 32·j of a new local, which it returns, and leaves the vector state clean.
func sumSets(n int, acc func(set, j int) VecPhysical) Mem {
	t := AllocLocal(32 * n)
	for j := 0; j < n; j++ {
		VADDPS(acc(1, j), acc(0, j), acc(0, j))
		VADDPS(acc(3, j), acc(2, j), acc(2, j))
		VADDPS(acc(2, j), acc(0, j), acc(0, j))
		VMOVUPS(acc(0, j), t.Offset(32*j))
	}
	VZEROUPPER()
	return t
}

// colEpilogue emits the column kernels' epilogue, row by row for the first
// rows rows: T[r][j] is t[j*8+r] (one panel), or t[r] (kernel32x1ip's four
// panels of one column). It loads its own parameters.
func colEpilogue(name string, c int, t Mem) {
	cp := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	res := Load(Param("res"), GP64())
	ldr := Load(Param("ldr"), GP64())
	SHLQ(U8(2), ldr)
	bias := Load(Param("bias"), GP64())
	rows := Load(Param("rows"), GP64())
	flags := Load(Param("flags"), GP64())
	r := GP64()
	XORQ(r, r)
	Label(name + "_row")
	for j := 0; j < c; j++ {
		pre := fmt.Sprintf("%s_c%d", name, j)
		VMOVSS(t.Offset(32*j).Idx(r, 4), X0)
		TESTQ(U32(flagLoad), flags)
		JZ(LabelRef(pre + "_bias"))
		VADDSS(Mem{Base: cp, Disp: 4 * j}, X0, X0)
		Label(pre + "_bias")
		TESTQ(U32(flagBias), flags)
		JZ(LabelRef(pre + "_res"))
		VADDSS(Mem{Base: bias, Index: r, Scale: 4}, X0, X0)
		Label(pre + "_res")
		TESTQ(U32(flagResidual), flags)
		JZ(LabelRef(pre + "_relu"))
		VADDSS(Mem{Base: res, Disp: 4 * j}, X0, X0)
		Label(pre + "_relu")
		TESTQ(U32(flagReLU), flags)
		JZ(LabelRef(pre + "_store"))
		// max(0, T) keeping a NaN, as the vector epilogue's VMAXPS does.
		VXORPS(X1, X1, X1)
		VMAXSS(X0, X1, X0)
		Label(pre + "_store")
		VMOVSS(X0, Mem{Base: cp, Disp: 4 * j})
	}
	ADDQ(ldc, cp)
	ADDQ(ldr, res)
	INCQ(r)
	CMPQ(r, rows)
	JL(LabelRef(name + "_row"))
	RET()
}

// colKernel32x1 emits kernel32x1ip: kernel8x1ip for four row panels of A
// (32 rows) at once. Per step it loads the offset and the B value once for
// the four panels, where four calls of kernel8x1ip load them four times and
// spend three loads on each FMA (load-bound: the 1-column edge of ResNet-50's
// 7×7 maps, 1/49 of their products, took 2% of a pass's CPU on the Intel
// Xeon). Each panel's sum is kernel8x1ip's, step by step (sets by step
// modulo 4, then (s0+s1)+(s2+s3)), so the results are the same bit for bit.
func colKernel32x1() {
	name := "kernel32x1ip"
	TEXT(name, NOSPLIT, "func(k int, a *float32, astride int, b *float32, off *int, c *float32, ldc, rows, flags int, bias, res *float32, ldr int)")
	Pragma("noescape")
	Doc(
		name+" is kernel8x1ip for rows r < rows ≤ 32 of four row panels of A, panel q at",
		"a + q·astride: T[8q+r] = Σ_p a[q*astride+p*8+r]·b[off[p]] over k steps, each panel",
		"summed as kernel8x1ip sums it, and c[r*ldc] = epilogue(T[r]) (see kernelSpec).",
	)
	ys := []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15}
	acc := func(set, q int) VecPhysical { return ys[set*4+q] }
	bv := Y16
	k := Load(Param("k"), GP64())
	ap := Load(Param("a"), GP64())
	as := Load(Param("astride"), GP64())
	SHLQ(U8(2), as)
	ap2 := GP64()
	LEAQ(Mem{Base: ap, Index: as, Scale: 2}, ap2)
	bp := Load(Param("b"), GP64())
	offp := Load(Param("off"), GP64())
	ro := GP64()
	for set := 0; set < 4; set++ {
		for q := 0; q < 4; q++ {
			VXORPS(acc(set, q), acc(set, q), acc(set, q))
		}
	}
	panel := func(q, u int) Mem {
		m := Mem{Base: ap, Disp: 32 * u}
		if q >= 2 {
			m.Base = ap2
		}
		if q%2 == 1 {
			m.Index, m.Scale = as, 1
		}
		return m
	}
	step := func(u, set int) {
		MOVQ(Mem{Base: offp, Disp: 8 * u}, ro)
		VBROADCASTSS(Mem{Base: bp, Index: ro, Scale: 4}, bv)
		for q := 0; q < 4; q++ {
			VFMADD231PS(panel(q, u), bv, acc(set, q))
		}
	}
	stepsMod4(name, k, step, nil, func() {
		ADDQ(U8(128), ap)
		ADDQ(U8(128), ap2)
		ADDQ(U8(32), offp)
	})
	colEpilogue(name, 1, sumSets(4, acc))
}

// rowsAtOffsets emits the loop of prefetchPanel and gatherPanel48 over the n
// rows of a B micro-panel that lie where they are, row i at b + off[i]:
// body(o) with o = off[i], then next() to move the other pointers on.
func rowsAtOffsets(name string, n, off Register, body func(o Register), next func()) {
	o := GP64()
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	Label(name + "_loop")
	MOVQ(Mem{Base: off}, o)
	body(o)
	ADDQ(U8(8), off)
	next()
	DECQ(n)
	JNZ(LabelRef(name + "_loop"))
	Label(name + "_done")
}

// prefetchPanel emits prefetchPanel: for i < n, the cache lines of
// b[off[i] : off[i]+48], rows of an in-place B micro-panel, into L2
// (PREFETCHT1: L1 holds the panel being multiplied).
func prefetchPanel() {
	name := "prefetchPanel"
	TEXT(name, NOSPLIT, "func(n int, b *float32, off *int)")
	Pragma("noescape")
	Doc(name + " prefetches the lines of b[off[i]:off[i]+48] for i < n into L2.")
	n := Load(Param("n"), GP64())
	b := Load(Param("b"), GP64())
	off := Load(Param("off"), GP64())
	rowsAtOffsets(name, n, off, func(o Register) {
		for _, d := range []int{0, 64, 128, 188} {
			PREFETCHT1(Mem{Base: b, Index: o, Scale: 4, Disp: d})
		}
	}, func() {})
	RET()
}

// gatherPanel48 emits gatherPanel48: a B micro-panel of 48 columns copied
// from rows that lie where they are (b + off[i]) into a packed panel, so
// that the row panels of A sweep a contiguous copy (gemm_inplace.go).
func gatherPanel48() {
	name := "gatherPanel48"
	TEXT(name, NOSPLIT, "func(n int, b *float32, off *int, dst *float32)")
	Pragma("noescape")
	Doc(name + " copies b[off[i]:off[i]+48] to dst[48i:48i+48] for i < n.")
	n := Load(Param("n"), GP64())
	b := Load(Param("b"), GP64())
	off := Load(Param("off"), GP64())
	dst := Load(Param("dst"), GP64())
	rowsAtOffsets(name, n, off, func(o Register) {
		for v := 0; v < 3; v++ {
			VMOVUPS(Mem{Base: b, Index: o, Scale: 4, Disp: 64 * v}, zmm[v])
		}
		for v := 0; v < 3; v++ {
			VMOVUPS(zmm[v], Mem{Base: dst, Disp: 64 * v})
		}
	}, func() { ADDQ(U32(192), dst) })
	VZEROUPPER()
	RET()
}
