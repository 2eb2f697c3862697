package train

import (
	"fmt"

	"github.com/resnet-go/resnet/weights"
)

// SGDConfig holds torch.optim.SGD's settings (the learning rate comes from the schedule).
type SGDConfig struct {
	Momentum    float64
	Dampening   float64
	WeightDecay float64
	Nesterov    bool
	// NoDecayBNBias exempts BatchNorm weights and biases and the classifier bias from weight
	// decay (Param.NoDecay), as a second parameter group with weight_decay 0 would.
	NoDecayBNBias bool
}

// SGD is torch.optim.SGD over a network's parameters, step for step:
//
//	d = grad + wd·p;  buf = d on the first step, else momentum·buf + (1−dampening)·d;
//	d = d + momentum·buf (Nesterov) or buf;  p = p − lr·d.
//
// Each line is evaluated in float32 as PyTorch's CPU kernels do: scalars rounded to float32,
// a·x + y with one rounding (their fused multiply-add), momentum·buf rounded on its own.
type SGD struct {
	Config SGDConfig
	params []*Param
	bufs   [][]float32 // momentum buffers; nil until the first step
}

// NewSGD returns an optimizer for params. Like PyTorch it rejects negative settings and
// Nesterov momentum without momentum or with dampening.
func NewSGD(params []*Param, c SGDConfig) (*SGD, error) {
	switch {
	case c.Momentum < 0 || c.Dampening < 0 || c.WeightDecay < 0:
		return nil, fmt.Errorf("train: SGD momentum %g, dampening %g and weight decay %g must not be negative", c.Momentum, c.Dampening, c.WeightDecay)
	case c.Nesterov && (c.Momentum <= 0 || c.Dampening != 0):
		return nil, fmt.Errorf("train: Nesterov momentum requires a momentum > 0 and zero dampening (got %g, %g)", c.Momentum, c.Dampening)
	}
	return &SGD{Config: c, params: params, bufs: make([][]float32, len(params))}, nil
}

// fma is x·y + z rounded once to float32 (exact product in float64; the double rounding of
// the sum differs from a true fused multiply-add only in rare halfway cases).
func fma(x, y, z float32) float32 { return float32(float64(x)*float64(y) + float64(z)) }

// Step updates every parameter from its gradient with learning rate lr.
func (o *SGD) Step(lr float64) {
	c := o.Config
	mom, damp, nlr := float32(c.Momentum), float32(1-c.Dampening), float32(-lr)
	for pi, p := range o.params {
		wd := float32(c.WeightDecay)
		if c.NoDecayBNBias && p.NoDecay {
			wd = 0
		}
		buf := o.bufs[pi]
		first := buf == nil && c.Momentum != 0
		if first {
			buf = make([]float32, len(p.Data))
			o.bufs[pi] = buf
		}
		for i, g := range p.Grad {
			d := g
			if wd != 0 {
				d = fma(p.Data[i], wd, d)
			}
			if c.Momentum != 0 {
				if first {
					buf[i] = d
				} else {
					buf[i] = fma(d, damp, buf[i]*mom)
				}
				if c.Nesterov {
					d = fma(buf[i], mom, d)
				} else {
					d = buf[i]
				}
			}
			p.Data[i] = fma(d, nlr, p.Data[i])
		}
	}
}

// StateDict returns the momentum buffers as "<param>.momentum_buffer" tensors (none before
// the first step), for resuming training exactly.
func (o *SGD) StateDict() weights.StateDict {
	sd := weights.StateDict{}
	for i, p := range o.params {
		if o.bufs[i] != nil {
			sd[p.Name+".momentum_buffer"] = &weights.Tensor{DType: "F32", Shape: append([]int(nil), p.Shape...), Data: append([]float32(nil), o.bufs[i]...)}
		}
	}
	return sd
}

// LoadStateDict restores momentum buffers saved by StateDict; parameters without one start
// afresh, as in PyTorch. Unknown names, wrong sizes and non-finite values are errors.
func (o *SGD) LoadStateDict(sd weights.StateDict) error {
	index := map[string]int{}
	for i, p := range o.params {
		index[p.Name+".momentum_buffer"] = i
	}
	for name, t := range sd {
		i, ok := index[name]
		if !ok {
			return fmt.Errorf("train: optimizer state has unexpected tensor %q", name)
		}
		if len(t.Data) != len(o.params[i].Data) {
			return fmt.Errorf("train: optimizer state %q has %d values, the parameter %d", name, len(t.Data), len(o.params[i].Data))
		}
		if err := weights.CheckFinite("", name, t.Data); err != nil {
			return err
		}
	}
	for i, p := range o.params {
		o.bufs[i] = nil
		if t, ok := sd[p.Name+".momentum_buffer"]; ok {
			o.bufs[i] = append([]float32(nil), t.Data...)
		}
	}
	return nil
}

// CheckGradients returns a *weights.NonFiniteError for the first NaN or ±Inf in the gradient
// of a parameter this optimizer updates, or nil. After Step the gradients are still those of
// the step, so a training loop can ask whether the update it just made was sound.
func (o *SGD) CheckGradients() error {
	for _, p := range o.params {
		if err := weights.CheckFinite("gradient of", p.Name, p.Grad); err != nil {
			return err
		}
	}
	return nil
}
