package resnet

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/resnet-go/resnet/datasets"
	"github.com/resnet-go/resnet/tensor"
)

// The public pretrained CIFAR-10 ResNets (akamaster/pytorch_resnet_cifar10, legacy torch.save
// files) must reach exactly the accuracies PyTorch 1.13 reaches on the same decoded pixels,
// as listed in ../shared/data/README.md.
func TestPretrainedCIFARAccuracy(t *testing.T) {
	shared := sharedDir(t)
	examples, err := datasets.ReadCIFAR10(filepath.Join(shared, "data", "cifar10", "test_batch.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if len(examples) != 10000 {
		t.Fatalf("%d test examples, want 10000", len(examples))
	}
	cases := []struct {
		file, arch string
		correct    int
	}{
		{"resnet20-12fca82f.th", "cifar-resnet20", 8103},
		{"resnet32-d509ac18.th", "cifar-resnet32", 8256},
		{"resnet44-014dd654.th", "cifar-resnet44", 8267},
		{"resnet56-4bfd9763.th", "cifar-resnet56", 8320},
	}
	if testing.Short() {
		cases = cases[:1]
	}
	for _, c := range cases {
		t.Run(c.arch, func(t *testing.T) {
			m, err := FromPretrained(context.Background(), filepath.Join(shared, "data", "cifar10-resnets", c.file), WithArch(c.arch))
			if err != nil {
				t.Fatal(err)
			}
			correct := countCorrect(t, m, examples, 100)
			if correct != c.correct {
				t.Errorf("%s: %d/10000 correct, PyTorch gets %d", c.file, correct, c.correct)
			}
		})
	}
}

// countCorrect runs examples through m in batches and counts top-1 hits.
func countCorrect(t *testing.T, m *Model, examples []datasets.Example, batch int) int {
	t.Helper()
	correct := 0
	for start := 0; start < len(examples); start += batch {
		end := min(start+batch, len(examples))
		xs := make([]*tensor.Tensor, 0, end-start)
		for _, ex := range examples[start:end] {
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
	return correct
}
