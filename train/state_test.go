package train

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/model"
	"github.com/resnet-go/resnet/tensor"
	"github.com/resnet-go/resnet/weights"
)

func tinyCIFAR(t *testing.T, shortcut string) *arch.Config {
	t.Helper()
	cfg, err := arch.Preset("cifar-resnet8")
	if err != nil {
		t.Fatal(err)
	}
	cfg.EmbeddingSize, cfg.HiddenSizes = 4, []int{4, 8, 8}
	cfg.ShortcutType = shortcut
	return cfg
}

// A trained network's state dict builds an inference model (BN folded) that gives the same
// eval-mode logits.
func TestStateDictFeedsModel(t *testing.T) {
	for _, shortcut := range []string{arch.ShortcutZeroPad, arch.ShortcutProjection} {
		cfg := tinyCIFAR(t, shortcut)
		net, err := New(cfg, InitOptions{Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		tr, err := NewTrainer(net, SGDConfig{Momentum: 0.9, WeightDecay: 5e-4}, Constant(0.1))
		if err != nil {
			t.Fatal(err)
		}
		for s := 0; s < 3; s++ { // move γ, β and the running statistics away from their start
			x, labels := randomBatch(6, 3, 12, 10, 10, uint64(s))
			if _, _, err := tr.Step(x, labels); err != nil {
				t.Fatal(err)
			}
		}
		sd := net.StateDict()
		for _, p := range net.Spec.Params() {
			if _, ok := sd[p.Name]; !ok {
				t.Fatalf("state dict lacks %s", p.Name)
			}
		}
		if nbt := sd["resnet.embedder.embedder.normalization.num_batches_tracked"]; nbt == nil || nbt.DType != "I64" || nbt.Data[0] != 3 {
			t.Fatalf("num_batches_tracked = %+v, want I64 3", nbt)
		}
		m, err := model.New(cfg, sd)
		if err != nil {
			t.Fatal(err)
		}
		x, _ := randomBatch(3, 3, 12, 10, 10, 99)
		want, err := m.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		got, err := net.Eval(x)
		if err != nil {
			t.Fatal(err)
		}
		if e := relErr(got.Data, want.Data); e > 1e-5 {
			t.Errorf("%s: eval logits differ from model.New's by %g", shortcut, e)
		}
		// And back: a fresh network loading the state dict has the same state.
		net2, err := New(cfg, InitOptions{Seed: 4})
		if err != nil {
			t.Fatal(err)
		}
		if err := net2.LoadStateDict(sd); err != nil {
			t.Fatal(err)
		}
		for name, a := range net2.StateDict() {
			if e := relErr(a.Data, sd[name].Data); e != 0 {
				t.Errorf("%s differs after a round trip", name)
			}
		}
	}
}

func TestLoadStateDictErrors(t *testing.T) {
	cfg := tinyCIFAR(t, arch.ShortcutZeroPad)
	net, err := New(cfg, InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	good := net.StateDict()
	clone := func() weights.StateDict {
		sd := weights.StateDict{}
		for k, v := range good {
			c := *v
			c.Data = append([]float32(nil), v.Data...)
			sd[k] = &c
		}
		return sd
	}
	missing := clone()
	delete(missing, arch.ClassifierBias)
	wrong := clone()
	wrong[arch.ClassifierWeight] = &weights.Tensor{DType: "F32", Shape: []int{10, 5}, Data: make([]float32, 50)}
	extra := clone()
	extra["resnet.bogus"] = &weights.Tensor{DType: "F32", Shape: []int{1}, Data: []float32{1}}
	badCount := clone()
	badCount["resnet.embedder.embedder.normalization.num_batches_tracked"].Data[0] = 1.5
	for name, sd := range map[string]weights.StateDict{"missing": missing, "shape": wrong, "unexpected": extra} {
		var le *model.LoadError
		if err := net.LoadStateDict(sd); !errors.As(err, &le) {
			t.Errorf("%s: got %v, want a *model.LoadError", name, err)
		}
	}
	before := net.StateDict()
	if err := net.LoadStateDict(badCount); err == nil || !strings.Contains(err.Error(), "num_batches_tracked") {
		t.Errorf("fractional num_batches_tracked: %v", err)
	}
	for name, v := range net.StateDict() {
		if relErr(v.Data, before[name].Data) != 0 {
			t.Fatalf("failed load changed %s", name)
		}
	}
	// Without num_batches_tracked the counters stay.
	noCount := clone()
	for k := range noCount {
		if strings.HasSuffix(k, "num_batches_tracked") {
			delete(noCount, k)
		}
	}
	if err := net.LoadStateDict(noCount); err != nil {
		t.Errorf("state dict without num_batches_tracked: %v", err)
	}
}

func TestInit(t *testing.T) {
	cfg, err := arch.Preset("resnet-18")
	if err != nil {
		t.Fatal(err)
	}
	net, err := New(cfg, InitOptions{Seed: 1, ZeroInitResidual: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range net.Params() {
		var s, ss float64
		for _, v := range p.Data {
			s += float64(v)
			ss += float64(v) * float64(v)
		}
		n := float64(len(p.Data))
		mean, std := s/n, math.Sqrt(ss/n-(s/n)*(s/n))
		switch {
		case len(p.Shape) == 4: // kaiming_normal_, fan_out, ReLU gain
			want := math.Sqrt(2 / float64(p.Shape[0]*p.Shape[2]*p.Shape[3]))
			tol := 5 * want / math.Sqrt(n) // a few standard errors of the estimate
			if math.Abs(std-want) > tol || math.Abs(mean) > tol {
				t.Errorf("%s: mean %.4g std %.4g, want 0 and %.4g", p.Name, mean, std, want)
			}
		case p.Name == arch.ClassifierWeight || p.Name == arch.ClassifierBias: // U(±1/√in)
			bound := 1 / math.Sqrt(512)
			for _, v := range p.Data {
				if math.Abs(float64(v)) > bound {
					t.Fatalf("%s has %g outside ±%g", p.Name, v, bound)
				}
			}
			if p.Name == arch.ClassifierWeight && math.Abs(std-bound/math.Sqrt(3)) > 0.02*bound {
				t.Errorf("%s: std %.4g, want %.4g", p.Name, std, bound/math.Sqrt(3))
			}
		case strings.HasSuffix(p.Name, "normalization.bias"):
			if ss != 0 {
				t.Errorf("%s is not zero", p.Name)
			}
		case strings.HasSuffix(p.Name, "normalization.weight"):
			last := strings.HasSuffix(p.Name, "layer.1.normalization.weight") && strings.Contains(p.Name, "stages")
			want := 1.0
			if last {
				want = 0 // zero_init_residual
			}
			if mean != want || std != 0 {
				t.Errorf("%s: mean %g std %g, want all %g", p.Name, mean, std, want)
			}
		}
	}
	// Same seed, same weights; another seed, others.
	a, _ := New(cfg, InitOptions{Seed: 1})
	b, _ := New(cfg, InitOptions{Seed: 1})
	c, _ := New(cfg, InitOptions{Seed: 2})
	if relErr(a.Params()[0].Data, b.Params()[0].Data) != 0 {
		t.Error("same seed gave different weights")
	}
	if relErr(a.Params()[0].Data, c.Params()[0].Data) == 0 {
		t.Error("different seeds gave the same weights")
	}
	// Plain networks keep γ = 1 even with ZeroInitResidual.
	pc, _ := arch.Preset("cifar-plain20")
	plain, err := New(pc, InitOptions{ZeroInitResidual: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plain.Params() {
		if strings.HasSuffix(p.Name, "normalization.weight") && p.Data[0] != 1 {
			t.Errorf("plain network: %s = %g", p.Name, p.Data[0])
		}
	}
}

func TestGradientsErrors(t *testing.T) {
	cfg := tinyCIFAR(t, arch.ShortcutZeroPad)
	net, err := New(cfg, InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	x, labels := randomBatch(4, 3, 8, 8, 10, 1)
	cases := map[string]func() error{
		"labels count": func() error { _, _, err := net.Gradients(x, labels[:3]); return err },
		"label range":  func() error { _, _, err := net.Gradients(x, []int{0, 1, 10, 2}); return err },
		"channels": func() error {
			_, _, err := net.Gradients(&tensor.Tensor{Shape: []int{4, 1, 8, 8}, Data: make([]float32, 256)}, labels)
			return err
		},
		"data size": func() error {
			_, _, err := net.Gradients(&tensor.Tensor{Shape: []int{4, 3, 8, 8}, Data: make([]float32, 10)}, labels)
			return err
		},
		"one value per channel": func() error {
			_, _, err := net.Gradients(&tensor.Tensor{Shape: []int{1, 3, 1, 1}, Data: make([]float32, 3)}, labels[:1])
			return err
		},
		"nil": func() error { _, _, err := net.Gradients(nil, nil); return err },
	}
	for name, f := range cases {
		if err := f(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	fcfg := *cfg
	fcfg.NumLabels = 0
	feat, err := New(&fcfg, InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := feat.Gradients(x, labels); err == nil {
		t.Error("training a feature extractor accepted")
	}
	if out, err := feat.Eval(x); err != nil || len(out.Shape) != 2 || out.Shape[1] != 8 {
		t.Errorf("feature extractor eval: %v %v", out, err)
	}
}
