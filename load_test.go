package resnet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/hub"
	"github.com/resnet-go/resnet/tensor"
	"github.com/resnet-go/resnet/weights"
)

func fixture(name string) string { return filepath.Join("model", "testdata", name) }

func expected(t *testing.T, name string) weights.StateDict {
	t.Helper()
	exp, _, err := weights.ReadSafetensors(filepath.Join(fixture(name), "expected.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	return exp
}

func checkLogits(t *testing.T, m *Model, exp weights.StateDict) {
	t.Helper()
	in := exp["input"]
	got, err := m.Forward(&tensor.Tensor{Shape: in.Shape, Data: in.Data})
	if err != nil {
		t.Fatal(err)
	}
	want := exp["logits"]
	var peak, worst float64
	for i := range want.Data {
		peak = math.Max(peak, math.Abs(float64(want.Data[i])))
		worst = math.Max(worst, math.Abs(float64(got.Data[i]-want.Data[i])))
	}
	if worst > 1e-4*peak {
		t.Errorf("logits differ from PyTorch by %.3g (max |logit| %.3g)", worst, peak)
	}
}

func TestFromPretrainedSources(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name, fixture, path string
		opts                []Option
		errHas              string
	}{
		{"hf directory", "basic", fixture("basic"), nil, ""},
		// A weights file in an HF directory uses the config.json beside it (issue 9.6).
		{"safetensors file beside config.json", "basic", filepath.Join(fixture("basic"), "model.safetensors"), nil, ""},
		{"torchvision file beside config.json", "basic", filepath.Join(fixture("basic"), "torchvision.pth"), nil, ""},
		{"safetensors file alone needs arch", "basic", lone(t, fixture("basic"), "model.safetensors"), nil, "has no config.json beside it; say which architecture it is with --arch"},
		{"torchvision file alone needs arch", "basic", lone(t, fixture("basic"), "torchvision.pth"), nil, "--arch"},
		{"cifar legacy file with wrong arch", "cifar-a", lone(t, fixture("cifar-a"), "cifar.th"), []Option{WithArch("cifar-resnet20")}, "size mismatch"},
		{"cifar legacy file beside a config.json that --arch contradicts", "cifar-a", filepath.Join(fixture("cifar-a"), "cifar.th"), []Option{WithArch("cifar-resnet20")},
			"config.json describes another network than --arch cifar-resnet20 (embedding_size 4 there, 16 in --arch cifar-resnet20;"},
		{"unknown arch", "basic", filepath.Join(fixture("basic"), "torchvision.pth"), []Option{WithArch("resnet-19")}, "unknown architecture"},
		{"missing path", "basic", "./no/such/dir", nil, "no such file"},
		{"empty", "basic", "", nil, "no model given"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := FromPretrained(ctx, c.path, c.opts...)
			if settled(t, err, c.errHas) {
				return
			}
			checkLogits(t, m, expected(t, c.fixture))
		})
	}
}

// lone copies dir/name into a directory of its own, without the config files.
func lone(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Converting a legacy CIFAR checkpoint writes an HF directory that loads to the same logits.
func TestConvertRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src, err := LoadCheckpoint(ctx, fixture("cifar-a"))
	if err != nil {
		t.Fatal(err)
	}
	// Pair the legacy weights with the fixture's own config through a directory.
	tmp := t.TempDir()
	data, _ := os.ReadFile(filepath.Join(fixture("cifar-a"), "config.json"))
	th, _ := os.ReadFile(filepath.Join(fixture("cifar-a"), "cifar.th"))
	os.WriteFile(filepath.Join(tmp, "config.json"), data, 0o644)
	os.WriteFile(filepath.Join(tmp, "resnet.th"), th, 0o644)
	ck, err := LoadCheckpoint(ctx, tmp)
	if err != nil {
		t.Fatal(err)
	}
	if err := ck.Save(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config.json", "preprocessor_config.json", "model.safetensors"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("convert did not write %s", f)
		}
	}
	m, err := FromPretrained(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	checkLogits(t, m, expected(t, "cifar-a"))
	if m.Config.Stem != src.Config.Stem || m.Config.ShortcutType != "A" {
		t.Errorf("converted config lost the CIFAR stem or option A: %+v", m.Config)
	}
	if h, w := m.Processor.OutputSize(); h != 32 || w != 32 {
		t.Errorf("converted CIFAR model preprocesses to %dx%d, want 32x32", w, h)
	}
}

// fakeHub serves a model directory under /{repo}/resolve/{rev}/{file} the way the hub does:
// X-Repo-Commit and ETag headers, 404 EntryNotFound for absent files.
func fakeHub(t *testing.T, repo, dir string) (*httptest.Server, *int) {
	const commit = "0123456789abcdef0123456789abcdef01234567"
	gets := new(int)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		prefix := "/" + repo + "/resolve/main/"
		if !strings.HasPrefix(r.URL.Path, prefix) {
			w.Header().Set("X-Error-Code", "RepositoryNotFound")
			http.Error(w, "repo not found", http.StatusNotFound)
			return
		}
		data, err := os.ReadFile(filepath.Join(dir, strings.TrimPrefix(r.URL.Path, prefix)))
		w.Header().Set("X-Repo-Commit", commit)
		if err != nil {
			w.Header().Set("X-Error-Code", "EntryNotFound")
			http.Error(w, "entry not found", http.StatusNotFound)
			return
		}
		sum := sha256.Sum256(data)
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
		if r.Method == http.MethodGet {
			*gets++
		}
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return srv, gets
}

func TestFromPretrainedHub(t *testing.T) {
	srv, gets := fakeHub(t, "tiny/resnet-basic", fixture("basic"))
	cache := t.TempDir()
	client := &hub.Client{Endpoint: srv.URL, CacheDir: cache, HTTP: srv.Client()}
	ctx := context.Background()
	m, err := FromPretrained(ctx, "tiny/resnet-basic", WithHub(client))
	if err != nil {
		t.Fatal(err)
	}
	checkLogits(t, m, expected(t, "basic"))
	n := *gets
	if n != 2 { // config.json and model.safetensors; preprocessor_config.json is absent
		t.Errorf("%d GETs on first load, want 2", n)
	}
	// Offline, from the cache alone.
	off := &hub.Client{Endpoint: "http://127.0.0.1:1", CacheDir: cache, Offline: true}
	if _, err := FromPretrained(ctx, "tiny/resnet-basic", WithHub(off)); err != nil {
		t.Fatalf("offline load from cache: %v", err)
	}
	if _, err := FromPretrained(ctx, "tiny/other", WithHub(client)); err == nil {
		t.Error("loaded a repository the hub does not have")
	}
}

// Converting refuses weights no model would load, and writes nothing.
func TestSaveRefusesNonFinite(t *testing.T) {
	ck, err := LoadCheckpoint(context.Background(), fixture("basic"))
	if err != nil {
		t.Fatal(err)
	}
	sd, err := weights.Materialize(ck.Weights)
	if err != nil {
		t.Fatal(err)
	}
	name := "resnet.embedder.embedder.convolution.weight"
	sd[name].Data[5] = float32(math.Inf(-1))
	ck.Weights = sd
	dir := filepath.Join(t.TempDir(), "out")
	err = ck.Save(dir)
	if err == nil || !strings.Contains(err.Error(), `"`+name+`" has a non-finite value (-Inf) at index 5`) {
		t.Fatalf("Save: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Save wrote %s despite refusing", dir)
	}
}

// TestArchBesideConfig checks --arch against a config.json that is there: the same network
// loads with the config's labels and preprocessing, another one is refused with what differs
// (it used to replace the config silently: v1.5 weights ran as v1), and a config.json that
// is no ResNet's leaves --arch to describe the weights.
func TestArchBesideConfig(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ck, err := RandomCheckpoint("cifar-resnet20", 1)
	if err != nil {
		t.Fatal(err)
	}
	ck.Config.SetLabels([]string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"})
	ck.Processor.ShortestEdge, ck.Processor.Height, ck.Processor.Width = 0, 40, 40
	if err := ck.Save(dir); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "model.safetensors")
	other := t.TempDir() // a weights file beside a config.json of another kind of model
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "model.safetensors"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "config.json"), []byte(`{"model_type": "bert", "hidden_size": 768}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// From the hub too, with and without the weights (info reads the config alone).
	srv, _ := fakeHub(t, "acme/r20", dir)
	client := &hub.Client{Endpoint: srv.URL, CacheDir: t.TempDir(), HTTP: srv.Client()}
	for _, opts := range [][]Option{{WithArch("cifar-resnet56")}, {WithArch("cifar-resnet56"), ConfigOnly()}} {
		if _, err := LoadCheckpoint(ctx, "acme/r20", append(opts, WithHub(client))...); err == nil || !strings.Contains(err.Error(), "depths [3 3 3] there, [9 9 9] in --arch cifar-resnet56") {
			t.Errorf("hub, %d options: error %v, want the depths named", len(opts), err)
		}
	}
	if ck, err := LoadCheckpoint(ctx, "acme/r20", WithArch("cifar-resnet20"), ConfigOnly(), WithHub(client)); err != nil || ck.Config.ID2Label[0] != "a" {
		t.Errorf("hub, the same network: %v", err)
	}
	for _, c := range []struct {
		name, path, arch, errHas string
		labels                   bool // the config.json's class names came with it
	}{
		{"directory, same network", dir, "cifar-resnet20", "", true},
		{"file, same network", file, "cifar-resnet20", "", true},
		{"directory, another depth", dir, "cifar-resnet56", "depths [3 3 3] there, [9 9 9] in --arch cifar-resnet56); drop --arch", false},
		{"file, another depth", file, "cifar-resnet56", filepath.Join(dir, "config.json") + " describes another network than --arch cifar-resnet56", false},
		{"file, the plain twin", file, "cifar-plain20", "plain false there, true in --arch cifar-plain20", false},
		{"beside a config.json of no ResNet", filepath.Join(other, "model.safetensors"), "cifar-resnet20", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ck, err := LoadCheckpoint(ctx, c.path, WithArch(c.arch))
			if settled(t, err, c.errHas) {
				return
			}
			defer ck.Close()
			if got := ck.Config.ID2Label[0] == "a"; got != c.labels {
				t.Errorf("labels from config.json: %v, want %v (label 0 %q)", got, c.labels, ck.Config.ID2Label[0])
			}
			if h, _ := ck.Processor.OutputSize(); (h == 40) != c.labels {
				t.Errorf("preprocessor_config.json used: %v, want %v (output %d)", h == 40, c.labels, h)
			}
			if _, err := ck.Build(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestWeightsFileChoice checks which file of a folder loads: transformers' names first, a
// single other weights file, and never one of several (the first by name used to run).
func TestWeightsFileChoice(t *testing.T) {
	ctx := context.Background()
	ck, err := RandomCheckpoint("cifar-resnet8", 1)
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	if err := ck.Save(src); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(src, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(src, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	folder := func(files ...string) string {
		dir := t.TempDir()
		for _, f := range append(files, "config.json") {
			b := data
			if f == "config.json" {
				b = cfg
			}
			if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	for _, c := range []struct {
		name   string
		files  []string
		want   string // the file that loads
		errHas string
	}{
		{"transformers' name among others", []string{"a.safetensors", "model.safetensors", "z.safetensors"}, "model.safetensors", ""},
		{"one other file", []string{"weights.safetensors"}, "weights.safetensors", ""},
		{"several", []string{"b-good.safetensors", "a-other.safetensors"}, "", "holds 2 weights files (a-other.safetensors, b-good.safetensors) and none named model.safetensors or pytorch_model.bin; give the one to use as --model"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := folder(c.files...)
			ck, err := LoadCheckpoint(ctx, dir)
			if settled(t, err, c.errHas) {
				return
			}
			defer ck.Close()
			if ck.Source != filepath.Join(dir, c.want) {
				t.Errorf("loaded %s, want %s", ck.Source, filepath.Join(dir, c.want))
			}
		})
	}
}

// TestNotACheckpoint checks that a file that is no checkpoint is called that, not a
// checkpoint that lacks its config.json.
func TestNotACheckpoint(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"cat.jpg": "\xff\xd8\xff\xe0 JFIF", "notes.txt": "hello"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadCheckpoint(context.Background(), p)
		if err == nil || !strings.Contains(err.Error(), "unrecognised checkpoint format") || strings.Contains(err.Error(), "config.json") {
			t.Errorf("%s: error %v, want unrecognised checkpoint format and no word of config.json", name, err)
		}
	}
}

// TestBuildsAreIndependent: two models built from one checkpoint do not share labels or
// preprocessing (changing one changed the other).
func TestBuildsAreIndependent(t *testing.T) {
	ck, err := RandomCheckpoint("cifar-resnet8", 1)
	if err != nil {
		t.Fatal(err)
	}
	ck.Config.SetLabels([]string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"})
	m1, err := ck.Build()
	if err != nil {
		t.Fatal(err)
	}
	m2, err := ck.Build()
	if err != nil {
		t.Fatal(err)
	}
	m1.Config.ID2Label[3] = "kitty"
	m1.Processor.Height = 99
	if m2.Config.Label(3) != "d" || m2.Processor.Height == 99 || ck.Config.Label(3) != "d" {
		t.Errorf("m2 label 3 %q, processor height %d, checkpoint label 3 %q", m2.Config.Label(3), m2.Processor.Height, ck.Config.Label(3))
	}
}

// settled checks a case's error: with errHas it must mention it, and the case ends (true);
// without, there must be none.
func settled(t *testing.T, err error, errHas string) bool {
	t.Helper()
	if errHas != "" {
		if err == nil || !strings.Contains(err.Error(), errHas) {
			t.Fatalf("error %v, want one mentioning %q", err, errHas)
		}
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return false
}
