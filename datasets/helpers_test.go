package datasets

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/resnet-go/resnet/internal/testenv"
)

// file is one entry of a synthetic image tree: a slash path and its bytes.
type file struct {
	name string
	data []byte
}

// pngImage encodes a w×h RGB image whose pixels are a function of seed, so that each
// synthetic image is distinguishable; PNG is lossless, so decoding must give these bytes back.
func pngImage(t testing.TB, w, h, seed int) []byte {
	t.Helper()
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, color.NRGBA{uint8(seed*7 + x*3), uint8(seed*13 + y*5), uint8(seed + x*y), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func jpegImage(t testing.TB, w, h, seed int) []byte {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, color.RGBA{uint8(seed * 20), uint8(x * 8), uint8(y * 8), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeDir writes the files under a new temporary directory and returns it.
func writeDir(t testing.TB, files []file) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// tarBytes archives the files (with directory entries, as tar(1) writes them), in the given
// order.
func tarBytes(t testing.TB, files []file, gz bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	var gzw *gzip.Writer
	tw := tar.NewWriter(&buf)
	if gz {
		gzw = gzip.NewWriter(&buf)
		tw = tar.NewWriter(gzw)
	}
	dirs := map[string]bool{}
	for _, f := range files {
		for d := filepath.Dir(f.name); d != "." && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(f.data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if gz {
		if err := gzw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// sameExamples compares labels and pixels.
func sameExamples(t *testing.T, what string, a, b []Example) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d vs %d examples", what, len(a), len(b))
	}
	for i := range a {
		if a[i].Label != b[i].Label || a[i].Image.W != b[i].Image.W || a[i].Image.H != b[i].Image.H || !slices.Equal(a[i].Image.Pix, b[i].Image.Pix) {
			t.Fatalf("%s: example %d differs (labels %d, %d)", what, i, a[i].Label, b[i].Label)
		}
	}
}

// sharedDir is ../shared beside the repository root.
func sharedDir(t testing.TB) string { return testenv.SharedDir(t) }
