package hub_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/resnet-go/resnet/hub"
)

// Weights are published as model.safetensors or, in older repos, pytorch_model.bin.
func ExampleClient_Download() {
	c := hub.NewFromEnv()
	ctx := context.Background()
	path, err := c.Download(ctx, "microsoft/resnet-50", "main", "model.safetensors")
	if errors.Is(err, hub.ErrEntryNotFound) {
		path, err = c.Download(ctx, "microsoft/resnet-50", "main", "pytorch_model.bin")
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(path)
}
