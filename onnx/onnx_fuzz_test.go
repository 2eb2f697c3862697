package onnx

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/resnet-go/resnet/internal/memcheck"
	"github.com/resnet-go/resnet/tensor"
)

// onnxExtBytes is the size of the external-data file beside the fuzzed model.
const onnxExtBytes = 4 << 10

// importBound: Import allocates at most 128 bytes per input byte (protobuf messages, the
// float32 copies of tensors, the matcher's maps) plus 8 bytes per byte of external data the
// model may read plus 1 MiB.
var importBound = memcheck.Bound{PerByte: 128, Cap: 8*onnxExtBytes + 1<<20}

// FuzzImport: a serialized ModelProto (external data may name "w.bin", a 4 KiB file in the
// model's folder) imports within the memory bound, and an imported model holds every tensor
// its config's spec needs, with the spec's shape.
func FuzzImport(f *testing.F) {
	for i, c := range exportCases() {
		for _, fold := range []bool{false, true} {
			if i%2 == 1 && !fold {
				continue // keep the seed set small: every case once, some twice
			}
			m, err := Export(&c.cfg, c.processor(), randomWeights(f, &c.cfg, uint64(i)), ExportOptions{FoldBN: fold, Pooler: fold})
			if err != nil {
				f.Fatal(err)
			}
			b, err := proto.Marshal(m)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	dir := f.TempDir()
	ext := make([]byte, onnxExtBytes)
	for i := range ext {
		ext[i] = byte(i * 13)
	}
	if err := os.WriteFile(filepath.Join(dir, "w.bin"), ext, 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var im *Imported
		var err error
		n := memcheck.Bytes(func() { im, err = Import(data, dir) })
		if e := importBound.Check("Import", len(data), n); e != nil {
			t.Fatal(e)
		}
		if err != nil {
			return
		}
		spec, err := im.Config.Spec()
		if err != nil {
			t.Fatalf("imported config has no spec: %v", err)
		}
		for _, p := range spec.Params() {
			w := im.Weights[p.Name]
			if w == nil || !slices.Equal(w.Shape, p.Shape) || len(w.Data) != tensor.Numel(p.Shape) {
				t.Fatalf("tensor %s: want shape %v, imported %+v", p.Name, p.Shape, w)
			}
		}
	})
}
