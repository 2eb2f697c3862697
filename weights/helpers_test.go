package weights

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/internal/testenv"
)

// sharedDir is ../shared relative to the repo root: the reference data.
func sharedDir(t testing.TB) string {
	t.Helper()
	d := filepath.Join(filepath.Dir(repoRoot(t)), "shared")
	if _, err := os.Stat(filepath.Join(d, "data")); err != nil {
		t.Fatalf("reference data missing: %s/data not found (expected ../shared next to the repo): %v", d, err)
	}
	return d
}

func testdata(name string) string { return filepath.Join("testdata", name) }

func readJSON(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(testdata(name))
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 tools/fixtures/gen_weights.py)", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// expectedTensor is a tensor as recorded by the generator from torch.
type expectedTensor struct {
	DType  string    `json:"dtype"`
	Shape  []int     `json:"shape"`
	Values []float64 `json:"values"`
}

type expectedFile struct {
	Files          map[string]map[string]expectedTensor `json:"files"`
	BadSafetensors []struct{ File, Error string }       `json:"bad_safetensors"`
	Evil           []struct{ File, Global string }      `json:"evil"`
	Metadata       map[string]string                    `json:"safetensors_metadata"`
}

func loadExpected(t testing.TB) expectedFile {
	var e expectedFile
	readJSON(t, "expected.json", &e)
	return e
}

// compareStateDict checks names, dtypes, shapes and exact float32 values.
func compareStateDict(t *testing.T, got StateDict, want map[string]expectedTensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d tensors %v, want %d", len(got), got.Names(), len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("tensor %q missing", name)
			continue
		}
		if g.DType != w.DType || !equalInts(g.Shape, w.Shape) {
			t.Errorf("%s: got %s %v, want %s %v", name, g.DType, g.Shape, w.DType, w.Shape)
			continue
		}
		if len(g.Data) != len(w.Values) {
			t.Errorf("%s: %d values, want %d", name, len(g.Data), len(w.Values))
			continue
		}
		for i := range g.Data {
			if float64(g.Data[i]) != w.Values[i] {
				t.Errorf("%s[%d] = %v, want %v", name, i, g.Data[i], w.Values[i])
				break
			}
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func wantErr(t *testing.T, err error, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", substr)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Fatalf("error %q does not contain %q", err, substr)
	}
}

// repoRoot is the directory holding go.mod.
func repoRoot(t testing.TB) string { return testenv.RepoRoot(t) }
