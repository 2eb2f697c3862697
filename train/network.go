package train

import (
	"fmt"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/nn"
)

// Network is a ResNet with trainable parameters, gradients and the activations of the last
// forward pass. It is not safe for concurrent use.
type Network struct {
	Config arch.Config
	Spec   arch.Spec

	stem   *convBN
	pool   *nn.MaxPool2d // nil for the CIFAR stem
	blocks []*block
	fc     *nn.Linear // nil for a feature extractor (num_labels 0)

	params []*Param
	bns    []*namedBN

	acts *activations // buffers for the current batch shape
}

// convBN is a convolution and the batch normalisation after it, with their activations.
type convBN struct {
	spec arch.Conv
	unit *nn.ConvBNTrain
	conv *nn.Conv2d      // unit.Conv
	bn   *nn.BatchNorm2d // unit.BN
	// Per batch: input size, input (owned by the layer before), conv output, BN output.
	h, w   int
	in     []float32
	c, out []float32
}

// block is one residual (or plain) block.
type block struct {
	spec  arch.Block
	convs []*convBN
	proj  *convBN     // option B
	pad   *nn.ZeroPad // option A
	sc    []float32   // option A output
	h, w  int
	in    []float32
}

// namedBN ties a BN layer to its HF prefix, for the state dict.
type namedBN struct {
	name string
	bn   *nn.BatchNorm2d
}

// New builds an untrained network for cfg, initialised as torchvision does (see Init) with
// the given options.
func New(cfg *arch.Config, opts InitOptions) (*Network, error) {
	spec, err := cfg.Spec()
	if err != nil {
		return nil, err
	}
	net := &Network{Config: spec.Config, Spec: spec}
	net.stem = newConvBN(spec.Stem, true)
	if spec.MaxPool {
		net.pool = &nn.MaxPool2d{Kernel: 3, Stride: 2, Pad: 1}
	}
	for _, bs := range spec.Blocks {
		b := &block{spec: bs}
		if bs.Proj != nil {
			b.proj = newConvBN(*bs.Proj, false)
		}
		for _, cv := range bs.Convs {
			b.convs = append(b.convs, newConvBN(cv, true))
		}
		if bs.Shortcut == arch.ShortcutPad {
			b.pad = &nn.ZeroPad{In: bs.In, Out: bs.Out, Stride: bs.Stride}
		}
		net.blocks = append(net.blocks, b)
	}
	if spec.Config.NumLabels > 0 {
		net.fc = nn.NewLinear(spec.Features, spec.Config.NumLabels)
	}
	if err := net.collectParams(); err != nil {
		return nil, err
	}
	net.Init(opts)
	return net, nil
}

// newConvBN builds a unit; relu is false only for projection shortcuts (the last convolution
// of a branch has its ReLU after the residual add, which the unit does too).
func newConvBN(cv arch.Conv, relu bool) *convBN {
	u := nn.NewConvBNTrain(cv.In, cv.Out, cv.Kernel, cv.Stride, cv.Pad, relu)
	return &convBN{spec: cv, unit: u, conv: u.Conv, bn: u.BN}
}

// convBNs lists every convolution in arch.Spec.Convs order.
func (net *Network) convBNs() []*convBN {
	out := []*convBN{net.stem}
	for _, b := range net.blocks {
		if b.proj != nil {
			out = append(out, b.proj)
		}
		out = append(out, b.convs...)
	}
	return out
}

// collectParams lists the parameters in arch.Spec.Params order and checks that the two agree.
func (net *Network) collectParams() error {
	net.params, net.bns = nil, nil
	for _, c := range net.convBNs() {
		k := c.spec.Kernel
		net.params = append(net.params,
			&Param{Name: c.spec.Name + ".convolution.weight", Shape: []int{c.spec.Out, c.spec.In, k, k}, Data: c.conv.Weight, Grad: c.conv.Grad},
			&Param{Name: c.spec.Name + ".normalization.weight", Shape: []int{c.spec.Out}, Data: c.bn.Weight, Grad: c.bn.GradWeight, NoDecay: true},
			&Param{Name: c.spec.Name + ".normalization.bias", Shape: []int{c.spec.Out}, Data: c.bn.Bias, Grad: c.bn.GradBias, NoDecay: true})
		net.bns = append(net.bns, &namedBN{c.spec.Name + ".normalization", c.bn})
	}
	if net.fc != nil {
		net.params = append(net.params,
			&Param{Name: arch.ClassifierWeight, Shape: []int{net.fc.Out, net.fc.In}, Data: net.fc.Weight, Grad: net.fc.GradWeight},
			&Param{Name: arch.ClassifierBias, Shape: []int{net.fc.Out}, Data: net.fc.Bias, Grad: net.fc.GradBias, NoDecay: true})
	}
	var want []arch.Param
	for _, p := range net.Spec.Params() {
		if p.Trainable {
			want = append(want, p)
		}
	}
	if len(want) != len(net.params) {
		return fmt.Errorf("train: %d parameters built, the spec lists %d", len(net.params), len(want))
	}
	for i, p := range net.params {
		if p.Name != want[i].Name || fmt.Sprint(p.Shape) != fmt.Sprint(want[i].Shape) {
			return fmt.Errorf("train: parameter %d is %s %v, the spec lists %s %v", i, p.Name, p.Shape, want[i].Name, want[i].Shape)
		}
	}
	return nil
}

// Params lists the trainable parameters in registration order (PyTorch's named_parameters).
func (net *Network) Params() []*Param { return net.params }

// Param is one trainable tensor, aliasing the layer's weights and gradient.
type Param struct {
	Name  string
	Shape []int
	Data  []float32
	Grad  []float32
	// NoDecay marks BatchNorm weights and biases and the classifier bias, which training
	// recipes often exempt from weight decay.
	NoDecay bool
}
