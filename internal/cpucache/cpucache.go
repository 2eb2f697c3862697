// Package cpucache reports the data cache sizes of the CPU the program runs on, for the
// cache blocking of the GEMM (kernels/blocking.go). Linux reads them from sysfs, macOS from
// sysctl; elsewhere, or where the files are missing (some containers hide them), Detect
// reports Known false and the kernels keep their fixed blocking.
package cpucache

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Sizes are the caches one core sees, in bytes (0 where unknown).
type Sizes struct {
	L1D, L2, L3 int
	// L2Sharers and L3Sharers are how many logical CPUs share the L2 (two hyperthreads of
	// a core) and the L3 (1 where unknown): a thread's fair share of a cache is its size
	// divided by them.
	L2Sharers int
	L3Sharers int
	Known     bool   // L1D and L2 were read
	Source    string // where they came from: "sysfs", "sysctl", or why unknown
}

// String is e.g. "L1d 32 KiB, L2 1 MiB, L3 32 MiB shared by 2 CPUs (sysfs)".
func (s Sizes) String() string {
	if !s.Known {
		return "unknown (" + s.Source + ")"
	}
	out := fmt.Sprintf("L1d %s, L2 %s", kib(s.L1D), kib(s.L2))
	if s.L2Sharers > 1 {
		out += fmt.Sprintf(" shared by %d CPUs", s.L2Sharers)
	}
	if s.L3 > 0 {
		out += ", L3 " + kib(s.L3)
		if s.L3Sharers > 1 {
			out += fmt.Sprintf(" shared by %d CPUs", s.L3Sharers)
		}
	}
	return out + " (" + s.Source + ")"
}

func kib(b int) string {
	if b >= 1<<20 && b%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", b>>20)
	}
	return fmt.Sprintf("%d KiB", b>>10)
}

var (
	once   sync.Once
	cached Sizes
)

// Detect returns the caches of this machine, read once.
func Detect() Sizes {
	once.Do(func() { cached = detect() })
	return cached
}

// fromSysfs reads the caches of CPU 0 under dir (/sys/devices/system/cpu/cpu0/cache on
// Linux): each indexN holds level, type (Data, Instruction, Unified), size ("32K",
// "1024K", "32768K") and shared_cpu_list ("0-1", "0,2,4-7").
func fromSysfs(dir string) (Sizes, error) {
	idx, err := filepath.Glob(filepath.Join(dir, "index*"))
	if err != nil || len(idx) == 0 {
		return Sizes{}, fmt.Errorf("no cache entries under %s", dir)
	}
	s := Sizes{L2Sharers: 1, L3Sharers: 1, Source: "sysfs"}
	for _, d := range idx {
		level, err1 := readInt(filepath.Join(d, "level"))
		typ, err2 := readString(filepath.Join(d, "type"))
		size, err3 := readSize(filepath.Join(d, "size"))
		if err1 != nil || err2 != nil || err3 != nil || typ == "Instruction" {
			continue
		}
		switch level {
		case 1:
			s.L1D = size
		case 2:
			s.L2, s.L2Sharers = size, sharers(d)
		case 3:
			s.L3, s.L3Sharers = size, sharers(d)
		}
	}
	if s.L1D <= 0 || s.L2 <= 0 {
		return Sizes{}, fmt.Errorf("no L1d or L2 size under %s", dir)
	}
	s.Known = true
	return s, nil
}

// sharers is the number of CPUs in the shared_cpu_list of cache directory d, 1 if it
// cannot be read.
func sharers(d string) int {
	if list, err := readString(filepath.Join(d, "shared_cpu_list")); err == nil {
		if n, err := countCPUs(list); err == nil && n > 0 {
			return n
		}
	}
	return 1
}

func readString(path string) (string, error) {
	b, err := os.ReadFile(path)
	return strings.TrimSpace(string(b)), err
}

func readInt(path string) (int, error) {
	s, err := readString(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(s)
}

// readSize parses sysfs sizes: a number with an optional K, M or G suffix.
func readSize(path string) (int, error) {
	s, err := readString(path)
	if err != nil {
		return 0, err
	}
	return parseSize(s)
}

func parseSize(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, s[:len(s)-1]
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > 1<<40/mult {
		return 0, fmt.Errorf("cache size %q", s)
	}
	return n * mult, nil
}

// countCPUs counts the CPUs of a list such as "0-3,8-11" or "5".
func countCPUs(list string) (int, error) {
	n := 0
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return 0, fmt.Errorf("cpu list %q", list)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return 0, fmt.Errorf("cpu list %q", list)
			}
		}
		n += b - a + 1
	}
	return n, nil
}
