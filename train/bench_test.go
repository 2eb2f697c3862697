package train

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/kernels"
	"github.com/resnet-go/resnet/tensor"
)

// -tthreads lists the thread counts the training benchmarks run with.
var benchThreads = flag.String("tthreads", "1,2", "comma-separated thread counts for the training benchmarks")

func threadCounts(b *testing.B) []int {
	var out []int
	for _, s := range strings.Split(*benchThreads, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			b.Fatalf("bad -tthreads entry %q", s)
		}
		out = append(out, n)
	}
	return out
}

// randomBatch is n CIFAR-sized images of unit-variance noise with random labels.
func randomBatch(n, c, h, w, classes int, seed uint64) (*tensor.Tensor, []int) {
	r := rand.New(rand.NewPCG(seed, 7))
	x := tensor.New(n, c, h, w)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	labels := make([]int, n)
	for i := range labels {
		labels[i] = r.IntN(classes)
	}
	return x, labels
}

// BenchmarkTrainStep measures full SGD steps (forward, loss, backward, update) at batch 128
// on 32×32 inputs, reporting images per second. PyTorch 1.13 on the 2-core dev machine
// (2 threads) does about 290 images/s for cifar-resnet20 and 110 for cifar-resnet56.
func BenchmarkTrainStep(b *testing.B) {
	for _, name := range []string{"cifar-resnet20", "cifar-resnet56"} {
		for _, threads := range threadCounts(b) {
			b.Run(fmt.Sprintf("%s/b128/t%d", name, threads), func(b *testing.B) {
				prev := kernels.Threads()
				kernels.SetThreads(threads)
				defer kernels.SetThreads(prev)
				cfg, err := arch.Preset(name)
				if err != nil {
					b.Fatal(err)
				}
				net, err := New(cfg, InitOptions{Seed: 1})
				if err != nil {
					b.Fatal(err)
				}
				tr, err := NewTrainer(net, SGDConfig{Momentum: 0.9, WeightDecay: 1e-4}, Constant(0.1))
				if err != nil {
					b.Fatal(err)
				}
				x, labels := randomBatch(128, 3, 32, 32, 10, 1)
				if _, _, err := tr.Step(x, labels); err != nil { // allocate outside the timing
					b.Fatal(err)
				}
				b.ResetTimer()
				cpu0 := cpuTime()
				for i := 0; i < b.N; i++ {
					if _, _, err := tr.Step(x, labels); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(128*b.N)/b.Elapsed().Seconds(), "images/s")
				// CPU time of the process per step: on a shared machine, wall time at one
				// thread minus this shows how much others took.
				b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
			})
		}
	}
}
