package datasets

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// Spec.List gives what LoadWithOptions gives, undecoded: the same paths and labels in the
// same order, each Listed decoding to the Example's pixels, for directories, archives and
// hf: datasets; an image that does not decode is listed and fails only in Decode.
func TestListMatchesLoad(t *testing.T) {
	files, _ := tree(t)
	good := jpegImage(t, 8, 6, 1)
	bad := append(slices.Clone(files), file{"train/cat/bad.jpg", good[:len(good)/2]})
	hfFixtureHub(t)
	cases := map[string]Spec{"hf": {Kind: "hf", Path: "acme/cifar20"}, "hf with a bad image": {Kind: "hf", Path: "acme/badimage"}}
	for kind, src := range sources(t, files) {
		cases[kind] = Spec{Kind: "folder", Path: src}
	}
	for kind, src := range sources(t, bad) {
		cases[kind+" with a bad image"] = Spec{Kind: "folder", Path: src}
	}
	for name, spec := range cases {
		t.Run(name, func(t *testing.T) {
			split := Train
			if spec.Kind == "hf" {
				split = Test
			}
			f, err := spec.List(split, Options{Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Examples) != 0 || len(f.Listed) != len(f.Paths) {
				t.Fatalf("%d examples, %d listed, %d paths", len(f.Examples), len(f.Listed), len(f.Paths))
			}
			ex, classes, skipped, err := spec.LoadWithOptions(split, Options{OnBadImage: BadImageSkip})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(classes, f.Classes) || len(f.Listed) != len(ex)+len(skipped) || len(f.Skipped) != 0 {
				t.Fatalf("listed %d (%v), loaded %d + %d skipped (%v)", len(f.Listed), f.Classes, len(ex), len(skipped), classes)
			}
			k := 0
			var failed []string
			for i, l := range f.Listed {
				img, err := l.Decode(Options{})
				if err != nil {
					failed = append(failed, l.Name)
					continue
				}
				if l.Name != f.Paths[i] || l.Label != ex[k].Label || img.W != ex[k].Image.W || !bytes.Equal(img.Pix, ex[k].Image.Pix) {
					t.Fatalf("listed %d (%s, label %d) differs from loaded example %d (label %d)", i, l.Name, l.Label, k, ex[k].Label)
				}
				k++
			}
			var want []string
			for _, b := range skipped {
				want = append(want, b.Path)
			}
			if !slices.Equal(failed, want) || (strings.Contains(name, "bad") != (len(want) == 1)) {
				t.Fatalf("failed to decode %v; loading skipped %v", failed, want)
			}
		})
	}
	if _, err := (Spec{Kind: "cifar10", Path: "x"}).List(Test, Options{}); err == nil {
		t.Error("listed a cifar10 dataset")
	}
}
