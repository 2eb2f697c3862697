package datasets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cifarRecords builds n binary records: label i%10, pixel values a function of (record,
// channel, position) so that any mix-up of planes or records shows.
func cifarRecords(n int) []byte {
	data := make([]byte, 0, n*cifarRecord)
	for i := range n {
		data = append(data, byte(i%10))
		for c := range 3 {
			for p := range cifarPlane {
				data = append(data, byte(i*31+c*101+p))
			}
		}
	}
	return data
}

func TestParseCIFAR10(t *testing.T) {
	data := cifarRecords(3)
	ex, err := ParseCIFAR10(data, "three.bin")
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) != 3 {
		t.Fatalf("%d examples, want 3", len(ex))
	}
	for i, e := range ex {
		if e.Label != i || e.Image.W != 32 || e.Image.H != 32 {
			t.Fatalf("example %d: label %d, %dx%d", i, e.Label, e.Image.W, e.Image.H)
		}
		// Pixel (x, y) channel c is byte i*31 + c*101 + (y*32 + x).
		for _, px := range [][2]int{{0, 0}, {31, 0}, {0, 31}, {17, 5}} {
			x, y := px[0], px[1]
			r, g, b := e.Image.At(x, y)
			p := y*32 + x
			if want := [3]byte{byte(i*31 + p), byte(i*31 + 101 + p), byte(i*31 + 202 + p)}; [3]byte{r, g, b} != want {
				t.Fatalf("example %d pixel (%d,%d) = %v, want %v", i, x, y, [3]byte{r, g, b}, want)
			}
		}
	}
}

func TestParseCIFAR10Errors(t *testing.T) {
	badLabel := cifarRecords(3)
	badLabel[2*cifarRecord] = 10
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "0 bytes, not a whole number of 3073-byte records"},
		{"short", make([]byte, 3072), "3072 bytes"},
		{"long", make([]byte, 3074), "3074 bytes"},
		{"partial", cifarRecords(3)[:2*cifarRecord+100], "6246 bytes"},
		{"label", badLabel, "record 2 has label 10 (want 0..9)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseCIFAR10(c.data, "x.bin")
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "x.bin") {
				t.Fatalf("error %v, want one naming x.bin and saying %q", err, c.want)
			}
		})
	}
}

// The Dataset form is the binary planes as they are; Examples and Dataset must agree.
func TestReadCIFAR10Dataset(t *testing.T) {
	dir := t.TempDir()
	one, two := cifarRecords(3), cifarRecords(5)[3*cifarRecord:]
	os.WriteFile(filepath.Join(dir, "data_batch_1.bin"), one, 0o644)
	os.WriteFile(filepath.Join(dir, "data_batch_2.bin"), two, 0o644)
	files, err := CIFAR10Files(dir, Train)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ReadCIFAR10Dataset(files...)
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 5 || d.C != 3 || d.H != 32 || d.W != 32 {
		t.Fatalf("got %d images %dx%dx%d", d.Len(), d.C, d.H, d.W)
	}
	all := cifarRecords(5)
	for i := range 5 {
		if d.Labels[i] != i || string(d.Image(i)) != string(all[i*cifarRecord+1:(i+1)*cifarRecord]) {
			t.Fatalf("image %d differs from record %d", i, i)
		}
	}
	ex, err := ReadCIFAR10(files...)
	if err != nil {
		t.Fatal(err)
	}
	sameExamples(t, "ReadCIFAR10 vs Dataset.Examples", ex, d.Examples())
	if _, err := CIFAR10Files(dir, Test); err == nil || !strings.Contains(err.Error(), "no test_batch.bin") {
		t.Fatalf("missing test batch: %v", err)
	}
}
