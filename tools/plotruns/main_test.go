package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunJoinsRuns: two runs' metrics become one file with epochs numbered on, and a PNG.
func TestRunJoinsRuns(t *testing.T) {
	dir := t.TempDir()
	runs := map[string]string{
		"a": `{"epoch":1,"train_error":50,"test_error":45}` + "\n" + `{"epoch":2,"train_error":40,"test_error":38}` + "\n",
		"b": `{"epoch":1,"train_error":30,"test_error":33}` + "\n",
	}
	for name, text := range runs {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "metrics.jsonl"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	png, metrics := filepath.Join(dir, "out.png"), filepath.Join(dir, "out.jsonl")
	if err := run([]string{filepath.Join(dir, "a"), filepath.Join(dir, "b")}, png, metrics, "t"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(metrics)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || !strings.Contains(lines[2], `"epoch":3`) || !strings.Contains(lines[2], `"train_error":30`) {
		t.Fatalf("joined metrics:\n%s", b)
	}
	if st, err := os.Stat(png); err != nil || st.Size() < 1000 {
		t.Fatalf("plot: %v", err)
	}
	if err := run([]string{filepath.Join(dir, "missing")}, png, "", "t"); err == nil {
		t.Fatal("a missing run directory was accepted")
	}
}
