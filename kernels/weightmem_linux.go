package kernels

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

const hugePagesOS = true

// adviseHuge asks for huge pages over s (whole 2 MiB pages of an allocation
// nothing has been written to but zeros): it first drops whatever pages the
// heap touched (zeroing a reused span), which read back as zero, so that the
// first writes fault in huge pages. It reports whether the kernel took the
// advice.
func adviseHuge(s []float32) bool {
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*4)
	if unix.Madvise(b, unix.MADV_DONTNEED) != nil {
		return false
	}
	return unix.Madvise(b, unix.MADV_HUGEPAGE) == nil
}
