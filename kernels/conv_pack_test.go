package kernels

import (
	"fmt"
	"math"
	"testing"

	"github.com/resnet-go/resnet/internal/isatest"
)

// TestGather checks the strided gather that fills phase planes, whose stride-2
// assembly handles blocks of 8 outputs and must not read past src.
func TestGather(t *testing.T) {
	isatest.Run(t, func(t *testing.T) {
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
					gather(dst[:n], src, stride, curISA().asm)
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

// TestAddReLURow checks the residual stage of compacted convolution outputs
// on both paths, every tail length, without writing past dst.
func TestAddReLURow(t *testing.T) {
	isatest.Run(t, func(t *testing.T) {
		for n := 0; n <= 19; n++ {
			for _, relu := range []bool{false, true} {
				src, res := make([]float32, n), make([]float32, n)
				for i := range src {
					src[i], res[i] = float32(i%5)-2.5, float32(i%3)-0.75
				}
				if n > 3 {
					src[3] = float32(math.NaN())
				}
				dst := fill(make([]float32, n+8), 9)
				addReLURow(dst[:n], src, res, relu, curISA().asm)
				for i := range n {
					want := src[i] + res[i]
					if relu && want < 0 {
						want = 0
					}
					if got := dst[i]; got != want && !(got != got && want != want) {
						t.Fatalf("n=%d relu=%v: dst[%d] = %g, want %g", n, relu, i, got, want)
					}
				}
				for i, v := range dst[n:] {
					if v != 9 {
						t.Fatalf("n=%d: dst[%d] past the end written", n, n+i)
					}
				}
			}
		}
	})
}
