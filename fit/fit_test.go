package fit

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/datasets"
	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/weights"
)

// toyData is a learnable problem: the class is which quadrant holds a bright square.
func toyData(n int, seed uint64) *datasets.Dataset {
	r := rand.New(rand.NewPCG(seed, 7))
	d := &datasets.Dataset{C: 3, H: 8, W: 8, Classes: []string{"tl", "tr", "bl", "br"}, Source: "toy"}
	for i := 0; i < n; i++ {
		img := make([]uint8, 3*64)
		for j := range img {
			img[j] = uint8(r.IntN(60))
		}
		label := i % 4
		y0, x0 := (label/2)*4, (label%2)*4
		for c := 0; c < 3; c++ {
			for y := y0; y < y0+4; y++ {
				for x := x0; x < x0+4; x++ {
					img[c*64+y*8+x] = 200
				}
			}
		}
		d.Pix = append(d.Pix, img...)
		d.Labels = append(d.Labels, label)
	}
	return d
}

func toyConfig(t *testing.T, out string) Config {
	t.Helper()
	a, err := arch.Preset("cifar-resnet8")
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Arch: a, Train: toyData(96, 1), Test: toyData(40, 2), Epochs: 3, Batch: 16, LR: 0.05,
		Momentum: 0.9, WeightDecay: 5e-4, Schedule: "cosine", Seed: 3, Augment: true,
		Normalize: datasets.Normalize{Mean: []float32{0.3, 0.3, 0.3}, Std: []float32{0.3, 0.3, 0.3}},
		Out:       out, Quiet: true,
	}
}

func TestRunWritesModelMetricsPlotCheckpoint(t *testing.T) {
	dir := t.TempDir()
	res, err := Run(context.Background(), toyConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.History) != 3 {
		t.Fatalf("%d epochs of history", len(res.History))
	}
	last := res.History[2]
	if last.TrainError >= res.History[0].TrainError && last.TestError > 50 {
		t.Errorf("did not learn the toy task: %+v", res.History)
	}
	for _, f := range []string{"config.json", "preprocessor_config.json", "model.safetensors", MetricsFile, PlotFile, CheckpointFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	m, _ := os.ReadFile(filepath.Join(dir, MetricsFile))
	if n := strings.Count(string(m), "\n"); n != 3 || !strings.Contains(string(m), `"test_error"`) {
		t.Errorf("metrics.jsonl: %s", m)
	}
	// The model directory holds a complete HF state dict with the dataset's labels.
	sd, _, err := weights.ReadSafetensors(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sd["resnet.encoder.stages.2.layers.0.layer.1.normalization.running_var"]; !ok {
		t.Error("model.safetensors lacks BN running statistics")
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if !strings.Contains(string(cfg), `"tl"`) {
		t.Errorf("config.json lacks the class names: %s", cfg)
	}
}

// Interrupting mid-epoch and resuming gives the same bytes as an uninterrupted run.
func TestResumeIsExact(t *testing.T) {
	straight := t.TempDir()
	if _, err := Run(context.Background(), toyConfig(t, straight)); err != nil {
		t.Fatal(err)
	}
	for _, stopAt := range []int{4, 6, 13} { // mid-epoch 1, end of epoch 1, mid-epoch 3 (6 steps per epoch)
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		c := toyConfig(t, dir)
		c.afterStep = func(tr *train.Trainer) {
			if tr.Iter == stopAt {
				cancel()
			}
		}
		if _, err := Run(ctx, c); !errors.Is(err, ErrInterrupted) {
			t.Fatalf("stop at %d: %v, want ErrInterrupted", stopAt, err)
		}
		c = toyConfig(t, dir)
		c.Resume = true
		if _, err := Run(context.Background(), c); err != nil {
			t.Fatalf("resume after %d: %v", stopAt, err)
		}
		for _, f := range []string{"model.safetensors", MetricsFile} {
			a, _ := os.ReadFile(filepath.Join(straight, f))
			b, _ := os.ReadFile(filepath.Join(dir, f))
			if f == MetricsFile { // wall-clock fields differ; compare the numbers that matter
				a, b = stripTimes(a), stripTimes(b)
			}
			if !bytes.Equal(a, b) {
				t.Errorf("stopped at step %d: %s differs from the uninterrupted run", stopAt, f)
			}
		}
	}
}

func stripTimes(b []byte) []byte {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if i := strings.Index(l, `,"seconds"`); i >= 0 {
			l = l[:i]
		}
		out = append(out, l)
	}
	return []byte(strings.Join(out, "\n"))
}

func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	c := toyConfig(t, dir)
	c.Epochs = 1
	if _, err := Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"checkpoint exists", func(c *Config) {}, "--resume"},
		{"resume with other settings", func(c *Config) { c.Resume, c.LR = true, 0.2 }, "other settings"},
		{"resume nothing", func(c *Config) { c.Resume, c.Out = true, t.TempDir() }, "no checkpoint.safetensors"},
		{"batch too big", func(c *Config) { c.Out, c.Batch = t.TempDir(), 1000 }, "larger than the 96 training images"},
		{"bad schedule", func(c *Config) { c.Out, c.Schedule = t.TempDir(), "wavy" }, "unknown schedule"},
		{"channels", func(c *Config) { c.Out = t.TempDir(); c.Arch.NumChannels = 1 }, "channels"},
	}
	for _, tc := range cases {
		c := toyConfig(t, dir)
		c.Epochs = 1
		tc.change(&c)
		if _, err := Run(context.Background(), c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
}

// A diverging run stops with a clear message and leaves the last good checkpoint alone.
func TestNonFiniteLossKeepsLastCheckpoint(t *testing.T) {
	dir := t.TempDir()
	c := toyConfig(t, dir)
	var good []byte
	c.afterStep = func(tr *train.Trainer) {
		switch tr.Iter {
		case 7: // first step of epoch 2: epoch 1's checkpoint is on disk
			good, _ = os.ReadFile(filepath.Join(dir, CheckpointFile))
		case 8:
			tr.Net.Params()[0].Data[0] = float32(math.Inf(1))
		}
	}
	_, err := Run(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "loss became") || !strings.Contains(err.Error(), "after epoch 1") {
		t.Fatalf("error %v, want a non-finite loss report", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, CheckpointFile))
	if len(good) == 0 || !bytes.Equal(good, after) {
		t.Error("the last good checkpoint changed")
	}
}

// Fine-tuning starts from other weights with a new head of the dataset's width.
func TestInitReplacesHead(t *testing.T) {
	src := t.TempDir()
	c := toyConfig(t, src)
	c.Epochs = 1
	if _, err := Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	sd, _, err := weights.ReadSafetensors(filepath.Join(src, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	// Pretend the source had 10 classes.
	sd["classifier.1.weight"] = &weights.Tensor{DType: "F32", Shape: []int{10, 64}, Data: make([]float32, 640)}
	sd["classifier.1.bias"] = &weights.Tensor{DType: "F32", Shape: []int{10}, Data: make([]float32, 10)}
	for _, freeze := range []bool{false, true} {
		c = toyConfig(t, t.TempDir())
		c.Epochs, c.Init, c.FreezeBackbone = 1, sd, freeze
		if _, err := Run(context.Background(), c); err != nil {
			t.Fatalf("freeze=%v: %v", freeze, err)
		}
		got, _, _ := weights.ReadSafetensors(filepath.Join(c.Out, "model.safetensors"))
		w := "resnet.embedder.embedder.convolution.weight"
		same := slices.Equal(got[w].Data, sd[w].Data)
		if same != freeze {
			t.Errorf("freeze=%v: stem weights unchanged=%v", freeze, same)
		}
		if got["classifier.1.weight"].Shape[0] != 4 {
			t.Errorf("head has %v", got["classifier.1.weight"].Shape)
		}
	}
}
