package train

import (
	"math"
	"math/rand/v2"

	"github.com/resnet-go/resnet/arch"
)

// InitOptions chooses the initialisation.
type InitOptions struct {
	// Seed makes the initial weights reproducible.
	Seed uint64
	// ZeroInitResidual sets γ = 0 in the last BatchNorm of every residual branch (torchvision's
	// zero_init_residual, Goyal et al.), so each block starts as the identity. Plain networks
	// have no shortcut to carry the signal and are left alone.
	ZeroInitResidual bool
}

// Init sets the parameters as torchvision's ResNet does: convolutions kaiming_normal_ with
// mode fan_out and the ReLU gain (std √(2/(out·k·k))), BatchNorm γ = 1 and β = 0 with fresh
// running statistics, and the classifier as PyTorch's Linear default (weight and bias uniform
// in ±1/√in). Momentum buffers of an optimizer are not touched.
func (net *Network) Init(o InitOptions) {
	r := rand.New(rand.NewPCG(o.Seed, 0x5265734e6574)) // "ResNet"
	for _, c := range net.convBNs() {
		std := math.Sqrt(2 / float64(c.spec.Out*c.spec.Kernel*c.spec.Kernel))
		for i := range c.conv.Weight {
			c.conv.Weight[i] = float32(r.NormFloat64() * std)
		}
		b := c.bn
		for i := range b.Weight {
			b.Weight[i], b.Bias[i], b.RunningMean[i], b.RunningVar[i] = 1, 0, 0, 1
		}
		b.NumBatchesTracked = 0
	}
	if o.ZeroInitResidual {
		for _, b := range net.blocks {
			if b.spec.Shortcut != arch.ShortcutNone {
				clear(b.convs[len(b.convs)-1].bn.Weight)
			}
		}
	}
	if net.fc != nil {
		bound := 1 / math.Sqrt(float64(net.fc.In))
		for i := range net.fc.Weight {
			net.fc.Weight[i] = float32((2*r.Float64() - 1) * bound)
		}
		for i := range net.fc.Bias {
			net.fc.Bias[i] = float32((2*r.Float64() - 1) * bound)
		}
	}
}
