package main

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/weights"
)

// A learning rate far too high: train stops with a message that says where and what to do,
// and leaves no file behind (no epoch finished), instead of "json: unsupported value: NaN"
// after overwriting the model.
func TestTrainDivergenceIsReported(t *testing.T) {
	data := imageFolder(t)
	out := filepath.Join(t.TempDir(), "run")
	_, errOut, code := run(t, "train", "--arch", "cifar-resnet8", "--dataset", "folder:"+data, "--epochs", "3", "--batch", "16",
		"--schedule", "constant", "--lr", "1000", "--out", out, "-q")
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errOut)
	}
	for _, w := range []string{"training diverged at epoch 1", "no checkpoint was written yet", "lower --lr (e.g. 100)"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr does not mention %q: %s", w, errOut)
		}
	}
	if strings.Contains(errOut, "json") {
		t.Errorf("stderr: %s", errOut)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("a run that finished no epoch left %d files in --out", len(entries))
	}
}

// classify and eval refuse a model with a NaN weight, naming the file and the tensor, and a
// model whose finite weights overflow, instead of printing "NaN airplane" or an accuracy.
func TestBrokenModelsAreRefused(t *testing.T) {
	data := imageFolder(t)
	good := filepath.Join(t.TempDir(), "good")
	if _, errOut, code := run(t, "train", "--arch", "cifar-resnet8", "--dataset", "folder:"+data, "--epochs", "1", "--batch", "16", "--out", good, "-q"); code != 0 {
		t.Fatalf("train: %s", errOut)
	}
	const conv = "resnet.encoder.stages.1.layers.0.layer.1.convolution.weight"
	cases := []struct {
		name   string
		mutate func(weights.StateDict)
		want   string
	}{
		{"NaN weight", func(sd weights.StateDict) { sd[conv].Data[17] = float32(math.NaN()) },
			`model.safetensors: tensor "` + conv + `" has a non-finite value (NaN) at index 17`},
		{"Inf running variance", func(sd weights.StateDict) {
			sd["resnet.embedder.embedder.normalization.running_var"].Data[3] = float32(math.Inf(1))
		}, `model.safetensors: tensor "resnet.embedder.embedder.normalization.running_var" has a non-finite value (+Inf) at index 3`},
		{"finite weights that overflow", func(sd weights.StateDict) {
			for i := range sd[arch.ClassifierWeight].Data {
				sd[arch.ClassifierWeight].Data[i] = 3e38
			}
		}, "the model's output is not finite"},
	}
	img := filepath.Join(data, "a", "aa.png")
	// classify and embed build the model while they decode the images: a model that cannot
	// be built is still the error where no image decodes.
	bad := filepath.Join(t.TempDir(), "bad.png")
	if err := os.WriteFile(bad, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	// And eval, which builds it while the dataset is listed: a class folder whose only image
	// is unreadable, skipped, runs no batch.
	badSet := t.TempDir()
	if err := os.MkdirAll(filepath.Join(badSet, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(badSet, "a", "bad.png"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range []string{"config.json", "preprocessor_config.json"} {
				b, err := os.ReadFile(filepath.Join(good, f))
				if err != nil {
					t.Fatal(err)
				}
				os.WriteFile(filepath.Join(dir, f), b, 0o644)
			}
			sd, _, err := weights.ReadSafetensors(filepath.Join(good, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			c.mutate(sd)
			if err := weights.WriteSafetensors(filepath.Join(dir, "model.safetensors"), sd, nil, "F32"); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"classify", "--model", dir, img},
				{"classify", "--model", dir, "--json", bad, img},
				{"classify", "--model", dir, bad},
				{"embed", "--model", dir, bad},
				{"eval", "--model", dir, "--dataset", "folder:" + data, "-q"},
				{"eval", "--model", dir, "--dataset", "folder:" + badSet, "--on-bad-image", "skip", "-q"},
			} {
				if (args[len(args)-1] == bad || slices.Contains(args, "folder:"+badSet)) && strings.Contains(c.want, "output") {
					continue // this model builds; with no image, no output to refuse
				}
				stdout, errOut, code := run(t, args...)
				if code == 0 || !strings.Contains(errOut, c.want) || strings.Contains(stdout, "NaN") {
					t.Errorf("%s: exit %d, stdout %q, stderr %q; want a failure mentioning %q", args[0], code, stdout, errOut, c.want)
				}
			}
		})
	}
}
