// Package isatest runs a test once per instruction-set path (go, avx2, avx512, neon), so that
// one `go test` checks every path this CPU can run. Paths the build or CPU cannot run are
// skipped with the reason ("CPU lacks AVX-512F", "built with -tags noasm", "not amd64"),
// unless the environment variable RESNET_EXPECT_ISA (a comma-separated list of paths) names
// them: then the test fails, so that CI on a machine that should run a path notices when it
// did not. When RESNET_ISA_LOG names a file, every path run or skipped appends one line to it
// ("ran avx512 TestName" or "skipped neon TestName: reason"), for CI's summary of which paths
// ran.
package isatest

import (
	"os"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/internal/isa"
)

// Run runs f as the subtests go, avx2, avx512 and neon of t, each with that path active
// (restoring the previous path afterwards); f must not run in parallel with other tests that
// switch paths.
func Run(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	expect := Expected(t)
	for _, name := range isa.All() {
		t.Run(name, func(t *testing.T) {
			t.Helper()
			if err := isa.Check(name); err != nil {
				id, _ := isa.Parse(name)
				why := isa.Unavailable(id)
				if expect[name] {
					t.Fatalf("RESNET_EXPECT_ISA names %s, but it cannot run: %s", name, why)
				}
				logPath(t, "skipped "+name+" "+t.Name()+": "+why)
				t.Skip(why)
			}
			logPath(t, "ran "+name+" "+t.Name())
			prev := isa.Active().String()
			if err := isa.Set(name); err != nil {
				t.Fatal(err)
			}
			defer isa.Set(prev)
			f(t)
		})
	}
}

// Bench runs f as sub-benchmarks of b, one per path this build and CPU can run.
func Bench(b *testing.B, f func(b *testing.B)) {
	b.Helper()
	for _, name := range isa.Supported() {
		b.Run(name, func(b *testing.B) {
			prev := isa.Active().String()
			if err := isa.Set(name); err != nil {
				b.Fatal(err)
			}
			defer isa.Set(prev)
			f(b)
		})
	}
}

// Expected returns the paths RESNET_EXPECT_ISA lists; an unknown name in it fails t.
func Expected(t testing.TB) map[string]bool {
	t.Helper()
	m := map[string]bool{}
	for _, n := range strings.Split(os.Getenv("RESNET_EXPECT_ISA"), ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		id, ok := isa.Parse(n)
		if !ok {
			t.Fatalf("RESNET_EXPECT_ISA: unknown instruction set %q (want some of %s)", n, strings.Join(isa.All(), ", "))
		}
		m[id.String()] = true
	}
	return m
}

// logPath appends line to the file RESNET_ISA_LOG names, if any. Test binaries of several
// packages may append at once; each line is one small O_APPEND write.
func logPath(t *testing.T, line string) {
	p := os.Getenv("RESNET_ISA_LOG")
	if p == "" {
		return
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatalf("RESNET_ISA_LOG: %v", err)
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatalf("RESNET_ISA_LOG: %v", err)
	}
}
