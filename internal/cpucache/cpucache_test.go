package cpucache

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// writeTree makes a sysfs cache directory: one indexN per entry {level, type, size, cpus}.
func writeTree(t *testing.T, entries [][4]string) string {
	t.Helper()
	dir := t.TempDir()
	for i, e := range entries {
		d := filepath.Join(dir, "index"+string(rune('0'+i)))
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for j, name := range []string{"level", "type", "size", "shared_cpu_list"} {
			if e[j] == "" {
				continue
			}
			if err := os.WriteFile(filepath.Join(d, name), []byte(e[j]+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func TestFromSysfs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries [][4]string
		want    Sizes
		str     string
	}{
		{"zen4 vm", [][4]string{{"1", "Data", "32K", "0"}, {"1", "Instruction", "32K", "0"}, {"2", "Unified", "1024K", "0"}, {"3", "Unified", "32768K", "0-1"}},
			Sizes{L1D: 32 << 10, L2: 1 << 20, L3: 32 << 20, L2Sharers: 1, L3Sharers: 2, Known: true, Source: "sysfs"},
			"L1d 32 KiB, L2 1 MiB, L3 32 MiB shared by 2 CPUs (sysfs)"},
		{"xeon 16 cores", [][4]string{{"1", "Data", "48K", "0,16"}, {"1", "Instruction", "32K", "0,16"}, {"2", "Unified", "2048K", "0,16"}, {"3", "Unified", "105M", "0-15,32-47"}},
			Sizes{L1D: 48 << 10, L2: 2 << 20, L3: 105 << 20, L2Sharers: 2, L3Sharers: 32, Known: true, Source: "sysfs"},
			"L1d 48 KiB, L2 2 MiB shared by 2 CPUs, L3 105 MiB shared by 32 CPUs (sysfs)"},
		{"no L3, 1.25 MiB L2", [][4]string{{"1", "Data", "48K", ""}, {"2", "Unified", "1280K", ""}},
			Sizes{L1D: 48 << 10, L2: 1280 << 10, L2Sharers: 1, L3Sharers: 1, Known: true, Source: "sysfs"},
			"L1d 48 KiB, L2 1280 KiB (sysfs)"},
		{"unparsable L3 list is ignored", [][4]string{{"1", "Data", "32K", ""}, {"2", "Unified", "512K", ""}, {"3", "Unified", "16M", "x"}},
			Sizes{L1D: 32 << 10, L2: 512 << 10, L3: 16 << 20, L2Sharers: 1, L3Sharers: 1, Known: true, Source: "sysfs"},
			"L1d 32 KiB, L2 512 KiB, L3 16 MiB (sysfs)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fromSysfs(writeTree(t, tc.entries))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if got.String() != tc.str {
				t.Errorf("String() = %q, want %q", got.String(), tc.str)
			}
		})
	}
}

// Without an L1d or L2 the sizes are unknown (the kernels then keep their fixed blocking),
// as they are for sizes sysfs writes in a form we do not read.
func TestFromSysfsRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries [][4]string
	}{
		{"empty", nil},
		{"only instruction cache", [][4]string{{"1", "Instruction", "32K", ""}, {"2", "Unified", "1M", ""}}},
		{"bad size", [][4]string{{"1", "Data", "32Q", ""}, {"2", "Unified", "1M", ""}}},
		{"zero size", [][4]string{{"1", "Data", "0K", ""}, {"2", "Unified", "1M", ""}}},
		{"missing level", [][4]string{{"", "Data", "32K", ""}, {"2", "Unified", "1M", ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := fromSysfs(writeTree(t, tc.entries)); err == nil {
				t.Errorf("got %+v, want an error", s)
			}
		})
	}
}

func TestCountCPUs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{{"0", 1, true}, {"0-1", 2, true}, {"0-15,32-47", 32, true}, {"3,5,7", 3, true}, {"4-2", 0, false}, {"", 0, false}, {"a-b", 0, false}} {
		n, err := countCPUs(tc.in)
		if (err == nil) != tc.ok || n != tc.want {
			t.Errorf("countCPUs(%q) = %d, %v; want %d, ok %v", tc.in, n, err, tc.want, tc.ok)
		}
	}
}

// On Linux this machine's own sysfs must be read (the CI and dev machines have it).
func TestDetectHere(t *testing.T) {
	s := Detect()
	t.Logf("caches: %s", s)
	if runtime.GOOS != "linux" {
		return
	}
	if _, err := os.Stat("/sys/devices/system/cpu/cpu0/cache"); err != nil {
		t.Skipf("no sysfs cache directory here: %v", err)
	}
	if !s.Known || s.L1D < 8<<10 || s.L2 < s.L1D {
		t.Errorf("implausible caches %+v", s)
	}
}
