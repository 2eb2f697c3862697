package kernels

import (
	"fmt"
	"testing"
)

// TestGather checks the strided gather of the im2col packer, whose stride-2
// assembly handles blocks of 8 outputs and must not read past src.
func TestGather(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		for _, stride := range []int{1, 2, 3} {
			for n := 0; n <= 35; n++ {
				t.Run(fmt.Sprintf("s%d/n%d", stride, n), func(t *testing.T) {
					srcLen := 0
					if n > 0 {
						srcLen = (n-1)*stride + 1 // exactly up to the last value read
					}
					src := make([]float32, srcLen)
					for i := range src {
						src[i] = float32(i + 1)
					}
					dst := fill(make([]float32, n+1), -1)
					gather(dst[:n], src, stride, useAsm.Load())
					for i := 0; i < n; i++ {
						if dst[i] != float32(i*stride+1) {
							t.Fatalf("dst[%d] = %g, want %d", i, dst[i], i*stride+1)
						}
					}
					if dst[n] != -1 {
						t.Fatalf("dst[%d] beyond the end written: %g", n, dst[n])
					}
				})
			}
		}
	})
}
