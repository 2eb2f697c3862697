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

// A directory is searched for every extension Pillow reads as a supported format (.jfif and
// .jpe are JPEG); other files are counted in a note on stderr (hidden ones such as .DS_Store
// are not), and a directory holding only such files is refused, saying what it holds.
func TestDirectorySkippedFilesNote(t *testing.T) {
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "a.png"), 9, 7)
	jpg, err := os.ReadFile(filepath.Join("..", "..", "imageproc", "testdata", "orientation", "jpeg_o1.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"b.jfif": jpg, "c.JPE": jpg, "IMG_1.HEIC": nil, "IMG_2.heic": nil, "notes.txt": nil, ".DS_Store": nil} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := run(t, "classify", "--model", tinyModel, "--top-k", "1", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, name := range []string{"a.png", "b.jfif", "c.JPE"} {
		if !strings.Contains(out, filepath.Join(dir, name)) {
			t.Errorf("%s not classified:\n%s", name, out)
		}
	}
	if want := "note: " + dir + ": 3 files (.heic ×2, .txt) skipped, not of a supported image type"; !strings.Contains(errOut, want) {
		t.Errorf("stderr %q lacks %q", errOut, want)
	}
	only := t.TempDir()
	if err := os.WriteFile(filepath.Join(only, "x.heic"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = run(t, "classify", only)
	if code == 0 || !strings.Contains(errOut, "only 1 file (.heic) of other types") {
		t.Errorf("a folder of .heic only: exit %d, %q", code, errOut)
	}
}
