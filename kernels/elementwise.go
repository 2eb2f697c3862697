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
