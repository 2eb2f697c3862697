package resnet

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/resnet-go/resnet/arch"
)

// RandomCheckpoint is a preset architecture (see arch.Presets) with seeded random weights, for
// measuring the speed and memory of any ResNet without a download. The weights follow
// torchvision's initialisation (convolutions normal with std √(2/fan_out), BatchNorm γ = 1,
// β = 0, running mean 0 and variance 1, the classifier uniform in ±1/√in), as a fresh
// PyTorch model has them. Each tensor is generated when the model reads it, from the seed and
// its name, so nothing is held twice while the model is built. The predictions mean nothing.
func RandomCheckpoint(archName string, seed uint64) (*Checkpoint, error) {
	cfg, err := arch.Preset(archName)
	if err != nil {
		return nil, err
	}
	spec, err := cfg.Spec()
	if err != nil {
		return nil, err
	}
	src := &randomSource{seed: seed, shapes: map[string][]int{}, fanIn: spec.Features}
	for _, p := range spec.Params() {
		src.shapes[p.Name] = p.Shape
		src.names = append(src.names, p.Name)
	}
	sort.Strings(src.names)
	return &Checkpoint{
		Config: cfg, Processor: DefaultProcessor(cfg), Weights: src,
		Source: fmt.Sprintf("%s (random weights, seed %d)", archName, seed),
	}, nil
}

// randomSource implements weights.Source for RandomCheckpoint.
type randomSource struct {
	seed   uint64
	names  []string
	shapes map[string][]int
	fanIn  int // the classifier's input features
}

func (s *randomSource) Names() []string { return s.names }

func (s *randomSource) Shape(name string) ([]int, bool) {
	sh, ok := s.shapes[name]
	return sh, ok
}

func (s *randomSource) Read(name string, dst []float32) error {
	shape, ok := s.shapes[name]
	if !ok {
		return fmt.Errorf("no tensor %q", name)
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	if len(dst) != n {
		return fmt.Errorf("tensor %q has %d values, destination %d", name, n, len(dst))
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	r := rand.New(rand.NewPCG(s.seed, h.Sum64()))
	switch {
	case strings.HasSuffix(name, ".convolution.weight"):
		// kaiming_normal_(mode="fan_out", nonlinearity="relu")
		std := math.Sqrt(2 / float64(shape[0]*shape[2]*shape[3]))
		for i := range dst {
			dst[i] = float32(r.NormFloat64() * std)
		}
	case name == arch.ClassifierWeight || name == arch.ClassifierBias:
		bound := 1 / math.Sqrt(float64(s.fanIn))
		for i := range dst {
			dst[i] = float32((2*r.Float64() - 1) * bound)
		}
	case strings.HasSuffix(name, ".weight"), strings.HasSuffix(name, ".running_var"):
		for i := range dst {
			dst[i] = 1
		}
	default: // BatchNorm bias and running mean
		clear(dst)
	}
	return nil
}
