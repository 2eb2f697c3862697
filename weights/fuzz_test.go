package weights

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Fuzz targets: run with e.g. `go test -fuzz=FuzzParsePyTorch -fuzztime=60s ./weights`.
// Plain `go test` runs only the seeds. Any input may fail, none may panic, and a
// success must be self-consistent.

func addSeeds(f *testing.F, pattern string) {
	files, _ := filepath.Glob(testdata(pattern))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
}

func checkConsistent(t *testing.T, sd StateDict) {
	for name, x := range sd {
		if x == nil || len(x.Data) != numel(x.Shape) {
			t.Fatalf("tensor %q: %d values for shape %v", name, len(x.Data), x.Shape)
		}
	}
}

func FuzzParseSafetensors(f *testing.F) {
	addSeeds(f, "*.safetensors")
	f.Add(stFile(`{"a":{"dtype":"BF16","shape":[1,2],"data_offsets":[0,4]}}`, []byte{1, 2, 3, 4}))
	f.Fuzz(func(t *testing.T, b []byte) {
		sd, _, err := ParseSafetensors(b)
		if err == nil {
			checkConsistent(t, sd)
		}
	})
}

func FuzzParsePyTorch(f *testing.F) {
	addSeeds(f, "*.pt")
	f.Add(legacyFile(tensorDict(tt{"x", "HalfStorage", "k", 6, 1, []int{2, 2}, []int{1, 2}, []int{1, 5}}),
		storageData{"k", 6, make([]byte, 12)}))
	f.Fuzz(func(t *testing.T, b []byte) {
		sd, err := parsePyTorch(b)
		if err == nil {
			checkConsistent(t, sd)
		}
	})
}

func FuzzUnpickle(f *testing.F) {
	addSeeds(f, "*.pkl")
	var fx struct {
		Pickles []struct{ Hex string }
	}
	if b, err := os.ReadFile(testdata("pickles.json")); err == nil && json.Unmarshal(b, &fx) == nil {
		for _, p := range fx.Pickles {
			h, _ := hex.DecodeString(p.Hex)
			f.Add(h)
		}
	}
	f.Add(tensorDict(tt{"x", "FloatStorage", "k", 4, 0, []int{4}, []int{1}, nil}))
	f.Fuzz(func(t *testing.T, b []byte) {
		st := &torchStorages{byKey: map[string]*storageRef{}}
		v, _, err := unpickle(b, 0, st.persistentLoad)
		if err != nil {
			return
		}
		refs, err := stateDictRefs(v)
		if err != nil {
			return
		}
		// materialize against zero-filled storages of the declared size
		sd, err := buildStateDict(refs, func(s *storageRef) ([]byte, error) {
			if s.numel > 1<<20 {
				return nil, os.ErrInvalid
			}
			return make([]byte, s.numel*dtypeSizes[s.dtype]), nil
		})
		if err == nil {
			checkConsistent(t, sd)
		}
	})
}
