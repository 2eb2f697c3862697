// Package nn holds the layers ResNets are made of, as used at inference: a convolution with
// its batch normalisation folded in, the option-A shortcut, and the classifier head.
package nn

import (
	"fmt"
	"math"

	"github.com/resnet-go/resnet/kernels"
)

// BNEps is PyTorch's BatchNorm2d default, used by HF, torchvision and the CIFAR checkpoints.
const BNEps = 1e-5

// ConvBN is Conv2d (no bias) followed by eval-mode BatchNorm2d, folded into one convolution
// with a bias: y = W'x + b', W' = W·γ/√(σ²+ε), b' = β − μ·γ/√(σ²+ε).
type ConvBN struct {
	Name   string
	Params kernels.ConvParams
	Weight []float32 // [Out, In, K, K], BN scale folded in; nil once packed
	Bias   []float32 // [Out]
	ReLU   bool
	// Plan is the weights prepared once, at load, for the algorithm that suits the layer's
	// shape (Winograd for 3×3 stride 1, packed GEMM otherwise).
	Plan *kernels.ConvPlan
}

// FoldBN builds a ConvBN from a convolution weight and BN statistics. The fold is computed in
// float64 so that the only rounding is the final conversion to float32. The folded weight is
// written to dst when it has room (it may be w itself), else to a new slice.
func FoldBN(name string, p kernels.ConvParams, w, gamma, beta, mean, variance []float32, eps float64, relu bool, dst []float32) (*ConvBN, error) {
	per := p.InC * p.KH * p.KW
	if len(w) != p.OutC*per {
		return nil, fmt.Errorf("%s: weight has %d values, want %d", name, len(w), p.OutC*per)
	}
	for _, v := range [][]float32{gamma, beta, mean, variance} {
		if len(v) != p.OutC {
			return nil, fmt.Errorf("%s: batch-norm vector has %d values, want %d", name, len(v), p.OutC)
		}
	}
	if cap(dst) < len(w) {
		dst = make([]float32, len(w))
	}
	c := &ConvBN{Name: name, Params: p, Weight: dst[:len(w)], Bias: make([]float32, p.OutC), ReLU: relu}
	for o := 0; o < p.OutC; o++ {
		if variance[o] < 0 {
			return nil, fmt.Errorf("%s: running_var[%d] = %g is negative", name, o, variance[o])
		}
	}
	// The weights are scaled in channel groups on the kernels' threads: 48 ms of a
	// ResNet-50 load's 165 on one thread of the Intel Xeon (session 20), where `classify`
	// pays every millisecond of loading before its first image.
	groups := min(p.OutC, max(1, len(w)/(1<<16)))
	parallelFor(groups, func(g int) {
		for o := g * p.OutC / groups; o < (g+1)*p.OutC/groups; o++ {
			scale := float64(gamma[o]) / math.Sqrt(float64(variance[o])+eps)
			for i := o * per; i < (o+1)*per; i++ {
				c.Weight[i] = float32(float64(w[i]) * scale)
			}
			c.Bias[o] = float32(float64(beta[o]) - float64(mean[o])*scale)
		}
	})
	return c, nil
}

// OutShape is [Out, OH, OW].
func (c *ConvBN) OutShape() (int, int, int) { return c.Params.OutC, c.Params.OutH(), c.Params.OutW() }

// OutLen is the number of output values for one image.
func (c *ConvBN) OutLen() int { return c.Params.OutC * c.Params.OutH() * c.Params.OutW() }

// Prepare plans the weights once for the layer's algorithm and drops the plain copy:
// inference weights never change, and preparing them on every call would cost up to a third
// of a layer's time. h and w are the expected input size (0 if unknown).
func (c *ConvBN) Prepare(h, w int) {
	c.Plan = kernels.PlanConv(WithInput(c.Params, h, w), c.Weight)
	c.Weight = nil
}

// Forward runs n images of h×w pixels stored one after another (NCHW):
// out = act(conv(in) + bias + residual); residual may be nil. Prepared layers run the n images
// together, so each weight is read once per group of images.
func (c *ConvBN) Forward(in []float32, n, h, w int, residual, out, scratch []float32) {
	p := WithInput(c.Params, h, w)
	if c.Plan != nil {
		kernels.Conv2DPlanned(p, n, in, c.Plan, c.Bias, residual, c.ReLU, out)
		return
	}
	inLen, outLen := p.InC*h*w, p.OutC*p.OutH()*p.OutW()
	for i := 0; i < n; i++ {
		var res []float32
		if residual != nil {
			res = residual[i*outLen : (i+1)*outLen]
		}
		kernels.Conv2D(p, in[i*inLen:(i+1)*inLen], c.Weight, c.Bias, res, c.ReLU, out[i*outLen:(i+1)*outLen], scratch)
	}
}

// ForwardMaxPool is Forward without a residual followed by the 3×3/2 max pool
// of ResNet's stem (padding 1), into out: n×OutC×((OH-1)/2+1)×((OW-1)/2+1).
// Planned convolutions run it fused where they can (kernels.Conv2DPlannedMaxPool:
// the convolution's output is pooled as its rows are made, never stored
// whole); otherwise the convolution goes to convOut (n×OutC×OH×OW) and is
// pooled from there.
func (c *ConvBN) ForwardMaxPool(in []float32, n, h, w int, convOut, out, scratch []float32) {
	p := WithInput(c.Params, h, w)
	if c.Plan != nil {
		kernels.Conv2DPlannedMaxPool(p, n, in, c.Plan, c.Bias, c.ReLU, convOut, out)
		return
	}
	c.Forward(in, n, h, w, nil, convOut, scratch)
	kernels.MaxPool2D(n*p.OutC, p.OutH(), p.OutW(), 3, 2, 1, convOut, out)
}

// WithInput returns the convolution parameters for an input of h×w pixels.
func WithInput(p kernels.ConvParams, h, w int) kernels.ConvParams {
	p.InH, p.InW = h, w
	return p
}
