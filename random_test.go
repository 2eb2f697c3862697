package resnet

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/resnet-go/resnet/internal/isatest"
	"github.com/resnet-go/resnet/kernels"
	"github.com/resnet-go/resnet/tensor"
)

// RandomCheckpoint builds every tensor the architecture needs, reproducibly from the seed,
// with torchvision's initial statistics.
func TestRandomCheckpoint(t *testing.T) {
	logits := func(seed uint64) []float32 {
		ck, err := RandomCheckpoint("cifar-resnet20", seed)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ck.Build()
		if err != nil {
			t.Fatal(err)
		}
		x := tensor.New(2, 3, 32, 32)
		for i := range x.Data {
			x.Data[i] = float32(math.Sin(float64(i)))
		}
		y, err := m.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		return y.Data
	}
	a, b, c := logits(1), logits(1), logits(2)
	same, differ := true, false
	for i := range a {
		same = same && a[i] == b[i]
		differ = differ || a[i] != c[i]
		if math.IsNaN(float64(a[i])) || math.IsInf(float64(a[i]), 0) {
			t.Fatalf("logit %d is %v", i, a[i])
		}
	}
	if !same || !differ {
		t.Errorf("seed 1 twice identical: %v; seeds 1 and 2 differ: %v", same, differ)
	}

	ck, err := RandomCheckpoint("resnet-50", 7)
	if err != nil {
		t.Fatal(err)
	}
	name := "resnet.encoder.stages.3.layers.0.layer.1.convolution.weight" // 512×512×3×3
	shape, ok := ck.Weights.Shape(name)
	if !ok {
		t.Fatalf("no %s in %v", name, ck.Weights.Names()[:4])
	}
	w := make([]float32, shape[0]*shape[1]*shape[2]*shape[3])
	if err := ck.Weights.Read(name, w); err != nil {
		t.Fatal(err)
	}
	var ss float64
	for _, v := range w {
		ss += float64(v) * float64(v)
	}
	std, want := math.Sqrt(ss/float64(len(w))), math.Sqrt(2.0/(512*9))
	if math.Abs(std/want-1) > 0.01 { // 2.4 M samples: the estimate is within 0.1%
		t.Errorf("conv weight std %.5f, want %.5f (kaiming fan_out)", std, want)
	}
	for _, n := range []string{"resnet.embedder.embedder.normalization.running_var", "resnet.embedder.embedder.normalization.weight"} {
		v := make([]float32, 64)
		if err := ck.Weights.Read(n, v); err != nil || v[0] != 1 || v[63] != 1 {
			t.Errorf("%s = %v (%v), want ones", n, v[:2], err)
		}
	}
	if _, err := RandomCheckpoint("resnet-19", 1); err == nil {
		t.Error("unknown architecture accepted")
	}
}

// ResNet-18 and ResNet-50 at full size (random weights, a batch of three 224×224 images, which
// ResNet-50 runs as chunks of two and one) give the same logits bit for bit on 1, 2, 5 and 16
// threads, on every path (ResNet-18 alone on the pure-Go one, to keep it short): the whole
// forward pass, stem, pools and classifier included, as a 16-core user runs it, checked here
// where the extra threads take turns.
// kernels.TestResNetLayersAnyCoreCount checks each layer, against float64 too.
func TestForwardSameOnAnyCoreCount(t *testing.T) {
	if testing.Short() {
		t.Skip("full-size forward passes on four thread counts: not with -short")
	}
	prev := kernels.Threads()
	defer kernels.SetThreads(prev)
	x := tensor.New(3, 3, 224, 224)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	isatest.Run(t, func(t *testing.T) {
		archs := []string{"resnet-18", "resnet-50"}
		if kernels.ISA() == "go" {
			archs = archs[:1]
		}
		for _, a := range archs {
			t.Run(a, func(t *testing.T) {
				ck, err := RandomCheckpoint(a, 3)
				if err != nil {
					t.Fatal(err)
				}
				m, err := ck.Build()
				if err != nil {
					t.Fatal(err)
				}
				var want []float32
				for _, threads := range []int{1, 2, 5, 16} {
					kernels.SetThreads(threads)
					y, err := m.Model.Forward(x)
					if err != nil {
						t.Fatal(err)
					}
					if want == nil {
						want = y.Data
						continue
					}
					for i := range want {
						if math.Float32bits(y.Data[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%d threads: logit %d = %g, one thread gives %g", threads, i, y.Data[i], want[i])
						}
					}
				}
			})
		}
	})
}
