package kernels

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/internal/isa"
)

// TestISA: SetISA switches among SupportedISAs, ISA and Backend report it, every path has
// its entry in impls, and an unknown or unsupported name is refused with the reason. (The
// choice from the environment is tested table-driven in internal/isa, and end to end by
// TestISAFromEnv.)
func TestISA(t *testing.T) {
	prev := ISA()
	defer SetISA(prev)
	sup := SupportedISAs()
	if len(sup) == 0 || sup[0] != "go" {
		t.Fatalf("SupportedISAs() = %v, want go first", sup)
	}
	for _, name := range isa.All() {
		id, _ := isa.Parse(name)
		if int(id) >= len(impls) || impls[id].id != id {
			t.Errorf("%s: no entry in impls", name)
		}
		err := SetISA(name)
		if !slices.Contains(sup, name) {
			if err == nil || !strings.Contains(err.Error(), isa.Unavailable(id)) {
				t.Errorf("SetISA(%s) on a build or CPU without it: %v", name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("SetISA(%s): %v", name, err)
		}
		if ISA() != name || Backend() != name || curISA().id != id {
			t.Errorf("after SetISA(%s): ISA() = %s, Backend() = %s, curISA() = %v", name, ISA(), Backend(), curISA().id)
		}
		if amd64 := name == "avx2" || name == "avx512"; curISA().asm != amd64 || curISA().neon != (name == "neon") {
			t.Errorf("%s: amd64 kernels %v, NEON kernels %v", name, curISA().asm, curISA().neon)
		}
	}
	if err := SetISA("sse4"); err == nil || !strings.Contains(err.Error(), "unknown instruction set") {
		t.Errorf("SetISA(sse4): %v", err)
	}
}

// TestISAFromEnv runs this test binary with RESNET_ISA and RESNET_NOASM set and checks the
// path it starts on and ISAError.
func TestISAFromEnv(t *testing.T) {
	if env := os.Getenv("KERNELS_ISA_CHILD"); env != "" {
		err := "<nil>"
		if e := ISAError(); e != nil {
			err = e.Error()
		}
		os.Stdout.WriteString("isa=" + ISA() + " err=" + err + "\n")
		return
	}
	sup := SupportedISAs()
	bestISA := sup[len(sup)-1]
	missing := ""
	for _, n := range isa.All() {
		if !slices.Contains(sup, n) {
			missing = n
		}
	}
	for _, tc := range []struct{ isa, noasm, want, err string }{
		{"", "", bestISA, "<nil>"},
		{"", "1", "go", "<nil>"},
		{"go", "", "go", "<nil>"},
		{sup[len(sup)/2], "", sup[len(sup)/2], "<nil>"},
		{"bogus", "", bestISA, `kernels: RESNET_ISA=bogus: unknown instruction set "bogus"`},
		{missing, "", bestISA, "kernels: RESNET_ISA=" + missing + ": instruction set " + missing + " cannot run here"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestISAFromEnv$")
		cmd.Env = append(os.Environ(), "KERNELS_ISA_CHILD=1", "RESNET_ISA="+tc.isa, "RESNET_NOASM="+tc.noasm)
		out, err := cmd.Output()
		if err != nil && strings.Contains(err.Error(), "exec format error") {
			// An arm64 test binary run by qemu-aarch64 (the CI's arm64 job)
			// cannot start itself where binfmt_misc does not know the format.
			t.Skipf("cannot start the test binary again: %v (user-mode emulation without binfmt_misc)", err)
		}
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		line, _, _ := strings.Cut(string(out), "\n")
		if want := "isa=" + tc.want + " err=" + tc.err; !strings.HasPrefix(line, want) {
			t.Errorf("RESNET_ISA=%q RESNET_NOASM=%q: %q, want %q…", tc.isa, tc.noasm, line, want)
		}
	}
}
