package kernels

import (
	"strings"
	"testing"

	"github.com/resnet-go/resnet/internal/cpucache"
)

// The fitted blocks of every kernel for the caches of CPUs users run: mc from a thread's
// L2 (two hyperthreads share one) but never below the fixed value, nc from its share of
// the L3 but never above the fixed value, kc never changed (it fixes the rounding of
// results); l1Panel where the L1d holds a packed kc×nr panel.
func TestFitCaches(t *testing.T) {
	zen4 := cpucache.Sizes{L1D: 32 << 10, L2: 1 << 20, L3: 32 << 20, L2Sharers: 1, L3Sharers: 2, Known: true}
	zen3 := cpucache.Sizes{L1D: 32 << 10, L2: 512 << 10, L3: 32 << 20, L2Sharers: 2, L3Sharers: 16, Known: true}
	xeon := cpucache.Sizes{L1D: 48 << 10, L2: 2 << 20, L3: 105 << 20, L2Sharers: 2, L3Sharers: 112, Known: true}
	xeon1 := cpucache.Sizes{L1D: 48 << 10, L2: 2 << 20, L3: 60 << 20, L2Sharers: 1, L3Sharers: 16, Known: true}
	m1 := cpucache.Sizes{L1D: 128 << 10, L2: 12 << 20, L2Sharers: 4, L3Sharers: 1, Known: true}
	tiny := cpucache.Sizes{L1D: 16 << 10, L2: 64 << 10, L3: 1 << 20, L2Sharers: 1, L3Sharers: 8, Known: true}
	for _, tc := range []struct {
		name    string
		ker     *gemmKernel
		caches  cpucache.Sizes
		mc, nc  int
		l1Panel bool // a kc×nr packed panel fits L1d (packConv)
	}{
		{"avx512 zen4", gemmAVX512, zen4, 256, 2016, false},
		{"avx512 xeon, hyperthreads", gemmAVX512, xeon, 256, 480, true},
		{"avx512 xeon, 16 cores", gemmAVX512, xeon1, 512, 1920, true},
		{"avx2 zen3, hyperthreads: the fixed mc is the floor", gemmAVX2, zen3, 144, 1024, true},
		{"avx2 zen4", gemmAVX2, zen4, 252, 1024, true},
		{"neon apple m1", gemmNEON, m1, 768, 1008, true},
		{"go tiny caches: the floors", gemmGo, tiny, 144, 128, true}, // 16 KiB panels fit exactly
		{"unknown: fixed values", gemmAVX512, cpucache.Sizes{}, 256, 2016, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := &gemmKernel{name: tc.ker.name, kind: tc.ker.kind, mr: tc.ker.mr, nr: tc.ker.nr, kc: tc.ker.kc, mc: defaultMC(tc.ker), nc: defaultNC(tc.ker)}
			k.fitCaches(tc.caches)
			if k.mc != tc.mc || k.nc != tc.nc || k.kc != tc.ker.kc {
				t.Errorf("kc %d mc %d nc %d, want kc %d mc %d nc %d", k.kc, k.mc, k.nc, tc.ker.kc, tc.mc, tc.nc)
			}
			if k.l1Panel != tc.l1Panel {
				t.Errorf("l1Panel %v, want %v", k.l1Panel, tc.l1Panel)
			}
			if k.mc%k.mr != 0 || k.nc%k.nr != 0 {
				t.Errorf("mc %d or nc %d not whole panels of %d×%d", k.mc, k.nc, k.mr, k.nr)
			}
		})
	}
}

// defaultMC and defaultNC are the fixed blocks of gemm_kernel.go, before fitting.
func defaultMC(k *gemmKernel) int {
	return map[*gemmKernel]int{gemmGo: 144, gemmAVX2: 144, gemmAVX512: 256, gemmNEON: 128}[k]
}

func defaultNC(k *gemmKernel) int {
	return map[*gemmKernel]int{gemmGo: 1024, gemmAVX2: 1024, gemmAVX512: 2016, gemmNEON: 1008}[k]
}

func TestBlockingString(t *testing.T) {
	s := Blocking()
	if !strings.Contains(s, curISA().gemm.name) || !strings.Contains(s, "caches") {
		t.Errorf("Blocking() = %q", s)
	}
	t.Log(s)
}
