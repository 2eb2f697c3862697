// Package testenv finds what tests read from outside the repository: ../shared beside the
// repository root, which holds the real checkpoints, images and CIFAR-10 (never copied in).
package testenv

import (
	"os"
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
