package resnet

import (
	"os"
	"path/filepath"
	"testing"
)

// sharedDir locates ../shared beside the repository root, which holds the real checkpoints,
// images and CIFAR-10 data the tests read (never copied into the repository).
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("cannot find the repository root (go.mod)")
		}
		dir = parent
	}
	shared := filepath.Join(filepath.Dir(dir), "shared")
	if _, err := os.Stat(filepath.Join(shared, "data")); err != nil {
		t.Fatalf("test data not found: expected ../shared/data beside the repository root (%s): %v", shared, err)
	}
	return shared
}
