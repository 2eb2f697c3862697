package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/resnet-go/resnet"
)

// multiLabelModel copies the built-in model into a folder whose config.json sets
// problem_type, as a model fine-tuned for multi-label classification has it.
func multiLabelModel(t *testing.T, problemType string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"config.json", "preprocessor_config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "defaultmodel", "model", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "config.json" {
			var cfg map[string]any
			if err := json.Unmarshal(b, &cfg); err != nil {
				t.Fatal(err)
			}
			cfg["problem_type"] = problemType
			if b, err = json.Marshal(cfg); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func sigmoid(v float32) float64 { return 1 / (1 + math.Exp(-float64(v))) }

// TestMultiLabelScores: a multi-label model's scores are each logit's sigmoid in classify,
// in explain and in serve's HF route alike (classify used the softmax while serve used the
// sigmoid: the same image scored 1.0000 / 0.0000 / 0.0000 there and 1 / 0.99999 / 0.9974 in
// serve), and a single-label one keeps the softmax.
func TestMultiLabelScores(t *testing.T) {
	img := filepath.Join(shared(t), "data", "images", "cifar10-test-png", "cifar10_01_8.png")
	ml := multiLabelModel(t, "multi_label_classification")
	out, errOut, code := run(t, "classify", "--model", ml, "--json", "--logits", "--top-k", "10", img)
	if code != 0 {
		t.Fatalf("classify: %s", errOut)
	}
	var r classifyResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, p := range r.Top {
		if want := sigmoid(r.Logits[p.Index]); math.Abs(float64(p.Score)-want) > 1e-6 {
			t.Errorf("classify: class %d scored %v, sigmoid of its logit %v is %v", p.Index, p.Score, r.Logits[p.Index], want)
		}
		sum += float64(p.Score)
	}
	if math.Abs(sum-1) < 1e-3 {
		t.Errorf("classify: the ten scores sum to %v, as a softmax's would", sum)
	}

	out, errOut, code = run(t, "explain", "--model", ml, "--json", "--out", t.TempDir(), img)
	if code != 0 {
		t.Fatalf("explain: %s", errOut)
	}
	var e explainResult
	if err := json.Unmarshal([]byte(out), &e); err != nil || e.Class == nil {
		t.Fatalf("explain output %q: %v", out, err)
	}
	if want := sigmoid(r.Logits[*e.Class]); math.Abs(float64(e.Score)-want) > 1e-6 {
		t.Errorf("explain: class %d scored %v, want the sigmoid %v", *e.Class, e.Score, want)
	}

	p := startServe(t, "--model", "ml="+ml)
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(p.url+"/models/ml?top_k=10", "image/png", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var served []struct {
		Label string  `json:"label"`
		Score float64 `json:"score"`
	}
	if err := json.Unmarshal(body, &served); err != nil || len(served) != 10 {
		t.Fatalf("serve: %d %s", resp.StatusCode, body)
	}
	for i, s := range served {
		if s.Label != r.Top[i].Label || math.Abs(s.Score-float64(r.Top[i].Score)) > 1e-5 {
			t.Errorf("serve's rank %d is %s %v, classify's %s %v", i, s.Label, s.Score, r.Top[i].Label, r.Top[i].Score)
		}
	}

	single := multiLabelModel(t, "single_label_classification")
	if out, errOut, code = run(t, "classify", "--model", single, "--json", "--top-k", "10", img); code != 0 {
		t.Fatalf("classify: %s", errOut)
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	sum = 0
	for _, p := range r.Top {
		sum += float64(p.Score)
	}
	if math.Abs(sum-1) > 1e-5 {
		t.Errorf("single-label classify: the ten scores sum to %v, want a softmax's 1", sum)
	}

	bad := multiLabelModel(t, "multilabel")
	if _, errOut, code = run(t, "classify", "--model", bad, img); code == 0 || !strings.Contains(errOut, `problem_type "multilabel" is not`) {
		t.Errorf("problem_type multilabel: exit %d, stderr %s", code, errOut)
	}
}

// TestClassifyOutputCountsFailures: with --output, the summary counts the results the file
// holds ("the results of 2 images (all inputs)" was printed for a file of one).
func TestClassifyOutputCountsFailures(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.jpg")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cat := filepath.Join(shared(t), "data", "images", "cat.jpg")
	out := filepath.Join(dir, "out.jsonl")
	_, errOut, code := run(t, "classify", "--json", "--output", out, cat, empty)
	if code != 1 || !strings.Contains(errOut, "wrote the results of 1 of 2 images (all inputs; 1 failed, listed above) to "+out) {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), `"top"`); n != 1 {
		t.Errorf("%s holds %d results, want 1:\n%s", out, n, data)
	}
}

// TestEvalPredictionsNameTheirImages: with unreadable images skipped, each --predictions line
// still says which image it is (the skipped ones had shifted every later line silently).
func TestEvalPredictionsNameTheirImages(t *testing.T) {
	pngs, _ := filepath.Glob(filepath.Join(shared(t), "data", "images", "cifar10-test-png", "cifar10_*_3.png"))
	if len(pngs) == 0 {
		t.Fatal("no CIFAR-10 cat PNGs in ../shared/data/images/cifar10-test-png")
	}
	dir := t.TempDir()
	var want []string
	for i, p := range pngs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, "cat", fmt.Sprintf("%02d.png", 2*i+1))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
		want = append(want, name)
		// An unreadable image before each good one.
		if err := os.WriteFile(filepath.Join(dir, "cat", fmt.Sprintf("%02d.png", 2*i)), []byte("broken"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	preds := filepath.Join(t.TempDir(), "preds.tsv")
	if _, errOut, code := run(t, "eval", "--dataset", "folder:"+dir, "--on-bad-image", "skip", "--predictions", preds, "-q"); code != 0 {
		t.Fatalf("eval: %s", errOut)
	}
	data, err := os.ReadFile(preds)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), data)
	}
	for i, l := range lines {
		cls, path, _ := strings.Cut(l, "\t")
		if _, err := strconv.Atoi(cls); err != nil || path != want[i] {
			t.Errorf("line %d %q, want a class and %s", i, l, want[i])
		}
	}
}

// TestClassifyRefusesHeadless: a model without a classifier head gives features; classify
// scored them as if they were classes.
func TestClassifyRefusesHeadless(t *testing.T) {
	ck, err := resnet.RandomCheckpoint("cifar-resnet8", 1)
	if err != nil {
		t.Fatal(err)
	}
	ck.DropHead()
	dir := t.TempDir()
	if err := ck.Save(dir); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(shared(t), "data", "images", "cat.jpg")
	if _, errOut, code := run(t, "classify", "--model", dir, img); code != 1 || !strings.Contains(errOut, "has no classifier head (num_labels 0): it gives features, not class scores; `resnet embed` writes them") {
		t.Errorf("classify: exit %d, stderr %q", code, errOut)
	}
	if out, errOut, code := run(t, "embed", "--model", dir, img); code != 0 || !strings.Contains(out, "[") {
		t.Errorf("embed: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
