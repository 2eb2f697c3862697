package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/datasets"
)

// Regression tests for issue 9: commands that answered wrongly with exit status 0, or that
// lost what the user had.

// bench --arch without --model runs that architecture (random weights) and says so; it used
// to time the built-in CIFAR ResNet-20 instead. classify, eval and embed refuse the pair.
func TestArchWithoutModel(t *testing.T) {
	cases := []struct {
		args      []string
		wantModel string // bench: the JSON "model" key
		errHas    string // others: the refusal
	}{
		{args: []string{"bench", "--arch", "resnet-18", "--runs", "1", "--warmup", "0", "--json"}, wantModel: "resnet-18 (random weights, seed 1)"},
		{args: []string{"bench", "--runs", "1", "--warmup", "0", "--json"}, wantModel: "built-in cifar10-resnet20"},
		{args: []string{"bench", "--model", tinyModel, "--runs", "1", "--warmup", "0", "--json"}, wantModel: filepath.Join(tinyModel, "model.safetensors")},
		{args: []string{"classify", "--arch", "resnet-50", "x.png"}, errHas: "--arch resnet-50 names the architecture of a --model checkpoint"},
		{args: []string{"embed", "--arch", "resnet-50", "x.png"}, errHas: "give --model too"},
		{args: []string{"eval", "--arch", "resnet-50", "--dataset", "cifar10:/nonexistent"}, errHas: "give --model too"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args[:2], " "), func(t *testing.T) {
			out, errOut, code := run(t, c.args...)
			if c.errHas != "" {
				if code == 0 || !strings.Contains(errOut, c.errHas) {
					t.Fatalf("exit %d, stderr %q; want a refusal mentioning %q", code, errOut, c.errHas)
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var res benchResult
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("%v in %q", err, out)
			}
			if filepath.Clean(res.Model) != filepath.Clean(c.wantModel) || !strings.HasPrefix(res.Engine, "resnet-go ") {
				t.Errorf("model %q engine %q, want model %q", res.Model, res.Engine, c.wantModel)
			}
		})
	}
	// The random ResNet-18 is a real ResNet-18: 11.7 M parameters take far more memory than
	// the 0.27 M of the built-in model the old code ran.
	out, _, _ := run(t, "bench", "--arch", "resnet-18", "--runs", "1", "--warmup", "0", "--json")
	var res benchResult
	json.Unmarshal([]byte(out), &res)
	if res.PeakRSSMB < 60 {
		t.Errorf("bench --arch resnet-18 peaked at %.0f MB: not a ResNet-18", res.PeakRSSMB)
	}
}

// embed --output X.npy leaves failed images out of the matrix; X.paths.txt names each row.
func TestEmbedPathsFile(t *testing.T) {
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "a.png"), 40, 30)
	os.WriteFile(filepath.Join(dir, "b.png"), []byte("\x89PNG\r\n\x1a\nbroken"), 0o644)
	writePNG(t, filepath.Join(dir, "c.png"), 20, 50)
	npyPath := filepath.Join(t.TempDir(), "emb.npy")
	_, errOut, code := run(t, "embed", "--model", tinyModel, "--output", npyPath, dir)
	if code != 1 || !strings.Contains(errOut, "b.png: error:") || !strings.Contains(errOut, "(of all 3 inputs; 1 failed, listed above)") {
		t.Errorf("exit %d, stderr %q: want exit 1, the broken file's error and a summary that counts it", code, errOut)
	}
	b, err := os.ReadFile(npyPath)
	if err != nil || !strings.Contains(string(b[:128]), "'shape': (2, ") {
		t.Fatalf("emb.npy: %v, header %q", err, b[:min(len(b), 128)])
	}
	paths, err := os.ReadFile(filepath.Join(filepath.Dir(npyPath), "emb.paths.txt"))
	want := filepath.Join(dir, "a.png") + "\n" + filepath.Join(dir, "c.png") + "\n"
	if err != nil || string(paths) != want {
		t.Errorf("emb.paths.txt = %q (%v), want %q", paths, err, want)
	}
}

// A weights file inside an HF directory is read with the config.json beside it.
func TestModelFileBesideConfig(t *testing.T) {
	img := filepath.Join(t.TempDir(), "a.png")
	writePNG(t, img, 40, 30)
	want, errOut, code := run(t, "classify", "--model", tinyModel, "--json", "--logits", img)
	if code != 0 {
		t.Fatalf("directory: %s", errOut)
	}
	got, errOut, code := run(t, "classify", "--model", filepath.Join(tinyModel, "model.safetensors"), "--json", "--logits", img)
	if code != 0 || got != want {
		t.Errorf("file in the directory: exit %d, %q, stderr %q; the directory gives %q", code, got, errOut, want)
	}
}

// --size N works for every model: scale-and-crop where the model crops (ImageNet), a warp to
// N×N where it does not (CIFAR), where it used to fail with "crop_pct must be a positive
// number, got 0".
func TestSizeFlag(t *testing.T) {
	img := filepath.Join(t.TempDir(), "a.png")
	writePNG(t, img, 40, 30)
	for _, model := range []string{"", tinyModel} {
		for _, extra := range [][]string{{"--size", "48"}, {"--size", "48", "--crop-pct", "0.9"}, {"--crop-pct", "0.9"}} {
			args := append([]string{"classify", "--json", img}, extra...)
			if model != "" {
				args = append(args, "--model", model)
			}
			out, errOut, code := run(t, args...)
			if code != 0 || !strings.Contains(out, `"top":[`) {
				t.Errorf("%v: exit %d, %q, stderr %q", args, code, out, errOut)
			}
		}
	}
	for _, bad := range [][]string{{"--size", "48", "--height", "40", "--width", "40"}, {"--height", "40", "--width", "40", "--crop-pct", "0.9"}, {"--size", "-1"}} {
		_, errOut, code := run(t, append([]string{"classify", img}, bad...)...)
		if code == 0 || !strings.Contains(errOut, "resnet:") {
			t.Errorf("%v: exit %d, stderr %q; want a refusal", bad, code, errOut)
		}
	}
}

// Flags that used to be ignored or shown oddly.
func TestFlagDetails(t *testing.T) {
	img := filepath.Join(t.TempDir(), "a.png")
	writePNG(t, img, 40, 30)
	if _, errOut, code := run(t, "classify", "--logits", img); code == 0 || !strings.Contains(errOut, "use it with --json") {
		t.Errorf("--logits without --json: exit %d, %q", code, errOut)
	}
	help, _, _ := run(t, "classify", "--help")
	if strings.Contains(help, "[]") || !strings.Contains(help, "--mean r,g,b") {
		t.Errorf("classify --help shows a [] default or no r,g,b for --mean:\n%s", help)
	}
	if _, errOut, code := run(t, "classify", "--mean", "0.5,x,0.5", img); code == 0 || !strings.Contains(errOut, `"x" is not a number`) {
		t.Errorf("--mean 0.5,x,0.5: exit %d, %q", code, errOut)
	}
	if _, errOut, code := run(t, "classify", "--mean", "0.5,0.5", img); code == 0 || !strings.Contains(errOut, "--mean needs 3 values, got 2") {
		t.Errorf("--mean with 2 values: exit %d, %q", code, errOut)
	}
	// bench --profile --json carries the profile in the one JSON object.
	out, errOut, code := run(t, "bench", "--model", tinyModel, "--runs", "1", "--warmup", "0", "--profile", "--json")
	var res benchResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.Profile) == 0 || res.Profile[0].Kind == "" {
		t.Errorf("bench --profile --json: exit %d, %q, stderr %q", code, out, errOut)
	}
	// layers splits the kinds by shape: as many calls, the convolutions' shapes named.
	calls := map[string]int{}
	for _, r := range res.Profile {
		calls[r.Kind] += r.CallsPerPass
	}
	for _, r := range res.Layers {
		calls[r.Kind] -= r.CallsPerPass
		if strings.HasPrefix(r.Kind, "conv ") && !strings.Contains(r.Shape, "->") {
			t.Errorf("layer %+v: no shape", r)
		}
	}
	for k, n := range calls {
		if n != 0 {
			t.Errorf("bench --profile --json: %s has %d more calls by kind than by shape: %q", k, n, out)
		}
	}
	if len(res.Layers) < len(res.Profile) {
		t.Errorf("bench --profile --json: %d layer rows, %d kinds", len(res.Layers), len(res.Profile))
	}
}

// bench --train defaults to train's batch of 128, not 1.
func TestTrainBenchBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("a batch-128 training step")
	}
	out, errOut, code := run(t, "bench", "--train", "--arch", "cifar-resnet20", "--runs", "1", "--warmup", "0", "--json")
	var res benchResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("exit %d, %q, stderr %q", code, out, errOut)
	}
	if res.Batch != 128 || !strings.Contains(res.Engine, "train") || res.Model != "cifar-resnet20 (random weights, seed 1)" {
		t.Errorf("bench --train: %+v", res)
	}
}

// Progress bars only on a terminal: a log gets none, --progress forces them.
func TestProgressBarsOnlyOnTerminal(t *testing.T) {
	root := cifarFolder(t, 40, map[string]string{"cat": "cat", "dog": "dog"})
	for _, c := range []struct {
		extra []string
		bar   bool
	}{{nil, false}, {[]string{"--progress"}, true}, {[]string{"--progress", "--json"}, true}} {
		args := append([]string{"eval", "--dataset", "folder:" + root, "--batch", "8"}, c.extra...)
		out, errOut, code := run(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		if got := strings.Contains(errOut, "evaluating"); got != c.bar {
			t.Errorf("%v: progress bar on stderr %v, want %v: %q", args, got, c.bar, errOut)
		}
		if slices.Contains(c.extra, "--json") {
			var res evalResult
			if err := json.Unmarshal([]byte(out), &res); err != nil || strings.Count(out, "\n") != 1 {
				t.Errorf("--json stdout is not one JSON line: %q", out)
			}
		}
	}
}

// --limit N is a seeded sample in dataset order, not the first N (which in a class folder are
// all of the first class).
func TestLimitSample(t *testing.T) {
	var ex []datasets.Example
	for i := range 100 {
		ex = append(ex, datasets.Example{Label: i / 50})
	}
	a, b := sample(ex, 10), sample(ex, 10)
	labels := map[int]int{}
	for i := range a {
		labels[a[i].Label]++
		if a[i] != b[i] {
			t.Fatal("two samples of the same size differ")
		}
	}
	if len(a) != 10 || labels[0] == 0 || labels[1] == 0 {
		t.Errorf("sample of 10: %d examples, per class %v", len(a), labels)
	}
	if len(sample(ex, 0)) != 100 || len(sample(ex, 500)) != 100 {
		t.Error("--limit 0 or above the size must keep every example")
	}
}

// train says what it reads before the first epoch, and draws its bar only on a terminal.
func TestTrainProgressOutput(t *testing.T) {
	root := cifarFolder(t, 16, map[string]string{"cat": "cat", "dog": "dog"})
	for _, c := range []struct {
		extra []string
		bar   bool
	}{{nil, false}, {[]string{"--progress"}, true}} {
		args := append([]string{"train", "--arch", "cifar-resnet20", "--dataset", "folder:" + root, "--epochs", "1", "--batch", "16", "--out", filepath.Join(t.TempDir(), "run")}, c.extra...)
		_, errOut, code := run(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", c.extra, code, errOut)
		}
		if !strings.Contains(errOut, "reading the training images of folder:") || !strings.Contains(errOut, "read 32 training images (2 classes)") {
			t.Errorf("%v: stderr does not say what is being read: %q", c.extra, errOut)
		}
		if got := strings.Contains(errOut, "epoch 1/1"); got != c.bar {
			t.Errorf("%v: progress bar %v, want %v: %q", c.extra, got, c.bar, errOut)
		}
	}
}

// resnet version names the path in use; a RESNET_ISA the CPU cannot run is refused by every
// other command, and shown by version.
func TestVersionAndISA(t *testing.T) {
	out, errOut, code := run(t, "version", "--json")
	var v versionResult
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
		t.Fatalf("version --json: exit %d, %q, %q", code, out, errOut)
	}
	if !slices.Contains(v.Supported, v.ISA) || v.Supported[0] != "go" || v.Go == "" || v.ISAError != "" || !strings.Contains(v.Blocking, "kc ") {
		t.Errorf("version: %+v", v)
	}
	img := filepath.Join(t.TempDir(), "a.png")
	writePNG(t, img, 40, 30)
	for _, c := range []struct {
		isa    string
		errHas string
	}{{"go", ""}, {"foo", `unknown instruction set "foo"`}, {otherArchISA(), "cannot run here"}} {
		cmd := exec.Command(binary, "classify", "--json", img)
		cmd.Env = append(os.Environ(), "RESNET_ISA="+c.isa)
		o, err := cmd.Output()
		if c.errHas == "" {
			if err != nil || !strings.Contains(string(o), `"top"`) {
				t.Errorf("RESNET_ISA=%s: %v %q", c.isa, err, o)
			}
			continue
		}
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		if !strings.Contains(stderr, c.errHas) {
			t.Errorf("RESNET_ISA=%s: %v, stderr %q; want a refusal with %q", c.isa, err, stderr, c.errHas)
		}
		cmd = exec.Command(binary, "version", "--json")
		cmd.Env = append(os.Environ(), "RESNET_ISA="+c.isa)
		o, err = cmd.Output()
		if err != nil || json.Unmarshal(o, &v) != nil || !strings.Contains(v.ISAError, c.errHas) {
			t.Errorf("version with RESNET_ISA=%s: %v %q", c.isa, err, o)
		}
	}
}

// otherArchISA is a path no CPU of this architecture has.
func otherArchISA() string {
	if runtime.GOARCH == "arm64" {
		return "avx2"
	}
	return "neon"
}

// A value given on the command line that would read as "not given" (0 for --size, --limit,
// --subset, --max-pixels…) or that no run can use is refused before anything is loaded,
// never silently replaced by the default (--size 0 classified at the model's size, --limit
// 0 evaluated everything, train --threads 0 ran one thread, embed --batch 0 spun forever).
func TestZeroFlagsRefused(t *testing.T) {
	img := filepath.Join(t.TempDir(), "a.png")
	writePNG(t, img, 40, 30)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"classify", "--size", "0", img}, "--size must be at least 1, got 0"},
		// Flags that cannot apply are refused, not ignored.
		{[]string{"classify", "--revision", "v2", img}, "--revision v2 applies to a hub model given with --model; the built-in model has no revisions"},
		{[]string{"classify", "--model", tinyModel, "--revision", "v2", img}, tinyModel + " is a local path: a revision (v2) applies only to hub models"},
		{[]string{"convert", "--preprocess", "torchvision", tinyModel, filepath.Join(t.TempDir(), "out")}, "--preprocess is not saved by convert"},
		{[]string{"classify", "--height", "0", "--width", "0", img}, "--height must be at least 1, got 0"},
		{[]string{"classify", "--size", "-3", img}, "--size must be at least 1, got -3"},
		{[]string{"classify", "--crop-pct", "0", img}, "--crop-pct 0 must be in (0, 1]"},
		{[]string{"classify", "--max-pixels", "0", img}, "--max-pixels must be at least 1, got 0"},
		{[]string{"embed", "--batch", "0", img}, "--batch must be at least 1"},
		{[]string{"explain", "--max-pixels", "-1", img}, "--max-pixels must be at least 1, got -1"},
		{[]string{"bench", "--size", "0", "--runs", "1"}, "--size must be at least 1, got 0"},
		{[]string{"info", "--arch", "resnet-50", "--size", "0"}, "--size must be at least 1, got 0"},
		{[]string{"eval", "--dataset", "cifar10:nowhere", "--limit", "0"}, "--limit must be at least 1, got 0"},
		{[]string{"eval", "--dataset", "cifar10:nowhere", "--batch", "0"}, "--batch must be at least 1, got 0"},
		{[]string{"eval", "--dataset", "cifar10:nowhere", "--exif-transpose=false"}, "--exif-transpose applies to datasets of image files (folder:, hf:); cifar10:nowhere holds raw pixel records"},
		{[]string{"train", "--arch", "cifar-resnet20", "--dataset", "mnist:nowhere", "--out", "x", "--max-pixels", "100"}, "--max-pixels applies to datasets of image files"},
		{[]string{"serve", "--http", "127.0.0.1:0", "--grpc", "", "--threads", "0"}, "--threads must be at least 1"},
		{[]string{"serve", "--http", "127.0.0.1:0", "--grpc", "", "--size", "0"}, "--size must be at least 1, got 0"},
		{[]string{"train", "--arch", "cifar-resnet20", "--dataset", "cifar10:nowhere", "--out", "x", "--subset", "0"}, "--subset must be at least 1, got 0"},
		{[]string{"train", "--arch", "cifar-resnet20", "--dataset", "cifar10:nowhere", "--out", "x", "--threads", "0"}, "--threads must be at least 1, got 0"},
		{[]string{"train", "--arch", "cifar-resnet20", "--dataset", "cifar10:nowhere", "--out", "x", "--num-labels", "0"}, "--num-labels must be at least 1, got 0"},
		{[]string{"train", "--arch", "cifar-resnet20", "--dataset", "cifar10:nowhere", "--out", "x", "--epochs", "0"}, "--epochs must be at least 1, got 0"},
		{[]string{"train", "--arch", "cifar-resnet20", "--dataset", "cifar10:nowhere", "--out", "x", "--warmup", "-1"}, "--warmup -1 must be at least 0"},
		{[]string{"train", "--arch", "cifar-resnet20", "--dataset", "cifar10:nowhere", "--out", "x", "--schedule", "foo"}, `--schedule "foo": want cosine, multistep or constant`},
		// Schedule settings in the epochs given (they were reported in steps, or as a Go struct).
		{[]string{"train", "--arch", "cifar-resnet20", "--dataset", "cifar10:nowhere", "--out", "x", "--warmup", "3", "--epochs", "2"}, "--warmup 3 must be at most --epochs 2"},
		{[]string{"train", "--arch", "cifar-resnet20", "--dataset", "cifar10:nowhere", "--out", "x", "--schedule", "multistep", "--milestones", "2,1", "--epochs", "3"}, "--milestones 2,1 must be increasing"},
		{[]string{"train", "--arch", "cifar-resnet20", "--dataset", "cifar10:nowhere", "--out", "x", "--schedule", "multistep", "--milestones", "5", "--epochs", "2"}, "--milestones 5: 5 is not between 1 and --epochs 2 - 1"},
		{[]string{"train", "--arch", "cifar-resnet20", "--dataset", "cifar10:nowhere", "--out", "x", "--milestones", "1,2"}, "--milestones applies to --schedule multistep, not cosine"},
		{[]string{"train", "--arch", "cifar-resnet20", "--dataset", "cifar10:nowhere", "--out", "x", "--freeze-backbone"}, "--freeze-backbone applies with --init"},
		{[]string{"train", "--arch", "cifar-resnet20", "--dataset", "cifar10:nowhere", "--out", "x", "--num-labels", "10"}, "--num-labels sets the new head of an --init model"},
		{[]string{"train", "--arch", "cifar-resnet20", "--dataset", "cifar10:nowhere", "--out", "x", "--lr", "nan"}, "--lr NaN must be a positive number"},
		{[]string{"train", "--arch", "cifar-resnet20", "--dataset", "cifar10:nowhere", "--out", "x", "--momentum", "nan"}, "--momentum NaN must be a number ≥ 0"},
		{[]string{"experiment", "degradation", "--dataset", "cifar10:nowhere", "--out", "x", "--subset", "0"}, "--subset must be at least 1, got 0"},
		{[]string{"experiment", "degredation"}, `unknown command "degredation" for "resnet experiment"`},
	} {
		_, errOut, code := run(t, c.args...)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 with %q", c.args, code, errOut, c.want)
		}
	}
}

// "-" reads one image from standard input, for classify, embed and explain (its files are
// named stdin.gradcam.*), with the same result as the file; empty input and "-" twice are
// refused.
func TestStdinImage(t *testing.T) {
	img := filepath.Join(t.TempDir(), "a.png")
	writePNG(t, img, 40, 30)
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	runIn := func(stdin []byte, args ...string) (string, string, int) {
		return runCmd(t, nil, bytes.NewReader(stdin), args...)
	}
	fromFile, _, code := run(t, "classify", "--json", "--logits", img)
	fromStdin, errOut, code2 := runIn(data, "classify", "--json", "--logits", "-")
	if code != 0 || code2 != 0 || strings.Replace(fromStdin, `"image":"-"`, `"image":"`+img+`"`, 1) != fromFile {
		t.Errorf("classify -: exit %d, %q (%s); the file gives %q", code2, fromStdin, errOut, fromFile)
	}
	out := t.TempDir()
	if o, e, c := runIn(data, "explain", "--out", out, "-"); c != 0 || !strings.Contains(o, filepath.Join(out, "stdin.gradcam.png")) {
		t.Errorf("explain -: exit %d, %q %s", c, o, e)
	}
	if o, e, c := runIn(data, "embed", "-"); c != 0 || !strings.HasPrefix(o, `{"image":"-","embedding":[`) {
		t.Errorf("embed -: exit %d, %q %s", c, o, e)
	}
	for _, c := range []struct {
		stdin []byte
		args  []string
		want  string
	}{
		{nil, []string{"classify", "-"}, "standard input): empty"},
		{data, []string{"classify", "-", "-"}, "- (standard input) is given twice"},
		{[]byte("hello"), []string{"classify", "-"}, "-: error: unrecognised image format"},
	} {
		if _, e, code := runIn(c.stdin, c.args...); code == 0 || !strings.Contains(e, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want a failure with %q", c.args, code, e, c.want)
		}
	}
}

// An output that is one of the inputs is refused, and the input left as it was: classify -o
// over its own image, embed's paths file over the model, export over the ONNX it reads, or
// to a name that is not .onnx.
func TestOutputIsNotAnInput(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "a.png")
	writePNG(t, img, 40, 30)
	onnxIn := filepath.Join(dir, "m.onnx")
	if _, e, code := run(t, "export", "-q", tinyModel, onnxIn); code != 0 {
		t.Fatalf("export: exit %d, %s", code, e)
	}
	pathsAsModel := filepath.Join(dir, "e.paths.txt")
	if err := os.Link(onnxIn, pathsAsModel); err != nil {
		t.Fatal(err)
	}
	before := map[string][]byte{}
	for _, f := range []string{img, onnxIn} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		before[f] = b
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"classify", "-m", tinyModel, "-o", img, img}, img + " is also an input: writing there would replace it"},
		{[]string{"classify", "-m", tinyModel, "-o", filepath.Join(dir, ".", "a.png"), dir}, "is also an input"},
		{[]string{"classify", "-m", onnxIn, "-o", onnxIn, img}, "is also an input"},
		{[]string{"embed", "-m", pathsAsModel, "-o", filepath.Join(dir, "e.npy"), img}, "e.paths.txt is also an input"},
		{[]string{"export", "-q", onnxIn, onnxIn}, "is also an input"},
		{[]string{"export", "-q", tinyModel, filepath.Join(dir, "m.pth")}, "must end in .onnx"},
	} {
		if _, e, code := run(t, c.args...); code != 1 || !strings.Contains(e, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 with %q", c.args, code, e, c.want)
		}
	}
	for f, b := range before {
		if got, err := os.ReadFile(f); err != nil || !bytes.Equal(got, b) {
			t.Errorf("%s changed (%v)", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "m.pth")); err == nil {
		t.Error("export left m.pth behind")
	}
}

// Folders reached through symbolic links are searched, as torchvision's ImageFolder
// does: a link to a folder (also as the argument itself) was taken for a file and
// skipped, so classify reported part of the images with exit 0. A link cycle is an error.
func TestDirectorySymlinksFollowed(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real", "cats")
	ds := filepath.Join(dir, "ds")
	for _, d := range []string{real, ds} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writePNG(t, filepath.Join(real, "1.png"), 20, 20)
	writePNG(t, filepath.Join(real, "2.png"), 24, 20)
	writePNG(t, filepath.Join(ds, "own.png"), 20, 28)
	if err := os.Symlink(filepath.Join("..", "real", "cats"), filepath.Join(ds, "cats")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(real, "1.png"), filepath.Join(ds, "one.png")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		arg  string
		want []string
	}{
		{ds, []string{"ds/cats/1.png", "ds/cats/2.png", "ds/one.png", "ds/own.png"}},
		{filepath.Join(ds, "cats"), []string{"ds/cats/1.png", "ds/cats/2.png"}},
	} {
		o, e, code := run(t, "classify", "-m", tinyModel, "-k", "1", "--json", c.arg)
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(o), "\n") {
			var r struct{ Image string }
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("classify %s: line %q: %v", c.arg, line, err)
			}
			got = append(got, filepath.ToSlash(strings.TrimPrefix(r.Image, dir+string(filepath.Separator))))
		}
		if code != 0 || strings.Join(got, " ") != strings.Join(c.want, " ") || strings.Contains(e, "skipped") {
			t.Errorf("classify %s: exit %d, images %v, stderr %q; want %v", c.arg, code, got, e, c.want)
		}
	}
	if err := os.Symlink("..", filepath.Join(real, "up")); err != nil {
		t.Fatal(err)
	}
	if _, e, code := run(t, "classify", "-m", tinyModel, ds); code != 1 || !strings.Contains(e, "symbolic link cycle") {
		t.Errorf("classify over a link cycle: exit %d, stderr %q", code, e)
	}
}

// An output that cannot be written (a directory there, or no directory for it) is refused
// before the work, not after it.
func TestOutputTargetsCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "a.png")
	writePNG(t, img, 40, 30)
	sub := filepath.Join(dir, "out.npy")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(img, "x") // a file where a folder would be
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"embed", "-o", sub, img}, "is a directory; name a file to write"},
		{[]string{"embed", "-o", notDir + ".npy", img}, "a.png is not a directory"},
		{[]string{"classify", "-o", sub, img}, "is a directory; name a file to write"},
		{[]string{"export", "-q", sub}, "is a directory; name a file to write"},
		{[]string{"export", "-q", notDir + ".onnx"}, "a.png is not a directory"},
		{[]string{"eval", "--dataset", "cifar10:nowhere", "--predictions", sub}, "is a directory; name a file to write"},
	} {
		if _, e, code := run(t, c.args...); code != 1 || !strings.Contains(e, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 with %q", c.args, code, e, c.want)
		}
	}
}

// train refuses an --out that holds a model but no training checkpoint, before reading any
// data (it replaced the model); --resume is what restarts a run killed before its first
// checkpoint.
func TestTrainKeepsAModelInOut(t *testing.T) {
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "config.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, e, code := run(t, "train", "--arch", "cifar-resnet20", "--dataset", "cifar10:nowhere", "--out", out)
	if code != 1 || !strings.Contains(e, "already holds config.json but no training checkpoint") {
		t.Errorf("exit %d, stderr %q; want a refusal naming config.json", code, e)
	}
	// --resume restarts a run killed in its first epoch, whose files include metrics.jsonl,
	// but not over a model folder without one (it replaced the model).
	_, e, code = run(t, "train", "--arch", "cifar-resnet20", "--dataset", "cifar10:nowhere", "--out", out, "--resume")
	if code != 1 || !strings.Contains(e, "holds config.json but neither a training checkpoint nor metrics.jsonl: it is a model") {
		t.Errorf("--resume over a model folder: exit %d, stderr %q", code, e)
	}
	if err := os.WriteFile(filepath.Join(out, "metrics.jsonl"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, e, _ = run(t, "train", "--arch", "cifar-resnet20", "--dataset", "cifar10:nowhere", "--out", out, "--resume")
	if strings.Contains(e, "holds") || !strings.Contains(e, "nowhere") {
		t.Errorf("--resume over a killed run's files was refused: %q", e)
	}
	// Fine-tuning into the folder it starts from, directory or file, with or without --resume.
	if err := os.WriteFile(filepath.Join(out, "model.safetensors"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--init", out}, {"--init", filepath.Join(out, "model.safetensors"), "--resume"}} {
		_, e, code = run(t, append([]string{"train", "--dataset", "cifar10:nowhere", "--out", out}, args...)...)
		if code != 1 || !strings.Contains(e, "the run would replace the model it starts from") {
			t.Errorf("%v: exit %d, stderr %q", args, code, e)
		}
	}
}

// Class names files: Windows line ends are not part of the names, trailing empty lines are
// ignored, an empty line between names is refused.
func TestReadLabels(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{"cat\ndog\n", []string{"cat", "dog"}, ""},
		{"cat\r\ndog\r\n", []string{"cat", "dog"}, ""},
		{"cat\ndog\n\n\n", []string{"cat", "dog"}, ""},
		{"tabby, tabby cat\nnot a dog", []string{"tabby, tabby cat", "not a dog"}, ""},
		{"cat\n\ndog\n", nil, "line 2 is empty"},
		{"", nil, "line 1 is empty"},
	} {
		got, err := readLabels(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("readLabels(%q) = %q, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("readLabels(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// help and completion refuse topics and shells they do not know (cobra's printed a note or
// the help and exited 0); what they know still works.
func TestHelpAndCompletionTopics(t *testing.T) {
	for _, c := range []struct {
		args   []string
		code   int
		outHas string // stdout on success, stderr on failure
	}{
		{[]string{"help", "classify"}, 0, "Print the top classes of images"},
		{[]string{"help"}, 0, "Available Commands"},
		{[]string{"help", "clasify"}, 1, `unknown help topic "clasify"`},
		{[]string{"help", "serve", "grpc"}, 1, `unknown help topic "serve grpc"`},
		{[]string{"completion", "bash"}, 0, "bash completion"},
		{[]string{"completion"}, 0, "autocompletion script"},
		{[]string{"completion", "bsh"}, 1, `unknown command "bsh"`},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			out, errOut, code := run(t, c.args...)
			text := out
			if c.code != 0 {
				text = errOut
			}
			if code != c.code || !strings.Contains(text, c.outHas) {
				t.Errorf("exit %d (want %d), stdout %.80q, stderr %q; want %q", code, c.code, out, errOut, c.outHas)
			}
		})
	}
}

// bench --train times the input size it is given (it used to ignore --size), and both kinds
// of bench refuse the flags that shape images or name classes, which their random tensors
// would ignore; --size still sets the size.
func TestBenchFlags(t *testing.T) {
	train := []string{"bench", "--train", "--arch", "cifar-resnet20", "--batch", "2", "--runs", "1", "--warmup", "0"}
	infer := []string{"bench", "--model", tinyModel, "--runs", "1", "--warmup", "0"}
	for _, c := range []struct {
		base, extra []string
		code        int
		outHas      string
	}{
		{train, nil, 0, "batch 2  32×32"},
		{train, []string{"--size", "48"}, 0, "batch 2  48×48"},
		{train, []string{"--height", "40", "--width", "24"}, 0, "batch 2  40×24"},
		{train, []string{"--height", "40"}, 1, "--height and --width go together"},
		{train, []string{"--size", "40", "--height", "40", "--width", "40"}, 1, "not both"},
		{train, []string{"--mean", "0,0,0"}, 1, "--mean does not apply to --train"},
		{train, []string{"--resample", "nearest"}, 1, "--resample does not apply to --train"},
		{infer, []string{"--size", "40"}, 0, "median"},
		{infer, []string{"--mean", "0,0,0"}, 1, "--mean does not apply to bench, which times forward passes on random tensors"},
		{infer, []string{"--crop-pct", "0.5"}, 1, "--crop-pct does not apply to bench"},
		{infer, []string{"--labels", "labels.txt"}, 1, "--labels does not apply to bench"},
		{infer, []string{"--preprocess", "torchvision"}, 1, "--preprocess does not apply to bench"},
	} {
		t.Run(strings.Join(append([]string{c.base[1]}, c.extra...), " "), func(t *testing.T) {
			out, errOut, code := run(t, append(append([]string(nil), c.base...), c.extra...)...)
			text := out
			if c.code != 0 {
				text = errOut
			}
			if code != c.code || !strings.Contains(text, c.outHas) {
				t.Errorf("exit %d (want %d), stdout %q, stderr %q; want %q", code, c.code, out, errOut, c.outHas)
			}
		})
	}
}

// Commands without positional arguments name the flag that takes what was given; cobra's own
// refusal called it an "unknown command" (`resnet eval cifar10:DIR` looked like a misspelt
// command, not a dataset given in the wrong place).
func TestPositionalArgumentsRefused(t *testing.T) {
	for _, c := range []struct {
		args []string
		hint string
	}{
		{[]string{"eval", "cifar10:/data"}, "--dataset KIND:PATH"},
		{[]string{"info", "./model"}, "--model"},
		{[]string{"bench", "./model"}, "--model"},
		{[]string{"serve", "./model"}, "--model [NAME=]MODEL"},
		{[]string{"train", "cifar10:/data"}, "--dataset KIND:PATH"},
		{[]string{"experiment", "degradation", "cifar10:/data"}, "--dataset cifar10:DIR"},
		{[]string{"version", "x"}, "--json"},
	} {
		t.Run(c.args[0], func(t *testing.T) {
			_, errOut, code := run(t, c.args...)
			want := strings.Join(c.args[:len(c.args)-1], " ") + " takes no arguments"
			if code == 0 || !strings.Contains(errOut, want) || !strings.Contains(errOut, c.hint) {
				t.Fatalf("exit %d, stderr %q; want a refusal saying %q and %q", code, errOut, want, c.hint)
			}
		})
	}
}
