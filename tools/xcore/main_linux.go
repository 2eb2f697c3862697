// Command xcore tells whether this machine's first two CPUs share a cache right now: CPU 1
// writes 1 MiB, CPU 0 reads it, and the time is compared with CPU 0 reading what it wrote
// itself (medians of 41 rounds). On the 2-vCPU Zen 4 VM of the README's benchmarks the first
// read took ~12 µs and the second ~10 µs most of the time, and ~39 µs against ~10 in the
// stretches where the vCPUs sat on different CCDs and two-thread passes ran 25–35% slower.
// A second line times 1 MiB reads cycling through 32 MiB and through 256 MiB: on the 2-vCPU
// Intel Xeon (session 21) ~40–60 and ~130 µs, the L3 a VM actually gets and memory, which
// is where ResNet-50's 143 MiB of prepared weights come from on every pass.
// Run it before and after a benchmark to know which kind of stretch the benchmark saw:
//
//	go run ./tools/xcore
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"time"

	"golang.org/x/sys/unix"
)

// pin locks the calling goroutine to its thread and the thread to cpu.
func pin(cpu int) error {
	runtime.LockOSThread()
	var s unix.CPUSet
	s.Set(cpu)
	return unix.SchedSetaffinity(0, &s)
}

// touch writes every value of buf.
func touch(buf []float32, r int) {
	for i := range buf {
		buf[i] = float32(i + r)
	}
}

// read sums one value per cache line, eight lines in flight: a read of the lines, not of
// the arithmetic.
func read(buf []float32) float32 {
	var a [8]float32
	for i := 0; i+127 < len(buf); i += 128 {
		for j := range a {
			a[j] += buf[i+16*j]
		}
	}
	return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7]
}

func main() {
	if runtime.NumCPU() < 2 {
		fmt.Fprintln(os.Stderr, "xcore: needs two CPUs")
		os.Exit(1)
	}
	runtime.GOMAXPROCS(2)
	if err := pin(0); err != nil {
		fmt.Fprintln(os.Stderr, "xcore:", err)
		os.Exit(1)
	}
	buf := make([]float32, 256<<10) // 1 MiB
	done := make(chan error)
	var other, own []time.Duration
	var sink float32
	for r := range 41 {
		go func() { // a new goroutine each round, pinned to CPU 1, writes the buffer
			err := pin(1)
			if err == nil {
				touch(buf, r)
			}
			done <- err
		}()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "xcore:", err)
			os.Exit(1)
		}
		t := time.Now()
		sink += read(buf)
		other = append(other, time.Since(t))
		touch(buf, r)
		t = time.Now()
		sink += read(buf)
		own = append(own, time.Since(t))
	}
	med := func(d []time.Duration) float64 {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return float64(d[len(d)/2].Nanoseconds()) / 1000
	}
	fmt.Printf("1 MiB read on CPU 0: written by CPU 1 %.1f µs, by CPU 0 %.1f µs (checksum %g)\n", med(other), med(own), sink)
	c32, c256 := cyclic(32, &sink), cyclic(256, &sink)
	fmt.Printf("1 MiB read on CPU 0, cycling through 32 MiB %.1f µs, through 256 MiB %.1f µs (checksum %g)\n", med(c32), med(c256), sink)
}

// cyclic times reading each 1 MiB of an mib-MiB buffer in turn, three times over (once the
// buffer outgrows a cache level, every read comes from the next one), adding what it read
// to sink.
func cyclic(mib int, sink *float32) []time.Duration {
	buf := make([]float32, mib<<18)
	touch(buf, 1)
	var d []time.Duration
	for range 3 {
		for off := 0; off < len(buf); off += 1 << 18 {
			t := time.Now()
			*sink += read(buf[off : off+1<<18])
			d = append(d, time.Since(t))
		}
	}
	return d
}
