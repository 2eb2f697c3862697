package isatest

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/internal/isa"
)

// TestRun: f runs once per supported path with that path active, and the previous path is
// active again afterwards.
func TestRun(t *testing.T) {
	before := isa.Active()
	var ran []string
	Run(t, func(t *testing.T) { ran = append(ran, isa.Active().String()) })
	if !slices.Equal(ran, isa.Supported()) {
		t.Errorf("ran on %v, want %v", ran, isa.Supported())
	}
	if isa.Active() != before {
		t.Errorf("active path %v after Run, was %v", isa.Active(), before)
	}
	t.Logf("paths run: %v", ran)
}

func TestExpected(t *testing.T) {
	t.Setenv("RESNET_EXPECT_ISA", " go, AVX2,,")
	if got := Expected(t); len(got) != 2 || !got["go"] || !got["avx2"] {
		t.Errorf("Expected() = %v", got)
	}
}

// TestExpectFails: a path RESNET_EXPECT_ISA names but that cannot run fails the test instead of
// skipping it (checked in a child process running TestExpectChild).
func TestExpectFails(t *testing.T) {
	if os.Getenv("ISATEST_CHILD") == "1" {
		t.Skip("the child's own copy")
	}
	var missing string
	for _, n := range isa.All() {
		if isa.Check(n) != nil {
			missing = n
			break
		}
	}
	if missing == "" {
		t.Skip("this CPU runs every path")
	}
	for _, tc := range []struct {
		expect string
		fail   bool
	}{{"go", false}, {missing, true}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestExpectChild$", "-test.v")
		cmd.Env = append(os.Environ(), "ISATEST_CHILD=1", "RESNET_EXPECT_ISA="+tc.expect)
		out, err := cmd.CombinedOutput()
		if failed := err != nil; failed != tc.fail {
			t.Errorf("RESNET_EXPECT_ISA=%s: failed %v, want %v:\n%s", tc.expect, failed, tc.fail, out)
		}
		if tc.fail && !strings.Contains(string(out), "RESNET_EXPECT_ISA names "+missing) {
			t.Errorf("RESNET_EXPECT_ISA=%s: no message naming it:\n%s", tc.expect, out)
		}
	}
}

func TestExpectChild(t *testing.T) {
	if os.Getenv("ISATEST_CHILD") != "1" {
		t.Skip("run by TestExpectFails")
	}
	Run(t, func(t *testing.T) {})
}
