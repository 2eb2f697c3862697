package train

import (
	"fmt"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/kernels"
	"github.com/resnet-go/resnet/nn"
	"github.com/resnet-go/resnet/tensor"
)

// Gradients runs x (NCHW) forward in training mode (updating BatchNorm running statistics, as
// PyTorch's forward does), computes the mean softmax cross-entropy against labels and sets
// every parameter's Grad. It returns the loss and how many images the logits classify
// correctly. Parameters are not changed; see Trainer.Step.
func (net *Network) Gradients(x *tensor.Tensor, labels []int) (loss float64, correct int, err error) {
	if net.fc == nil {
		return 0, 0, fmt.Errorf("train: a network without classifier (num_labels 0) has no loss to train on")
	}
	if x != nil && len(x.Shape) > 0 && len(labels) != x.Shape[0] {
		return 0, 0, fmt.Errorf("train: %d labels for a batch of %d images", len(labels), x.Shape[0])
	}
	for i, l := range labels {
		if l < 0 || l >= net.fc.Out {
			return 0, 0, fmt.Errorf("train: label %d of image %d is outside [0, %d)", l, i, net.fc.Out)
		}
	}
	if err := net.forward(x, true); err != nil {
		return 0, 0, err
	}
	a := net.acts
	loss, correct, err = nn.SoftmaxCrossEntropy(a.n, net.fc.Out, a.logits, labels, a.dlogits)
	if err != nil {
		return 0, 0, err
	}
	return loss, correct, net.backward()
}

// backward propagates a.dlogits through the network.
func (net *Network) backward() error {
	a := net.acts
	n := a.n
	if err := net.fc.Backward(n, a.feat, a.dlogits, a.dfeat); err != nil {
		return err
	}
	f := net.Spec.Features
	gA, gB := a.gA, a.gB
	if err := nn.GlobalAvgPoolBackward(f, n, a.outH*a.outW, a.dfeat, gA); err != nil {
		return err
	}
	// back runs a unit's backward pass: dOut is ∂L/∂(its output), masked in place by its ReLU
	// unless sums were gathered (which masks it). If prev is not nil, prev's sums are gathered
	// from dIn chunk by chunk as soon as each chunk is final, while it is in cache; the
	// returned sums are then prev's.
	back := func(cb *convBN, dOut, dIn []float32, o nn.BackwardOptions, prev *convBN) (*nn.GradSums, error) {
		var sums *nn.GradSums
		if prev != nil {
			sums = prev.unit.NewGradSums(n)
			o.After = func(i0, i1 int) {
				prev.unit.AddGradSums(sums, n, prev.h, prev.w, i0, i1, prev.c, prev.out, dIn)
			}
		}
		if err := cb.unit.Backward(n, cb.h, cb.w, cb.in, cb.c, cb.out, dOut, dIn, o); err != nil {
			return nil, fmt.Errorf("%s: %w", cb.spec.Name, err)
		}
		return sums, nil
	}
	var sums *nn.GradSums // of the unit whose backward pass comes next, if gathered
	for bi := len(net.blocks) - 1; bi >= 0; bi-- {
		b := net.blocks[bi]
		// gA: ∂L/∂(block output), masked to ∂L/∂(sum before the ReLU) by the last unit, which
		// makes it the shortcut's gradient too. The shortcut's share of ∂L/∂(block input) goes
		// into gB first, so the branch's first convolution completes gB chunk by chunk and
		// the unit before the block can gather its sums from it.
		last := b.convs[len(b.convs)-1]
		if sums == nil {
			// The network's last unit: take its sums (and mask gA) before the shortcut reads gA.
			sums = last.unit.NewGradSums(n)
			last.unit.AddGradSums(sums, n, last.h, last.w, 0, n, last.c, last.out, gA)
		}
		size := b.spec.In * n * b.h * b.w
		accumulate := true
		var residual []float32
		switch b.spec.Shortcut {
		case arch.ShortcutIdentity:
			// The branch's first convolution writes gB = its ∂L/∂x + gA, rather than
			// adding to a copy of gA (a copy of 8 MiB per block at CIFAR's stage 1).
			residual, accumulate = gA[:size], false
		case arch.ShortcutPad:
			kernels.Copy(gB[:size], nil) // 8 MiB at CIFAR's first downsampling block
			if err := b.pad.Backward(n, b.h, b.w, gA, gB); err != nil {
				return err
			}
		case arch.ShortcutProject:
			if _, err := back(b.proj, gA, gB, nn.BackwardOptions{}, nil); err != nil {
				return err
			}
		default:
			accumulate = false
		}
		dOut := gA
		for k := len(b.convs) - 1; k >= 0; k-- {
			dIn, prev := a.t1, (*convBN)(nil)
			if k > 0 {
				prev = b.convs[k-1]
				if (len(b.convs)-1-k)%2 == 1 {
					dIn = a.t2
				}
			} else {
				dIn = gB
				prev = net.unitBefore(bi)
			}
			o := nn.BackwardOptions{Sums: sums}
			if k == 0 {
				o.Accumulate, o.Residual = accumulate, residual
			}
			var err error
			if sums, err = back(b.convs[k], dOut, dIn, o, prev); err != nil {
				return err
			}
			dOut = dIn
		}
		gA, gB = gB, gA
	}
	stem := net.stem
	if net.pool != nil {
		if err := net.pool.Backward(stem.spec.Out*n, a.stemH, a.stemW, gA, gB); err != nil {
			return err
		}
		gA, sums = gB, nil
	}
	if _, err := back(stem, gA, nil, nn.BackwardOptions{Sums: sums}, nil); err != nil {
		return err
	}
	return nil
}

// unitBefore is the unit whose output is block bi's input, when the gradient of that input is
// exactly the gradient of the unit's output (no max-pool in between); otherwise nil.
func (net *Network) unitBefore(bi int) *convBN {
	if bi > 0 {
		b := net.blocks[bi-1]
		return b.convs[len(b.convs)-1]
	}
	if net.pool != nil {
		return nil
	}
	return net.stem
}
