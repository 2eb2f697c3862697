package train

import (
	"fmt"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/nn"
	"github.com/resnet-go/resnet/tensor"
)

// activations holds the buffers of one batch shape: the input, each layer's outputs (kept for
// the backward pass) and gradient scratch.
type activations struct {
	n, h, w        int
	x              []float32 // input, [C, N, H, W]
	stemH, stemW   int       // stem output size
	pooled         []float32 // after max-pool
	poolH, poolW   int
	outH, outW     int       // last block's output size
	feat, dfeat    []float32 // [N, Features]
	logits         []float32 // [N, labels]
	dlogits        []float32
	gA, gB, t1, t2 []float32 // gradient ping-pong and branch temporaries (max activation size)
}

// prepare (re)allocates the activations for n images of h×w pixels.
func (net *Network) prepare(n, h, w int) error {
	if a := net.acts; a != nil && a.n == n && a.h == h && a.w == w {
		return nil
	}
	net.acts = nil
	c := net.Config.NumChannels
	a := &activations{n: n, h: h, w: w, x: make([]float32, c*n*h*w)}
	largest := 0
	see := func(cb *convBN, h, w int, in []float32, out []float32) (int, int, error) {
		if err := cb.conv.Check(n, h, w, -1, -1); err != nil {
			return 0, 0, fmt.Errorf("%s: %w", cb.spec.Name, err)
		}
		oh, ow := cb.conv.OutSize(h, w)
		if n*oh*ow < 2 {
			return 0, 0, fmt.Errorf("%s: a batch of %d image(s) of %d×%d gives one value per channel, too few for batch statistics", cb.spec.Name, n, w, h)
		}
		cb.h, cb.w, cb.in = h, w, in
		size := cb.spec.Out * n * oh * ow
		cb.c = make([]float32, size)
		cb.out = out
		if cb.out == nil {
			cb.out = make([]float32, size)
		}
		largest = max(largest, size, cb.spec.In*n*h*w)
		return oh, ow, nil
	}
	var err error
	if a.stemH, a.stemW, err = see(net.stem, h, w, a.x, nil); err != nil {
		return err
	}
	cur, ch, cw := net.stem.out, a.stemH, a.stemW
	if net.pool != nil {
		planes := net.stem.spec.Out * n
		oh, ow := net.pool.OutSize(ch, cw)
		if err := net.pool.Check(planes, ch, cw, len(cur), planes*oh*ow); err != nil {
			return fmt.Errorf("stem max-pool: %w", err)
		}
		ch, cw = oh, ow
		a.pooled = make([]float32, net.stem.spec.Out*n*ch*cw)
		cur = a.pooled
	}
	a.poolH, a.poolW = ch, cw
	for _, b := range net.blocks {
		b.h, b.w, b.in = ch, cw, cur
		if b.proj != nil {
			if _, _, err := see(b.proj, ch, cw, cur, nil); err != nil {
				return err
			}
		}
		if b.pad != nil {
			oh, ow := b.pad.OutSize(ch, cw)
			b.sc = make([]float32, b.spec.Out*n*oh*ow)
		}
		in, bh, bw := cur, ch, cw
		for _, cb := range b.convs {
			if bh, bw, err = see(cb, bh, bw, in, nil); err != nil {
				return err
			}
			in = cb.out
		}
		cur, ch, cw = in, bh, bw
	}
	a.outH, a.outW = ch, cw
	f := net.Spec.Features
	a.feat, a.dfeat = make([]float32, n*f), make([]float32, n*f)
	if net.fc != nil {
		a.logits, a.dlogits = make([]float32, n*net.fc.Out), make([]float32, n*net.fc.Out)
	}
	a.gA, a.gB = make([]float32, largest), make([]float32, largest)
	a.t1, a.t2 = make([]float32, largest), make([]float32, largest)
	net.acts = a
	return nil
}

// checkInput validates an NCHW batch.
func (net *Network) checkInput(x *tensor.Tensor) error {
	if x == nil || len(x.Shape) != 4 || x.Shape[0] < 1 || x.Shape[1] != net.Config.NumChannels || x.Shape[2] < 1 || x.Shape[3] < 1 {
		var s []int
		if x != nil {
			s = x.Shape
		}
		return fmt.Errorf("train: input must be [N, %d, H, W], got %s", net.Config.NumChannels, tensor.Format(s))
	}
	if len(x.Data) != tensor.Numel(x.Shape) {
		return fmt.Errorf("train: input shape %s needs %d values, has %d", tensor.Format(x.Shape), tensor.Numel(x.Shape), len(x.Data))
	}
	return nil
}

// forward runs the batch x (NCHW) through the network in training or eval mode and returns
// the pooled features [N, Features] and, with a classifier, the logits [N, labels].
func (net *Network) forward(x *tensor.Tensor, train bool) error {
	if err := net.checkInput(x); err != nil {
		return err
	}
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	if err := net.prepare(n, h, w); err != nil {
		return err
	}
	a := net.acts
	nn.ToCNHW(n, net.Config.NumChannels, h*w, x.Data, a.x)
	run := func(cb *convBN, res []float32) error {
		var err error
		if train {
			err = cb.unit.ForwardTrain(n, cb.h, cb.w, cb.in, cb.c, res, cb.out)
		} else {
			err = cb.unit.ForwardEval(n, cb.h, cb.w, cb.in, cb.c, res, cb.out)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", cb.spec.Name, err)
		}
		return nil
	}
	if err := run(net.stem, nil); err != nil {
		return err
	}
	if net.pool != nil {
		if err := net.pool.Forward(net.stem.spec.Out*n, a.stemH, a.stemW, net.stem.out, a.pooled); err != nil {
			return err
		}
	}
	for _, b := range net.blocks {
		var res []float32
		switch b.spec.Shortcut {
		case arch.ShortcutIdentity:
			res = b.in
		case arch.ShortcutPad:
			if err := b.pad.Forward(n, b.h, b.w, b.in, b.sc); err != nil {
				return err
			}
			res = b.sc
		case arch.ShortcutProject:
			if err := run(b.proj, nil); err != nil {
				return err
			}
			res = b.proj.out
		}
		for i, cb := range b.convs {
			var r []float32
			if i == len(b.convs)-1 {
				r = res // the ReLU of the last convolution follows the residual add
			}
			if err := run(cb, r); err != nil {
				return err
			}
		}
	}
	last := net.lastOut()
	f := net.Spec.Features
	if err := nn.GlobalAvgPool(f, n, a.outH*a.outW, last, a.feat); err != nil {
		return err
	}
	if net.fc != nil {
		return net.fc.Forward(n, a.feat, a.logits)
	}
	return nil
}

// lastOut is the output of the last block (or of the stem for a network without blocks).
func (net *Network) lastOut() []float32 {
	if len(net.blocks) == 0 {
		if net.pool != nil {
			return net.acts.pooled
		}
		return net.stem.out
	}
	b := net.blocks[len(net.blocks)-1]
	return b.convs[len(b.convs)-1].out
}

// ForwardTrain runs x (NCHW) in training mode, normalising with batch statistics and
// updating the running statistics (as PyTorch's model.train() forward does, e.g. to
// recalibrate BatchNorm), and returns the logits [N, labels] or, without classifier, the
// pooled features [N, Features].
func (net *Network) ForwardTrain(x *tensor.Tensor) (*tensor.Tensor, error) {
	if err := net.forward(x, true); err != nil {
		return nil, err
	}
	return net.output(), nil
}

// Eval runs x (NCHW) in eval mode (running statistics) and returns the logits [N, labels],
// or the pooled features [N, Features] for a network without classifier.
func (net *Network) Eval(x *tensor.Tensor) (*tensor.Tensor, error) {
	if err := net.forward(x, false); err != nil {
		return nil, err
	}
	return net.output(), nil
}

// output copies the logits (or features) of the last forward pass.
func (net *Network) output() *tensor.Tensor {
	a := net.acts
	if net.fc == nil {
		return &tensor.Tensor{Shape: []int{a.n, net.Spec.Features}, Data: append([]float32(nil), a.feat...)}
	}
	return &tensor.Tensor{Shape: []int{a.n, net.fc.Out}, Data: append([]float32(nil), a.logits...)}
}
