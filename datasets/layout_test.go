package datasets

import (
	"slices"
	"strings"
	"testing"
)

func TestResolveLayout(t *testing.T) {
	cases := []struct {
		name    string
		rels    []string
		split   Split
		root    string
		classes []string
		err     string
	}{
		{"flat", []string{"b/1.jpg", "a/2.jpg", "a/1.jpg"}, Train, "", []string{"a", "b"}, ""},
		{"single top", []string{"train/cat/1.jpg", "train/dog/1.jpg"}, Test, "train/", []string{"cat", "dog"}, ""},
		{"two levels", []string{"data/train/cat/1.jpg", "data/train/dog/1.jpg"}, Train, "data/train/", []string{"cat", "dog"}, ""},
		{"split test", []string{"train/cat/1.jpg", "test/cat/1.jpg", "test/dog/2.jpg"}, Test, "test/", []string{"cat", "dog"}, ""},
		{"split train", []string{"train/cat/1.jpg", "val/cat/1.jpg"}, Train, "train/", []string{"cat"}, ""},
		{"split missing", []string{"train/cat/1.jpg", "training/cat/1.jpg"}, Test, "", nil, "none for the test split"},
		// One class holding a sub-folder and loose images is one class, not a descent.
		{"one class", []string{"cat/1.jpg", "cat/more/2.jpg"}, Train, "", []string{"cat"}, ""},
		{"loose at top", []string{"x.jpg", "cat/1.jpg"}, Train, "", []string{"cat"}, ""},
		{"nested class", []string{"cat/a/1.jpg", "dog/b/2.jpg"}, Train, "", []string{"cat", "dog"}, ""},
		{"no folders", []string{"1.jpg", "2.jpg"}, Train, "", nil, "no class folders (expected SRC/<class>/<image>, found only 2 loose images)"},
		{"nothing", nil, Train, "", nil, "holds no image files"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lay, err := resolveLayout(c.rels, c.split, "SRC")
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if lay.root != c.root || !slices.Equal(lay.classes, c.classes) {
				t.Fatalf("root %q classes %v, want %q %v", lay.root, lay.classes, c.root, c.classes)
			}
		})
	}
}

func TestIsImageName(t *testing.T) {
	for name, want := range map[string]bool{
		"cat/1.jpg": true, "cat/1.JPEG": true, "cat/1.png": true, "cat/1.webp": true, "cat/x.pgm": true,
		"cat/1.gif": false, "cat/notes.txt": false, "cat/.DS_Store": false, "cat/._1.jpg": false,
		".ipynb_checkpoints/1.jpg": false, "cat/jpg": false,
	} {
		if got := isImageName(name); got != want {
			t.Errorf("isImageName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestCleanMember(t *testing.T) {
	for name, want := range map[string]string{
		"./train/a.jpg": "train/a.jpg", "train//a.jpg": "train/a.jpg", "/abs/a.jpg": "abs/a.jpg",
		"../evil.jpg": "", "a/../../b.jpg": "", "./": "",
	} {
		got, ok := cleanMember(name)
		if got != want || ok != (want != "") {
			t.Errorf("cleanMember(%q) = %q %v, want %q", name, got, ok, want)
		}
	}
}
