package fit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// trainedToy runs toyConfig for one epoch, changed by change, into a new directory, which
// then holds the run's model and checkpoint; it returns the directory and the config.
func trainedToy(t *testing.T, change func(*Config)) (string, Config) {
	t.Helper()
	dir := t.TempDir()
	c := toyConfig(t, dir)
	c.Epochs = 1
	change(&c)
	if _, err := Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return dir, c
}

func TestRefusals(t *testing.T) {
	dir, _ := trainedToy(t, func(*Config) {})
	cases := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"checkpoint exists", func(c *Config) {}, "--resume"},
		{"resume with other settings", func(c *Config) { c.Resume, c.LR = true, 0.2 }, "other settings: --lr 0.05 (now 0.2);"},
		{"resume with two other settings", func(c *Config) { c.Resume, c.Epochs, c.Seed = true, 3, 9 }, "--epochs 1 (now 3), --seed 3 (now 9);"},
		{"resume nothing", func(c *Config) { c.Resume, c.Out = true, t.TempDir() }, "no checkpoint.safetensors"},
		{"resume at another image size", func(c *Config) { c.Resume, c.Train, c.Test = true, upscale(c.Train), upscale(c.Test) }, "image size (--size) 8x8 (now 16x16)"},
		{"resume with other optimiser settings", func(c *Config) { c.Resume, c.Nesterov, c.NoDecayBNBias = true, true, true }, "--nesterov false (now true), --no-decay-bn false (now true);"},
		{"resume with another normalization", func(c *Config) {
			c.Resume, c.Normalize = true, datasets.Normalize{Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.25, 0.25, 0.25}}
		}, "normalization (--normalize) mean [0.3 0.3 0.3] std [0.3 0.3 0.3] (now mean [0.5 0.5 0.5] std [0.25 0.25 0.25]);"},
		{"resume with other images", func(c *Config) { c.Resume, c.Decoding = true, "as stored" }, "image decoding default (now as stored);"},
		{"resume frozen", func(c *Config) { c.Resume, c.FreezeBackbone = true, true }, "--freeze-backbone false (now true)"},
		{"batch too big", func(c *Config) { c.Out, c.Batch = t.TempDir(), 1000 }, "larger than the 96 training images"},
		{"one class present", func(c *Config) {
			c.Out, c.Train = t.TempDir(), oneLabel(c.Train, 2, c.Train.Classes)
		}, `every training image has the same class ("bl", one of 4)`},
		{"one class only", func(c *Config) {
			c.Out, c.Train = t.TempDir(), oneLabel(c.Train, 0, []string{"cat"})
		}, `the training data has one class ("cat"); a classifier needs at least two`},
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

// oneLabel is d with every label l and the given class names.
func oneLabel(d *datasets.Dataset, l int, classes []string) *datasets.Dataset {
	out := *d
	out.Classes, out.Labels = classes, make([]int, len(d.Labels))
	for i := range out.Labels {
		out.Labels[i] = l
	}
	return &out
}

// upscale doubles d's images (nearest neighbour): the same examples at another size.
func upscale(d *datasets.Dataset) *datasets.Dataset {
	out := *d
	out.H, out.W = 2*d.H, 2*d.W
	out.Pix = make([]uint8, d.Len()*d.C*out.H*out.W)
	for i := range d.Len() * d.C {
		for y := range out.H {
			for x := range out.W {
				out.Pix[(i*out.H+y)*out.W+x] = d.Pix[(i*d.H+y/2)*d.W+x/2]
			}
		}
	}
	return &out
}

// Another --milestones on a multistep run is refused on resume; a cosine run records none.
func TestResumeMilestones(t *testing.T) {
	_, c := trainedToy(t, func(c *Config) { c.Schedule, c.Milestones = "multistep", []int{1} })
	c.Resume, c.Milestones = true, []int{2}
	if _, err := Run(context.Background(), c); err == nil || !strings.Contains(err.Error(), "--milestones 1 (now 2)") {
		t.Errorf("resume with other milestones: %v", err)
	}
	c.Milestones = []int{1}
	if _, err := Run(context.Background(), c); err != nil {
		t.Errorf("resume with the run's own milestones: %v", err)
	}
}

// A checkpoint written before the image size was recorded (no image_size in its
// fingerprint) resumes, at any size: the size is then not checked. One written before
// version 2 of the fingerprint (no version) resumes whatever the settings it added say.
func TestResumeCheckpointWithoutImageSize(t *testing.T) {
	dir, _ := trainedToy(t, func(*Config) {})
	path := filepath.Join(dir, CheckpointFile)
	sd, meta, err := weights.ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	old := meta["resnet_go_training"]
	for _, field := range []string{`,"image_size":"8x8"`, `,"version":2`} {
		if !strings.Contains(old, field) {
			t.Fatalf("no %s in the checkpoint's fingerprint: %s", field, old)
		}
		old = strings.Replace(old, field, "", 1)
	}
	meta["resnet_go_training"] = old
	if err := weights.WriteSafetensors(path, sd, meta, "F32"); err != nil {
		t.Fatal(err)
	}
	c := toyConfig(t, dir)
	c.Epochs, c.Resume = 1, true
	c.Train, c.Test = upscale(c.Train), upscale(c.Test)
	c.Nesterov, c.Decoding = true, "as stored"
	if _, err := Run(context.Background(), c); err != nil {
		t.Fatalf("resuming a checkpoint without image_size and version: %v", err)
	}
}

// outputFiles are what an epoch writes into --out.
var outputFiles = []string{"config.json", "preprocessor_config.json", "model.safetensors", MetricsFile, PlotFile, CheckpointFile}

// readOutputs reads every output file in dir (a missing one is absent from the map) and any
// other entry, such as a temporary file left behind.
func readOutputs(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	return files
}

// hugeHead sets every classifier weight to 3e38: finite, but the logits overflow.
func hugeHead(tr *train.Trainer) {
	for _, p := range tr.Net.Params() {
		if p.Name == arch.ClassifierWeight {
			for i := range p.Data {
				p.Data[i] = 3e38
			}
		}
	}
}

// A diverging run stops at the step where a loss, gradient, weight or BN statistic stops being
// finite, or where the test loss does, before it writes anything for that epoch: the files of
// the last finished epoch stay byte for byte, metrics.jsonl never gets a blank or partial line,
// and the message names the epoch and step, what went wrong, what is on disk, and suggests a
// lower --lr. Resuming from what is left fails the same way, without touching it.
func TestDivergenceLeavesLastEpochUntouched(t *testing.T) {
	const stepsPerEpoch = 6 // 96 toy images, batches of 16
	cases := []struct {
		name string
		lr   float64
		// inject, when set, runs after optimiser step injectAt.
		inject   func(tr *train.Trainer)
		injectAt int
		// finished is how many epochs complete (-1: whatever the numbers give, at least
		// minFinished).
		finished, minFinished int
		want                  []string
	}{
		{name: "loss stays finite but the model diverges after a good epoch", lr: 30, finished: -1, minFinished: 1},
		{name: "the first epoch diverges", lr: 1000, finished: 0, want: []string{"epoch 1", "no checkpoint was written yet"}},
		{name: "Inf weight", lr: 0.05, injectAt: 8, finished: 1,
			inject: func(tr *train.Trainer) { tr.Net.Params()[0].Data[0] = float32(math.Inf(1)) },
			want:   []string{"epoch 2, batch 2 of 6", `parameter "resnet.embedder.embedder.convolution.weight" has a non-finite value (+Inf) at index 0`, "after epoch 1"}},
		{name: "NaN gradient", lr: 0.05, injectAt: 15, finished: 2,
			inject: func(tr *train.Trainer) { tr.Net.Params()[4].Grad[5] = float32(math.NaN()) },
			want:   []string{"epoch 3, batch 3 of 6", `gradient of "resnet.encoder.stages.0.layers.0.layer.0.normalization.weight" has a non-finite value (NaN) at index 5`, "after epoch 2"}},
		{name: "finite weights whose outputs overflow in the next step", lr: 0.05, injectAt: 8, finished: 1,
			inject: hugeHead, want: []string{"epoch 2, batch 3 of 6", "the loss became"}},
		{name: "finite weights whose outputs overflow in the test pass", lr: 0.05, injectAt: 12, finished: 1,
			inject: hugeHead, want: []string{"after epoch 2", "test loss"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := toyConfig(t, dir)
			c.LR, c.Schedule, c.Epochs = tc.lr, "constant", 4
			snapshots := map[int]map[string][]byte{} // epochs finished → files on disk
			c.afterStep = func(tr *train.Trainer) {
				if tr.Iter%stepsPerEpoch == 1 { // first step of an epoch: the last one is written
					snapshots[tr.Iter/stepsPerEpoch] = readOutputs(t, dir)
				}
				if tr.Iter == tc.injectAt {
					tc.inject(tr)
				}
			}
			res, err := Run(context.Background(), c)
			if err == nil {
				t.Fatal("a diverging run succeeded")
			}
			finished := len(res.History)
			switch {
			case tc.finished >= 0 && finished != tc.finished:
				t.Fatalf("%d epochs finished, want %d (error %v)", finished, tc.finished, err)
			case finished < tc.minFinished:
				t.Fatalf("%d epochs finished, want at least %d (error %v)", finished, tc.minFinished, err)
			}
			msg := err.Error()
			t.Log(msg)
			want := append([]string{fmt.Sprintf("epoch %d", finished+1), "--lr"}, tc.want...)
			if finished > 0 {
				want = append(want, fmt.Sprintf("after epoch %d", finished))
			}
			for _, w := range want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if strings.Contains(msg, "json") || (finished > 0 && strings.Contains(msg, "no checkpoint")) {
				t.Errorf("error %q", msg)
			}
			check := func(when string) {
				t.Helper()
				got := readOutputs(t, dir)
				if finished == 0 {
					if len(got) != 0 {
						t.Errorf("%s: a run that never finished an epoch left %d files", when, len(got))
					}
					return
				}
				before := snapshots[finished]
				if len(before) != len(outputFiles) {
					t.Fatalf("the snapshot after epoch %d has %d files", finished, len(before))
				}
				for name, b := range got {
					if !bytes.Equal(b, before[name]) {
						t.Errorf("%s: %s changed after epoch %d", when, name, finished)
					}
				}
				if len(got) != len(before) {
					t.Errorf("%s: %d files, after epoch %d there were %d", when, len(got), finished, len(before))
				}
				m := string(got[MetricsFile])
				if strings.Count(m, "\n") != finished || strings.Contains(m, "\n\n") || !strings.HasSuffix(m, "}\n") {
					t.Errorf("%s: metrics.jsonl is %q", when, m)
				}
			}
			check("after the divergence")
			c.Resume, c.afterStep = true, nil
			if tc.inject != nil {
				return // the injected fault is not in the checkpoint: resuming goes on
			}
			_, err = Run(context.Background(), c)
			switch {
			case finished == 0 && (err == nil || !strings.Contains(err.Error(), "no checkpoint.safetensors")):
				t.Errorf("--resume without a checkpoint: %v", err)
			case finished > 0 && (err == nil || !strings.Contains(err.Error(), fmt.Sprintf("epoch %d", finished+1))):
				t.Errorf("--resume: %v, want the same divergence", err)
			}
			check("after --resume")
		})
	}
}

// After a resume from an interrupted run's checkpoint, a divergence names that checkpoint's
// position, and leaves it as it was.
func TestDivergenceAfterResumeDescribesTheCheckpoint(t *testing.T) {
	cases := []struct {
		stopAt, injectAt int
		want             string
	}{
		{2, 4, "the checkpoint in %s taken after batch 2 of epoch 1 (an interrupted run) is unchanged; no model was written yet"},
		{9, 11, "the model and metrics in %s written after epoch 1, and the checkpoint taken after batch 3 of epoch 2 (an interrupted run), are unchanged"},
	}
	for _, tc := range cases {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		c := toyConfig(t, dir)
		c.afterStep = func(tr *train.Trainer) {
			if tr.Iter == tc.stopAt {
				cancel()
			}
		}
		if _, err := Run(ctx, c); !errors.Is(err, ErrInterrupted) {
			t.Fatalf("stop at %d: %v", tc.stopAt, err)
		}
		before := readOutputs(t, dir)
		c = toyConfig(t, dir)
		c.Resume = true
		c.afterStep = func(tr *train.Trainer) {
			if tr.Iter == tc.injectAt {
				tr.Net.Params()[0].Data[1] = float32(math.NaN())
			}
		}
		_, err := Run(context.Background(), c)
		if want := fmt.Sprintf(tc.want, dir); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want one containing %q", err, want)
		}
		after := readOutputs(t, dir)
		for name, b := range before {
			if !bytes.Equal(b, after[name]) {
				t.Errorf("stopped at %d: %s changed", tc.stopAt, name)
			}
		}
		if len(after) != len(before) {
			t.Errorf("stopped at %d: %d files before, %d after", tc.stopAt, len(before), len(after))
		}
	}
}

// Fine-tuning starts from other weights with a new head of the dataset's width.
func TestInitReplacesHead(t *testing.T) {
	src, _ := trainedToy(t, func(*Config) {})
	sd, _, err := weights.ReadSafetensors(filepath.Join(src, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	// Pretend the source had 10 classes.
	sd["classifier.1.weight"] = &weights.Tensor{DType: "F32", Shape: []int{10, 64}, Data: make([]float32, 640)}
	sd["classifier.1.bias"] = &weights.Tensor{DType: "F32", Shape: []int{10}, Data: make([]float32, 10)}
	for _, freeze := range []bool{false, true} {
		c := toyConfig(t, t.TempDir())
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

// metrics.jsonl writes the test fields exactly when the epoch was tested: a perfect 0% test
// error too (omitempty on the value used to drop it, which read as "no test data"), and
// neither without test data; reading back keeps which.
func TestEpochJSONTestFields(t *testing.T) {
	for _, c := range []struct {
		e    Epoch
		want string
	}{
		{Epoch{Epoch: 1, TrainLoss: 0.5, TrainError: 10, Tested: true, TestLoss: 0.25, TestError: 0, LR: 0.1, Seconds: 2, ImagesPerSec: 3},
			`{"epoch":1,"train_loss":0.5,"train_error":10,"test_loss":0.25,"test_error":0,"lr":0.1,"seconds":2,"images_per_sec":3}`},
		{Epoch{Epoch: 2, TrainLoss: 0.5, TrainError: 10, LR: 0.1, Seconds: 2, ImagesPerSec: 3},
			`{"epoch":2,"train_loss":0.5,"train_error":10,"lr":0.1,"seconds":2,"images_per_sec":3}`},
	} {
		b, err := json.Marshal(c.e)
		if err != nil || string(b) != c.want {
			t.Errorf("%+v: %s (%v), want %s", c.e, b, err, c.want)
		}
		var back Epoch
		if err := json.Unmarshal(b, &back); err != nil || back != c.e {
			t.Errorf("%s read back as %+v (%v), want %+v", b, back, err, c.e)
		}
	}
	// A line of an older file: test_loss without test_error (a 0% left out).
	var old Epoch
	if err := json.Unmarshal([]byte(`{"epoch":3,"train_loss":1,"train_error":2,"test_loss":0.5,"lr":0.1,"seconds":1,"images_per_sec":1}`), &old); err != nil || !old.Tested || old.TestError != 0 || old.TestLoss != 0.5 {
		t.Errorf("older line: %+v (%v)", old, err)
	}
}
