package main

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// --threads above the CPUs the process may use gets one note on stderr (the extra threads
// only take turns); at the CPU count, none.
func TestThreadsAboveCPUsNote(t *testing.T) {
	cpus := runtime.NumCPU()
	note := fmt.Sprintf("note: --threads %d is more than the %d CPUs this process can use", cpus+1, cpus)
	_, errOut, code := run(t, "bench", "--arch", "cifar-resnet20", "--threads", fmt.Sprint(cpus+1), "--runs", "1", "--warmup", "0")
	if code != 0 || strings.Count(errOut, note) != 1 {
		t.Errorf("--threads %d: exit %d, stderr %q, want the note once", cpus+1, code, errOut)
	}
	_, errOut, code = run(t, "bench", "--arch", "cifar-resnet20", "--threads", fmt.Sprint(cpus), "--runs", "1", "--warmup", "0")
	if code != 0 || strings.Contains(errOut, "note:") {
		t.Errorf("--threads %d: exit %d, stderr %q, want no note", cpus, code, errOut)
	}
}
