package model

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/tensor"
	"github.com/resnet-go/resnet/weights"
)

// Tolerance: logits within 1e-4 of the largest magnitude. Float32 convolutions summed in a
// different order than PyTorch's differ by a few ulps per layer; 1e-4 relative is about
// 800 ulps of float32 at that magnitude, ample for ten small layers and tight enough
// that any wrong stride, padding, shortcut or BN fold (errors of order 1e-1) fails.
const relTol = 1e-4

func variants(t *testing.T) []string {
	dirs, err := filepath.Glob("testdata/*/config.json")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures in model/testdata (regenerate with /usr/bin/python3 tools/fixtures/gen_models.py): %v", err)
	}
	var names []string
	for _, d := range dirs {
		names = append(names, filepath.Base(filepath.Dir(d)))
	}
	sort.Strings(names)
	return names
}

func loadFixture(t *testing.T, name string) (*arch.Config, weights.StateDict, weights.StateDict) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := arch.ParseConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	sd, _, err := weights.ReadSafetensors(filepath.Join("testdata", name, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	exp, _, err := weights.ReadSafetensors(filepath.Join("testdata", name, "expected.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg, sd, exp
}

func asTensor(w *weights.Tensor) *tensor.Tensor { return &tensor.Tensor{Shape: w.Shape, Data: w.Data} }

// compare checks got against want within relTol of want's largest magnitude.
func compare(t *testing.T, what string, got *tensor.Tensor, want *weights.Tensor) {
	t.Helper()
	if !tensor.SameShape(got.Shape, want.Shape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape, want.Shape)
	}
	var peak, worst float64
	for i := range want.Data {
		peak = math.Max(peak, math.Abs(float64(want.Data[i])))
		worst = math.Max(worst, math.Abs(float64(got.Data[i]-want.Data[i])))
	}
	if worst > relTol*peak {
		t.Errorf("%s: max error %.3g, over %.0e × max|value| %.3g", what, worst, relTol, peak)
	}
}

func TestParityWithPyTorch(t *testing.T) {
	for _, name := range variants(t) {
		t.Run(name, func(t *testing.T) {
			cfg, sd, exp := loadFixture(t, name)
			m, err := New(cfg, sd)
			if err != nil {
				t.Fatal(err)
			}
			out, err := m.Run(asTensor(exp["input"]), true)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, "logits", out.Logits, exp["logits"])
			compare(t, "pooled", out.Pooled, exp["pooled"])
			if len(out.Hidden) != len(cfg.Depths)+1 {
				t.Fatalf("%d hidden states, want %d", len(out.Hidden), len(cfg.Depths)+1)
			}
			for i, h := range out.Hidden {
				compare(t, "hidden_"+string(rune('0'+i)), h, exp["hidden_"+string(rune('0'+i))])
			}
		})
	}
}

// The same weights saved by torchvision (zip) and by the CIFAR code (legacy format with a
// state_dict wrapper and module. prefix) give the same logits after renaming.
func TestOtherFamiliesLoad(t *testing.T) {
	for _, c := range []struct{ name, file string }{
		{"basic", "torchvision.pth"}, {"bottleneck-v15", "torchvision.pth"}, {"cifar-a", "cifar.th"}, {"cifar-b", "cifar.th"},
	} {
		t.Run(c.name+"/"+c.file, func(t *testing.T) {
			cfg, _, exp := loadFixture(t, c.name)
			raw, err := weights.ReadFile(filepath.Join("testdata", c.name, c.file))
			if err != nil {
				t.Fatal(err)
			}
			sd, err := weights.ToHF(raw)
			if err != nil {
				t.Fatal(err)
			}
			m, err := New(cfg, sd)
			if err != nil {
				t.Fatal(err)
			}
			logits, err := m.Forward(asTensor(exp["input"]))
			if err != nil {
				t.Fatal(err)
			}
			compare(t, "logits", logits, exp["logits"])
		})
	}
}

func TestLoadErrors(t *testing.T) {
	cfg, sd, _ := loadFixture(t, "basic")
	const w = "resnet.encoder.stages.1.layers.0.layer.0.convolution.weight"
	cases := []struct {
		name   string
		mutate func(weights.StateDict)
		want   []string
	}{
		{"missing", func(s weights.StateDict) { delete(s, w) }, []string{"missing key(s) (1): " + w}},
		{"unexpected", func(s weights.StateDict) { s["extra.weight"] = &weights.Tensor{Shape: []int{1}, Data: []float32{0}} }, []string{"unexpected key(s) (1): extra.weight"}},
		{"wrong shape", func(s weights.StateDict) {
			s[w] = &weights.Tensor{Shape: []int{12, 8, 1, 1}, Data: make([]float32, 96)}
		},
			[]string{"size mismatch (1): ", w, "checkpoint [12, 8, 1, 1], model [12, 8, 3, 3]"}},
		{"every tensor the wrong shape", func(s weights.StateDict) {
			for _, t := range s {
				t.Shape = append(t.Shape, 1) // a trailing 1: the same values, not the model's shape
			}
		}, []string{"size mismatch (", "; … and ", " more"}},
		{"wrong head", func(s weights.StateDict) {
			s[arch.ClassifierWeight] = &weights.Tensor{Shape: []int{1000, 16}, Data: make([]float32, 16000)}
		}, []string{"classifier.1.weight: checkpoint [1000, 16], model [7, 16]"}},
		{"negative variance", func(s weights.StateDict) {
			s["resnet.embedder.embedder.normalization.running_var"].Data[0] = -1
		}, []string{"running_var[0]", "negative"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := weights.StateDict{}
			for k, v := range sd {
				s[k] = &weights.Tensor{DType: v.DType, Shape: v.Shape, Data: append([]float32(nil), v.Data...)}
			}
			c.mutate(s)
			_, err := New(cfg, s)
			if err == nil {
				t.Fatal("loaded a broken state dict")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	cfg, sd, _ := loadFixture(t, "basic")
	m, err := New(cfg, sd)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []*tensor.Tensor{nil, tensor.New(3, 32, 32), tensor.New(1, 1, 32, 32), tensor.New(1, 3, 1, 1), {Shape: []int{1, 3, 8, 8}, Data: make([]float32, 10)}} {
		if _, err := m.Forward(x); err == nil {
			t.Errorf("accepted input %v", x)
		}
	}
}

// One Model serves many goroutines: weights are shared and read-only, scratch is per call.
// Run with -race to check for data races as well as for wrong answers.
func TestConcurrentForward(t *testing.T) {
	cfg, sd, exp := loadFixture(t, "bottleneck-v15")
	m, err := New(cfg, sd)
	if err != nil {
		t.Fatal(err)
	}
	x := asTensor(exp["input"])
	want, err := m.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	const workers = 6
	errs := make(chan string, workers)
	for g := 0; g < workers; g++ {
		go func() {
			for i := 0; i < 5; i++ {
				got, err := m.Forward(x)
				if err != nil {
					errs <- err.Error()
					return
				}
				for j := range want.Data {
					if got.Data[j] != want.Data[j] {
						errs <- "concurrent Forward gave a different answer"
						return
					}
				}
			}
			errs <- ""
		}()
	}
	for g := 0; g < workers; g++ {
		if e := <-errs; e != "" {
			t.Fatal(e)
		}
	}
}

// Profiling sees every convolution: its MACs add up to the spec's count (less the classifier).
func TestProfileCountsEveryConv(t *testing.T) {
	cfg, sd, exp := loadFixture(t, "bottleneck-v15")
	m, err := New(cfg, sd)
	if err != nil {
		t.Fatal(err)
	}
	x := asTensor(exp["input"])
	prof, err := m.Profile(x, 2)
	if err != nil {
		t.Fatal(err)
	}
	var macs int64
	kinds := map[string]bool{}
	for _, l := range prof {
		macs += l.MACs
		kinds[l.Kind] = true
	}
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	want := 2 * int64(n) * (m.Spec.MACs(h, w) - int64(cfg.NumLabels*m.Spec.Features))
	if macs != want {
		t.Errorf("profiled %d MACs, spec says %d", macs, want)
	}
	// The stem and its pool run as one call (nn.ConvBN.ForwardMaxPool), one row.
	for _, k := range []string{"conv 7x7/2 + max-pool", "conv 1x1/1", "conv 3x3/1", "conv 3x3/2", "conv 1x1/2", "global avg-pool"} {
		if !kinds[k] {
			t.Errorf("no %q in profile %+v", k, prof)
		}
	}
	// Rows are one per kind and shape; a convolution's shape names its channels and input map.
	shape := regexp.MustCompile(`^[0-9]+->[0-9]+ [0-9]+x[0-9]+$`)
	seen := map[string]bool{}
	for _, l := range prof {
		if seen[l.Kind+l.Shape] {
			t.Errorf("%s %s listed twice", l.Kind, l.Shape)
		}
		seen[l.Kind+l.Shape] = true
		if conv := strings.HasPrefix(l.Kind, "conv "); conv != shape.MatchString(l.Shape) {
			t.Errorf("%s: shape %q", l.Kind, l.Shape)
		}
	}
	stem := fmt.Sprintf("%d->%d %dx%d", cfg.NumChannels, m.stem.Params.OutC, h, w)
	if !seen["conv 7x7/2 + max-pool"+stem] {
		t.Errorf("no stem row %q in %+v", stem, prof)
	}
	// ByKind sums the shapes of each kind.
	var kindMACs int64
	var kindCalls, calls int
	for _, l := range prof {
		calls += l.Calls
	}
	byKind := ByKind(prof)
	for _, l := range byKind {
		kindMACs += l.MACs
		kindCalls += l.Calls
		if l.Shape != "" {
			t.Errorf("ByKind row %s has shape %q", l.Kind, l.Shape)
		}
	}
	if len(byKind) != len(kinds) || kindMACs != macs || kindCalls != calls {
		t.Errorf("ByKind: %d kinds, %d MACs, %d calls; want %d, %d, %d", len(byKind), kindMACs, kindCalls, len(kinds), macs, calls)
	}
}
