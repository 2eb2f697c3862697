package weights

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Regression inputs of the fuzz targets, made here so that they can be regenerated
// (RESNET_WRITE_FUZZ_CORPUS=1 go test -run TestWriteFuzzCorpus ./weights) and replayed by
// plain `go test` from testdata/fuzz/<Target>/.

// sharedViewsZip is a torch zip whose k tensors all view one n-element float storage: before
// buildStateDict bounded the total, a 2 KB file (deflated) materialized k×n float32s
// (2000 × 16384 × 4 = 128 MiB).
func sharedViewsZip(t testing.TB, n, k int) []byte {
	p := newPk().op('}', '(')
	p.str("t0").global("torch._utils", "_rebuild_tensor_v2").op('q', 0).op('(')
	p.op('(').str("storage").global("torch", "FloatStorage").str("0").str("cpu").int(n).op('t', 'Q', 'q', 1)
	p.int(0).op('q', 2).tuple([]int{n}).op('q', 3).tuple([]int{1}).op('q', 4)
	p.op(0x89).global("collections", "OrderedDict").op('q', 5).op(')', 'R', 't', 'R')
	for i := 1; i < k; i++ {
		p.str(fmt.Sprintf("t%d", i)).op('h', 0, '(', 'h', 1, 'h', 2, 'h', 3, 'h', 4, 0x89, 'h', 5, ')', 'R', 't', 'R')
	}
	pkl := p.op('u', '.').Bytes()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, e := range []struct {
		name string
		data []byte
	}{{"archive/data.pkl", pkl}, {"archive/byteorder", []byte("little")}, {"archive/data/0", make([]byte, 4*n)}} {
		f, err := w.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		f.Write(e.data)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// fuzzCorpus lists the committed regression inputs: target, file name, arguments.
func fuzzCorpus(t testing.TB) []struct {
	target, name string
	args         [][]byte
} {
	return []struct {
		target, name string
		args         [][]byte
	}{
		{"FuzzParsePyTorch", "shared_storage_views", [][]byte{sharedViewsZip(t, 1<<14, 2000)}},
	}
}

func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("RESNET_WRITE_FUZZ_CORPUS") == "" {
		t.Skip("set RESNET_WRITE_FUZZ_CORPUS=1 to rewrite testdata/fuzz")
	}
	for _, c := range fuzzCorpus(t) {
		var b bytes.Buffer
		b.WriteString("go test fuzz v1\n")
		for _, a := range c.args {
			fmt.Fprintf(&b, "[]byte(%q)\n", a)
		}
		dir := filepath.Join("testdata", "fuzz", c.target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, c.name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The committed files are what the generator makes (so they stay regenerable).
func TestFuzzCorpusCurrent(t *testing.T) {
	for _, c := range fuzzCorpus(t) {
		b, err := os.ReadFile(filepath.Join("testdata", "fuzz", c.target, c.name))
		if err != nil {
			t.Fatalf("%v (regenerate with RESNET_WRITE_FUZZ_CORPUS=1)", err)
		}
		var want bytes.Buffer
		want.WriteString("go test fuzz v1\n")
		for _, a := range c.args {
			fmt.Fprintf(&want, "[]byte(%q)\n", a)
		}
		if !bytes.Equal(b, want.Bytes()) {
			t.Errorf("testdata/fuzz/%s/%s differs from its generator (regenerate with RESNET_WRITE_FUZZ_CORPUS=1)", c.target, c.name)
		}
	}
}

// The shared-views bound refuses the fuzzer's input with a clear error and still loads a
// storage viewed by maxViewsPerStorage tensors (tied weights are viewed twice).
func TestSharedStorageViews(t *testing.T) {
	for _, c := range []struct {
		n, k int
		ok   bool
	}{{1 << 14, 2000, false}, {1 << 14, maxViewsPerStorage, true}, {1 << 20, maxViewsPerStorage + 16, true}, {1 << 20, maxViewsPerStorage + 17, false}} {
		sd, err := parsePyTorch(sharedViewsZip(t, c.n, c.k))
		switch {
		case c.ok && (err != nil || len(sd) != c.k):
			t.Errorf("%d views of %d elements: %d tensors, error %v", c.k, c.n, len(sd), err)
		case !c.ok:
			wantErr(t, err, "naming the same storage this often")
		}
	}
}
