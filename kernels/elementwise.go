package kernels

import "fmt"

// ReLU sets x[i] = max(0, x[i]) in place; NaN stays NaN.
func ReLU(x []float32) {
	chunks := chunksFor(len(x)/4096+1, len(x))
	parallel(chunks, func(i int) {
		for j, v := range x[i*len(x)/chunks : (i+1)*len(x)/chunks] {
			if v < 0 {
				x[i*len(x)/chunks+j] = 0
			}
		}
	})
}

// Copy copies src to dst on the kernel threads (src nil: zeroes dst), for batch-sized buffers
// a training step fills between layers. It panics if src is shorter than dst.
func Copy(dst, src []float32) {
	if src != nil && len(src) < len(dst) {
		panic(fmt.Errorf("kernels: Copy: dst has %d values, src %d", len(dst), len(src)))
	}
	chunks := chunksFor(len(dst)/4096+1, len(dst))
	parallel(chunks, func(i int) {
		lo, hi := i*len(dst)/chunks, (i+1)*len(dst)/chunks
		if src == nil {
			clear(dst[lo:hi])
		} else {
			copy(dst[lo:hi], src[lo:hi])
		}
	})
}

// Add sets dst[i] += a[i]. It panics if the lengths differ.
func Add(dst, a []float32) {
	if len(dst) != len(a) {
		panic(fmt.Errorf("kernels: Add: dst has %d values, a has %d", len(dst), len(a)))
	}
	chunks := chunksFor(len(dst)/4096+1, len(dst))
	parallel(chunks, func(i int) {
		lo, hi := i*len(dst)/chunks, (i+1)*len(dst)/chunks
		d, s := dst[lo:hi], a[lo:hi]
		for j := range d {
			d[j] += s[j]
		}
	})
}
