package datasets

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// idxBytes encodes an unsigned-byte IDX file.
func idxBytes(dims []int, data []byte) []byte {
	out := []byte{0, 0, idxUbyte, byte(len(dims))}
	for _, d := range dims {
		out = binary.BigEndian.AppendUint32(out, uint32(d))
	}
	return append(out, data...)
}

func gzipBytes(t testing.TB, data []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// idxFixture returns n h×w images (pixel = image*7 + position) and labels i%10.
func idxFixture(n, h, w int) (images, labels []byte) {
	pix := make([]byte, n*h*w)
	for i := range pix {
		pix[i] = byte((i/(h*w))*7 + i%(h*w))
	}
	lab := make([]byte, n)
	for i := range lab {
		lab[i] = byte(i % 10)
	}
	return idxBytes([]int{n, h, w}, pix), idxBytes([]int{n}, lab)
}

func TestReadIDX(t *testing.T) {
	images, labels := idxFixture(4, 3, 5)
	for _, gz := range []bool{false, true} {
		dir := t.TempDir()
		ib, lb, ext := images, labels, ""
		if gz {
			ib, lb, ext = gzipBytes(t, images), gzipBytes(t, labels), ".gz"
		}
		os.WriteFile(filepath.Join(dir, "t10k-images-idx3-ubyte"+ext), ib, 0o644)
		os.WriteFile(filepath.Join(dir, "t10k-labels-idx1-ubyte"+ext), lb, 0o644)
		d, err := Spec{"fashion-mnist", dir}.Dataset(Test, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if d.C != 1 || d.H != 3 || d.W != 5 || d.Len() != 4 || d.Classes[9] != "Ankle boot" {
			t.Fatalf("gz=%v: %d images %dx%dx%d", gz, d.Len(), d.C, d.H, d.W)
		}
		if !slices.Equal(d.Pix, images[16:]) || !slices.Equal(d.Labels, []int{0, 1, 2, 3}) {
			t.Fatalf("gz=%v: pixels or labels differ", gz)
		}
		// The per-image form replicates gray.
		ex, err := Spec{"mnist", dir}.Load(Test)
		if err != nil {
			t.Fatal(err)
		}
		r, g, b := ex[2].Image.At(4, 1)
		if want := byte(2*7 + 1*5 + 4); r != want || g != want || b != want {
			t.Fatalf("gz=%v: example 2 pixel (4,1) = %d %d %d, want %d thrice", gz, r, g, b, want)
		}
		if _, err := (Spec{"mnist", dir}).Dataset(Train, Options{}); err == nil || !strings.Contains(err.Error(), "no train-images-idx3-ubyte") {
			t.Fatalf("missing train files: %v", err)
		}
	}
}

func TestParseIDXErrors(t *testing.T) {
	good, _ := idxFixture(2, 2, 2)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "reading header: file truncated"},
		{"magic", append([]byte{8, 0}, good[2:]...), "bad magic 08 00 08 03"},
		{"float", append([]byte{0, 0, 0x0D, 3}, good[4:]...), "value type 0x0d (float32)"},
		{"no dims", []byte{0, 0, 8, 0}, "zero dimensions"},
		{"short dims", good[:10], "reading 3 dimensions: file truncated"},
		{"truncated", good[:len(good)-1], "truncated: dimensions [2 2 2] need 8 data bytes, file has 7"},
		{"trailing", append(slices.Clone(good), 0), "data continues past the 8 bytes"},
		{"huge", idxBytes([]int{1 << 30, 1 << 30}, nil), "announce more than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := ParseIDX(bytes.NewReader(c.data), "f.idx")
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "f.idx") {
				t.Fatalf("error %v, want one naming f.idx and saying %q", err, c.want)
			}
		})
	}
}

func TestReadIDXMismatch(t *testing.T) {
	images, labels := idxFixture(4, 2, 2)
	_, labels3 := idxFixture(3, 2, 2)
	badLabel := slices.Clone(labels)
	badLabel[len(badLabel)-1] = 10
	cases := []struct {
		name           string
		images, labels []byte
		want           string
	}{
		{"count", images, labels3, "holds 4 images but"},
		{"swapped", labels, images, "images need 3"},
		{"labels 3d", images, images, "labels need 1"},
		{"label range", images, badLabel, "label 3 is 10 (want 0..9)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ip, lp := writeFile(t, "img", c.images), writeFile(t, "lab", gzipBytes(t, c.labels))
			_, err := ReadIDX(ip, lp, MNISTClasses)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
	// A gzip stream cut short is an error, not a short dataset.
	gz := gzipBytes(t, images)
	if _, _, err := ReadIDXFile(writeFile(t, "cut.gz", gz[:len(gz)-12])); err == nil {
		t.Fatal("truncated gzip accepted")
	}
}

func TestIDXFileNames(t *testing.T) {
	for _, names := range [][2]string{
		{"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
		{"train-images.idx3-ubyte", "train-labels.idx1-ubyte"},
		{"raw/train-images-idx3-ubyte.gz", "raw/train-labels-idx1-ubyte.gz"},
	} {
		dir := writeDir(t, []file{{names[0], []byte{1}}, {names[1], []byte{1}}})
		im, lb, err := IDXFiles(dir, Train)
		if err != nil || im != filepath.Join(dir, names[0]) || lb != filepath.Join(dir, names[1]) {
			t.Fatalf("%v: got %q %q %v", names, im, lb, err)
		}
	}
}

// The real Fashion-MNIST of Debian's dataset-fashion-mnist package, when installed.
func TestRealFashionMNIST(t *testing.T) {
	const dir = "/usr/share/datasets/fashion-mnist"
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("skipped: %s not present (apt-get install dataset-fashion-mnist to run this test)", dir)
	}
	for _, c := range []struct {
		split    Split
		n, first int
	}{{Train, 60000, 9}, {Test, 10000, 9}} {
		d, err := Spec{"fashion-mnist", dir}.Dataset(c.split, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Len() != c.n || d.C != 1 || d.H != 28 || d.W != 28 || d.Labels[0] != c.first {
			t.Fatalf("%s: %d images %dx%dx%d, first label %d", c.split, d.Len(), d.C, d.H, d.W, d.Labels[0])
		}
		count := make([]int, 10)
		for _, l := range d.Labels {
			count[l]++
		}
		for k, n := range count {
			if n != c.n/10 {
				t.Fatalf("%s: class %d has %d images, want %d", c.split, k, n, c.n/10)
			}
		}
	}
}
