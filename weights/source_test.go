package weights

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A lazily opened file gives the same tensors as reading it whole, and rejects the same
// corrupt headers.
func TestOpenSafetensorsMatchesRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	sd := StateDict{
		"a.weight": {DType: "F32", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
		"b.bias":   {DType: "F32", Shape: []int{3}, Data: []float32{-1, 0.5, 7}},
		"n":        {DType: "I64", Shape: []int{}, Data: []float32{42}},
	}
	for _, dtype := range []string{"F32", "F16", "BF16"} {
		if err := WriteSafetensors(path, sd, nil, dtype); err != nil {
			t.Fatal(err)
		}
		whole, _, err := ReadSafetensors(path)
		if err != nil {
			t.Fatal(err)
		}
		lazy, err := OpenSafetensors(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Materialize(lazy)
		lazy.Close()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got.Names(), ",") != strings.Join(whole.Names(), ",") {
			t.Fatalf("%s: names %v vs %v", dtype, got.Names(), whole.Names())
		}
		for name, w := range whole {
			g := got[name]
			if g.DType != w.DType || len(g.Data) != len(w.Data) {
				t.Fatalf("%s %s: %+v vs %+v", dtype, name, g, w)
			}
			for i := range w.Data {
				if g.Data[i] != w.Data[i] {
					t.Fatalf("%s %s[%d]: %v vs %v", dtype, name, i, g.Data[i], w.Data[i])
				}
			}
		}
	}
	// Corrupt files fail at open, like the eager reader.
	good, _ := os.ReadFile(path)
	for name, data := range map[string][]byte{
		"truncated":  good[:len(good)-2],
		"short":      good[:5],
		"header len": append([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, good[8:]...),
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o644)
		if _, err := OpenSafetensors(p); err == nil {
			t.Errorf("%s: opened a corrupt file", name)
		}
	}
	lazy, _ := OpenSafetensors(path)
	defer lazy.Close()
	if err := lazy.Read("a.weight", make([]float32, 5)); err == nil {
		t.Error("read into a wrongly sized destination")
	}
	if err := lazy.Read("missing", nil); err == nil {
		t.Error("read a missing tensor")
	}
}
