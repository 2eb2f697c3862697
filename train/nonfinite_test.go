package train

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/weights"
)

// LoadStateDict (--init, --resume) refuses a NaN or ±Inf in any tensor it copies, naming it,
// and leaves the network as it was.
func TestLoadStateDictRefusesNonFinite(t *testing.T) {
	cfg := tinyCIFAR(t, arch.ShortcutZeroPad)
	net, err := New(cfg, InitOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	donor, err := New(cfg, InitOptions{Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		tensor string
		value  float64
	}{
		{"resnet.encoder.stages.1.layers.0.layer.1.convolution.weight", math.NaN()},
		{"resnet.embedder.embedder.normalization.bias", math.Inf(1)},
		{"resnet.encoder.stages.2.layers.0.layer.0.normalization.running_var", math.Inf(-1)},
		{"resnet.encoder.stages.0.layers.0.layer.1.normalization.running_mean", math.NaN()},
		{arch.ClassifierWeight, math.Inf(1)},
	}
	for _, c := range cases {
		before := net.StateDict()
		sd := donor.StateDict()
		sd[c.tensor].Data[1] = float32(c.value)
		err := net.LoadStateDict(sd)
		var nf *weights.NonFiniteError
		if !errors.As(err, &nf) || nf.Tensor != c.tensor || nf.Index != 1 || !strings.Contains(err.Error(), "non-finite") {
			t.Errorf("%s = %v: error %v", c.tensor, c.value, err)
		}
		for name, v := range net.StateDict() {
			if relErr(v.Data, before[name].Data) != 0 {
				t.Fatalf("%s: the refused load changed %s", c.tensor, name)
			}
		}
	}
}

// The optimizer's momentum buffers (--resume) are checked too.
func TestSGDLoadStateDictRefusesNonFinite(t *testing.T) {
	cfg := tinyCIFAR(t, arch.ShortcutZeroPad)
	net, err := New(cfg, InitOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(net, SGDConfig{Momentum: 0.9}, Constant(0.1))
	if err != nil {
		t.Fatal(err)
	}
	x, labels := randomBatch(4, 3, 8, 8, 10, 1)
	if _, _, err := tr.Step(x, labels); err != nil {
		t.Fatal(err)
	}
	sd := tr.Opt.StateDict()
	name := arch.ClassifierBias + ".momentum_buffer"
	sd[name].Data[3] = float32(math.NaN())
	var nf *weights.NonFiniteError
	if err := tr.Opt.LoadStateDict(sd); !errors.As(err, &nf) || nf.Tensor != name || nf.Index != 3 {
		t.Errorf("NaN momentum buffer: %v", err)
	}
}

// CheckFinite and CheckGradients find a NaN or ±Inf wherever a step may leave one: a
// parameter, a BN running statistic, a gradient.
func TestCheckFiniteFindsEveryKind(t *testing.T) {
	cfg := tinyCIFAR(t, arch.ShortcutZeroPad)
	net, err := New(cfg, InitOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(net, SGDConfig{Momentum: 0.9}, Constant(0.1))
	if err != nil {
		t.Fatal(err)
	}
	x, labels := randomBatch(4, 3, 8, 8, 10, 1)
	if _, _, err := tr.Step(x, labels); err != nil {
		t.Fatal(err)
	}
	if err := net.CheckFinite(); err != nil {
		t.Fatalf("a sound step: %v", err)
	}
	if err := tr.Opt.CheckGradients(); err != nil {
		t.Fatalf("a sound step: %v", err)
	}
	last := net.bns[len(net.bns)-1]
	cases := []struct {
		name  string
		slice func() []float32
		check func() error
		want  string
	}{
		{"parameter", func() []float32 { return net.params[5].Data }, net.CheckFinite, `parameter "` + net.params[5].Name + `" has a non-finite value (NaN) at index 2`},
		{"running mean", func() []float32 { return net.bns[2].bn.RunningMean }, net.CheckFinite, `BatchNorm statistic "` + net.bns[2].name + `.running_mean" has a non-finite value (NaN) at index 2`},
		{"running var", func() []float32 { return last.bn.RunningVar }, net.CheckFinite, `BatchNorm statistic "` + last.name + `.running_var" has a non-finite value (NaN) at index 2`},
		{"gradient", func() []float32 { return net.params[len(net.params)-1].Grad }, tr.Opt.CheckGradients, `gradient of "` + arch.ClassifierBias + `" has a non-finite value (NaN) at index 2`},
	}
	for _, c := range cases {
		s := c.slice()
		old := s[2]
		s[2] = float32(math.NaN())
		if err := c.check(); err == nil || err.Error() != c.want {
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		}
		s[2] = old
		if err := c.check(); err != nil {
			t.Errorf("%s restored: %v", c.name, err)
		}
	}
}
