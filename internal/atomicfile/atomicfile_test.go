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
	if err := Write(filepath.Join(p, "x"), nil); err == nil {
		t.Error("wrote under a file as if it were a directory")
	}
}

// A directory at the path is refused before write runs, and nothing is left behind.
func TestWriteRefusesDirectory(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "model")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	called := false
	err := WriteFunc(sub, func(w io.Writer) error { called = true; return nil })
	if err == nil || !strings.Contains(err.Error(), "is a directory; name a file to write") || called {
		t.Errorf("error %v, write called %v; want a refusal before writing", err, called)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
	file := filepath.Join(dir, "f")
	if err := Write(file, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{sub, "is a directory"},
		{filepath.Join(dir, "missing", "x.json"), ""}, // created by the write
		{filepath.Join(file, "x.json"), "not a directory"},
		{filepath.Join(file, "deeper", "x.json"), "not a directory"},
		{filepath.Join(sub, "ok.json"), ""},
	} {
		err := CheckTarget(tc.path)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckTarget(%s) = %v, want %q", tc.path, err, tc.want)
		}
	}
	// Folders that lead to the file are created.
	deep := filepath.Join(dir, "a", "b", "c.json")
	if err := Write(deep, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(deep); err != nil || string(b) != "{}" {
		t.Errorf("%s: %q %v", deep, b, err)
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
