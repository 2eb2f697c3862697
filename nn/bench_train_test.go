package nn

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/kernels"
)

// -nthreads lists the thread counts the layer benchmarks run with.
var benchThreads = flag.String("nthreads", "1,2", "comma-separated thread counts for the layer benchmarks")

func eachThreads(b *testing.B, f func(b *testing.B)) {
	for _, s := range strings.Split(*benchThreads, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			b.Fatalf("bad -nthreads entry %q", s)
		}
		b.Run(fmt.Sprintf("t%d", n), func(b *testing.B) {
			prev := kernels.Threads()
			kernels.SetThreads(n)
			defer kernels.SetThreads(prev)
			f(b)
		})
	}
}

// The convolutions of CIFAR ResNets at batch 128.
var benchConvs = []struct {
	name             string
	in, out, k, s, h int
}{
	{"stem3to16", 3, 16, 3, 1, 32},
	{"3x3_16", 16, 16, 3, 1, 32},
	{"3x3s2_16to32", 16, 32, 3, 2, 32},
	{"3x3_32", 32, 32, 3, 1, 16},
	{"3x3_64", 64, 64, 3, 1, 8},
	{"1x1s2_32to64", 32, 64, 1, 2, 16},
}

const benchBatch = 128

func BenchmarkConv2dForward(b *testing.B) {
	for _, bc := range benchConvs {
		b.Run(bc.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			c := NewConv2d(bc.in, bc.out, bc.k, bc.s, bc.k/2)
			copy(c.Weight, randVec(r, len(c.Weight)))
			oh, ow := c.OutSize(bc.h, bc.h)
			x, y := randVec(r, bc.in*benchBatch*bc.h*bc.h), make([]float32, bc.out*benchBatch*oh*ow)
			macs := float64(bc.out*oh*ow*bc.in*bc.k*bc.k) * benchBatch
			eachThreads(b, func(b *testing.B) {
				for b.Loop() {
					c.Forward(benchBatch, bc.h, bc.h, x, y)
				}
				b.ReportMetric(2*macs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		})
	}
}

// BenchmarkConv2dBackward computes the weight and input gradients (the stem only the former).
func BenchmarkConv2dBackward(b *testing.B) {
	for _, bc := range benchConvs {
		b.Run(bc.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			c := NewConv2d(bc.in, bc.out, bc.k, bc.s, bc.k/2)
			copy(c.Weight, randVec(r, len(c.Weight)))
			oh, ow := c.OutSize(bc.h, bc.h)
			x, dy := randVec(r, bc.in*benchBatch*bc.h*bc.h), randVec(r, bc.out*benchBatch*oh*ow)
			dx := make([]float32, len(x))
			macs := 2 * float64(bc.out*oh*ow*bc.in*bc.k*bc.k) * benchBatch
			if bc.in == 3 {
				dx = nil
				macs /= 2
			}
			eachThreads(b, func(b *testing.B) {
				for b.Loop() {
					c.Backward(benchBatch, bc.h, bc.h, x, dy, dx, false)
				}
				b.ReportMetric(2*macs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		})
	}
}

// BenchmarkBatchNorm2d runs training-mode forward (with ReLU) and backward over 16 channels
// of 128 images of 32×32, reporting values per second through both.
func BenchmarkBatchNorm2d(b *testing.B) {
	const c, m = 16, benchBatch * 32 * 32
	r := rand.New(rand.NewPCG(1, 2))
	bn := NewBatchNorm2d(c)
	x, y, dy, dx := randVec(r, c*m), make([]float32, c*m), randVec(r, c*m), make([]float32, c*m)
	eachThreads(b, func(b *testing.B) {
		for b.Loop() {
			if err := bn.ForwardTrain(m, x, nil, y, true); err != nil {
				b.Fatal(err)
			}
			if err := bn.Backward(m, x, y, dy, dx, true); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(c*m)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gvalues/s")
	})
}

// BenchmarkConvBNTrain runs a 3×3 ConvBNTrain unit (with ReLU) of a CIFAR ResNet forward and
// backward at batch 128, on the Winograd path (whatever winoMinChannels) and on the direct
// kernels: the measurement behind winoMinChannels.
func BenchmarkConvBNTrain(b *testing.B) {
	for _, bc := range []struct {
		name string
		c, h int
	}{{"16x32x32", 16, 32}, {"32x16x16", 32, 16}, {"64x8x8", 64, 8}} {
		for _, wino := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/wino=%v", bc.name, wino), func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 2))
				u := NewConvBNTrain(bc.c, bc.c, 3, 1, 1, true)
				copy(u.Conv.Weight, randVec(r, len(u.Conv.Weight)))
				m := benchBatch * bc.h * bc.h
				x, dy := randVec(r, bc.c*m), randVec(r, bc.c*m)
				c, y, dx := make([]float32, bc.c*m), make([]float32, bc.c*m), make([]float32, bc.c*m)
				prev, prevMin := useWino, winoMinChannels
				useWino, winoMinChannels = wino, 16 // whatever the threshold, to re-measure it
				defer func() { useWino, winoMinChannels = prev, prevMin }()
				eachThreads(b, func(b *testing.B) {
					for b.Loop() {
						if err := u.ForwardTrain(benchBatch, bc.h, bc.h, x, c, nil, y); err != nil {
							b.Fatal(err)
						}
						if err := u.Backward(benchBatch, bc.h, bc.h, x, c, y, dy, dx, BackwardOptions{}); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
		}
	}
}
