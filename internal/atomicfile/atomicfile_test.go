package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteReplacesWholeOrNothing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.json")
	if err := Write(p, []byte("old")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk on fire")
	err := WriteFunc(p, func(w io.Writer) error {
		w.Write([]byte("half"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Errorf("a failed write left %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if err := Write(p, []byte("new")); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if b, _ := os.ReadFile(p); string(b) != "new" || st.Mode().Perm() != 0o644 {
		t.Errorf("got %q mode %v", b, st.Mode())
	}
	if err := Write(filepath.Join(dir, "missing", "x"), nil); err == nil {
		t.Error("wrote into a missing directory")
	}
}

// A write killed before its rename leaves ".name.tmpNNN"; RemoveTemps deletes exactly those.
func TestRemoveTemps(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "model.safetensors")
	files := map[string]bool{ // name -> kept
		"model.safetensors":                  true,
		".model.safetensors.tmp123":          false,
		".model.safetensors.tmp9":            false,
		".model.safetensors.tmp":             true, // not one of ours: CreateTemp always adds digits
		"model.safetensors.tmp1":             true,
		".other.safetensors.tmp1":            true,
		".model.safetensors.tmp1.keep/":      true,
		".model.safetensors.tmpdir/":         true,
		".model.safetensors.tmp55-elsewhere": false,
	}
	for name := range files {
		if strings.HasSuffix(name, "/") {
			os.Mkdir(filepath.Join(dir, name), 0o755)
		} else if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveTemps(p); err != nil {
		t.Fatal(err)
	}
	for name, kept := range files {
		_, err := os.Stat(filepath.Join(dir, strings.TrimSuffix(name, "/")))
		if (err == nil) != kept {
			t.Errorf("%s: exists %v, want %v", name, err == nil, kept)
		}
	}
	if err := RemoveTemps(filepath.Join(dir, "missing", "x")); err == nil {
		t.Error("no error for a missing directory")
	}
}
