package datasets

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/hub"
	"github.com/resnet-go/resnet/hub/hubtest"
	"github.com/resnet-go/resnet/imageproc"
	"github.com/resnet-go/resnet/internal/testenv"
)

func TestParseHFRef(t *testing.T) {
	tests := []struct {
		in   string
		want HFRef
		err  string
	}{
		{"huggingface/cats-image", HFRef{Repo: "huggingface/cats-image"}, ""},
		{"uoft-cs/cifar10:plain_text@main/test", HFRef{"uoft-cs/cifar10", "plain_text", "main", "test"}, ""},
		{"uoft-cs/cifar10/train", HFRef{Repo: "uoft-cs/cifar10", Split: "train"}, ""},
		{"a/b@refs/convert/parquet", HFRef{Repo: "a/b", Revision: "refs/convert/parquet"}, ""},
		{"a/b:image@refs/convert/parquet/test", HFRef{"a/b", "image", "refs/convert/parquet", "test"}, ""},
		{"a/b@refs/pr/1/train", HFRef{Repo: "a/b", Revision: "refs/pr/1", Split: "train"}, ""},
		{"a/b@v2", HFRef{Repo: "a/b", Revision: "v2"}, ""},
		{"cifar10", HFRef{}, "no ORG/NAME"},
		{"a/b:", HFRef{}, "empty CONFIG"},
		{"a/b@", HFRef{}, "incomplete REV"},
		{"a/b@refs/convert", HFRef{}, "incomplete REV"},
		{"a/b/", HFRef{}, "SPLIT must be one name"},
		{"a/b/test/x", HFRef{}, "SPLIT must be one name"},
		{"a/../b", HFRef{}, "invalid repo id"},
	}
	for _, tc := range tests {
		got, err := ParseHFRef(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want || got.String() != tc.in {
			t.Errorf("%q: %+v (%v), want %+v and the same string back", tc.in, got, err, tc.want)
		}
	}
}

func TestParquetGroups(t *testing.T) {
	files := []string{
		"README.md",
		"plain_text/test-00001-of-00002.parquet", "plain_text/test-00000-of-00002.parquet",
		"plain_text/train-00000-of-00001.parquet",
		"data/validation-00000-of-00001.parquet",
		"image/partial-train/0001.parquet", "image/partial-train/0000.parquet",
		"test.parquet", "a/b/c/d.parquet",
	}
	got := parquetGroups(files)
	want := map[string]map[string][]string{
		"plain_text": {"test": {"plain_text/test-00000-of-00002.parquet", "plain_text/test-00001-of-00002.parquet"}, "train": {"plain_text/train-00000-of-00001.parquet"}},
		"default":    {"validation": {"data/validation-00000-of-00001.parquet"}, "test": {"test.parquet"}},
		"image":      {"train": {"image/partial-train/0000.parquet", "image/partial-train/0001.parquet"}},
	}
	if len(got) != len(want) {
		t.Fatalf("groups %v, want %v", got, want)
	}
	for c, splits := range want {
		for s, fs := range splits {
			if !slices.Equal(got[c][s], fs) {
				t.Errorf("%s/%s: %v, want %v", c, s, got[c][s], fs)
			}
		}
	}
}

const (
	hfMain    = "1234567890123456789012345678901234567890"
	hfConvert = "abcdefabcdefabcdefabcdefabcdefabcdefabcd"
)

// hfFixtureHub serves the hyparquet-writer fixtures: acme/cifar20 with two test shards on
// main, acme/scripted with no Parquet on main and a path-only train shard plus its images on
// refs/convert/parquet, acme/broken with a truncated shard.
func hfFixtureHub(t *testing.T) (*hubtest.Server, []string) {
	t.Helper()
	td := filepath.Join(testenv.RepoRoot(t), "datasets", "hfparquet", "testdata")
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pngs, _ := filepath.Glob(filepath.Join(testenv.SharedDir(t), "data", "images", "cifar10-test-png", "cifar10_*.png"))
	if len(pngs) != 20 {
		t.Fatalf("want 20 CIFAR-10 PNGs in ../shared/data/images/cifar10-test-png, found %d", len(pngs))
	}
	slices.Sort(pngs)
	shard0 := read(filepath.Join(td, "cifar20/plain_text/test-00000-of-00002.parquet"))
	convert := map[string][]byte{"default/train/0000.parquet": read(filepath.Join(td, "paths/train.parquet"))}
	for _, p := range pngs {
		convert["images/"+filepath.Base(p)] = read(p)
	}
	srv := hubtest.NewDatasetServer(map[string]*hubtest.Repo{
		"acme/cifar20": {Refs: map[string]string{"main": hfMain}, Commits: map[string]map[string][]byte{hfMain: {
			"README.md":                              []byte("---\nlicense: mit\n---\n"),
			"plain_text/test-00000-of-00002.parquet": shard0,
			"plain_text/test-00001-of-00002.parquet": read(filepath.Join(td, "cifar20/plain_text/test-00001-of-00002.parquet")),
		}}},
		"acme/scripted": {Refs: map[string]string{"main": hfMain, hub.ParquetRevision: hfConvert}, Commits: map[string]map[string][]byte{
			hfMain:    {"scripted.py": []byte("# a loading script\n")},
			hfConvert: convert,
		}},
		// No huggingface metadata: names from the card's YAML, or none at all.
		"acme/nometa": {Refs: map[string]string{"main": hfMain}, Commits: map[string]map[string][]byte{hfMain: {
			"README.md":                        []byte(cifarCard),
			"data/test-00000-of-00001.parquet": read(filepath.Join(td, "nometa/test.parquet")),
		}}},
		"acme/nonames": {Refs: map[string]string{"main": hfMain}, Commits: map[string]map[string][]byte{hfMain: {
			"data/test-00000-of-00001.parquet": read(filepath.Join(td, "nometa/test.parquet")),
		}}},
		"acme/badimage": {Refs: map[string]string{"main": hfMain}, Commits: map[string]map[string][]byte{hfMain: {
			"data/test-00000-of-00001.parquet": flipped(shard0, len(shard0)/3),
		}}},
		"acme/broken": {Refs: map[string]string{"main": hfMain}, Commits: map[string]map[string][]byte{hfMain: {
			"data/test-00000-of-00001.parquet": shard0[:len(shard0)*2/3],
		}}},
	})
	t.Cleanup(srv.Close)
	home := t.TempDir()
	t.Setenv("HF_HOME", home)
	t.Setenv("HF_HUB_CACHE", "")
	t.Setenv("HUGGINGFACE_HUB_CACHE", "")
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	t.Setenv("TRANSFORMERS_OFFLINE", "")
	return srv, pngs
}

func TestHFDataset(t *testing.T) {
	srv, pngs := hfFixtureHub(t)
	// The reference: each PNG decoded directly, as a folder dataset would.
	want := make([]*imageproc.RGB, len(pngs))
	labels := make([]int, len(pngs))
	for i, p := range pngs {
		img, err := imageproc.DecodeFile(p, 0)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = img
		labels[i] = int(p[len(p)-5] - '0')
	}
	check := func(t *testing.T, spec string, split Split, first, n int) {
		t.Helper()
		s, err := ParseSpec(spec)
		if err != nil {
			t.Fatal(err)
		}
		ex, classes, err := s.LoadWithClasses(split)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(classes, CIFAR10Classes) || len(ex) != n {
			t.Fatalf("%s: %d examples of %v, want %d of CIFAR-10's classes", spec, len(ex), classes, n)
		}
		for i, e := range ex {
			w := want[first+i]
			if e.Label != labels[first+i] || e.Image.W != w.W || !bytes.Equal(e.Image.Pix, w.Pix) {
				t.Errorf("%s example %d: label %d, %dx%d; want %s (label %d)", spec, i, e.Label, e.Image.W, e.Image.H, pngs[first+i], labels[first+i])
			}
		}
	}
	// Two shards in order, bytes inline; found on main.
	check(t, "hf:acme/cifar20", Test, 0, 20)
	check(t, "hf:acme/cifar20:plain_text@main/test", Test, 0, 20)
	// No Parquet on main: the refs/convert/parquet export; images stored by path in the repo.
	check(t, "hf:acme/scripted", Train, 0, 6)
	check(t, "hf:acme/scripted@refs/convert/parquet/train", Test, 0, 6)
	// Names from README.md when the Parquet has no metadata.
	check(t, "hf:acme/nometa", Test, 0, 4)
	// Dataset packs them (32x32 all) for training.
	d, err := Spec{Kind: "hf", Path: "acme/cifar20"}.Dataset(Test, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 20 || d.W != 32 || d.H != 32 || d.C != 3 || d.Source != "hf:acme/cifar20 (test)" || d.Paths[10] != "plain_text/test-00001-of-00002.parquet:10" {
		t.Errorf("Dataset: %d images %dx%dx%d from %q, path 10 %q", d.Len(), d.C, d.W, d.H, d.Source, d.Paths[10])
	}

	root := filepath.Join(os.Getenv("HF_HOME"), "hub", "datasets--acme--scripted")
	for ref, commit := range map[string]string{"main": hfMain, "refs/convert/parquet": hfConvert} {
		if b, err := os.ReadFile(filepath.Join(root, "refs", filepath.FromSlash(ref))); err != nil || string(b) != commit {
			t.Errorf("refs/%s: %q, %v", ref, b, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "snapshots", hfConvert, "images", filepath.Base(pngs[0]))); err != nil {
		t.Errorf("path-only image not in the snapshot: %v", err)
	}

	errs := []struct{ spec, want string }{
		{"hf:acme/scripted", "no test split (splits: train)"},
		{"hf:acme/cifar20:other", `no config "other" (configs: plain_text)`},
		{"hf:acme/cifar20/validation", `no split "validation" (splits: test)`},
		{"hf:acme/nope", "repository not found"},
		{"hf:acme/broken", "data/test-00000-of-00001.parquet"},
		// A damaged PNG inside intact Parquet pages: the row is named.
		{"hf:acme/badimage", "data/test-00000-of-00001.parquet:3: "},
		{"hf:acme/nonames", `no class names: the Parquet files carry no huggingface metadata with a ClassLabel for column "label", and README.md lists none`},
	}
	for _, tc := range errs {
		s, err := ParseSpec(tc.spec)
		if err == nil {
			_, _, err = s.LoadWithClasses(Test)
		}
		t.Logf("%s: %v", tc.spec, err)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.spec, err, tc.want)
		}
	}
	// Skipping bad images leaves that row out and lists it.
	var warn strings.Builder
	bad, err := Spec{Kind: "hf", Path: "acme/badimage"}.Dataset(Test, Options{OnBadImage: BadImageSkip, Warn: &warn})
	if err != nil || bad.Len() != 9 || len(bad.Skipped) != 1 || bad.Skipped[0].Path != "data/test-00000-of-00001.parquet:3" || !strings.Contains(warn.String(), ":3: decoding PNG") {
		t.Errorf("skipping: %v; %q", err, warn.String())
	} else if bad.Labels[3] != labels[4] {
		t.Errorf("after the skipped row, label %d, want %d", bad.Labels[3], labels[4])
	}
	// Columns named by hand: a wrong one is refused with the file's columns.
	s, _ := ParseSpec("hf:acme/cifar20")
	if _, _, _, err := s.LoadWithOptions(Test, Options{ImageColumn: "image"}); err == nil || !strings.Contains(err.Error(), `no image column "image" (columns: img, label)`) {
		t.Errorf("bad --image-column: %v", err)
	}

	// Offline, with the hub gone: the same examples from the cache.
	srv.Close()
	t.Setenv("HF_HUB_OFFLINE", "1")
	check(t, "hf:acme/cifar20", Test, 0, 20)
	check(t, "hf:acme/scripted", Train, 0, 6)
	if _, _, err := (Spec{Kind: "hf", Path: "acme/never"}).LoadWithClasses(Test); err == nil || !strings.Contains(err.Error(), "HF_HUB_OFFLINE") {
		t.Errorf("offline miss: %v", err)
	}
	// Offline, main never listed but the export cached: found without naming the revision.
	if err := os.RemoveAll(filepath.Join(root, "refs", "main")); err != nil {
		t.Fatal(err)
	}
	check(t, "hf:acme/scripted", Train, 0, 6)
}

// cifarCard is the YAML head of uoft-cs/cifar10's README (abridged), names as a mapping.
const cifarCard = `---
license: unknown
dataset_info:
  config_name: plain_text
  features:
  - name: img
    dtype: image
  - name: label
    dtype:
      class_label:
        names:
          '0': airplane
          '1': automobile
          '2': bird
          '3': cat
          '4': deer
          '5': dog
          '6': frog
          '7': horse
          '8': ship
          '9': truck
  splits:
  - name: test
    num_examples: 10000
---
# CIFAR-10
`

func TestReadmeClassNames(t *testing.T) {
	twoConfigs := `---
dataset_info:
- config_name: a
  features:
  - name: label
    dtype:
      class_label:
        names: [cat, dog]
- config_name: b
  features:
  - name: label
    dtype:
      class_label:
        names:
          '0': p
          '1': q
          '2': r
---
`
	tests := []struct {
		name, card, config, column string
		want                       []string
	}{
		{"mapping", cifarCard, "plain_text", "label", CIFAR10Classes},
		{"other column", cifarCard, "plain_text", "img", nil},
		{"list, config a", twoConfigs, "a", "label", []string{"cat", "dog"}},
		{"map, config b", twoConfigs, "b", "label", []string{"p", "q", "r"}},
		{"unknown config", twoConfigs, "c", "label", nil},
		{"gap in indices", "---\ndataset_info:\n  features:\n  - name: l\n    dtype:\n      class_label:\n        names:\n          '0': a\n          '2': c\n---\n", "", "l", nil},
		{"no front matter", "# CIFAR-10\n", "", "label", nil},
		{"unterminated", "---\ndataset_info: {}\n", "", "label", nil},
		{"bad yaml", "---\ndataset_info: [\n---\n", "", "label", nil},
	}
	for _, tc := range tests {
		if got := readmeClassNames([]byte(tc.card), tc.config, tc.column); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// flipped damages 16 bytes of b from at on.
func flipped(b []byte, at int) []byte {
	b = slices.Clone(b)
	for i := at; i < at+16; i++ {
		b[i] ^= 0x5a
	}
	return b
}
