package datasets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/imageproc"
)

func TestParseSpec(t *testing.T) {
	cases := []struct {
		in   string
		want Spec
		err  string
	}{
		{"cifar10:../shared/data/cifar10", Spec{"cifar10", "../shared/data/cifar10"}, ""},
		{"folder:x/train.tar.gz", Spec{"folder", "x/train.tar.gz"}, ""},
		{"fashion-mnist:/usr/share/datasets/fashion-mnist", Spec{"fashion-mnist", "/usr/share/datasets/fashion-mnist"}, ""},
		{"mnist:C:/data", Spec{"mnist", "C:/data"}, ""},
		{"cifar10", Spec{}, "want KIND:PATH"},
		{"cifar10:", Spec{}, "want KIND:PATH"},
		{"imagenet:/x", Spec{}, `unknown kind "imagenet" (known: cifar10, folder, mnist, fashion-mnist, hf)`},
		{"hf:uoft-cs/cifar10:plain_text@main/test", Spec{"hf", "uoft-cs/cifar10:plain_text@main/test"}, ""},
		{"hf:cifar10", Spec{}, "want hf:ORG/NAME[:CONFIG][@REV][/SPLIT]"},
	}
	for _, c := range cases {
		got, err := ParseSpec(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want || got.String() != c.in {
			t.Errorf("%q: %+v %v", c.in, got, err)
		}
	}
}

// cifarFolder is a CIFAR-10 image folder: one 32×32 PNG per class under prefix.
func cifarFolder(t testing.TB, prefix string, classes []string) []file {
	var files []file
	for i, c := range classes {
		files = append(files, file{prefix + c + "/0000.png", pngImage(t, 32, 32, i)})
	}
	return files
}

func TestCIFAR10SpecForms(t *testing.T) {
	bin := cifarRecords(4)
	dir := writeDir(t, []file{{"test_batch.bin", bin}})
	os.WriteFile(filepath.Join(dir, "train-jpg.tar.gz"), tarBytes(t, cifarFolder(t, "train/", CIFAR10Classes), true), 0o644)
	spec := Spec{"cifar10", dir}

	test, err := spec.Dataset(Test, Options{})
	if err != nil || test.Len() != 4 || test.Paths != nil {
		t.Fatalf("binary test split: %v", err)
	}
	train, err := spec.Dataset(Train, Options{})
	if err != nil || train.Len() != 10 || train.Labels[9] != 9 || !strings.HasSuffix(train.Paths[9], "train-jpg.tar.gz:train/truck/0000.png") {
		t.Fatalf("image train split: %v", err)
	}
	if train.Source != "cifar10:"+dir+" (train)" {
		t.Errorf("source %q", train.Source)
	}
	ex, err := spec.Load(Test)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ParseCIFAR10(bin, "x")
	sameExamples(t, "Spec.Load", ex, want)

	// One batch file named directly.
	if d, err := (Spec{"cifar10", filepath.Join(dir, "test_batch.bin")}).Dataset(Train, Options{}); err != nil || d.Len() != 4 {
		t.Fatalf("file spec: %v", err)
	}
	// A resize applies to binary data too.
	if d, err := spec.Dataset(Test, Options{Width: 16, Height: 16, Filter: imageproc.Box}); err != nil || d.W != 16 {
		t.Fatalf("resized binary: %v", err)
	}

	// Class folders straight in DIR, and a <split>/ folder.
	for _, prefix := range []string{"", "test/"} {
		d := writeDir(t, cifarFolder(t, prefix, CIFAR10Classes))
		if got, err := (Spec{"cifar10", d}).Dataset(Test, Options{}); err != nil || got.Len() != 10 {
			t.Fatalf("folder %q: %v", prefix, err)
		}
	}

	bad := writeDir(t, cifarFolder(t, "train/", []string{"a", "b"}))
	cases := []struct {
		path string
		want string
	}{
		{t.TempDir(), "has neither data_batch_*.bin nor train*.tar[.gz] nor train/ nor class folders"},
		{bad, "has class folders [a b], not CIFAR-10's"},
		{filepath.Join(dir, "nope"), "no such file"},
	}
	for _, c := range cases {
		if _, err := (Spec{"cifar10", c.path}).Dataset(Train, Options{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.path, err, c.want)
		}
	}
}
