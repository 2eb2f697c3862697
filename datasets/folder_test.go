package datasets

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/imageproc"
)

// tree is a small ImageFolder under train/, listed out of order, with litter that must be
// ignored. want maps each class-relative name to its label and PNG seed.
func tree(t testing.TB) (files []file, want map[string][2]int) {
	want = map[string][2]int{}
	add := func(class string, label int, name string, seed int) {
		files = append(files, file{"train/" + class + "/" + name, pngImage(t, 8, 6, seed)})
		want[class+"/"+name] = [2]int{label, seed}
	}
	add("dog", 2, "b.png", 1)
	add("bird", 0, "z.png", 2)
	add("cat", 1, "a.png", 3)
	add("dog", 2, "a.png", 4)
	add("bird", 0, "sub/a.png", 5) // nested inside a class: still that class
	add("cat", 1, "c.PNG", 6)
	files = append(files,
		file{"train/cat/.DS_Store", []byte("litter")},
		file{"train/cat/notes.txt", []byte("not an image")},
		file{"train/.hidden/x.png", pngImage(t, 8, 6, 9)},
	)
	return files, want
}

// sources writes the same files as a directory, a .tar and a .tar.gz.
func sources(t testing.TB, files []file) map[string]string {
	return map[string]string{
		"dir":    writeDir(t, files),
		"tar":    writeFile(t, "data.tar", tarBytes(t, files, false)),
		"tar.gz": writeFile(t, "data.tar.gz", tarBytes(t, files, true)),
	}
}

func TestReadFolderSources(t *testing.T) {
	files, want := tree(t)
	var first *Folder
	for _, kind := range []string{"dir", "tar", "tar.gz"} {
		src := sources(t, files)[kind]
		for _, workers := range []int{1, 3} {
			f, err := ReadFolder(src, Train, Options{Workers: workers})
			if err != nil {
				t.Fatalf("%s: %v", kind, err)
			}
			if !slices.Equal(f.Classes, []string{"bird", "cat", "dog"}) || f.Root != "train/" || len(f.Examples) != len(want) {
				t.Fatalf("%s: classes %v root %q, %d examples", kind, f.Classes, f.Root, len(f.Examples))
			}
			// ImageFolder order: by class, then path; each image decodes to its PNG's pixels.
			order := []string{"bird/sub/a.png", "bird/z.png", "cat/a.png", "cat/c.PNG", "dog/a.png", "dog/b.png"}
			for i, ex := range f.Examples {
				rel := order[i]
				if !strings.HasSuffix(filepath.ToSlash(f.Paths[i]), "train/"+rel) {
					t.Fatalf("%s: example %d is %s, want %s", kind, i, f.Paths[i], rel)
				}
				w := want[rel]
				img, _ := imageproc.Decode(bytes.NewReader(pngImage(t, 8, 6, w[1])), 0)
				if ex.Label != w[0] || !slices.Equal(ex.Image.Pix, img.Pix) {
					t.Fatalf("%s: example %d (%s) label %d or pixels wrong", kind, i, rel, ex.Label)
				}
			}
			if first == nil {
				first = f
			} else {
				sameExamples(t, kind+" vs dir", f.Examples, first.Examples)
			}
		}
	}
	if p := first.Paths[0]; !strings.HasSuffix(p, filepath.FromSlash("/train/bird/sub/a.png")) {
		t.Errorf("directory path %q", p)
	}
	f, _ := ReadFolder(sources(t, files)["tar.gz"], Train, Options{})
	if p := f.Paths[0]; !strings.HasSuffix(p, "data.tar.gz:train/bird/sub/a.png") {
		t.Errorf("archive path %q", p)
	}
}

func TestReadFolderBadImage(t *testing.T) {
	files, want := tree(t)
	good := jpegImage(t, 8, 6, 1)
	files = append(files, file{"train/cat/bad.jpg", good[:len(good)/2]}, file{"train/dog/empty.png", nil})
	for kind, src := range sources(t, files) {
		t.Run(kind, func(t *testing.T) {
			_, err := ReadFolder(src, Train, Options{})
			var bad BadImage
			if err == nil || !errors.As(err, &bad) || !strings.Contains(err.Error(), "bad.jpg") || !strings.Contains(err.Error(), "and 1 more") {
				t.Fatalf("fail policy: error %v, want one naming bad.jpg and one more", err)
			}
			var warn bytes.Buffer
			f, err := ReadFolder(src, Train, Options{OnBadImage: BadImageSkip, Warn: &warn})
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Examples) != len(want) || len(f.Skipped) != 2 {
				t.Fatalf("skip policy: %d examples, %d skipped", len(f.Examples), len(f.Skipped))
			}
			if !strings.HasSuffix(filepath.ToSlash(f.Skipped[0].Path), "train/cat/bad.jpg") || !strings.Contains(f.Skipped[0].Err.Error(), "JPEG") ||
				!strings.Contains(f.Skipped[1].Error(), "empty.png: empty image data") {
				t.Fatalf("skipped %v", f.Skipped)
			}
			if n := strings.Count(warn.String(), "datasets: skipping "); n != 2 {
				t.Fatalf("warnings:\n%s", warn.String())
			}
			d, err := f.Dataset()
			if err != nil || len(d.Skipped) != 2 || d.Len() != len(want) {
				t.Fatalf("dataset: %v", err)
			}
		})
	}
}

func TestReadFolderSplits(t *testing.T) {
	files := []file{
		{"test/a/1.png", pngImage(t, 4, 4, 1)},
		{"train/a/1.png", pngImage(t, 4, 4, 2)},
		{"train/b/1.png", pngImage(t, 4, 4, 3)},
	}
	for kind, src := range sources(t, files) {
		for split, n := range map[Split]int{Train: 2, Test: 1} {
			f, err := ReadFolder(src, split, Options{})
			if err != nil || len(f.Examples) != n || f.Root != split.String()+"/" {
				t.Fatalf("%s %s: %v", kind, split, err)
			}
		}
	}
	// A later archive member of the same name replaces the earlier one.
	dup := append(slices.Clone(files[1:]), file{"train/a/1.png", pngImage(t, 4, 4, 7)})
	f, err := ReadFolder(writeFile(t, "dup.tar", tarBytes(t, dup, false)), Train, Options{})
	if err != nil || len(f.Examples) != 2 {
		t.Fatalf("duplicates: %v", err)
	}
	img, _ := imageproc.Decode(bytes.NewReader(pngImage(t, 4, 4, 7)), 0)
	if !slices.Equal(f.Examples[0].Image.Pix, img.Pix) {
		t.Fatal("duplicate member: the earlier one was kept")
	}
}

func TestReadFolderResize(t *testing.T) {
	files := []file{
		{"a/1.png", pngImage(t, 10, 7, 1)},
		{"b/1.png", pngImage(t, 5, 5, 2)},
		{"b/2.png", pngImage(t, 6, 4, 3)},
	}
	src := writeDir(t, files)
	f, err := ReadFolder(src, Train, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Dataset(); err == nil || !strings.Contains(err.Error(), "images differ in size") || !strings.Contains(err.Error(), "5x5") {
		t.Fatalf("mixed sizes: %v", err)
	}
	for _, filter := range []imageproc.Filter{imageproc.Bilinear, imageproc.Nearest} {
		d, err := Spec{"folder", src}.Dataset(Train, Options{Width: 6, Height: 4, Filter: filter})
		if err != nil {
			t.Fatal(err)
		}
		if d.W != 6 || d.H != 4 || d.Len() != 3 {
			t.Fatalf("%v: %dx%d, %d images", filter, d.W, d.H, d.Len())
		}
		for i, fl := range files {
			src, _ := imageproc.Decode(bytes.NewReader(fl.data), 0)
			if want := imageproc.Resize(src, 6, 4, filter); !slices.Equal(d.RGB(i).Pix, want.Pix) {
				t.Fatalf("%v: image %d is not imageproc.Resize's", filter, i)
			}
		}
	}
	if _, err := ReadFolder(src, Train, Options{Width: 6}); err == nil || !strings.Contains(err.Error(), "both width and height") {
		t.Fatalf("half a size: %v", err)
	}
}

func TestReadFolderErrors(t *testing.T) {
	cases := []struct {
		name  string
		files []file
		want  string
	}{
		{"no images", []file{{"a/readme.txt", []byte("x")}}, "holds no image files"},
		{"loose", []file{{"1.png", pngImage(t, 2, 2, 1)}}, "no class folders"},
		{"all bad", []file{{"a/1.png", []byte("nope")}}, "no readable images"},
	}
	for _, c := range cases {
		for kind, src := range sources(t, c.files) {
			if _, err := ReadFolder(src, Train, Options{OnBadImage: BadImageSkip}); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s %s: error %v, want %q", c.name, kind, err, c.want)
			}
		}
	}
	// A damaged archive is an error of the archive, whatever the policy.
	gz := tarBytes(t, []file{{"a/1.png", pngImage(t, 64, 64, 1)}, {"a/2.png", pngImage(t, 64, 64, 2)}}, true)
	_, err := ReadFolder(writeFile(t, "cut.tar.gz", gz[:len(gz)/2]), Train, Options{OnBadImage: BadImageSkip})
	if err == nil || !strings.Contains(err.Error(), "cut.tar.gz") {
		t.Fatalf("truncated archive: %v", err)
	}
	if _, err := ReadFolder(filepath.Join(t.TempDir(), "missing"), Train, Options{}); err == nil {
		t.Fatal("missing path accepted")
	}
}

// Many images through the parallel decoders: order and content must not depend on timing.
func TestReadFolderManyImages(t *testing.T) {
	var files []file
	for i := range 300 {
		files = append(files, file{fmt.Sprintf("c%d/%03d.png", i%4, i), pngImage(t, 3, 3, i)})
	}
	src := writeFile(t, "many.tar.gz", tarBytes(t, files, true))
	a, err := ReadFolder(src, Train, Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := ReadFolder(src, Train, Options{Workers: 8})
	if err != nil {
		t.Fatal(err)
	}
	sameExamples(t, "1 vs 8 workers", a.Examples, b.Examples)
	if !slices.Equal(a.Paths, b.Paths) || len(a.Examples) != 300 {
		t.Fatal("paths differ")
	}
}

// An image stored sideways with EXIF orientation 6 (imageproc's Pillow
// fixture) comes out upright, as the datasets library's Image feature decodes
// it, and as stored with KeepOrientation, as torchvision's ImageFolder reads
// it; Listed.Decode (the streaming path) follows the same option.
func TestReadFolderOrientation(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "imageproc", "testdata", "orientation", "png_o6.png"))
	if err != nil {
		t.Fatal(err)
	}
	src := writeDir(t, []file{{"a/1.png", data}})
	for _, keep := range []bool{false, true} {
		opts := Options{KeepOrientation: keep}
		f, err := ReadFolder(src, Train, opts)
		if err != nil {
			t.Fatal(err)
		}
		img := f.Examples[0].Image
		w, h := 5, 7 // upright
		if keep {
			w, h = 7, 5
		}
		if img.W != w || img.H != h {
			t.Errorf("KeepOrientation %v: image %dx%d, want %dx%d", keep, img.W, img.H, w, h)
		}
		opts.lazy = true
		l, err := ReadFolder(src, Train, opts)
		if err != nil || len(l.Listed) != 1 {
			t.Fatalf("listing: %v", err)
		}
		dec, err := l.Listed[0].Decode(opts)
		if err != nil || dec.W != w || !slices.Equal(dec.Pix, img.Pix) {
			t.Errorf("KeepOrientation %v: Listed.Decode differs from ReadFolder (%v)", keep, err)
		}
	}
}

// TestReadFolderNotesLeftOut: files that are not of ImageFolder's types (a class folder's
// .gif and .jfif photos, a notes file) are left out as torchvision leaves them out, and
// named in one note to Warn; hidden litter is not.
func TestReadFolderNotesLeftOut(t *testing.T) {
	files, _ := tree(t)
	files = append(files,
		file{"train/cat/photo.gif", []byte("GIF89a")},
		file{"train/dog/photo.JFIF", jpegImage(t, 8, 6, 1)},
		file{"train/dog/other.jfif", jpegImage(t, 8, 6, 2)},
	)
	for kind, src := range sources(t, files) {
		var warn bytes.Buffer
		if _, err := ReadFolder(src, Train, Options{Warn: &warn}); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		want := "4 files (.gif, .jfif ×2, .txt) left out, not of the types torchvision's ImageFolder takes (.jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp)\n"
		if got := warn.String(); !strings.HasPrefix(got, "note: folder:"+src+": ") || !strings.HasSuffix(got, want) || strings.Count(got, "\n") != 1 {
			t.Errorf("%s: Warn got %q, want one note ending %q", kind, got, want)
		}
	}
}
