package weights

import (
	"archive/zip"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/internal/memcheck"
)

// Fuzz targets: run with e.g. `go test -run '^$' -fuzz '^FuzzParsePyTorch$' -fuzztime 60s ./weights`
// (tools/fuzz.sh runs them all). Plain `go test` runs the seeds and testdata/fuzz/<Target>/
// (regressions found by fuzzing). Any input may fail, none may panic, a success must be
// self-consistent, and no input may allocate past the parser's memory bound.

// safetensorsBound: ParseSafetensors allocates at most 64 bytes per input byte plus 1 MiB.
// The values cost 4 bytes per stored byte at most (a 1-byte dtype becomes a float32); the
// header's JSON tokens (shape numbers, names) cost ~30 bytes per 2-byte "0," in the worst case.
var safetensorsBound = memcheck.Bound{PerByte: 64, Cap: 1 << 20}

// torchBound: a PyTorch checkpoint allocates at most 64 bytes per byte of its expanded size
// (zip entries at their uncompressed size) plus maxBroadcastElems float32s (the broadcast
// allowance of buildStateDict) plus 1 MiB. The pickle VM's stack, memo and values cost at most
// ~40 bytes per opcode byte; tensors at most maxViewsPerStorage float32s per stored element.
var torchBound = memcheck.Bound{PerByte: 64, Cap: 4*maxBroadcastElems + 1<<20}

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

// sameStateDict compares two state dicts exactly (values by their bits, so NaNs compare).
func sameStateDict(t *testing.T, what string, got, want StateDict) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d tensors, want %d", what, len(got), len(want))
	}
	for name, w := range want {
		g := got[name]
		if g == nil {
			t.Fatalf("%s: tensor %q missing", what, name)
		}
		if g.DType != w.DType || !equalInts(g.Shape, w.Shape) || len(g.Data) != len(w.Data) {
			t.Fatalf("%s: tensor %q is %s %v (%d values), want %s %v (%d values)", what, name,
				g.DType, g.Shape, len(g.Data), w.DType, w.Shape, len(w.Data))
		}
		for i := range w.Data {
			if math.Float32bits(g.Data[i]) != math.Float32bits(w.Data[i]) {
				t.Fatalf("%s: tensor %q[%d] = %v, want %v", what, name, i, g.Data[i], w.Data[i])
			}
		}
	}
}

// FuzzParseSafetensors: parse within the memory bound; a file that parses writes back
// (WriteSafetensors, F32) and reads back to the same tensors and metadata, the integer
// dtypes kept and every float dtype stored as F32.
func FuzzParseSafetensors(f *testing.F) {
	addSeeds(f, "*.safetensors")
	f.Add(stFile(`{"a":{"dtype":"BF16","shape":[1,2],"data_offsets":[0,4]}}`, []byte{1, 2, 3, 4}))
	f.Add(stFile(`{"__metadata__":{"k":"v"},"i":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"b":{"dtype":"BOOL","shape":[2],"data_offsets":[8,10]}}`,
		[]byte{1, 2, 3, 4, 5, 6, 7, 0x80, 0, 3}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var sd StateDict
		var meta map[string]string
		var err error
		n := memcheck.Bytes(func() { sd, meta, err = ParseSafetensors(b) })
		if err := safetensorsBound.Check("ParseSafetensors", len(b), n); err != nil {
			t.Fatal(err)
		}
		if err != nil {
			return
		}
		checkConsistent(t, sd)
		path := filepath.Join(t.TempDir(), "rt.safetensors")
		if err := WriteSafetensors(path, sd, meta, "F32"); err != nil {
			// Only an I64 near ±2^63, rounded to float32 on reading, may not fit back.
			if !strings.Contains(err.Error(), "is not a valid I64") {
				t.Fatalf("writing back a parsed file: %v", err)
			}
			return
		}
		sd2, meta2, err := ReadSafetensors(path)
		if err != nil {
			t.Fatalf("reading back: %v", err)
		}
		want := StateDict{}
		for name, x := range sd {
			w := *x
			if _, ok := intRanges[w.DType]; !ok {
				w.DType = "F32"
			}
			want[name] = &w
		}
		sameStateDict(t, "round trip", sd2, want)
		if len(meta) != len(meta2) {
			t.Fatalf("round trip: metadata %v, want %v", meta2, meta)
		}
		for k, v := range meta {
			if meta2[k] != v {
				t.Fatalf("round trip: metadata %q = %q, want %q", k, meta2[k], v)
			}
		}
	})
}

// FuzzOpenSafetensors: the lazy reader (header and offsets checked from the file, tensors
// read on demand) accepts exactly the files ParseSafetensors accepts, with the same tensors.
func FuzzOpenSafetensors(f *testing.F) {
	addSeeds(f, "*.safetensors")
	f.Add(stFile(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, []byte{1, 2, 3, 4, 5, 6, 7, 8}))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "x.safetensors")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		want, _, werr := ParseSafetensors(b)
		var s *SafetensorsFile
		var err error
		n := memcheck.Bytes(func() { s, err = OpenSafetensors(path) })
		if err := safetensorsBound.Check("OpenSafetensors", len(b), n); err != nil {
			t.Fatal(err)
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("OpenSafetensors error %v, ParseSafetensors error %v", err, werr)
		}
		if err != nil {
			return
		}
		defer s.Close()
		got, err := Materialize(s)
		if err != nil {
			t.Fatalf("reading tensors of a validated file: %v", err)
		}
		for name := range want {
			got[name].DType = s.DType(name)
		}
		sameStateDict(t, "lazy vs whole-file", got, want)
	})
}

// expandedSize is a checkpoint's size with zip entries counted at their declared
// uncompressed size (what the memory bound is stated against).
func expandedSize(b []byte) int {
	n := len(b)
	if !isZip(b) {
		return n
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return n
	}
	for _, f := range zr.File {
		n += int(min(f.UncompressedSize64, 1<<40))
	}
	return n
}

// FuzzParsePyTorch: zip and legacy torch.save files, within the memory bound.
func FuzzParsePyTorch(f *testing.F) {
	addSeeds(f, "*.pt")
	f.Add(legacyFile(tensorDict(tt{"x", "HalfStorage", "k", 6, 1, []int{2, 2}, []int{1, 2}, []int{1, 5}}),
		storageData{"k", 6, make([]byte, 12)}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var sd StateDict
		var err error
		n := memcheck.Bytes(func() { sd, err = parsePyTorch(b) })
		if err := torchBound.Check("parsePyTorch", expandedSize(b), n); err != nil {
			t.Fatal(err)
		}
		if err == nil {
			checkConsistent(t, sd)
		}
	})
}

// FuzzTorchZip: the pickle and one storage record, packed into a well-formed torch zip by
// the harness, so that mutations reach the pickle VM and the storage checks instead of
// failing the zip's CRC.
func FuzzTorchZip(f *testing.F) {
	f.Add(tensorDict(tt{"w", "FloatStorage", "0", 6, 0, []int{2, 3}, []int{3, 1}, nil}), f32Range(6))
	f.Add(tensorDict(tt{"w", "HalfStorage", "0", 4, 1, []int{3}, []int{1}, nil}, tt{"v", "HalfStorage", "0", 4, 0, []int{2, 2}, []int{1, 2}, nil}), make([]byte, 8))
	f.Add(tensorDict(tt{"b", "FloatStorage", "0", 1, 0, []int{4, 4}, []int{0, 0}, nil}), f32Range(1))
	f.Add(tensorDict(tt{"n", "LongStorage", "0", 1, 0, []int{}, []int{}, nil}), make([]byte, 8))
	f.Fuzz(func(t *testing.T, pkl, data []byte) {
		b := zipFile(t, [2]string{"archive/data.pkl", string(pkl)}, [2]string{"archive/byteorder", "little"},
			[2]string{"archive/data/0", string(data)})
		var sd StateDict
		var err error
		n := memcheck.Bytes(func() { sd, err = parsePyTorch(b) })
		if err := torchBound.Check("parsePyTorch", expandedSize(b), n); err != nil {
			t.Fatal(err)
		}
		if err == nil {
			checkConsistent(t, sd)
		}
	})
}

// FuzzUnpickle: the pickle VM alone, then the state-dict walk over whatever it built.
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
		var v any
		var err error
		n := memcheck.Bytes(func() { v, _, err = unpickle(b, 0, st.persistentLoad) })
		if err := torchBound.Check("unpickle", len(b), n); err != nil {
			t.Fatal(err)
		}
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
