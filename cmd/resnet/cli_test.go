package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/internal/testenv"
)

var binary string

// TestMain builds the real binary once; the tests run it as a user would.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "resnet-cli")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "resnet")
	// With the tags of this test build, so that -tags noasm tests the binary's pure-Go path
	// against the library's.
	if out, err := exec.Command("go", "build", "-tags", buildTags, "-o", binary, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCmd(t, nil, nil, args...)
}

// runCmd runs the binary with env (nil: this process's) and stdin (nil: none).
func runCmd(t *testing.T, env []string, stdin io.Reader, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env, cmd.Stdin = env, stdin
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

const tinyModel = "../../model/testdata/basic"

func writePNG(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 5), uint8(x + y), 255})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func TestInfoJSON(t *testing.T) {
	cases := []struct {
		arch   string
		params int64
		gmacs  float64
		input  [3]int
	}{
		{"resnet-50", 25557032, 4.09, [3]int{3, 224, 224}},
		{"resnet-18", 11689512, 1.81, [3]int{3, 224, 224}},
		{"cifar-resnet20", 269722, 0.041, [3]int{3, 32, 32}},
	}
	for _, c := range cases {
		out, errOut, code := run(t, "info", "--arch", c.arch, "--json")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", c.arch, code, errOut)
		}
		var res infoResult
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%s: %v in %q", c.arch, err, out)
		}
		g := float64(res.MACs) / 1e9
		if res.Parameters != c.params || g < c.gmacs-0.005 || g > c.gmacs+0.005 || res.Input != c.input {
			t.Errorf("%s: %+v", c.arch, res)
		}
	}
	out, _, code := run(t, "info", "--arch", "resnet-50")
	if code != 0 || !strings.Contains(out, "25,557,032") || !strings.Contains(out, "stage4") {
		t.Errorf("text info: %s", out)
	}
}

func TestClassifyBatchWithBadFile(t *testing.T) {
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "a.png"), 40, 30)
	writePNG(t, filepath.Join(dir, "b.png"), 25, 60)
	os.WriteFile(filepath.Join(dir, "broken.png"), []byte("\x89PNG\r\n\x1a\nnot really"), 0o644)
	out, _, code := run(t, "classify", "--model", tinyModel, "--json", "--logits", "--top-k", "3", dir)
	if code != 1 {
		t.Errorf("exit status %d with a broken file, want 1", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 JSON lines, got %q", out)
	}
	var errs, goods int
	for _, l := range lines {
		var r classifyResult
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		switch {
		case r.Error != "":
			errs++
			if !strings.HasSuffix(r.Image, "broken.png") {
				t.Errorf("error for %s", r.Image)
			}
		case len(r.Top) == 3 && len(r.Logits) == 7 && r.Top[0].Score >= r.Top[1].Score && strings.HasPrefix(r.Top[0].Label, "class_"):
			goods++
		default:
			t.Errorf("bad line %s", l)
		}
	}
	if errs != 1 || goods != 2 {
		t.Errorf("%d errors, %d answers", errs, goods)
	}
	// Text mode: same answers, the error on stderr.
	out, errOut, code := run(t, "classify", "--model", tinyModel, filepath.Join(dir, "a.png"), filepath.Join(dir, "missing.jpg"))
	if code != 1 || !strings.Contains(out, "a.png") || !strings.Contains(errOut, "missing.jpg") {
		t.Errorf("text mode: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestEvalConvertAndEmbed(t *testing.T) {
	sh := shared(t)
	ckpt := filepath.Join(sh, "data", "cifar10-resnets", "resnet20-12fca82f.th")
	ds := "cifar10:" + filepath.Join(sh, "data", "cifar10")
	dir := t.TempDir()
	preds := filepath.Join(dir, "preds.txt")
	out, errOut, code := run(t, "eval", "--model", ckpt, "--arch", "cifar-resnet20", "--dataset", ds, "--limit", "300", "--json", "--predictions", preds, "-q")
	if code != 0 {
		t.Fatalf("eval: %s", errOut)
	}
	var res evalResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Total != 300 || res.Accuracy < 0.7 || res.Accuracy != float64(res.Correct)/300 {
		t.Errorf("eval: %+v", res)
	}
	p, _ := os.ReadFile(preds)
	if n := strings.Count(string(p), "\n"); n != 300 {
		t.Errorf("%d predictions written, want 300", n)
	}
	// Each line: the class, a tab, the example's index in the split, ascending.
	last := -1
	for _, l := range strings.Split(strings.TrimSpace(string(p)), "\n") {
		cls, id, ok := strings.Cut(l, "\t")
		c, err1 := strconv.Atoi(cls)
		i, err2 := strconv.Atoi(id)
		if !ok || err1 != nil || err2 != nil || c < 0 || c > 9 || i <= last || i >= 10000 {
			t.Fatalf("prediction line %q (after example %d)", l, last)
		}
		last = i
	}
	// The same test images as JPEGs in class folders, read straight from the tarball.
	out3, errOut, code := run(t, "eval", "--model", ckpt, "--arch", "cifar-resnet20", "--dataset", "folder:"+filepath.Join(sh, "data", "cifar10", "test-jpg.tar.gz"), "--limit", "200", "--json", "-q")
	var res3 evalResult
	if code != 0 || json.Unmarshal([]byte(out3), &res3) != nil || res3.Total != 200 || res3.Accuracy < 0.6 {
		t.Errorf("eval on the JPEG tarball: %q %s", out3, errOut)
	}
	// convert, then the directory evaluates identically without --arch.
	conv := filepath.Join(dir, "r20")
	if _, errOut, code := run(t, "convert", ckpt, conv, "--arch", "cifar-resnet20"); code != 0 {
		t.Fatalf("convert: %s", errOut)
	}
	out2, errOut, code := run(t, "eval", "--model", conv, "--dataset", ds, "--limit", "300", "--json", "-q")
	if code != 0 || strings.TrimSpace(out2) != strings.TrimSpace(out) {
		t.Errorf("converted model: %q (%s), original %q", out2, errOut, out)
	}
	// classify the lossless CIFAR test PNGs with the converted model: labels are in the names.
	out, errOut, code = run(t, "classify", "--model", conv, "--json", "--top-k", "1", filepath.Join(sh, "data", "images", "cifar10-test-png"))
	if code != 0 {
		t.Fatalf("classify: %s", errOut)
	}
	right := 0
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		var r classifyResult
		json.Unmarshal([]byte(l), &r)
		base := strings.TrimSuffix(filepath.Base(r.Image), ".png")
		if len(r.Top) == 1 && strings.HasSuffix(base, "_"+strconv.Itoa(r.Top[0].Index)) {
			right++
		}
	}
	if len(lines) != 20 || right < 15 {
		t.Errorf("%d of %d CIFAR test images right", right, len(lines))
	}
	// embed to .npy: header and 20×64 float32 values.
	npyPath := filepath.Join(dir, "emb.npy")
	if _, errOut, code := run(t, "embed", "--model", conv, "--output", npyPath, filepath.Join(sh, "data", "images", "cifar10-test-png")); code != 0 {
		t.Fatalf("embed: %s", errOut)
	}
	b, _ := os.ReadFile(npyPath)
	if !bytes.HasPrefix(b, []byte("\x93NUMPY")) || !bytes.Contains(b, []byte("'shape': (20, 64)")) || (len(b)-128) != 20*64*4 {
		t.Errorf("npy file: %d bytes, header %q", len(b), b[:min(len(b), 128)])
	}
}

// With no --model the built-in CIFAR-10 ResNet-20 answers, offline, with no files at all.
func TestDefaultModel(t *testing.T) {
	sh := shared(t)
	out, errOut, code := run(t, "classify", "--json", "--top-k", "1", filepath.Join(sh, "data", "images", "cifar10-test-png"))
	if code != 0 {
		t.Fatalf("classify with the built-in model: %s", errOut)
	}
	right := 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r classifyResult
		json.Unmarshal([]byte(l), &r)
		if len(r.Top) == 1 && strings.HasSuffix(strings.TrimSuffix(filepath.Base(r.Image), ".png"), "_"+strconv.Itoa(r.Top[0].Index)) {
			right++
		}
	}
	if right < 16 {
		t.Errorf("built-in model: %d of 20 CIFAR test images right", right)
	}
	out, errOut, code = run(t, "info", "--json")
	if code != 0 || !strings.Contains(out, `"parameters":269722`) {
		t.Errorf("info of the built-in model: %s %s", out, errOut)
	}
}

func TestBenchJSON(t *testing.T) {
	out, errOut, code := run(t, "bench", "--model", tinyModel, "--runs", "3", "--warmup", "1", "--batch", "2", "--threads", "1", "--json")
	if code != 0 {
		t.Fatalf("bench: %s", errOut)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	for _, k := range []string{"median_ms", "min_ms", "images_per_sec", "peak_rss_mb", "batch", "threads"} {
		if _, ok := res[k]; !ok {
			t.Errorf("bench --json lacks %s: %s", k, out)
		}
	}
	if res["spin"] != true {
		t.Errorf("bench --json: spin %v by default, want true: %s", res["spin"], out)
	}
	// --spin=false reaches the kernels' pool (and, for training, the trainer's threads).
	for _, args := range [][]string{
		{"bench", "--model", tinyModel, "--runs", "2", "--warmup", "0", "--threads", "2", "--spin=false", "--json"},
		{"bench", "--train", "--arch", "cifar-resnet20", "--batch", "4", "--runs", "1", "--warmup", "0", "--threads", "2", "--spin=false", "--json"},
	} {
		out, errOut, code := run(t, args...)
		if code != 0 {
			t.Fatalf("%v: %s", args, errOut)
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%v: %q", err, out)
		}
		if res["spin"] != false {
			t.Errorf("%v: spin %v, want false: %s", args, res["spin"], out)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	cases := [][]string{
		{"classify", "--top-k", "0", "x.png"}, // bad flag value
		{"info", "--model", "./nope"},         // no such model
		{"eval", "--model", tinyModel},        // no dataset
		{"info", "--arch", "resnet-19"},       // unknown preset
		{"classify", "--model", "./nope", "x.png"},
	}
	for _, args := range cases {
		_, errOut, code := run(t, args...)
		if code == 0 || !strings.Contains(errOut, "resnet:") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}

// shared is ../shared beside the repository root.
func shared(t *testing.T) string { return testenv.SharedDir(t) }
