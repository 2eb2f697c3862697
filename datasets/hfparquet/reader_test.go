package hfparquet

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The fixtures were written by npm hyparquet-writer (tools/fixtures/gen_parquet.mjs) from the
// CIFAR-10 test PNGs of ../shared, which is where the expected bytes and labels come from.
const pngDir = "../../../shared/data/images/cifar10-test-png"

var cifarClasses = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

func pngs(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(pngDir, "cifar10_*_*.png"))
	if err != nil || len(m) != 20 {
		t.Fatalf("want the 20 CIFAR-10 test PNGs in %s (../shared next to the repository), found %d: %v", pngDir, len(m), err)
	}
	slices.Sort(m)
	return m
}

func labelOf(t *testing.T, png string) int64 {
	s := strings.TrimSuffix(filepath.Base(png), ".png")
	l, err := strconv.Atoi(s[strings.LastIndexByte(s, '_')+1:])
	if err != nil {
		t.Fatal(err)
	}
	return int64(l)
}

func readAll(t *testing.T, name string, cols Columns) (*File, []Row) {
	t.Helper()
	f, err := Open(name, cols)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	var rows []Row
	if err := f.Rows(func(r Row) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return f, rows
}

func TestReadFixtures(t *testing.T) {
	files := pngs(t)
	tests := []struct {
		file         string
		cols         Columns
		image, label string
		first, n     int
		rowGroups    int
		inline       bool
		classes      []string
	}{
		{"cifar20/plain_text/test-00000-of-00002.parquet", Columns{}, "img", "label", 0, 10, 3, true, cifarClasses},
		{"cifar20/plain_text/test-00001-of-00002.parquet", Columns{}, "img", "label", 10, 10, 3, true, cifarClasses},
		// Legacy feature dicts, other column names, an int64 Value column before the ClassLabel.
		{"paths/train.parquet", Columns{}, "picture", "category", 0, 6, 1, false, cifarClasses},
		// No metadata: found by shape and name.
		{"nometa/test.parquet", Columns{}, "image", "label", 0, 4, 1, true, nil},
		{"nometa/test.parquet", Columns{Image: "image", Label: "label"}, "image", "label", 0, 4, 1, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			f, rows := readAll(t, filepath.Join("testdata", tc.file), tc.cols)
			if f.ImageColumn != tc.image || f.LabelColumn != tc.label {
				t.Errorf("columns %q, %q; want %q, %q", f.ImageColumn, f.LabelColumn, tc.image, tc.label)
			}
			if !slices.Equal(f.Classes, tc.classes) {
				t.Errorf("classes %v, want %v", f.Classes, tc.classes)
			}
			if f.NumRowGroups() != tc.rowGroups || len(rows) != tc.n || f.NumRows() != int64(tc.n) {
				t.Fatalf("%d rows (footer %d) in %d row groups, want %d in %d", len(rows), f.NumRows(), f.NumRowGroups(), tc.n, tc.rowGroups)
			}
			for i, r := range rows {
				png := files[tc.first+i]
				if r.Label != labelOf(t, png) {
					t.Errorf("row %d: label %d, want %d", i, r.Label, labelOf(t, png))
				}
				if tc.inline {
					want, _ := os.ReadFile(png)
					if !bytes.Equal(r.Bytes, want) || r.Path != filepath.Base(png) {
						t.Errorf("row %d: %d bytes with path %q, want %s's %d bytes", i, len(r.Bytes), r.Path, png, len(want))
					}
				} else if r.Bytes != nil || r.Path != "images/"+filepath.Base(png) {
					t.Errorf("row %d: bytes %v, path %q; want null and images/%s", i, r.Bytes != nil, r.Path, filepath.Base(png))
				}
			}
		})
	}
}

func TestColumnErrors(t *testing.T) {
	tests := []struct {
		file string
		cols Columns
		want string
	}{
		{"cifar20/plain_text/test-00000-of-00002.parquet", Columns{Image: "picture"}, `no image column "picture" (columns: img, label)`},
		{"cifar20/plain_text/test-00000-of-00002.parquet", Columns{Label: "nope"}, `no label column "nope"`},
		{"cifar20/plain_text/test-00000-of-00002.parquet", Columns{Image: "label"}, `image column "label": want struct<bytes: binary, path: string>`},
		{"paths/train.parquet", Columns{Label: "picture"}, `label column: column picture is not in the Parquet schema`},
	}
	for _, tc := range tests {
		_, err := Open(filepath.Join("testdata", tc.file), tc.cols)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.file) {
			t.Errorf("%s %+v: error %v, want one naming the file and saying %q", tc.file, tc.cols, err, tc.want)
		}
	}
}

// A cut or damaged file fails with its name, never a panic or short read passed off as data.
func TestDamagedFiles(t *testing.T) {
	src, err := os.ReadFile("testdata/cifar20/plain_text/test-00000-of-00002.parquet")
	if err != nil {
		t.Fatal(err)
	}
	flip := func(at int) []byte {
		b := slices.Clone(src)
		for i := at; i < at+64 && i < len(b)-8; i++ {
			b[i] ^= 0x5a
		}
		return b
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"half", src[:len(src)/2]},
		{"no-footer-magic", src[:len(src)-1]},
		{"footer-only", src[len(src)-200:]},
		{"empty", nil},
		{"footer-bytes-flipped", flip(len(src) - 300)},
		{"page-header-flipped", flip(4)},
		{"page-data-flipped", flip(len(src) / 3)},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".parquet")
			if err := os.WriteFile(p, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := Open(p, Columns{})
			if err == nil {
				n := 0
				err = f.Rows(func(r Row) error { n++; return nil })
				f.Close()
				if err == nil {
					// Flipped image bytes inside a page may still parse; the rows must then be
					// all there (the image decoder catches the damage).
					if n != 10 {
						t.Fatalf("read %d rows without error, want 10 or an error", n)
					}
					return
				}
			}
			t.Log(err)
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}
