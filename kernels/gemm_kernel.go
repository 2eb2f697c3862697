package kernels

import (
	"sync"
	"unsafe"
)

// gemmKernel is a GEMM micro-kernel with the tile and the cache blocking it
// is run with: what an instruction-set path's GEMM uses. The tile fixes the
// packed layouts (A panels of mr rows, B panels of nr columns; a PackedA
// records the kernel it was packed for).
type gemmKernel struct {
	name       string
	kind       kernelKind
	mr, nr     int  // tile rows (broadcast from A) and columns (vectors of B)
	kc, mc, nc int  // K block (a B micro-panel stays in L1), A block rows (L2), B block columns
	inPlace    bool // reads B in place where it can (kernel8x48ip; gemm_inplace.go)
	l1Panel    bool // a packed kc×nr panel fits the L1 (fitCaches; packConv)
	bufs       sync.Pool
}

type kernelKind int

const (
	kindGo     kernelKind = iota // kernelGoBlocked, edges through a local tile
	kindAVX2                     // kernel6x16, edges through kernel6x8 and a local tile
	kindAVX512                   // kernel<mr>x<nr> with masked edges
	kindNEON                     // kernel8x12, edges through kernel8x4, kernel8x8 and a local tile
)

// Cache blocking of the 6×16 kernels (Goto/BLIS). A kc×nr B micro-panel
// (16 KiB) stays in L1 while the micro-kernel sweeps the mc×kc packed A
// block (144 KiB, L2) under it; the kc×nc packed B block (1 MiB) lives in
// L2/L3. These are the usual BLIS-style sizes for 32 KiB L1 / ≥512 KiB L2; a
// sweep (kc 192…384, mc 72…288, nc 512…2048) with BenchmarkGemm on the 2-core
// AMD EPYC (Zen 4) dev machine moved results by less than its noise (±5%).
// mc and nc are the defaults where the caches are unknown: blocking.go fits
// them to the CPU at start-up.
var (
	gemmGo   = &gemmKernel{name: "go 6×16", kind: kindGo, mr: mr, nr: nr, kc: 256, mc: 144, nc: 1024}
	gemmAVX2 = &gemmKernel{name: "avx2 6×16", kind: kindAVX2, mr: mr, nr: nr, kc: 256, mc: 144, nc: 1024}
)

// gemmAVX512 is the avx512 path's kernel, 8×48 with 24 zmm accumulators,
// chosen by measurement on the 2-core AMD EPYC (Zen 4, whose zmm FMAs run
// as two 256-bit halves: every AVX-512 kernel tied the AVX2 one at ~113
// GFLOP/s on in-cache panels, so the tile was chosen for the whole
// network). CPU time of ResNet-50's convolutions at batch 1 on one thread,
// best of 7 interleaved rounds: avx2 6×16 73.3 ms, 14×32 74.0, 12×32 73.1,
// 8×48 72.9; per layer kind 8×48 was within 1% of avx2 or better (Winograd
// layers 3–9% faster: N = 16 tiles run 8 rows of broadcast FMAs), while
// 14×32 and 12×32 lost up to 9% where M = 64 leaves part of their last row
// panel empty (every ResNet M is a multiple of 8). Per step it loads 3 B
// vectors and 8 broadcasts for 24 FMAs, under the 2 loads per cycle of CPUs
// that issue two zmm FMAs per cycle (Intel), which a 28×16 tile (29 loads)
// would exceed. Masked edges cost whole 8-column halves (ymm for an odd
// half), so N = 49 (7×7 maps) costs 56 columns as with the AVX2 kernels.
// Blocking: kc 256 (every ResNet K but the stem's is a multiple of it; its
// 48 KiB B micro-panel outgrows a 32 KiB L1, yet kc 128, which fits, measured
// alike: in place, B's rows come from L2 either way), mc 256 and nc 2016
// where the caches are unknown (blocking.go fits them to the CPU); kc 128,
// 192 and 512 (slower, 61–87 GFLOP/s against ~100 on 1×1 shapes), mc 128 and
// 512, nc 1008 and 4032 measured within 1–5% (noise) otherwise.
var gemmAVX512 = &gemmKernel{name: "avx512 8×48", kind: kindAVX512, mr: 8, nr: 48, kc: 256, mc: 256, nc: 2016, inPlace: true}

// gemmNEON is the neon path's kernel, 8×12 (see kernel_neon_arm64.go for
// the tile). Blocking, not measured (no arm64 machine here), from the
// caches of the cores it targets (L1d 64 KiB on Neoverse N1/V1/V2, 128 KiB
// on Apple's; L2 1–2 MiB per core, or a shared 4–16 MiB): a kc×12 B
// micro-panel of kc = 256 is 12 KiB, the mc×kc A block of mc = 128 rows
// 128 KiB (16 panels of 8, fits any of those L2s with the B block's
// share), and nc = 1008 (84 panels of 12) keeps the packed B block at 1 MiB
// as on the other paths.
var gemmNEON = &gemmKernel{name: "neon 8×12", kind: kindNEON, mr: 8, nr: 12, kc: 256, mc: 128, nc: 1008}

// panelStride is the distance between the B panels of a block of kc rows:
// kc·nr values and one cache line more, so that consecutive panels are not
// a multiple of 4 KiB apart (kc = 64, 256, …), which would put every store
// of a packed row into the same L1 set.
func (k *gemmKernel) panelStride(kc int) int { return kc*k.nr + 16 }

// bBlockLen is the size of a packed kc×nc block of B.
func (k *gemmKernel) bBlockLen() int { return k.panelStride(k.kc) * ceilDiv(k.nc, k.nr) }

// buf returns a scratch buffer for one task: a packed A block, a packed B
// block and a row of B; put it back with putBuf.
func (k *gemmKernel) buf() *[]float32 {
	if b, ok := k.bufs.Get().(*[]float32); ok {
		return b
	}
	s := make([]float32, k.mc*k.kc+k.bBlockLen()+k.nc)
	return &s
}

func (k *gemmKernel) putBuf(b *[]float32) { k.bufs.Put(b) }

// copyPanels copies src[nr·i : nr·i+nr] to dst[i·stride : i·stride+nr] for
// i < n (B packing), on the assembly kernels if asm.
func (k *gemmKernel) copyPanels(n int, src, dst []float32, stride int, asm bool) {
	_ = dst[(n-1)*stride+k.nr-1]
	_ = src[n*k.nr-1]
	switch {
	case !asm && k.nr == 16:
		for i := 0; i < n; i++ {
			*(*[16]float32)(dst[i*stride:]) = *(*[16]float32)(src[i*16:])
		}
	case !asm && k.nr == 12:
		for i := 0; i < n; i++ {
			*(*[12]float32)(dst[i*stride:]) = *(*[12]float32)(src[i*12:])
		}
	case !asm:
		for i := 0; i < n; i++ {
			copy(dst[i*stride:i*stride+k.nr], src[i*k.nr:(i+1)*k.nr])
		}
	case k.nr == 16:
		copyPanels16(n, &src[0], &dst[0], stride)
	case k.nr == 48:
		copyPanels48(n, &src[0], &dst[0], stride)
	default:
		panic("kernels: no panel copy for this tile")
	}
}

// tile512 runs the AVX-512 kernel of k on one tile: rows×cols of C at c
// (row stride ldc) from the panels ap and bp.
func (k *gemmKernel) tile512(kc int, ap, bp, c []float32, ldc, rows, cols, flags int, bias, res []float32, ldr int) {
	mask := uint64(1)<<cols - 1 // all ones for cols = 64
	a, b, cp := unsafe.SliceData(ap), unsafe.SliceData(bp), unsafe.SliceData(c)
	bs, rs := first(bias), first(res)
	switch k.mr<<8 | k.nr {
	case 8<<8 | 48:
		kernel8x48(kc, a, b, cp, ldc, rows, cols, flags, bs, rs, ldr, mask)
	default:
		panic("kernels: no AVX-512 kernel for this tile")
	}
}
