package resnet

import (
	"path/filepath"
	"testing"

	"github.com/resnet-go/resnet/datasets"
)

// The built-in model's accuracy on the CIFAR-10 test images as Pillow decoded them
// (../shared/data/cifar10/test_batch.bin), through its own preprocessing config.
func TestDefaultModelAccuracy(t *testing.T) {
	examples, err := datasets.ReadCIFAR10(filepath.Join(sharedDir(t), "data", "cifar10", "test_batch.bin"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.NumLabels != 10 || m.Config.Label(3) != "cat" {
		t.Fatalf("built-in model labels: %v", m.Config.Labels())
	}
	correct := countCorrect(t, m, examples, 200)
	t.Logf("built-in model: %d/10000 correct", correct)
	if correct < defaultModelCorrect-10 {
		t.Errorf("built-in model: %d/10000 correct, it measured %d when it was built", correct, defaultModelCorrect)
	}
}

// defaultModelCorrect is what the built-in model scored when it was built (float16 weights;
// the float32 originals scored 8884).
const defaultModelCorrect = 8883
