package hfparquet

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// The memory bound of Rows: the live heap while reading stays near one row group's image
// column, not the file. The file is written with parquet-go itself (the layout, not the
// reader's correctness, is under test here; that is what the hyparquet-writer fixtures are
// for): 32 row groups of 8 incompressible 64 KiB images, 16 MiB in all.
func TestRowsMemoryBoundedByRowGroup(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 16 MiB file")
	}
	type image struct {
		Bytes []byte  `parquet:"bytes,optional"`
		Path  *string `parquet:"path,optional"`
	}
	type row struct {
		Image *image `parquet:"image,optional"`
		Label int64  `parquet:"label"`
	}
	const groups, perGroup, size = 32, 8, 64 << 10
	name := filepath.Join(t.TempDir(), "big.parquet")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[row](f, parquet.Compression(&parquet.Uncompressed),
		parquet.KeyValueMetadata("huggingface", `{"info":{"features":{"image":{"_type":"Image"},"label":{"names":["a","b"],"_type":"ClassLabel"}}}}`))
	r := rand.New(rand.NewPCG(1, 2))
	for g := range groups {
		rows := make([]row, perGroup)
		for i := range rows {
			b := make([]byte, size)
			for k := range b {
				b[k] = byte(r.Uint32())
			}
			rows[i] = row{Image: &image{Bytes: b}, Label: int64((g + i) % 2)}
		}
		if _, err := w.Write(rows); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil { // one row group per Flush
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	h, err := Open(name, Columns{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.NumRowGroups() != groups {
		t.Fatalf("%d row groups, want %d", h.NumRowGroups(), groups)
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak uint64
	n := 0
	err = h.Rows(func(r Row) error {
		if len(r.Bytes) != size || r.Label != int64((n/perGroup+n%perGroup)%2) {
			t.Fatalf("row %d: %d bytes, label %d", n, len(r.Bytes), r.Label)
		}
		if n%perGroup == 0 { // the row group's images are all live here (later rows still to come)
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc-min(ms.HeapAlloc, base))
		}
		n++
		return nil
	})
	if err != nil || n != groups*perGroup {
		t.Fatalf("%d rows, %v", n, err)
	}
	const group = perGroup * size
	t.Logf("live heap while reading: %.2f MiB at most (a row group's images: %.2f MiB; the file: %.0f MiB)", float64(peak)/(1<<20), float64(group)/(1<<20), float64(groups*group)/(1<<20))
	if peak > 3*group {
		t.Errorf("live heap grew by %d bytes while reading, more than 3 row groups (%d)", peak, 3*group)
	}
}
