package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/weights"
)

// onnxModels exports the tiny test model with BN kept and folded.
func onnxModels(t *testing.T) (keep, fold string) {
	t.Helper()
	dir := t.TempDir()
	keep, fold = filepath.Join(dir, "keep.onnx"), filepath.Join(dir, "fold.onnx")
	for _, args := range [][]string{{"export", "--format", "onnx", tinyModel, keep}, {"export", "--format", "onnx", "--fold-bn", "--dynamic-batch", "--opset", "13", tinyModel, fold}} {
		if _, errOut, code := run(t, args...); code != 0 {
			t.Fatalf("%v: %s", args, errOut)
		}
	}
	return keep, fold
}

// TestONNXModelEverywhere: `--model x.onnx` gives the same answers as the checkpoint it was
// exported from in classify (logits bit for bit, labels from metadata), embed, info, eval,
// bench, serve, explain, convert and train --init.
func TestONNXModelEverywhere(t *testing.T) {
	keep, fold := onnxModels(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "a.png")
	writePNG(t, img, 40, 30)

	classify := func(model string) string {
		out, errOut, code := run(t, "classify", "--model", model, "--json", "--logits", "--top-k", "3", img)
		if code != 0 {
			t.Fatalf("classify --model %s: %s", model, errOut)
		}
		return out
	}
	want := classify(tinyModel)
	if !strings.Contains(want, "class_") {
		t.Fatalf("reference output has no labels: %s", want)
	}
	for _, m := range []string{keep, fold} {
		// The JSON prints float32 logits in full, so equal text means equal bits.
		if got := classify(m); got != want {
			t.Errorf("classify --model %s:\n%s\nwant (the checkpoint it was exported from)\n%s", filepath.Base(m), got, want)
		}
	}

	t.Run("embed", func(t *testing.T) {
		var outs [][]byte
		for _, m := range []string{tinyModel, fold} {
			p := filepath.Join(t.TempDir(), "f.npy")
			if _, errOut, code := run(t, "embed", "--model", m, "--output", p, img); code != 0 {
				t.Fatalf("embed --model %s: %s", m, errOut)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, b)
		}
		if !bytes.Equal(outs[0], outs[1]) {
			t.Error("embed: the ONNX model's features differ from the checkpoint's")
		}
	})

	t.Run("info", func(t *testing.T) {
		var res []infoResult
		for _, m := range []string{tinyModel, keep} {
			out, errOut, code := run(t, "info", "--model", m, "--json")
			if code != 0 {
				t.Fatalf("info --model %s: %s", m, errOut)
			}
			var r infoResult
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatal(err)
			}
			res = append(res, r)
		}
		if res[0].Parameters != res[1].Parameters || res[0].MACs != res[1].MACs || res[0].Input != res[1].Input {
			t.Errorf("info: %+v, checkpoint %+v", res[1], res[0])
		}
	})

	t.Run("eval", func(t *testing.T) {
		data := imageFolder(t)
		labels := filepath.Join(t.TempDir(), "labels.txt")
		os.WriteFile(labels, []byte("a\nb\nc\nd\ne\nf\ng\n"), 0o644)
		var outs []string
		for _, m := range []string{tinyModel, keep, fold} {
			out, errOut, code := run(t, "eval", "--model", m, "--labels", labels, "--dataset", "folder:"+data, "--json", "-q")
			if code != 0 {
				t.Fatalf("eval --model %s: %s", m, errOut)
			}
			var r map[string]any
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatal(err)
			}
			delete(r, "seconds")
			delete(r, "images_per_second")
			delete(r, "model")
			b, _ := json.Marshal(r)
			outs = append(outs, string(b))
		}
		if outs[1] != outs[0] || outs[2] != outs[0] {
			t.Errorf("eval:\n%s\n%s\nwant\n%s", outs[1], outs[2], outs[0])
		}
	})

	t.Run("bench", func(t *testing.T) {
		if _, errOut, code := run(t, "bench", "--model", fold, "--runs", "2", "--warmup", "1", "--batch", "2", "--threads", "1", "--json"); code != 0 {
			t.Fatalf("bench: %s", errOut)
		}
	})

	t.Run("serve", func(t *testing.T) {
		p := startServe(t, "--model", "tiny="+fold)
		got := oipLogits(t, p.url, "tiny", img)
		ref := classifyLogits(t, img, "--model", tinyModel)
		if !slices.Equal(got, ref) {
			t.Errorf("served logits %v, checkpoint %v", got, ref)
		}
	})

	t.Run("explain", func(t *testing.T) {
		out := t.TempDir()
		if _, errOut, code := run(t, "explain", "--model", keep, "--out", out, "--json", img); code != 0 {
			t.Fatalf("explain: %s", errOut)
		}
	})

	t.Run("convert", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "hf")
		if _, errOut, code := run(t, "convert", fold, out); code != 0 {
			t.Fatalf("convert: %s", errOut)
		}
		for _, f := range []string{"config.json", "preprocessor_config.json", "model.safetensors"} {
			if _, err := os.Stat(filepath.Join(out, f)); err != nil {
				t.Fatal(err)
			}
		}
		if got := classify(out); got != want {
			t.Errorf("classify of the converted directory:\n%s\nwant\n%s", got, want)
		}
	})

	t.Run("train --init", func(t *testing.T) {
		data := imageFolder(t)
		out := filepath.Join(t.TempDir(), "run")
		if _, errOut, code := run(t, "train", "--init", keep, "--freeze-backbone", "--dataset", "folder:"+data,
			"--epochs", "1", "--batch", "16", "--lr", "0.01", "--out", out, "-q"); code != 0 {
			t.Fatalf("train: %s", errOut)
		}
		got, _, err := weights.ReadSafetensors(filepath.Join(out, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		src, _, err := weights.ReadSafetensors(filepath.Join(tinyModel, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"resnet.embedder.embedder.convolution.weight", "resnet.encoder.stages.2.layers.1.layer.1.convolution.weight"} {
			if !slices.Equal(got[name].Data, src[name].Data) {
				t.Errorf("%s is not the --init model's", name)
			}
		}
		if s := got["classifier.1.weight"].Shape; s[0] != 4 {
			t.Errorf("head %v, want 4 classes", s)
		}
	})
}

// TestONNXTorchExportCLI: a torch.onnx.export file (no metadata) classifies with LABEL_i
// names, or the --labels given; a folder holding it loads it; refusals name the node.
func TestONNXTorchExportCLI(t *testing.T) {
	torchFile := "../../onnx/testdata/import/basic_op11_fold_dyn.onnx"
	dir := t.TempDir()
	img := filepath.Join(dir, "a.png")
	writePNG(t, img, 40, 30)
	out, errOut, code := run(t, "classify", "--model", torchFile, "--json", "--top-k", "10", img)
	if code != 0 || !strings.Contains(out, "LABEL_") {
		t.Fatalf("classify (exit %d): %s %s", code, out, errOut)
	}
	// Without preprocessing metadata the default is used, and said; a flag that sets the
	// preprocessing silences the note, as does a config that comes with the model (the
	// built-in one's).
	if want := "note: " + torchFile + " has no preprocessing config; using the default for its stem"; !strings.Contains(errOut, want) {
		t.Errorf("stderr %q lacks %q", errOut, want)
	}
	if _, errOut, _ := run(t, "classify", "--model", torchFile, "--resample", "bilinear", img); strings.Contains(errOut, "note:") {
		t.Errorf("--resample given, still a note: %q", errOut)
	}
	if _, errOut, _ := run(t, "classify", img); strings.Contains(errOut, "note:") {
		t.Errorf("the built-in model, which has its preprocessing, got a note: %q", errOut)
	}
	folder := filepath.Join(dir, "exported")
	os.MkdirAll(folder, 0o755)
	data, _ := os.ReadFile(torchFile)
	os.WriteFile(filepath.Join(folder, "model.onnx"), data, 0o644)
	// HF optimum's layout: labels in the config.json beside model.onnx.
	cfg := `{"model_type": "resnet", "id2label": {` + strings.Join(func() []string {
		var s []string
		for i := 0; i < 10; i++ {
			s = append(s, `"`+string(rune('0'+i))+`": "name`+string(rune('0'+i))+`"`)
		}
		return s
	}(), ",") + `}}`
	os.WriteFile(filepath.Join(folder, "config.json"), []byte(cfg), 0o644)
	out2, errOut, code := run(t, "classify", "--model", folder, "--json", "--top-k", "10", img)
	if code != 0 || !strings.Contains(out2, `"name`) {
		t.Fatalf("classify of a folder with model.onnx (exit %d): %s %s", code, out2, errOut)
	}
	two := filepath.Join(dir, "two")
	os.MkdirAll(two, 0o755)
	os.WriteFile(filepath.Join(two, "a.onnx"), data, 0o644)
	os.WriteFile(filepath.Join(two, "b.onnx"), data, 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"classify", "--model", "../../onnx/testdata/import/bad/preact_block.onnx", img}, `"block.bn1" (BatchNormalization)`},
		{[]string{"classify", "--model", "../../onnx/testdata/import/bad/grouped_conv.onnx", img}, "group = 2"},
		{[]string{"info", "--model", filepath.Join(dir, "missing.onnx")}, "no such file"},
		{[]string{"info", "--model", two}, "2 ONNX models"},
		{[]string{"classify", "--model", torchFile, "--arch", "resnet-18", img}, "--arch does not apply to ONNX"},
	} {
		_, errOut, code := run(t, c.args...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want it to mention %q", c.args, code, errOut, c.want)
		}
	}
}
