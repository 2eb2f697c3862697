// Command xlayer measures what reading data another core wrote costs some of ResNet-50's
// layers at batch 1: each runs on one thread (on CPU 0) with its input written by CPU 1, then
// by CPU 0 itself, and on two threads with each CPU having written half of the input, as the
// previous layer's two threads would have (medians of 61 rounds). On the 2-vCPU Zen 5 VM with
// its vCPUs on different CCDs (session 11): a 1×1 1024→256 layer at 14×14 took 455–485 µs on
// one thread reading its own input and 80–90 µs more reading CPU 1's 0.77 MiB (~100 µs a MiB,
// three times what a plain sequential read of another core's lines costs: the GEMM's strided
// reads run latency-bound); the Winograd 3×3 layers pay 130–770 µs a MiB. On two threads that
// layer took 320–490 µs (the threads float between the CPUs), against 260–280 µs when its
// input sat in both cores' caches already.
// Reading the input sequentially before the layer won back half of the one-thread penalty but
// nothing on two threads (docs/design.md). Run it beside `go run ./tools/xcore`:
//
//	go run ./tools/xlayer
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"time"

	"github.com/resnet-go/resnet/kernels"
	"golang.org/x/sys/unix"
)

// onCPU runs fn on a thread pinned to cpu, then gives the thread back with both CPUs allowed:
// threads the runtime creates from a pinned one inherit its mask, and the pool's threads must
// stay free to run anywhere.
func onCPU(cpu int, fn func()) {
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var s unix.CPUSet
		s.Set(cpu)
		if err := unix.SchedSetaffinity(0, &s); err != nil {
			done <- err
			return
		}
		fn()
		s.Set(0)
		s.Set(1)
		done <- unix.SchedSetaffinity(0, &s)
	}()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "xlayer:", err)
		os.Exit(1)
	}
}

func median(d []time.Duration) float64 {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return float64(d[len(d)/2].Nanoseconds()) / 1000
}

func main() {
	if runtime.NumCPU() < 2 {
		fmt.Fprintln(os.Stderr, "xlayer: needs two CPUs")
		os.Exit(1)
	}
	runtime.GOMAXPROCS(2)
	// Start the pool's second thread before any pinning (see onCPU).
	kernels.SetThreads(2)
	layers := []struct {
		name string
		p    kernels.ConvParams
	}{
		{"1x1 1024->256 14x14", kernels.ConvParams{InC: 1024, InH: 14, InW: 14, OutC: 256, KH: 1, KW: 1, StrideH: 1, StrideW: 1}},
		{"1x1 512->128 28x28", kernels.ConvParams{InC: 512, InH: 28, InW: 28, OutC: 128, KH: 1, KW: 1, StrideH: 1, StrideW: 1}},
		{"3x3 256->256 14x14", kernels.ConvParams{InC: 256, InH: 14, InW: 14, OutC: 256, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}},
		{"3x3 128->128 28x28", kernels.ConvParams{InC: 128, InH: 28, InW: 28, OutC: 128, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}},
		{"3x3/2 256->256 28x28", kernels.ConvParams{InC: 256, InH: 28, InW: 28, OutC: 256, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
	}
	fmt.Println("layer                  input MiB   1 thread: by CPU 1   by CPU 0   extra µs/MiB   2 threads, half each: µs")
	for _, l := range layers {
		p := l.p
		w := make([]float32, p.OutC*p.InC*p.KH*p.KW)
		for i := range w {
			w[i] = float32(i%7-3) * 0.01
		}
		in := make([]float32, p.InC*p.InH*p.InW)
		out := make([]float32, p.OutC*p.OutH()*p.OutW())
		write := func(lo, hi, r int) {
			for i := lo; i < hi; i++ {
				in[i] = float32((i+r)%13) * 0.1
			}
		}
		pl := kernels.PlanConv(p, w)
		var remote, local, both []time.Duration
		kernels.SetThreads(1)
		for r := range 61 {
			// One thread, on CPU 0, reading what CPU 1 wrote, then what it wrote itself.
			onCPU(1, func() { write(0, len(in), r) })
			onCPU(0, func() {
				t := time.Now()
				kernels.Conv2DPlanned(p, 1, in, pl, nil, nil, true, out)
				remote = append(remote, time.Since(t))
				write(0, len(in), r)
				t = time.Now()
				kernels.Conv2DPlanned(p, 1, in, pl, nil, nil, true, out)
				local = append(local, time.Since(t))
			})
		}
		kernels.SetThreads(2)
		for r := range 61 {
			// Two threads, each CPU having written half of the input.
			onCPU(0, func() { write(0, len(in)/2, r) })
			onCPU(1, func() { write(len(in)/2, len(in), r) })
			t := time.Now()
			kernels.Conv2DPlanned(p, 1, in, pl, nil, nil, true, out)
			both = append(both, time.Since(t))
		}
		mib := float64(4*len(in)) / (1 << 20)
		rm, lm := median(remote), median(local)
		fmt.Printf("%-22s %9.2f %20.1f %10.1f %14.0f %28.1f\n", l.name, mib, rm, lm, (rm-lm)/mib, median(both))
	}
}
