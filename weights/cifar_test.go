package weights

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
)

type cifarTensor struct {
	DType string
	Shape []int
	Sum   float64
	WSum  float64
	First []float64
}

type cifarFile struct {
	Count     int
	TotalWSum float64 `json:"total_wsum"`
	Tensors   map[string]cifarTensor
}

// sums returns the plain and position-weighted sums the generator recorded.
func sums(d []float32) (sum, wsum float64) {
	for i, v := range d {
		sum += float64(v)
		wsum += float64(v) * float64(i%7+1)
	}
	return
}

func close12(a, b float64) bool { return math.Abs(a-b) <= 1e-9+1e-9*math.Abs(b) }

// TestCIFARCheckpoints loads the four real legacy-format akamaster checkpoints and
// compares them with what torch.load gave the generator.
func TestCIFARCheckpoints(t *testing.T) {
	var fx map[string]cifarFile
	readJSON(t, "cifar_checksums.json", &fx)
	dir := filepath.Join(sharedDir(t), "data", "cifar10-resnets")
	wantCount := map[string]int{"resnet20": 97, "resnet32": 97 + 60, "resnet44": 97 + 120, "resnet56": 97 + 180}
	if len(fx) != 4 {
		t.Fatalf("fixture has %d files, want 4", len(fx))
	}
	for file, want := range fx {
		t.Run(file, func(t *testing.T) {
			sd, err := ReadFile(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			if len(sd) != want.Count || want.Count != wantCount[file[:8]] {
				t.Fatalf("%d tensors, torch saw %d (expected %d)", len(sd), want.Count, wantCount[file[:8]])
			}
			total := 0.0
			for name, tensor := range sd {
				if strings.HasPrefix(name, "module.") {
					t.Errorf("%s: module. prefix not stripped", name)
				}
				if len(tensor.Data) != numel(tensor.Shape) {
					t.Errorf("%s: %d values for shape %v", name, len(tensor.Data), tensor.Shape)
				}
				_, ws := sums(tensor.Data)
				total += ws
			}
			if !close12(total, want.TotalWSum) {
				t.Errorf("total weighted sum %v, torch %v", total, want.TotalWSum)
			}
			for name, w := range want.Tensors {
				g := sd[name]
				if g == nil {
					t.Errorf("%s missing", name)
					continue
				}
				if g.DType != w.DType || !equalInts(g.Shape, w.Shape) {
					t.Errorf("%s: %s %v, torch %s %v", name, g.DType, g.Shape, w.DType, w.Shape)
				}
				s, ws := sums(g.Data)
				if !close12(s, w.Sum) || !close12(ws, w.WSum) {
					t.Errorf("%s: sums %v %v, torch %v %v", name, s, ws, w.Sum, w.WSum)
				}
				for i, f := range w.First {
					if float64(g.Data[i]) != f {
						t.Errorf("%s[%d] = %v, torch %v", name, i, g.Data[i], f)
					}
				}
			}
			if fam := DetectFamily(sd); fam != CIFAR {
				t.Errorf("family %v, want CIFAR", fam)
			}
		})
	}
	sd, err := ReadPyTorch(filepath.Join(dir, "resnet20-12fca82f.th"))
	if err != nil {
		t.Fatal(err)
	}
	for name, shape := range map[string][]int{"conv1.weight": {16, 3, 3, 3}, "linear.weight": {10, 64}, "linear.bias": {10},
		"layer3.2.conv2.weight": {64, 64, 3, 3}, "layer2.0.bn1.running_var": {32}} {
		if g := sd[name]; g == nil || !equalInts(g.Shape, shape) {
			t.Errorf("%s: got %v, want shape %v", name, g, shape)
		}
	}
	hf, err := ToHF(sd)
	if err != nil {
		t.Fatal(err)
	}
	for name, shape := range map[string][]int{
		"resnet.embedder.embedder.convolution.weight":                 {16, 3, 3, 3},
		"resnet.encoder.stages.2.layers.2.layer.1.convolution.weight": {64, 64, 3, 3},
		"resnet.encoder.stages.1.layers.0.layer.0.normalization.bias": {32},
		"classifier.1.weight": {10, 64},
	} {
		if g := hf[name]; g == nil || !equalInts(g.Shape, shape) {
			t.Errorf("HF %s: got %v, want shape %v", name, g, shape)
		}
	}
	for name := range hf {
		if !strings.HasPrefix(name, "resnet.") && !strings.HasPrefix(name, "classifier.1.") {
			t.Errorf("ToHF left %q unmapped", name)
		}
	}
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
