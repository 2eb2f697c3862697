package train

import (
	"fmt"
	"math"
	"testing"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/kernels"
)

// TestNetworkFiniteDifferences checks the whole backward pass (train-mode BatchNorm, option A
// and B shortcuts, max-pool, bottlenecks) against central differences of the loss for a
// sample of parameters of every kind, independently of PyTorch (which the fixtures compare
// far more tightly). The forward pass is float32, so the loss carries rounding noise of ~2e-7,
// which a step of 1e-4 turns into ~1e-3 of error in the difference quotient, several percent
// of a small gradient; the observed worst case is about 1.3% of a tensor's largest gradient
// (or of 1e-2 for tensors with smaller gradients), the tolerance 3%. A wrong gradient (a
// missed term, a transposed kernel) is off by tens of percent.
func TestNetworkFiniteDifferences(t *testing.T) {
	cifarB := tinyCIFAR(t, arch.ShortcutProjection)
	cifarB.Depths = []int{1, 1, 1}
	bottleneck := arch.Default()
	bottleneck.EmbeddingSize, bottleneck.HiddenSizes, bottleneck.Depths, bottleneck.NumLabels = 4, []int{8, 8}, []int{1, 1}, 3
	for _, tc := range []struct {
		name       string
		cfg        *arch.Config
		n, h, w, k int
	}{
		{"cifar-a", tinyCIFAR(t, arch.ShortcutZeroPad), 3, 7, 6, 10},
		{"cifar-b", cifarB, 4, 10, 9, 10},
		{"bottleneck", &bottleneck, 2, 13, 11, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net, err := New(tc.cfg, InitOptions{Seed: 9})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range net.Params() { // non-trivial γ and β
				if len(p.Shape) == 1 {
					for i := range p.Data {
						p.Data[i] = 0.5 + float32(i%5)*0.2
					}
				}
			}
			x, labels := randomBatch(tc.n, 3, tc.h, tc.w, tc.k, 3)
			if _, _, err := net.Gradients(x, labels); err != nil {
				t.Fatal(err)
			}
			loss := func() float64 {
				l, _, err := net.Gradients(x, labels)
				if err != nil {
					t.Fatal(err)
				}
				return l
			}
			grads := map[string][]float32{}
			for _, p := range net.Params() {
				grads[p.Name] = append([]float32(nil), p.Grad...)
			}
			var worst float64
			for _, p := range net.Params() {
				g := grads[p.Name]
				scale := 1e-2 // below this, tensors are compared with absolute tolerance 2e-4
				for _, v := range g {
					scale = max(scale, math.Abs(float64(v)))
				}
				for _, i := range []int{0, len(p.Data) / 2, len(p.Data) - 1} {
					// The best of several step sizes: a large step may cross a ReLU or max-pool
					// kink (with a few values per channel, some pre-activation is often within
					// 1e-3 of zero), a small one drowns in float32 rounding of the loss; a wrong
					// gradient is wrong at every step.
					e := math.Inf(1)
					var num float64
					for _, eps := range []float32{1e-2, 3e-3, 1e-3, 3e-4, 1e-4} {
						orig := p.Data[i]
						p.Data[i] = orig + eps
						lp := loss()
						p.Data[i] = orig - eps
						lm := loss()
						p.Data[i] = orig
						d := (lp - lm) / float64(2*eps)
						if ei := math.Abs(d - float64(g[i])); ei < e {
							e, num = ei, d
						}
					}
					e /= scale
					worst = max(worst, e)
					if e > 3e-2 {
						t.Errorf("%s[%d]: analytic %.6g, differences %.6g (max |grad| %.3g)", p.Name, i, g[i], num, scale)
					}
				}
			}
			t.Logf("worst error %.3g of the largest gradient", worst)
		})
	}
}

// TestThreadCountIndependence: the work split depends only on the shapes, so gradients are
// bit for bit the same whatever the number of threads (1, 2, 3 and a 16-core machine's 16);
// with 16 and 32 channels the 3×3 layers run on Winograd, with 4 and 8 on the direct kernels.
func TestThreadCountIndependence(t *testing.T) {
	wide := tinyCIFAR(t, arch.ShortcutProjection)
	wide.EmbeddingSize, wide.HiddenSizes = 16, []int{16, 32, 32}
	for _, cfg := range []*arch.Config{tinyCIFAR(t, arch.ShortcutProjection), wide} {
		t.Run(fmt.Sprint(cfg.HiddenSizes), func(t *testing.T) { testThreadCountIndependence(t, cfg) })
	}
}

func testThreadCountIndependence(t *testing.T, cfg *arch.Config) {
	x, labels := randomBatch(16, 3, 16, 16, 10, 4)
	var ref map[string][]float32
	prev := kernels.Threads()
	defer kernels.SetThreads(prev)
	for _, threads := range []int{1, 2, 3, 16} {
		kernels.SetThreads(threads)
		net, _ := New(cfg, InitOptions{Seed: 2})
		if _, _, err := net.Gradients(x, labels); err != nil {
			t.Fatal(err)
		}
		got := map[string][]float32{}
		for _, p := range net.Params() {
			got[p.Name] = p.Grad
		}
		if ref == nil {
			ref = got
			continue
		}
		for name, g := range got {
			if fmt.Sprint(g) != fmt.Sprint(ref[name]) {
				t.Errorf("%d threads: gradient of %s differs from 1 thread's", threads, name)
			}
		}
	}
}
