package main

import (
	"bufio"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/datasets"
	"github.com/resnet-go/resnet/weights"
)

func parseEval(t *testing.T, out string) evalResult {
	t.Helper()
	var r evalResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("eval --json: %v: %q", err, out)
	}
	if r.Total == 0 || r.Accuracy != float64(r.Correct)/float64(r.Total) {
		t.Errorf("eval --json: inconsistent %+v", r)
	}
	return r
}

// cifarFolder writes the first n CIFAR-10 test images of each named CIFAR class as lossless
// PNGs into root/<folder>/, the folder names given by folders (class name → folder name), and
// returns root.
func cifarFolder(t *testing.T, n int, folders map[string]string) string {
	t.Helper()
	d, err := datasets.ReadCIFAR10Dataset(filepath.Join(shared(t), "data", "cifar10", "test_batch.bin"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	count := map[int]int{}
	for i, l := range d.Labels {
		folder, ok := folders[d.Classes[l]]
		if !ok || count[l] >= n {
			continue
		}
		count[l]++
		dir := filepath.Join(root, folder)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		rgb := d.RGB(i)
		img := image.NewNRGBA(image.Rect(0, 0, rgb.W, rgb.H))
		for p := range rgb.W * rgb.H {
			img.Pix[4*p], img.Pix[4*p+1], img.Pix[4*p+2], img.Pix[4*p+3] = rgb.Pix[3*p], rgb.Pix[3*p+1], rgb.Pix[3*p+2], 255
		}
		f, err := os.Create(filepath.Join(dir, strconv.Itoa(i)+".png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return root
}

func writeLines(t *testing.T, lines []string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "labels.txt")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readPredictions(t *testing.T, path string) []int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		cls, id, ok := strings.Cut(l, "\t") // the class, a tab, the example
		v, err := strconv.Atoi(cls)
		if !ok || id == "" || err != nil {
			t.Fatalf("predictions line %q", l)
		}
		out = append(out, v)
	}
	return out
}

// The built-in CIFAR-10 model on a folder of cat/ and dog/ CIFAR test images: the folders
// are CIFAR-10 classes 3 and 5, not 0 and 1.
func TestEvalFolderMatchesClassNames(t *testing.T) {
	const n = 8
	data := cifarFolder(t, n, map[string]string{"cat": "cat", "dog": "Dog"})
	preds := filepath.Join(t.TempDir(), "preds.txt")
	out, errOut, code := run(t, "eval", "--dataset", "folder:"+data, "--json", "--predictions", preds, "-q")
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, errOut)
	}
	r := parseEval(t, out)
	if r.Total != 2*n || r.Accuracy < 0.6 || r.ClassesMatched != 2 || r.ClassesTotal != 2 || r.ClassMapping != "name" {
		t.Errorf("eval on cat/ and Dog/: %+v", r)
	}
	// Predictions stay model class indices, and score as reported: cat is 3, dog 5. The
	// folder lists Dog/ before cat/ (byte order), so its class 0 is a dog.
	p := readPredictions(t, preds)
	if len(p) != 2*n {
		t.Fatalf("%d predictions, want %d", len(p), 2*n)
	}
	right := 0
	for i, v := range p {
		if v < 0 || v > 9 {
			t.Errorf("prediction %d is %d, not a model class", i, v)
		}
		if (i < n && v == 5) || (i >= n && v == 3) {
			right++
		}
	}
	if right != r.Correct {
		t.Errorf("predictions file has %d right, eval reports %d", right, r.Correct)
	}
	out, errOut, code = run(t, "eval", "--dataset", "folder:"+data, "-q")
	if code != 0 || !strings.Contains(out, "2 of 2 classes matched by name") || !strings.Contains(out, "accuracy") {
		t.Errorf("human output: exit %d: %q %s", code, out, errOut)
	}
}

// An unreadable image fails eval, naming the flag that skips it; with --on-bad-image skip it
// is listed on stderr, counted, and left out of the total.
func TestEvalSkipsBadImages(t *testing.T) {
	const n = 4
	data := cifarFolder(t, n, map[string]string{"cat": "cat", "dog": "dog"})
	if err := os.WriteFile(filepath.Join(data, "cat", "broken.png"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, "eval", "--dataset", "folder:"+data, "-q")
	if code == 0 || !strings.Contains(errOut, "broken.png") || !strings.Contains(errOut, "--on-bad-image skip") {
		t.Errorf("bad image: exit %d, %q; want a failure naming it and --on-bad-image skip", code, errOut)
	}
	out, errOut, code := run(t, "eval", "--dataset", "folder:"+data, "--on-bad-image", "skip", "--json", "-q")
	if r := parseEval(t, out); code != 0 || r.Total != 2*n || r.Skipped != 1 || !strings.Contains(errOut, "skipping") || !strings.Contains(errOut, "broken.png") {
		t.Errorf("skip: exit %d, %+v, stderr %q; want %d evaluated, 1 skipped and listed", code, r, errOut, 2*n)
	}
	out, _, _ = run(t, "eval", "--dataset", "folder:"+data, "--on-bad-image", "skip", "-q")
	if !strings.Contains(out, "1 unreadable images skipped, not counted") {
		t.Errorf("human output %q does not report the skipped image", out)
	}
}

// A folder without a class in the model is refused, naming it.
func TestEvalFolderUnknownClass(t *testing.T) {
	data := cifarFolder(t, 2, map[string]string{"cat": "cat", "dog": "zebra"})
	out, errOut, code := run(t, "eval", "--dataset", "folder:"+data, "--json", "-q")
	if code == 0 || out != "" || !strings.Contains(errOut, `no class in the model for "zebra"`) || !strings.Contains(errOut, "1 of 2") {
		t.Errorf("eval with a zebra/ folder: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// Two folders for one model class are refused too.
	data = cifarFolder(t, 2, map[string]string{"cat": "cat", "dog": "CAT"})
	if _, errOut, code := run(t, "eval", "--dataset", "folder:"+data, "-q"); code == 0 || !strings.Contains(errOut, "two dataset classes for one model class") {
		t.Errorf("eval with cat/ and CAT/: exit %d, %s", code, errOut)
	}
}

// imagenetModel writes a tiny 1000-class model whose id2label holds the ImageNet names (as
// HF's, synonyms separated by commas): model/testdata/basic with a new head.
func imagenetModel(t *testing.T) string {
	t.Helper()
	f, err := os.Open(filepath.Join(shared(t), "data", "imagenet", "synset_words.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	id2label := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		_, name, _ := strings.Cut(sc.Text(), " ")
		id2label[strconv.Itoa(len(id2label))] = name
	}
	if len(id2label) != 1000 {
		t.Fatalf("%d ImageNet names", len(id2label))
	}
	src := "../../model/testdata/basic"
	var cfg map[string]any
	data, err := os.ReadFile(filepath.Join(src, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["id2label"] = id2label
	sd, _, err := weights.ReadSafetensors(filepath.Join(src, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	w := sd["classifier.1.weight"]
	if w == nil || len(w.Shape) != 2 {
		t.Fatalf("basic model: classifier weight %v", w)
	}
	features := w.Shape[1]
	head := &weights.Tensor{DType: "F32", Shape: []int{1000, features}, Data: make([]float32, 1000*features)}
	for i := range head.Data {
		head.Data[i] = float32((i*7919)%201-100) / 1000
	}
	sd["classifier.1.weight"] = head
	sd["classifier.1.bias"] = &weights.Tensor{DType: "F32", Shape: []int{1000}, Data: make([]float32, 1000)}
	dir := t.TempDir()
	if err := weights.WriteSafetensors(filepath.Join(dir, "model.safetensors"), sd, nil, "F32"); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A 1000-class ImageNet model on CIFAR-10 has none of its classes: refused, naming them. On
// folders named after ImageNet classes (a synonym is enough) it evaluates.
func TestEvalImageNetModelOnCIFAR(t *testing.T) {
	m := imagenetModel(t)
	ds := "cifar10:" + filepath.Join(shared(t), "data", "cifar10")
	out, errOut, code := run(t, "eval", "--model", m, "--dataset", ds, "--limit", "20", "--json", "-q")
	if code == 0 || out != "" {
		t.Fatalf("ImageNet model on CIFAR-10: exit %d, stdout %q", code, out)
	}
	for _, s := range []string{"0 of 10", `"airplane"`, `"automobile"`, `"truck"`, "no class in the model"} {
		if !strings.Contains(errOut, s) {
			t.Errorf("refusal lacks %q: %s", s, errOut)
		}
	}
	data := cifarFolder(t, 2, map[string]string{"cat": "tabby_cat", "dog": "Samoyed"})
	out, errOut, code = run(t, "eval", "--model", m, "--dataset", "folder:"+data, "--json", "-q")
	if code != 0 {
		t.Fatalf("ImageNet model on tabby_cat/ and Samoyed/: %s", errOut)
	}
	if r := parseEval(t, out); r.ClassesMatched != 2 || r.ClassesTotal != 2 || r.ClassMapping != "name" || r.Total != 4 {
		t.Errorf("ImageNet model on tabby_cat/ and Samoyed/: %+v", r)
	}
	// --limit above the split's size evaluates all of it, and says so.
	out, errOut, code = run(t, "eval", "--model", m, "--dataset", "folder:"+data, "--limit", "9", "--json", "-q")
	if r := parseEval(t, out); code != 0 || r.Total != 4 || !strings.Contains(errOut, "--limit 9 is more than the split's 4 examples; evaluating all 4") {
		t.Errorf("--limit 9 of 4: exit %d, %+v, stderr %q", code, r, errOut)
	}
}

// be32 appends v big-endian, as IDX headers store it.
func be32(b []byte, v uint32) []byte { return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v)) }

// writeIDX writes MNIST-style test files of n 28×28 images into a new directory.
func writeIDX(t *testing.T, labels []uint8) string {
	t.Helper()
	dir := t.TempDir()
	n := len(labels)
	img := be32(nil, 0x0803)
	img = be32(img, uint32(n))
	img = be32(img, 28)
	img = be32(img, 28)
	for i := range n * 28 * 28 {
		img = append(img, uint8(i*13+i/784*51))
	}
	lab := be32(nil, 0x0801)
	lab = be32(lab, uint32(n))
	lab = append(lab, labels...)
	if err := os.WriteFile(filepath.Join(dir, "t10k-images-idx3-ubyte"), img, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "t10k-labels-idx1-ubyte"), lab, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Fashion-MNIST and MNIST class names are matched to a model's labels by name, whatever order
// the model keeps them in; a CIFAR-10 model is refused on them.
func TestEvalIDXClassNames(t *testing.T) {
	labels := []uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 0}
	dir := writeIDX(t, labels)
	// Model class i is Fashion-MNIST class 9-i, spelt as a folder would be.
	fashion := make([]string, 10)
	for i, c := range datasets.FashionMNISTClasses {
		fashion[9-i] = strings.NewReplacer("/", "_", " ", "_").Replace(strings.ToLower(c))
	}
	preds := filepath.Join(t.TempDir(), "preds.txt")
	out, errOut, code := run(t, "eval", "--labels", writeLines(t, fashion), "--dataset", "fashion-mnist:"+dir, "--json", "--predictions", preds, "-q")
	if code != 0 {
		t.Fatalf("fashion-mnist: %s", errOut)
	}
	r := parseEval(t, out)
	if r.ClassesMatched != 10 || r.ClassesTotal != 10 || r.ClassMapping != "name" || r.Total != len(labels) {
		t.Errorf("fashion-mnist: %+v", r)
	}
	right := 0
	for i, p := range readPredictions(t, preds) {
		if p == 9-int(labels[i]) {
			right++
		}
	}
	if right != r.Correct {
		t.Errorf("fashion-mnist: predictions file has %d right, eval reports %d", right, r.Correct)
	}
	// MNIST: the digits, in reverse order too.
	digits := []string{"9", "8", "7", "6", "5", "4", "3", "2", "1", "0"}
	out, errOut, code = run(t, "eval", "--labels", writeLines(t, digits), "--dataset", "mnist:"+dir, "--json", "--predictions", preds, "-q")
	if code != 0 {
		t.Fatalf("mnist: %s", errOut)
	}
	r = parseEval(t, out)
	right = 0
	for i, p := range readPredictions(t, preds) {
		if p == 9-int(labels[i]) {
			right++
		}
	}
	if r.ClassesMatched != 10 || r.ClassMapping != "name" || right != r.Correct {
		t.Errorf("mnist: %+v, %d right in the predictions file", r, right)
	}
	// The built-in CIFAR-10 model has none of these classes.
	for _, kind := range []string{"mnist", "fashion-mnist"} {
		if _, errOut, code := run(t, "eval", "--dataset", kind+":"+dir, "-q"); code == 0 || !strings.Contains(errOut, "0 of 10") {
			t.Errorf("CIFAR-10 model on %s: exit %d, %s", kind, code, errOut)
		}
	}
}

// A model whose labels are only LABEL_0…LABEL_9 is matched by position when the class counts
// agree (and says so), and refused otherwise.
func TestEvalGenericLabels(t *testing.T) {
	generic := make([]string, 10)
	for i := range generic {
		generic[i] = "LABEL_" + strconv.Itoa(i)
	}
	lf := writeLines(t, generic)
	ds := "cifar10:" + filepath.Join(shared(t), "data", "cifar10")
	out, errOut, code := run(t, "eval", "--labels", lf, "--dataset", ds, "--limit", "40", "--json", "-q")
	if code != 0 {
		t.Fatalf("generic labels on cifar10: %s", errOut)
	}
	named, errOut, code := run(t, "eval", "--dataset", ds, "--limit", "40", "--json", "-q")
	if code != 0 {
		t.Fatalf("built-in model on cifar10: %s", errOut)
	}
	r, rn := parseEval(t, out), parseEval(t, named)
	if r.ClassMapping != "position" || r.ClassesMatched != 10 || rn.ClassMapping != "name" || r.Correct != rn.Correct || r.Correct < 25 {
		t.Errorf("generic labels: %+v; named labels: %+v", r, rn)
	}
	out, _, _ = run(t, "eval", "--labels", lf, "--dataset", ds, "--limit", "10", "-q")
	if !strings.Contains(out, "10 of 10 classes matched by position") || !strings.Contains(out, "generic LABEL_0") {
		t.Errorf("human output: %q", out)
	}
	data := cifarFolder(t, 1, map[string]string{"cat": "cat", "dog": "dog"})
	if _, errOut, code := run(t, "eval", "--labels", lf, "--dataset", "folder:"+data, "-q"); code == 0 || !strings.Contains(errOut, "no names") {
		t.Errorf("generic labels on a 2-class folder: exit %d, %s", code, errOut)
	}
}

// A model trained on a folder takes its id2label from the folder names, so eval on the same
// folder matches every class by name.
func TestEvalModelTrainedOnFolder(t *testing.T) {
	data := imageFolder(t)
	model := filepath.Join(t.TempDir(), "run")
	if _, errOut, code := run(t, "train", "--arch", "cifar-resnet8", "--dataset", "folder:"+data, "--epochs", "1", "--batch", "16", "--out", model, "-q"); code != 0 {
		t.Fatalf("train: %s", errOut)
	}
	out, errOut, code := run(t, "eval", "--model", model, "--dataset", "folder:"+data, "--json", "-q")
	if code != 0 {
		t.Fatalf("eval of the trained model: %s", errOut)
	}
	if r := parseEval(t, out); r.ClassesMatched != 4 || r.ClassesTotal != 4 || r.ClassMapping != "name" || r.Total != 96 {
		t.Errorf("eval of the trained model: %+v", r)
	}
}

// TestMaxPixelsReachesDatasets: --max-pixels applies to the images of a folder dataset in
// eval and train, not only to IMAGE arguments (32×32 = 1024 pixels each here).
func TestMaxPixelsReachesDatasets(t *testing.T) {
	data := cifarFolder(t, 2, map[string]string{"cat": "cat", "dog": "dog"})
	out := filepath.Join(t.TempDir(), "run")
	for _, tc := range []struct {
		name string
		args []string
		fail bool
	}{
		{"eval under the limit", []string{"eval", "--dataset", "folder:" + data, "--max-pixels", "1024", "-q"}, false},
		{"eval over the limit", []string{"eval", "--dataset", "folder:" + data, "--max-pixels", "1023", "-q"}, true},
		{"train over the limit", []string{"train", "--arch", "cifar-resnet8", "--dataset", "folder:" + data, "--epochs", "1", "--batch", "4", "--out", out, "--max-pixels", "1023", "-q"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := run(t, tc.args...)
			if tc.fail && (code == 0 || !strings.Contains(errOut, "over the limit of 1023")) {
				t.Errorf("exit %d, stderr %q; want an error naming the limit", code, errOut)
			}
			if !tc.fail && code != 0 {
				t.Errorf("exit %d, stderr %q", code, errOut)
			}
		})
	}
}
