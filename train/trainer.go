package train

import (
	"github.com/resnet-go/resnet/tensor"
)

// Trainer runs SGD steps: forward in training mode, cross-entropy, backward, update.
type Trainer struct {
	Net      *Network
	Opt      *SGD
	Schedule Schedule
	// Iter counts the steps taken; the schedule is asked for the rate of iteration Iter.
	Iter int
}

// NewTrainer checks the schedule and builds the optimizer over net's parameters.
func NewTrainer(net *Network, opt SGDConfig, sched Schedule) (*Trainer, error) {
	if err := CheckSchedule(sched); err != nil {
		return nil, err
	}
	o, err := NewSGD(net.Params(), opt)
	if err != nil {
		return nil, err
	}
	return &Trainer{Net: net, Opt: o, Schedule: sched}, nil
}

// Step trains on one batch x ([N, C, H, W], NCHW) with integer labels and returns the mean
// loss before the update and how many images were classified correctly.
func (t *Trainer) Step(x *tensor.Tensor, labels []int) (loss float64, correct int, err error) {
	loss, correct, err = t.Net.Gradients(x, labels)
	if err != nil {
		return 0, 0, err
	}
	t.Opt.Step(t.Schedule.LR(t.Iter))
	t.Iter++
	return loss, correct, nil
}

// LR is the learning rate the next Step will use.
func (t *Trainer) LR() float64 { return t.Schedule.LR(t.Iter) }
