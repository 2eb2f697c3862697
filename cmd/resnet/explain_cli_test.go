package main

import (
	"bytes"
	le "encoding/binary"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/hub/hubtest"
)

// explain on the COCO cats photo with the built-in model: the JSON keys, the files, the
// overlay's size (the photo's) and the .npy map (8×8 at the last stage of a 32×32 input).
func TestExplainCLI(t *testing.T) {
	photo := filepath.Join(shared(t), "data", "images", "000000039769.png")
	out := t.TempDir()
	stdout, stderr, code := run(t, "explain", "--json", "--out", out, "--threads", "2", photo)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &r); err != nil {
		t.Fatalf("%v: %q", err, stdout)
	}
	var keys []string
	for k := range r {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "class,heatmap,image,label,overlay,score" {
		t.Errorf("JSON keys %v", keys)
	}
	if r["label"] != "cat" || r["class"] != 3.0 {
		t.Errorf("class %v %v, want 3 cat", r["class"], r["label"])
	}
	f, err := os.Open(r["overlay"].(string))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 640 || b.Dy() != 480 {
		t.Errorf("overlay is %dx%d, want the photo's 640x480", b.Dx(), b.Dy())
	}
	data, err := os.ReadFile(r["heatmap"].(string))
	if err != nil {
		t.Fatal(err)
	}
	hlen := int(le.LittleEndian.Uint16(data[8:10]))
	header := string(data[10 : 10+hlen])
	if !strings.Contains(header, "'shape': (8, 8)") || !strings.Contains(header, "'<f4'") {
		t.Errorf("npy header %q, want float32 (8, 8)", header)
	}
	vals := data[10+hlen:]
	if len(vals) != 8*8*4 {
		t.Fatalf("npy holds %d bytes of data, want 256", len(vals))
	}
	var peak float32
	for i := 0; i < 64; i++ {
		v := math.Float32frombits(le.LittleEndian.Uint32(vals[4*i:]))
		if v < 0 || math.IsNaN(float64(v)) {
			t.Fatalf("map value %d = %v: after ReLU it must be ≥ 0", i, v)
		}
		peak = max(peak, v)
	}
	if peak == 0 {
		t.Error("the map is all zero")
	}
}

func TestExplainCLIOptionsAndErrors(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.png"), filepath.Join(dir, "sub", "a.png")
	os.MkdirAll(filepath.Dir(b), 0o755)
	writePNG(t, a, 40, 30)
	writePNG(t, b, 20, 20)
	out := filepath.Join(dir, "out")
	// A folder, a class by name, another layer and method; two images with one base name.
	stdout, stderr, code := run(t, "explain", "--model", tinyModel, "--class", "class_2", "--layer", "stage1", "--method", "gradcam++", "--out", out, "--json", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines: %s", len(lines), stdout)
	}
	for _, want := range []string{"a.gradcam.png", "a-2.gradcam.png", "a.gradcam.npy", "a-2.gradcam.npy"} {
		if _, err := os.Stat(filepath.Join(out, want)); err != nil {
			t.Error(err)
		}
	}
	var r explainResult
	json.Unmarshal([]byte(lines[0]), &r)
	if r.Class == nil || *r.Class != 2 || r.Label != "class_2" {
		t.Errorf("line %s", lines[0])
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--class", "zebra"}, "no class is named"},
		{[]string{"--class", "10"}, "out of range"},
		{[]string{"--layer", "stage9"}, "unknown Grad-CAM layer"},
		{[]string{"--method", "scorecam"}, "use gradcam or gradcam++"},
	} {
		_, stderr, code := run(t, append(append([]string{"explain", "--out", out}, c.args...), a)...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error containing %q", c.args, code, stderr, c.want)
		}
	}
	// A missing file gets its own error line and exit status 1; the others are still written.
	stdout, _, code = run(t, "explain", "--out", out, "--json", filepath.Join(dir, "missing.png"), a)
	if code != 1 || !strings.Contains(stdout, `"error"`) || !strings.Contains(stdout, `"overlay"`) {
		t.Errorf("exit %d, output %s", code, stdout)
	}
}

// hf://datasets/ORG/NAME arguments: each row is explained as its image file would be, and its
// files are named ORG-NAME-SPLIT-ROW.
func TestExplainHFDataset(t *testing.T) {
	td := filepath.Join("..", "..", "datasets", "hfparquet", "testdata", "cifar20", "plain_text")
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	const commit = "1234567890123456789012345678901234567890"
	srv := hubtest.NewDatasetServer(map[string]*hubtest.Repo{
		"acme/cifar20": {Refs: map[string]string{"main": commit}, Commits: map[string]map[string][]byte{commit: {
			"README.md":                              []byte("---\nlicense: mit\n---\n"),
			"plain_text/test-00000-of-00002.parquet": read(filepath.Join(td, "test-00000-of-00002.parquet")),
			"plain_text/test-00001-of-00002.parquet": read(filepath.Join(td, "test-00001-of-00002.parquet")),
		}}},
	})
	defer srv.Close()
	for k, v := range map[string]string{"HF_HOME": t.TempDir(), "HF_HUB_CACHE": "", "HUGGINGFACE_HUB_CACHE": "",
		"HF_ENDPOINT": srv.URL, "HF_TOKEN": "", "HF_HUB_OFFLINE": "", "TRANSFORMERS_OFFLINE": ""} {
		t.Setenv(k, v)
	}
	out := t.TempDir()
	stdout, stderr, code := run(t, "explain", "--json", "--out", out, "hf://datasets/acme/cifar20")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 20 {
		t.Fatalf("%d lines, want one per row (20)", len(lines))
	}
	// Row 0 is the first CIFAR-10 test PNG: the same overlay as from the file.
	pngs, _ := filepath.Glob(filepath.Join(shared(t), "data", "images", "cifar10-test-png", "cifar10_*.png"))
	sort.Strings(pngs)
	if len(pngs) != 20 {
		t.Fatalf("want 20 CIFAR-10 PNGs in ../shared/data/images/cifar10-test-png, found %d", len(pngs))
	}
	fileOut := t.TempDir()
	if _, stderr, code := run(t, "explain", "--out", fileOut, pngs[0]); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r explainResult
	if err := json.Unmarshal([]byte(lines[0]), &r); err != nil {
		t.Fatal(err)
	}
	if r.Image != "hf://datasets/acme/cifar20/test/0" || filepath.Base(r.Overlay) != "acme-cifar20-test-0.gradcam.png" {
		t.Errorf("row 0: %s", lines[0])
	}
	base := strings.TrimSuffix(filepath.Base(pngs[0]), ".png")
	if got, want := read(r.Overlay), read(filepath.Join(fileOut, base+".gradcam.png")); !bytes.Equal(got, want) {
		t.Error("the overlay of dataset row 0 differs from that of its PNG file")
	}
}

// Inputs expanded from folders get unique output names; dataset rows get ORG-NAME-SPLIT-ROW.
func TestExplainOutputNames(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a.png", "b.jpg", "x/a.png", "y/a.jpeg"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		writePNG(t, filepath.Join(dir, p), 4, 4)
	}
	paths, err := expandInputs([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(outputNames(append(paths, "hf://datasets/acme/cifar20/test/7")), " ")
	if want := "a b a-2 a-3 acme-cifar20-test-7"; got != want {
		t.Errorf("names %q, want %q", got, want)
	}
}
