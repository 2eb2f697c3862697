package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A photo stored sideways with EXIF orientation 6 is classified upright by
// default (as transformers' pipeline does), giving the logits of the upright
// picture, and as stored with --exif-transpose=false; embed follows the same
// flag. The pair is imageproc's Pillow fixture: png_o6.png and Pillow's
// exif_transpose of it, png_o6.want.png.
func TestEXIFTransposeFlag(t *testing.T) {
	dir := filepath.Join("..", "..", "imageproc", "testdata", "orientation")
	stored, upright := filepath.Join(dir, "png_o6.png"), filepath.Join(dir, "png_o6.want.png")
	logits := func(img string, args ...string) []float32 {
		t.Helper()
		out, errOut, code := run(t, append([]string{"classify", "--model", tinyModel, "--json", "--logits", img}, args...)...)
		if code != 0 {
			t.Fatalf("classify %s %v: exit %d: %s", img, args, code, errOut)
		}
		var r classifyResult
		if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Logits) == 0 {
			t.Fatalf("classify %v: %v in %q", args, err, out)
		}
		return r.Logits
	}
	want := logits(upright)
	if got := logits(stored); !slices.Equal(got, want) {
		t.Errorf("classify of the EXIF-6 file: logits %v, want the upright image's %v", got, want)
	}
	if got := logits(stored, "--exif-transpose=true"); !slices.Equal(got, want) {
		t.Errorf("--exif-transpose=true: logits %v, want %v", got, want)
	}
	if got := logits(stored, "--exif-transpose=false"); slices.Equal(got, want) {
		t.Error("--exif-transpose=false classified the EXIF-6 file upright")
	}

	embed := func(img string, args ...string) []byte {
		t.Helper()
		p := filepath.Join(t.TempDir(), "e.npy")
		if _, errOut, code := run(t, append([]string{"embed", "--model", tinyModel, "--output", p, img}, args...)...); code != 0 {
			t.Fatalf("embed %s %v: exit %d: %s", img, args, code, errOut)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	e := embed(upright)
	if got := embed(stored); !slices.Equal(got, e) {
		t.Error("embed of the EXIF-6 file differs from the upright image's")
	}
	if got := embed(stored, "--exif-transpose=false"); slices.Equal(got, e) {
		t.Error("embed --exif-transpose=false embedded the EXIF-6 file upright")
	}

	// Commands that decode no image files do not offer the decoding flags.
	for _, cmd := range []string{"bench", "info", "export", "convert"} {
		_, errOut, code := run(t, cmd, "--exif-transpose=false", "--max-pixels", "5")
		if code == 0 || !strings.Contains(errOut, "unknown flag: --exif-transpose") {
			t.Errorf("%s --exif-transpose: exit %d, %q", cmd, code, errOut)
		}
	}
}
