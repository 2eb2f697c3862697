package hfparquet

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/resnet-go/resnet/internal/memcheck"
)

// Fuzz targets of the Parquet reader; tools/fuzz.sh runs them, e.g.
// `go test -run '^$' -fuzz '^FuzzOpenRows$' -fuzztime 60s ./datasets/hfparquet`.

// parquetBound: Open and Rows allocate at most 64 bytes per file byte (the footer's
// metadata, the pages of a row group, the values copied out of them) plus 4 MiB of
// parquet-go's buffers.
var parquetBound = memcheck.Bound{PerByte: 64, Cap: 4 << 20}

// FuzzOpenRows: a Parquet file opens and yields its rows within the memory bound, never
// more rows than its footer announces (null images included: the dataset, not the reader, refuses them).
func FuzzOpenRows(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.parquet")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) <= 12<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "x.parquet")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var rows, announced int64
		var err error
		n := memcheck.Bytes(func() {
			var h *File
			if h, err = Open(path, Columns{}); err != nil {
				return
			}
			defer h.Close()
			announced = h.NumRows()
			err = h.Rows(func(Row) error {
				// A row with a null image (neither bytes nor path) is valid Parquet; the
				// dataset refuses it by name (datasets/hf.go), the reader passes it on.
				rows++
				return nil
			})
		})
		if e := parquetBound.Check("Open+Rows", len(data), n); e != nil {
			t.Fatal(e)
		}
		if err == nil && rows > announced {
			t.Fatalf("%d rows from a file announcing %d", rows, announced)
		}
	})
}

// FuzzParseFeatures: the `huggingface` metadata JSON, within 64 bytes per byte plus 64 KiB.
func FuzzParseFeatures(f *testing.F) {
	f.Add(`{"info":{"features":{"img":{"_type":"Image"},"label":{"names":["a","b"],"_type":"ClassLabel"}}}}`)
	f.Add(`{"features":{"label":{"_type":"ClassLabel","num_classes":2,"names":["x","y"],"id":null},"v":{"dtype":"int64","_type":"Value"}}}`)
	bound := memcheck.Bound{PerByte: 64, Cap: 64 << 10}
	f.Fuzz(func(t *testing.T, meta string) {
		n := memcheck.Bytes(func() { ParseFeatures(meta) })
		if e := bound.Check("ParseFeatures", len(meta), n); e != nil {
			t.Fatal(e)
		}
	})
}
