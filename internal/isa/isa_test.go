package isa

import (
	"runtime"
	"slices"
	"strings"
	"testing"
)

// cpus are fake CPUs for choose: what each lacks.
var cpus = map[string]func(ID) string{
	"avx512": func(ID) string { return "" },
	"avx2": func(id ID) string {
		if id == AVX512 {
			return "CPU lacks AVX-512F"
		}
		return ""
	},
	"none": func(id ID) string {
		if id == NEON {
			return "not arm64"
		}
		return "CPU lacks AVX2"
	},
}

// TestChoose: environment values and CPUs → the path chosen, or the error and the path that
// runs instead. The CPU tables apply to amd64 asm builds; elsewhere every assembly path is
// refused before the CPU is asked.
func TestChoose(t *testing.T) {
	x86 := runtime.GOARCH == "amd64" && !noasmBuild
	tests := []struct {
		cpu, isa, noasm string
		want            ID
		err             string // substring; "" for no error
	}{
		{"avx512", "", "", AVX512, ""},
		{"avx2", "", "", AVX2, ""},
		{"none", "", "", Go, ""},
		{"avx512", "", "1", Go, ""},
		{"avx512", "", "0", AVX512, ""},
		{"avx512", "go", "", Go, ""},
		{"avx512", "avx2", "", AVX2, ""},
		{"avx512", "AVX512", "", AVX512, ""},
		{"avx512", " avx2 ", "", AVX2, ""},
		{"avx2", "avx512", "", AVX2, "CPU lacks AVX-512F"},
		{"none", "avx2", "", Go, "CPU lacks AVX2"},
		{"avx512", "neon", "", AVX512, "not arm64"},
		{"avx512", "sse", "", AVX512, `unknown instruction set "sse"`},
		{"avx512", "go", "1", Go, ""},
		{"avx512", "avx2", "1", Go, "contradicts RESNET_NOASM=1"},
		{"avx2", "avx512", "1", Go, "CPU lacks AVX-512F"},
	}
	for _, tc := range tests {
		if !x86 {
			continue // the fake CPUs are amd64 ones
		}
		env := map[string]string{"RESNET_ISA": tc.isa, "RESNET_NOASM": tc.noasm}
		got, err := choose(func(k string) string { return env[k] }, cpus[tc.cpu])
		name := "cpu " + tc.cpu + ", RESNET_ISA=" + tc.isa + ", RESNET_NOASM=" + tc.noasm
		if got != tc.want {
			t.Errorf("%s: chose %v, want %v", name, got, tc.want)
		}
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: unexpected error %v", name, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.err)
		}
	}
}

// TestUnavailable: the reasons a path cannot run, for this build.
func TestUnavailable(t *testing.T) {
	if Unavailable(Go) != "" {
		t.Error("go unavailable")
	}
	for _, id := range []ID{AVX2, AVX512} {
		why := Unavailable(id)
		switch {
		case runtime.GOARCH != "amd64" && why != "not amd64",
			runtime.GOARCH == "amd64" && noasmBuild && why != "built with -tags noasm":
			t.Errorf("%v: %q", id, why)
		}
	}
	if runtime.GOARCH != "arm64" && Unavailable(NEON) != "not arm64" {
		t.Errorf("neon: %q", Unavailable(NEON))
	}
	if Unavailable(count) == "" {
		t.Error("an unknown ID is available")
	}
	s := Supported()
	if s[0] != "go" {
		t.Errorf("Supported() = %v, want go first", s)
	}
	for _, n := range All() {
		id, _ := Parse(n)
		if slices.Contains(s, n) != (Unavailable(id) == "") {
			t.Errorf("%s: in Supported() %v but Unavailable says %q", n, s, Unavailable(id))
		}
		if (Check(n) == nil) != (Unavailable(id) == "") {
			t.Errorf("%s: Check says %v, Unavailable %q", n, Check(n), Unavailable(id))
		}
	}
}

// TestSet: Set switches among the supported paths, refuses the others with the reason and
// leaves the active path alone then.
func TestSet(t *testing.T) {
	prev := Active().String()
	defer Set(prev)
	for _, n := range All() {
		id, _ := Parse(n)
		err := Set(n)
		if why := Unavailable(id); why != "" {
			if err == nil || !strings.Contains(err.Error(), why) {
				t.Errorf("Set(%s): %v, want an error saying %q", n, err, why)
			}
			continue
		}
		if err != nil || Active() != id {
			t.Errorf("Set(%s): %v, active %v", n, err, Active())
		}
	}
	before := Active()
	if err := Set("mmx"); err == nil || Active() != before {
		t.Errorf("Set(mmx): %v, active %v (was %v)", err, Active(), before)
	}
}

// TestChooseARM64: the choice on arm64 asm builds, for a CPU with Advanced SIMD (every
// ARMv8-A one) and a hypothetical one without.
func TestChooseARM64(t *testing.T) {
	if runtime.GOARCH != "arm64" || noasmBuild {
		t.Skip("the NEON path exists only in arm64 builds without -tags noasm")
	}
	neon := func(ID) string { return "" }
	none := func(ID) string { return "CPU lacks Advanced SIMD" }
	tests := []struct {
		cpu        func(ID) string
		isa, noasm string
		want       ID
		err        string
	}{
		{neon, "", "", NEON, ""},
		{neon, "", "1", Go, ""},
		{neon, "go", "", Go, ""},
		{neon, "NEON", "", NEON, ""},
		{neon, "avx2", "", NEON, "not amd64"},
		{neon, "neon", "1", Go, "contradicts RESNET_NOASM=1"},
		{none, "", "", Go, ""},
		{none, "neon", "", Go, "CPU lacks Advanced SIMD"},
	}
	for _, tc := range tests {
		env := map[string]string{"RESNET_ISA": tc.isa, "RESNET_NOASM": tc.noasm}
		got, err := choose(func(k string) string { return env[k] }, tc.cpu)
		name := "RESNET_ISA=" + tc.isa + ", RESNET_NOASM=" + tc.noasm
		if got != tc.want {
			t.Errorf("%s: chose %v, want %v", name, got, tc.want)
		}
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: unexpected error %v", name, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.err)
		}
	}
	if Unavailable(NEON) != "" {
		t.Errorf("neon unavailable on this arm64 CPU: %s", Unavailable(NEON))
	}
}
