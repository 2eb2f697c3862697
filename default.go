package resnet

import (
	"fmt"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/defaultmodel"
	"github.com/resnet-go/resnet/imageproc"
	"github.com/resnet-go/resnet/weights"
)

// DefaultCheckpoint is the model built into the binary (a CIFAR-10 ResNet-20 trained by this
// project; see package defaultmodel).
func DefaultCheckpoint() (*Checkpoint, error) {
	cfg, err := arch.ParseConfig(defaultmodel.Config)
	if err != nil {
		return nil, fmt.Errorf("built-in model: %w", err)
	}
	proc, err := imageproc.ParseProcessorConfig(defaultmodel.Processor)
	if err != nil {
		return nil, fmt.Errorf("built-in model: %w", err)
	}
	sd, _, err := weights.ParseSafetensors(defaultmodel.Weights)
	if err != nil {
		return nil, fmt.Errorf("built-in model: %w", err)
	}
	return &Checkpoint{Config: cfg, Processor: proc, Weights: sd, Source: defaultmodel.Name}, nil
}

// Default loads the built-in model.
func Default() (*Model, error) {
	ck, err := DefaultCheckpoint()
	if err != nil {
		return nil, err
	}
	return ck.Build()
}
