// Package defaultmodel holds the model built into the binary: a CIFAR-10 ResNet-20 trained by
// this project's own trainer (see the README's "Default model" section for the recipe), stored
// as an HF-style directory with float16 weights. The CLI uses it when no --model is given, so
// classification works on a fresh machine with no download.
package defaultmodel

import _ "embed"

// Name is shown where a model's source is printed.
const Name = "built-in cifar10-resnet20"

var (
	//go:embed model/config.json
	Config []byte
	//go:embed model/preprocessor_config.json
	Processor []byte
	//go:embed model/model.safetensors
	Weights []byte
)
