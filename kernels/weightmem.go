package kernels

import (
	"os"
	"unsafe"
)

// Weight memory. A ResNet-50 pass streams ~170 MB of packed and transformed
// weights, ~43,000 pages of 4 KiB: far more than the TLBs map, so each page's
// first read in a pass waits on a page walk (two-dimensional in a virtual
// machine). Linux's default transparent-huge-page mode ("madvise") gives huge
// pages only to memory that asks, and the Go heap does not ask. So the whole
// 2 MiB pages inside each large weight allocation are advised for huge pages
// before anything is written to them (weightmem_linux.go). Only whole pages
// inside an allocation are advised, so no huge page holds anything else and
// the resident size does not grow: ResNet-50's peak RSS stays 207 MB with 86
// MB of its weights in huge pages (carving all weights from 32 MiB huge-page
// chunks instead covered 150 MB but took the peak to 223 MB). Measured on the
// Zen 5 VM in a busy phase (ABBA rounds, RESNET_HUGEPAGES=0 against 1, 6
// each): one-thread ResNet-50 passes 0.908 of the time (256→256 at 14×14
// −0.42 ms, 512→512 at 7×7 −0.31), two threads 1.015 (rounds 0.88–1.15:
// noise); the chunk version had measured 0.949 (one thread), 0.979 and 0.997
// (two) and ResNet-18 0.986 (two), its gains in the weight-heavy layers too.

// hugeMinBytes is the smallest allocation that can hold a whole 2 MiB page
// (the heap's large allocations start on 8 KiB boundaries): from 4 MiB on,
// every one does.
const hugeMinBytes = 2<<20 + 8<<10

// hugeWeights enables the advice (RESNET_HUGEPAGES=0 disables it, for
// comparisons); tests switch it.
var hugeWeights = os.Getenv("RESNET_HUGEPAGES") != "0"

// weightAlloc returns n zeroed values for packed weights; where the platform
// has transparent huge pages, the whole 2 MiB pages inside them are advised
// for huge pages (hugeInterior).
func weightAlloc(n int) []float32 {
	s := make([]float32, n)
	if hugeWeights && hugePagesOS && n*4 >= hugeMinBytes {
		if in := hugeInterior(s); len(in) > 0 {
			adviseHuge(in)
		}
	}
	return s
}

// hugeInterior is the part of s made of whole 2 MiB pages.
func hugeInterior(s []float32) []float32 {
	const huge = 2 << 20
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	lo := int((huge - p%huge) % huge / 4)
	hi := int((p+uintptr(len(s))*4)/huge*huge-p) / 4
	if hi <= lo {
		return nil
	}
	return s[lo:hi:hi]
}
