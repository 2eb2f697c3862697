package kernels

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// weightAlloc returns exact, zeroed slices with the advice on and off, and
// hugeInterior is the largest run of whole 2 MiB pages inside a slice.
func TestWeightAlloc(t *testing.T) {
	defer func(v bool) { hugeWeights = v }(hugeWeights)
	const huge = 2 << 20
	for _, on := range []bool{false, true} {
		hugeWeights = on
		for _, n := range []int{0, 1, 1000, hugeMinBytes/4 - 1, hugeMinBytes / 4, 600_000, 3_000_001, 5 << 20} {
			s := weightAlloc(n)
			if len(s) != n {
				t.Fatalf("on=%v: weightAlloc(%d) has %d values", on, n, len(s))
			}
			for i, v := range s {
				if v != 0 {
					t.Fatalf("on=%v: weightAlloc(%d)[%d] = %v, want 0", on, n, i, v)
				}
			}
			if n == 0 {
				continue
			}
			in := hugeInterior(s)
			p := uintptr(unsafe.Pointer(&s[0]))
			end := p + uintptr(n)*4
			if len(in) == 0 {
				if (p+huge-1)/huge*huge+huge <= end {
					t.Errorf("hugeInterior of %d values at %#x is empty, but a whole page fits", n, p)
				}
				continue
			}
			q := uintptr(unsafe.Pointer(&in[0]))
			qe := q + uintptr(len(in))*4
			if q%huge != 0 || qe%huge != 0 || q < p || qe > end || q-p >= huge || end-qe >= huge {
				t.Errorf("hugeInterior of [%#x, %#x) is [%#x, %#x): not the whole 2 MiB pages inside", p, end, q, qe)
			}
		}
	}
}

// The whole pages inside a large allocation are advised for huge pages: the
// kernel lists the advice ("hg") in the flags of the mapping that holds them.
func TestWeightAllocAdvisesHugePages(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("huge-page advice is Linux only")
	}
	if emu := os.Getenv("RESNET_EMULATED"); emu != "" {
		// qemu-user accepts the advice but does not pass it on to the host's kernel.
		t.Skipf("under emulation (%s) the mappings are the emulator's", emu)
	}
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || strings.Contains(string(mode), "[never]") {
		t.Skipf("transparent huge pages are off here (%q, %v)", strings.TrimSpace(string(mode)), err)
	}
	defer func(v bool) { hugeWeights = v }(hugeWeights)
	hugeWeights = true
	s := weightAlloc(8 << 20 / 4)
	for i := range s {
		s[i] = 1
	}
	in := hugeInterior(s)
	at := uint64(uintptr(unsafe.Pointer(&in[0])))
	flags, anonHuge := vmaOf(t, at)
	if !strings.Contains(" "+flags+" ", " hg ") {
		t.Fatalf("the mapping at %#x has flags %q: no huge-page advice (hg)", at, flags)
	}
	t.Logf("mapping flags %q, AnonHugePages %d kB", flags, anonHuge)
	runtime.KeepAlive(s)
}

// vmaOf returns the VmFlags and AnonHugePages of the mapping in
// /proc/self/smaps that contains address at.
func vmaOf(t *testing.T, at uint64) (flags string, anonHugeKB int) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fs := strings.Fields(line)
		if len(fs) > 0 && strings.Contains(fs[0], "-") && !strings.HasSuffix(fs[0], ":") {
			lo, hi, _ := strings.Cut(fs[0], "-")
			a, err1 := strconv.ParseUint(lo, 16, 64)
			b, err2 := strconv.ParseUint(hi, 16, 64)
			in = err1 == nil && err2 == nil && a <= at && at < b
			continue
		}
		if !in {
			continue
		}
		switch {
		case strings.HasPrefix(line, "AnonHugePages:"):
			anonHugeKB, _ = strconv.Atoi(fs[1])
		case strings.HasPrefix(line, "VmFlags:"):
			return strings.Join(fs[1:], " "), anonHugeKB
		}
	}
	t.Fatalf("no mapping in /proc/self/smaps holds %#x", at)
	return "", 0
}
