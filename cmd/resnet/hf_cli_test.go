package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/hub/hubtest"
)

const (
	hfMainCommit    = "1234567890123456789012345678901234567890"
	hfConvertCommit = "abcdefabcdefabcdefabcdefabcdefabcdefabcd"
)

// hfHub serves, from the Parquet fixtures npm hyparquet-writer wrote from the 20 CIFAR-10 test
// PNGs (tools/fixtures/gen_parquet.mjs): acme/cifar20 (two test shards on main, bytes inline),
// acme/scripted (nothing but a script on main; refs/convert/parquet holds a test shard of 6
// images stored by path, and the images), acme/broken (a truncated shard). It returns the
// server, the environment for the binary, and the PNGs in row order.
func hfHub(t *testing.T) (*hubtest.Server, []string, []string) {
	t.Helper()
	td := filepath.Join("..", "..", "datasets", "hfparquet", "testdata")
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pngs, _ := filepath.Glob(filepath.Join(shared(t), "data", "images", "cifar10-test-png", "cifar10_*.png"))
	if len(pngs) != 20 {
		t.Fatalf("want the 20 CIFAR-10 PNGs in ../shared/data/images/cifar10-test-png, found %d", len(pngs))
	}
	slices.Sort(pngs)
	shard0 := read(filepath.Join(td, "cifar20/plain_text/test-00000-of-00002.parquet"))
	convert := map[string][]byte{"default/test/0000.parquet": read(filepath.Join(td, "paths/train.parquet"))}
	for _, p := range pngs {
		convert["images/"+filepath.Base(p)] = read(p)
	}
	srv := hubtest.NewDatasetServer(map[string]*hubtest.Repo{
		"acme/cifar20": {Refs: map[string]string{"main": hfMainCommit}, Commits: map[string]map[string][]byte{hfMainCommit: {
			"plain_text/test-00000-of-00002.parquet": shard0,
			"plain_text/test-00001-of-00002.parquet": read(filepath.Join(td, "cifar20/plain_text/test-00001-of-00002.parquet")),
		}}},
		"acme/scripted": {Refs: map[string]string{"main": hfMainCommit, "refs/convert/parquet": hfConvertCommit}, Commits: map[string]map[string][]byte{
			hfMainCommit:    {"scripted.py": []byte("# a loading script\n")},
			hfConvertCommit: convert,
		}},
		"acme/renamed": {Refs: map[string]string{"main": hfMainCommit}, Commits: map[string]map[string][]byte{hfMainCommit: {
			"data/test-00000-of-00001.parquet": read(filepath.Join(td, "renamed/test.parquet")),
		}}},
		"acme/unmatched": {Refs: map[string]string{"main": hfMainCommit}, Commits: map[string]map[string][]byte{hfMainCommit: {
			"data/test-00000-of-00001.parquet": read(filepath.Join(td, "unmatched/test.parquet")),
		}}},
		"acme/broken": {Refs: map[string]string{"main": hfMainCommit}, Commits: map[string]map[string][]byte{hfMainCommit: {
			"data/test-00000-of-00001.parquet": shard0[:len(shard0)-100],
		}}},
	})
	t.Cleanup(srv.Close)
	env := append(os.Environ(), "HF_HOME="+t.TempDir(), "HF_HUB_CACHE=", "HUGGINGFACE_HUB_CACHE=",
		"HF_ENDPOINT="+srv.URL, "HF_TOKEN=", "HF_HUB_OFFLINE=", "TRANSFORMERS_OFFLINE=")
	return srv, env, pngs
}

func runWith(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	return runCmd(t, env, nil, args...)
}

// classifyLines parses classify --json output.
func classifyLines(t *testing.T, out string) []classifyResult {
	t.Helper()
	var rs []classifyResult
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r classifyResult
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("bad JSON line %q: %v", l, err)
		}
		rs = append(rs, r)
	}
	return rs
}

// eval and classify on a hub dataset give the predictions (and the logits, bit for bit) that
// classify gives on the PNG files the Parquet rows were made from; online, then offline.
func TestHFDatasetCLI(t *testing.T) {
	srv, env, pngs := hfHub(t)
	files, errOut, code := runWith(t, env, append([]string{"classify", "--json", "--logits", "-k", "1"}, pngs...)...)
	if code != 0 {
		t.Fatalf("classify files: %s", errOut)
	}
	want := classifyLines(t, files)
	wantTop := make([]int, len(want))
	correct := 0
	for i, r := range want {
		wantTop[i] = r.Top[0].Index
		if label, _ := strconv.Atoi(pngs[i][len(pngs[i])-5 : len(pngs[i])-4]); label == wantTop[i] {
			correct++
		}
	}

	same := func(t *testing.T, what string, got []classifyResult, first int) {
		t.Helper()
		if len(got) == 0 || first+len(got) > len(want) {
			t.Fatalf("%s: %d results", what, len(got))
		}
		for i, g := range got {
			w := want[first+i]
			if g.Error != "" || !reflect.DeepEqual(g.Top, w.Top) || !slices.Equal(g.Logits, w.Logits) {
				t.Errorf("%s row %d (%s): %+v, want %+v as for %s", what, i, g.Image, g.Top, w.Top, pngs[first+i])
			}
		}
	}
	hfClassify := func(t *testing.T, env []string, args ...string) []classifyResult {
		t.Helper()
		out, errOut, code := runWith(t, env, append([]string{"classify", "--json", "--logits", "-k", "1"}, args...)...)
		if code != 0 {
			t.Fatalf("classify %v: exit %d: %s", args, code, errOut)
		}
		return classifyLines(t, out)
	}
	evalPreds := func(t *testing.T, env []string, ds string) ([]int, evalResult) {
		t.Helper()
		preds := filepath.Join(t.TempDir(), "p.txt")
		out, errOut, code := runWith(t, env, "eval", "--dataset", ds, "--json", "--predictions", preds, "-q")
		if code != 0 {
			t.Fatalf("eval %s: exit %d: %s", ds, code, errOut)
		}
		return readPredictions(t, preds), parseEval(t, out)
	}

	check := func(t *testing.T, env []string) {
		got := hfClassify(t, env, "hf://datasets/acme/cifar20")
		same(t, "hf://datasets/acme/cifar20", got, 0)
		if len(got) != 20 || got[19].Image != "hf://datasets/acme/cifar20/test/19" {
			t.Errorf("%d results, last named %q", len(got), got[len(got)-1].Image)
		}
		// Images stored by path, on refs/convert/parquet; --dataset is the same as the argument.
		same(t, "hf:acme/scripted", hfClassify(t, env, "--dataset", "hf:acme/scripted"), 0)
		p, r := evalPreds(t, env, "hf:acme/cifar20")
		t.Logf("eval on hf:acme/cifar20: %+v", r)
		if !slices.Equal(p, wantTop) || r.Total != 20 || r.Correct != correct || r.ClassesMatched != 10 || r.ClassesTotal != 10 || r.ClassMapping != "name" {
			t.Errorf("eval: predictions %v, %+v; want %v, %d correct, 10 of 10 classes by name", p, r, wantTop, correct)
		}
		p, r = evalPreds(t, env, "hf:acme/scripted@refs/convert/parquet/test")
		if !slices.Equal(p, wantTop[:6]) || r.Total != 6 {
			t.Errorf("eval on the path-only shard: %v, %+v; want %v", p, r, wantTop[:6])
		}
	}
	check(t, env)
	// Class names unlike the model's ("Dog", "cat": the dataset's 0 is a dog) are mapped by
	// name; predictions stay model class indices.
	var catDog, catDogTop []int
	for i, png := range pngs {
		if l := png[len(png)-5]; l == '3' || l == '5' {
			catDog = append(catDog, i)
			catDogTop = append(catDogTop, wantTop[i])
		}
	}
	p, r := evalPreds(t, env, "hf:acme/renamed")
	right := 0
	for k, i := range catDog {
		if l := pngs[i][len(pngs[i])-5]; (l == '3' && p[k] == 3) || (l == '5' && p[k] == 5) {
			right++
		}
	}
	if !slices.Equal(p, catDogTop) || r.ClassesMatched != 2 || r.ClassesTotal != 2 || r.Correct != right || r.Total != 4 {
		t.Errorf("eval on [Dog, cat]: predictions %v, %+v; want %v, %d right, 2 of 2 classes matched", p, r, catDogTop, right)
	}
	if out, _, _ := runWith(t, env, "eval", "--dataset", "hf:acme/renamed", "-q"); !strings.Contains(out, "2 of 2 classes matched by name") {
		t.Errorf("eval says %q", out)
	}
	// Offline with the hub gone: the same answers from the huggingface_hub cache.
	srv.Close()
	check(t, append(env, "HF_HUB_OFFLINE=1"))

	// embed: one row per dataset image, named in X.paths.txt.
	npy := filepath.Join(t.TempDir(), "emb.npy")
	if _, errOut, code := runWith(t, append(env, "HF_HUB_OFFLINE=1"), "embed", "--output", npy, "hf://datasets/acme/scripted"); code != 0 {
		t.Fatalf("embed: %s", errOut)
	}
	if b, err := os.ReadFile(strings.TrimSuffix(npy, ".npy") + ".paths.txt"); err != nil || strings.Count(string(b), "hf://datasets/acme/scripted/test/") != 6 {
		t.Errorf("embed paths: %q, %v", b, err)
	}
}

func TestHFDatasetCLIErrors(t *testing.T) {
	_, env, _ := hfHub(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--dataset", "hf:acme/broken"}, "data/test-00000-of-00001.parquet"},
		{[]string{"classify", "hf://datasets/acme/broken"}, "not a readable Parquet file"},
		{[]string{"eval", "--dataset", "hf:acme/cifar20", "--image-column", "image"}, `no image column "image" (columns: img, label)`},
		{[]string{"eval", "--dataset", "hf:acme/cifar20/train"}, `no split "train" (splits: test)`},
		{[]string{"eval", "--dataset", "hf:acme/unmatched"}, "zebra"},
		{[]string{"classify", "--dataset", "folder:x"}, "classify and embed read hf:"},
		{[]string{"classify"}, "no images"},
	}
	for _, tc := range tests {
		_, errOut, code := runWith(t, env, tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want an error saying %q", tc.args, code, errOut, tc.want)
		}
	}
}

// train reads a hub dataset like any kind: the named split for training and, having been
// given one split, no test error on that same data.
func TestHFDatasetTrain(t *testing.T) {
	_, env, _ := hfHub(t)
	out := filepath.Join(t.TempDir(), "run")
	_, errOut, code := runWith(t, env, "train", "--arch", "cifar-resnet8", "--dataset", "hf:acme/cifar20/test", "--epochs", "1", "--batch", "10", "--out", out, "-q")
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "read 20 training images (10 classes)") || !strings.Contains(errOut, "names one split; training without test error") {
		t.Errorf("train said %q", errOut)
	}
	if _, err := os.Stat(filepath.Join(out, "metrics.jsonl")); err != nil {
		t.Error(err)
	}
	// Without a split, train wants "train", which acme/cifar20 does not have.
	if _, errOut, code := runWith(t, env, "train", "--arch", "cifar-resnet8", "--dataset", "hf:acme/cifar20", "--epochs", "1", "--out", out+"2", "-q"); code == 0 || !strings.Contains(errOut, "no train split (splits: test)") {
		t.Errorf("train without a train split: exit %d, %q", code, errOut)
	}
}
