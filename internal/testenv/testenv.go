// Package testenv finds what tests read from outside the repository: ../shared beside the
// repository root, which holds the real checkpoints, images and CIFAR-10 (never copied in).
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RepoRoot walks up from the test's working directory (its package) to the directory that
// holds go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("cannot find the repository root (no go.mod above the package)")
		}
		dir = parent
	}
}

// SharedDir returns ../shared relative to the repository root, failing the test with a clear
// message when its data/ folder is missing.
func SharedDir(t testing.TB) string {
	t.Helper()
	shared := filepath.Join(filepath.Dir(RepoRoot(t)), "shared")
	if _, err := os.Stat(filepath.Join(shared, "data")); err != nil {
		t.Fatalf("test data not found: expected ../shared/data beside the repository root (%s): %v", shared, err)
	}
	return shared
}

// MissingTool skips a test whose independent reference (a client, checker or writer in another
// language) is not installed, saying what to install; with RESNET_REQUIRE_CLIENTS set, as .ci/run
// sets it, it fails instead, so CI cannot turn those comparisons into silent skips.
func MissingTool(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("RESNET_REQUIRE_CLIENTS") != "" {
		t.Fatalf("%s (RESNET_REQUIRE_CLIENTS is set)", msg)
	}
	t.Skip(msg)
}

// Python finds a Python interpreter that imports the given modules (e.g. "onnx, onnx.checker"):
// $RESNET_PYTHON if set, else Debian's /usr/bin/python3 (where python3-torch, python3-onnx and
// python3-grpcio install; a pyenv python3 earlier on PATH does not see them), else python3 on
// PATH. ok is false when none does.
func Python(modules string) (path string, ok bool) {
	cands := []string{"/usr/bin/python3", "python3"}
	if p := os.Getenv("RESNET_PYTHON"); p != "" {
		cands = []string{p}
	}
	for _, c := range cands {
		if exec.Command(c, "-c", "import "+modules).Run() == nil {
			return c, true
		}
	}
	return "", false
}
