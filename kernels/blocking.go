package kernels

import (
	"fmt"

	"github.com/resnet-go/resnet/internal/cpucache"
)

// Cache blocking fitted to the CPU. At start-up each GEMM kernel's A block (mc rows) and B
// block (nc columns) are sized from the caches one thread sees (internal/cpucache), so a
// Xeon with a 2 MiB L2 per core and a share of a large L3 gets other blocks than a Zen 3 with
// 512 KiB; the values in gemm_kernel.go stay where the caches are unknown. kc, the K block,
// stays fixed per kernel: a K block's partial sums are added to C before the next block
// starts, so kc decides the rounding of every product, and results must not change from
// one machine to another of the same path (a model gives bit-identical outputs on every
// AVX-512 CPU). mc and nc only choose which rows and columns run in which order.
//
// The A block gets a quarter of a thread's L2. On the 2-core Zen 4 dev machine (1 MiB L2)
// that keeps avx512 at mc 256 and takes avx2 from 144 to 252: ResNet-50's convolutions
// ran alike (best of 15 interleaved rounds equal, medians 1–5% apart, within this VM's
// noise). Half of the L2 (mc 512, and 510 for avx2) ran alike on avx512 but 1–3% slower on
// avx2 in the best rounds, whose packed B block shares the L2 with A.

// mcMax bounds the fitted mc. The fixed mc of gemm_kernel.go, measured on the dev
// machines, is its floor: a small or shared L2 never shrinks it below what was measured
// (an avx2 Zen 3 with two hyperthreads per 512 KiB L2 keeps 144). nc is never raised above
// its fixed value, which bounds the memory of a task's packing buffer (ResNet-50's peak RSS
// at batch 1 counts it once per thread).
const mcMax = 1024

// fitCaches sets k's mc and nc for caches c: the mc×kc A block takes a quarter of the L2
// a thread sees (the rest holds the B panels and C tiles that stream past it), the kc×nc
// B block half of a thread's share of the L3. Both are rounded down to whole panels.
func (k *gemmKernel) fitCaches(c cpucache.Sizes) {
	if !c.Known {
		return
	}
	k.l1Panel = c.L1D >= 4*k.kc*k.nr
	l2 := c.L2 / max(1, c.L2Sharers)
	mc := l2 / 4 / (4 * k.kc) / k.mr * k.mr
	k.mc = min(max(mc, k.mc), mcMax/k.mr*k.mr)
	if c.L3 > 0 {
		l3 := c.L3 / max(1, c.L3Sharers)
		nc := l3 / 2 / (4 * k.kc) / k.nr * k.nr
		k.nc = min(k.nc, max(nc, 8*k.nr))
	}
}

// gemmKernels are the kernels whose blocking fitCaches sets.
var gemmKernels = []*gemmKernel{gemmGo, gemmAVX2, gemmAVX512, gemmNEON}

func init() {
	c := cpucache.Detect()
	for _, k := range gemmKernels {
		k.fitCaches(c)
	}
}

// Blocking describes the cache blocking of the path in use and the caches it was fitted
// to, for `resnet version`: e.g. "avx512 8×48: kc 256, mc 256, nc 2016; caches L1d 32
// KiB, L2 1 MiB, L3 32 MiB shared by 2 CPUs (sysfs)".
func Blocking() string {
	k := curISA().gemm
	return fmt.Sprintf("%s: kc %d, mc %d, nc %d; caches %s", k.name, k.kc, k.mc, k.nc, cpucache.Detect())
}
