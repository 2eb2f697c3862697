package train

import (
	"math"
	"testing"

	"github.com/resnet-go/resnet/arch"
)

// TestSGDUpdate follows torch.optim.SGD's update by hand for two steps.
func TestSGDUpdate(t *testing.T) {
	type cfg struct {
		c       SGDConfig
		noDecay bool
	}
	for _, tc := range []cfg{
		{SGDConfig{}, false},
		{SGDConfig{Momentum: 0.9, WeightDecay: 0.01}, false},
		{SGDConfig{Momentum: 0.9, Dampening: 0.25, WeightDecay: 0.01}, false},
		{SGDConfig{Momentum: 0.8, WeightDecay: 0.01, Nesterov: true}, false},
		{SGDConfig{Momentum: 0.9, WeightDecay: 0.01, NoDecayBNBias: true}, true},
		{SGDConfig{Momentum: 0.9, WeightDecay: 0.01, NoDecayBNBias: true}, false},
	} {
		p := &Param{Name: "p", Shape: []int{2}, Data: []float32{1, -2}, Grad: []float32{0.5, 0.25}, NoDecay: tc.noDecay}
		o, err := NewSGD([]*Param{p}, tc.c)
		if err != nil {
			t.Fatal(err)
		}
		w := []float64{1, -2}
		buf := []float64{0, 0}
		grads := [][]float64{{0.5, 0.25}, {-0.125, 1}}
		for step, lr := range []float64{0.1, 0.05} {
			copy(p.Grad, []float32{float32(grads[step][0]), float32(grads[step][1])})
			o.Step(lr)
			wd := tc.c.WeightDecay
			if tc.c.NoDecayBNBias && tc.noDecay {
				wd = 0
			}
			for i := range w {
				d := grads[step][i] + wd*w[i]
				if tc.c.Momentum != 0 {
					if step == 0 {
						buf[i] = d
					} else {
						buf[i] = tc.c.Momentum*buf[i] + (1-tc.c.Dampening)*d
					}
					if tc.c.Nesterov {
						d += tc.c.Momentum * buf[i]
					} else {
						d = buf[i]
					}
				}
				w[i] -= lr * d
				if math.Abs(float64(p.Data[i])-w[i]) > 1e-6 {
					t.Errorf("%+v step %d: p[%d] = %.8g, want %.8g", tc, step, i, p.Data[i], w[i])
				}
			}
		}
	}
	for _, c := range []SGDConfig{{Momentum: -1}, {WeightDecay: -1}, {Nesterov: true}, {Momentum: 0.9, Dampening: 0.1, Nesterov: true}} {
		if _, err := NewSGD(nil, c); err == nil {
			t.Errorf("NewSGD(%+v) accepted", c)
		}
	}
}

// Saving the network and optimizer state after one step and resuming in a fresh process
// gives exactly the second step of an uninterrupted run.
func TestResume(t *testing.T) {
	cfg := tinyCIFAR(t, arch.ShortcutProjection)
	opt := SGDConfig{Momentum: 0.9, WeightDecay: 5e-4, Nesterov: true}
	sched := Cosine{Base: 0.1, Total: 10, Warmup: 1, WarmupStart: 0.5}
	x0, l0 := randomBatch(4, 3, 9, 9, 10, 1)
	x1, l1 := randomBatch(4, 3, 9, 9, 10, 2)

	a, _ := New(cfg, InitOptions{Seed: 5})
	ta, err := NewTrainer(a, opt, sched)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ta.Step(x0, l0); err != nil {
		t.Fatal(err)
	}
	netState, optState, iter := a.StateDict(), ta.Opt.StateDict(), ta.Iter
	if len(optState) != len(a.Params()) {
		t.Fatalf("%d momentum buffers for %d parameters", len(optState), len(a.Params()))
	}
	if _, _, err := ta.Step(x1, l1); err != nil {
		t.Fatal(err)
	}

	b, _ := New(cfg, InitOptions{Seed: 6})
	if err := b.LoadStateDict(netState); err != nil {
		t.Fatal(err)
	}
	tb, _ := NewTrainer(b, opt, sched)
	if err := tb.Opt.LoadStateDict(optState); err != nil {
		t.Fatal(err)
	}
	tb.Iter = iter
	if _, _, err := tb.Step(x1, l1); err != nil {
		t.Fatal(err)
	}
	want := a.StateDict()
	for name, v := range b.StateDict() {
		if relErr(v.Data, want[name].Data) != 0 {
			t.Errorf("%s differs after resuming", name)
		}
	}
	bad := optState.Names()[0]
	optState[bad].Data = optState[bad].Data[:1]
	if err := tb.Opt.LoadStateDict(optState); err == nil {
		t.Error("momentum buffer of the wrong size accepted")
	}
}
