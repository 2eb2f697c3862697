package resnet

import (
	"path/filepath"
	"testing"

	"github.com/resnet-go/resnet/datasets"
	"github.com/resnet-go/resnet/tensor"
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
	correct := 0
	for start := 0; start < len(examples); start += 200 {
		var xs []*tensor.Tensor
		for _, ex := range examples[start : start+200] {
			x, err := m.PreprocessRGB(ex.Image)
			if err != nil {
				t.Fatal(err)
			}
			xs = append(xs, x)
		}
		x, _ := Stack(xs)
		logits, err := m.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		for i, top := range m.TopK(logits, 1) {
			if top[0].Index == examples[start+i].Label {
				correct++
			}
		}
	}
	t.Logf("built-in model: %d/10000 correct", correct)
	if correct < defaultModelCorrect-10 {
		t.Errorf("built-in model: %d/10000 correct, it measured %d when it was built", correct, defaultModelCorrect)
	}
}

// defaultModelCorrect is what the built-in model scored when it was built (float16 weights;
// the float32 originals scored 8686).
const defaultModelCorrect = 8685
