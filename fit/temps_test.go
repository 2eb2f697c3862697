package fit

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// A kill -9 inside an atomic write leaves its temporary file (".checkpoint.safetensors.tmpNNN",
// as large as the checkpoint); the next run into the directory deletes those and nothing else,
// and a run that refuses the directory touches nothing.
func TestRunRemovesTempsOfKilledWrites(t *testing.T) {
	dir := t.TempDir()
	stale := []string{".checkpoint.safetensors.tmp123", ".model.safetensors.tmp4", "." + MetricsFile + ".tmp5", "." + PlotFile + ".tmp6", ".config.json.tmp7"}
	keep := []string{"notes.txt", ".notes.txt.tmp8"}
	put := func(names []string) {
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(dir, n), []byte("partial"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(when string, gone bool) {
		for _, n := range append(stale, keep...) {
			_, err := os.Stat(filepath.Join(dir, n))
			want := !gone || contains(keep, n)
			if (err == nil) != want {
				t.Errorf("%s: %s exists %v, want %v", when, n, err == nil, want)
			}
		}
	}
	put(append(stale, keep...)) // killed in epoch 1, before any checkpoint: a fresh run cleans up
	if _, err := Run(context.Background(), toyConfig(t, dir)); err != nil {
		t.Fatal(err)
	}
	check("fresh run", true)
	put(stale)
	if _, err := Run(context.Background(), toyConfig(t, dir)); err == nil {
		t.Fatal("a second run without --resume was not refused")
	}
	check("refused run", false)
	c := toyConfig(t, dir)
	c.Resume = true // the run is complete: resuming does no step, but still cleans up
	if _, err := Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	check("resume", true)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
