//go:build unix

package kernels

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// An idle pool blocks: after the last kernel call its workers and callers poll for at most
// spinWait (200 µs), then sleep, so a process that stopped computing uses no CPU.
func TestPoolIdleDoesNotSpin(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs 2 Ps for a pool worker")
	}
	prev := Threads()
	SetThreads(runtime.GOMAXPROCS(0))
	defer SetThreads(prev)
	sum := make([]float64, 64)
	for range 50 {
		parallel(len(sum), func(i int) {
			for k := range 20000 {
				sum[i] += float64(k)
			}
		})
	}
	time.Sleep(20 * time.Millisecond) // past every spin window
	before := cpuTime()
	time.Sleep(200 * time.Millisecond)
	used := cpuTime() - before
	// A spinning worker would burn ~200 ms per thread here; the runtime's own background
	// work takes well under a millisecond.
	if used > 20*time.Millisecond {
		t.Errorf("the idle pool used %v of CPU time in 200 ms", used)
	}
}

// cpuTime is the user and system time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
