package model

import (
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/gradcam"
	"github.com/resnet-go/resnet/tensor"
	"github.com/resnet-go/resnet/weights"
)

// camVariants are the fixture networks of tools/fixtures/gen_gradcam.py: basic and bottleneck
// blocks (stride on the 3×3 and on the 1×1), projection and option-A shortcuts, the CIFAR stem,
// a strided first stage, plain networks (no shortcut), and two nets wide enough that the
// backward pass's transposed 3×3 convolutions run on Winograd kernels.
var camVariants = []string{"basic", "bottleneck-v15", "bottleneck-v1", "cifar-a", "cifar-b", "downsample-first",
	"plain-basic", "plain-bottleneck", "winograd-basic", "winograd-bottleneck"}

func loadCAMFixture(t *testing.T, name string) (*Explainer, weights.StateDict) {
	t.Helper()
	cfg, sd, _ := loadFixture(t, name)
	m, err := New(cfg, sd)
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewExplainer(m, sd)
	if err != nil {
		t.Fatal(err)
	}
	ref, _, err := weights.ReadSafetensors(filepath.Join("testdata", "gradcam", name+".safetensors"))
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 tools/fixtures/gen_gradcam.py)", err)
	}
	return e, ref
}

// minMax is pytorch-grad-cam's per-image scaling, in float64.
func minMax(x []float32) []float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range x {
		lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
	}
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = (float64(v) - lo) / (1e-7 + hi - lo)
	}
	return out
}

// relErr is max|got − want| / max|want| (0 when both are all zero).
func relErr(got, want []float32) float64 {
	var peak, worst float64
	for i := range want {
		peak = math.Max(peak, math.Abs(float64(want[i])))
		worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
	}
	if peak == 0 {
		return worst
	}
	return worst / peak
}

// TestGradCAMParityWithPyTorch compares the maps, the channel weights and the per-image
// min-max-scaled maps with PyTorch autograd (float64) for both methods, three layers (the
// last block, the first stage's last block, the stem) and two target sets. Measured worst
// relative errors are around 1e-6 (float32 against float64); the bound is 1e-4.
func TestGradCAMParityWithPyTorch(t *testing.T) {
	const tol = 1e-4
	for _, name := range camVariants {
		e, ref := loadCAMFixture(t, name)
		x := asTensor(ref["input"])
		var worst, worstResized float64
		for key := range ref {
			if !strings.HasSuffix(key, "/cam") {
				continue
			}
			base := strings.TrimSuffix(key, "/cam")
			parts := strings.Split(base, "/") // method / layer / targets
			method, layer, targets := parts[0], parts[1], parts[2]
			t.Run(name+"/"+base, func(t *testing.T) {
				var classes []int
				want := ref[base+"/classes"].Data
				if targets == "fixed" {
					for _, c := range want {
						classes = append(classes, int(c))
					}
				}
				got, err := e.GradCAM(x, classes, layer, method)
				if err != nil {
					t.Fatal(err)
				}
				if got.Layer != layer {
					t.Errorf("layer %q, want %q", got.Layer, layer)
				}
				for i, c := range got.Classes {
					if c != int(want[i]) {
						t.Fatalf("image %d: class %d, PyTorch %d", i, c, int(want[i]))
					}
				}
				wantCAM := ref[key]
				if !tensor.SameShape(got.Maps.Shape, wantCAM.Shape) {
					t.Fatalf("map shape %v, want %v", got.Maps.Shape, wantCAM.Shape)
				}
				checks := []struct {
					what      string
					got, want []float32
				}{
					{"weights", got.Weights.Data, ref[base+"/weights"].Data},
					{"maps", got.Maps.Data, wantCAM.Data},
					{"logits", got.Logits.Data, ref["logits"].Data},
				}
				n, per := got.Maps.Shape[0], got.Maps.Shape[1]*got.Maps.Shape[2]
				for i := 0; i < n; i++ {
					g, w := minMax(got.Maps.Data[i*per:(i+1)*per]), minMax(wantCAM.Data[i*per:(i+1)*per])
					gs, ws := make([]float32, per), make([]float32, per)
					for j := range g {
						gs[j], ws[j] = float32(g[j]), float32(w[j])
					}
					checks = append(checks, struct {
						what      string
						got, want []float32
					}{fmt.Sprintf("scaled map %d", i), gs, ws})
				}
				// The maps as pytorch-grad-cam hands them out: scaled and resized (cv2) to the
				// input size: measured within 1.5e-6, bound 1e-4 (the interop spec asks 1e-3).
				if want, ok := ref[base+"/resized"]; ok {
					h, w := x.Shape[2], x.Shape[3]
					for i := 0; i < n; i++ {
						mask, _ := gradcam.Mask(got.Maps.Data[i*per:(i+1)*per], got.Maps.Shape[1], got.Maps.Shape[2], h, w)
						var d float64
						for j, v := range mask {
							d = math.Max(d, math.Abs(float64(v-want.Data[i*h*w+j])))
						}
						worstResized = math.Max(worstResized, d)
						if d > 1e-4 {
							t.Errorf("resized map %d: max difference from scale_cam_image %.3g", i, d)
						}
					}
				}
				for _, c := range checks {
					r := relErr(c.got, c.want)
					worst = math.Max(worst, r)
					if r > tol {
						t.Errorf("%s: relative error %.3g > %g", c.what, r, tol)
					}
				}
			})
		}
		t.Logf("%s: worst relative error %.3g; resized maps within %.3g", name, worst, worstResized)
	}
}

// TestGradCAMAnalyticMatchesBackward checks the closed form of the last block against the
// backward pass, for both methods.
func TestGradCAMAnalyticMatchesBackward(t *testing.T) {
	for _, name := range camVariants {
		for _, method := range []string{MethodGradCAM, MethodGradCAMPlusPlus} {
			t.Run(name+"/"+method, func(t *testing.T) {
				e, ref := loadCAMFixture(t, name)
				x := asTensor(ref["input"])
				fast, err := e.m.GradCAM(x, nil, "", method)
				if err != nil {
					t.Fatal(err)
				}
				e.Analytic = false
				slow, err := e.GradCAM(x, nil, "", method)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range []struct {
					what      string
					got, want []float32
				}{{"weights", fast.Weights.Data, slow.Weights.Data}, {"maps", fast.Maps.Data, slow.Maps.Data}} {
					if r := relErr(c.got, c.want); r > 1e-5 {
						t.Errorf("%s: analytic vs backward relative error %.3g", c.what, r)
					}
				}
			})
		}
	}
}

// TestGradCAMRandomisedWeights is the model-randomisation sanity check of Adebayo et al.
// (2018): re-initialising the classifier and the last stage changes the map (Pearson
// correlation of the stem-level maps below 0.9).
func TestGradCAMRandomisedWeights(t *testing.T) {
	for _, name := range []string{"basic", "bottleneck-v15"} {
		t.Run(name, func(t *testing.T) {
			cfg, sd, _ := loadFixture(t, name)
			e, ref := loadCAMFixture(t, name)
			x := asTensor(ref["input"])
			layer := "stage1"
			orig, err := e.GradCAM(x, nil, layer, "")
			if err != nil {
				t.Fatal(err)
			}
			// Re-initialise every trainable tensor after stage 1 with a fixed pseudo-random
			// sequence, in name order: drawn in map order, the weights (and the correlation,
			// 0.900 against the 0.9 bound in one CI run) changed from run to run.
			rnd := weights.StateDict{}
			seed := uint32(12345)
			for _, k := range slices.Sorted(maps.Keys(sd)) {
				v := sd[k]
				nt := *v
				if !strings.Contains(k, "stages.0.") && !strings.Contains(k, "embedder") && !strings.Contains(k, "running_") && !strings.HasSuffix(k, "num_batches_tracked") {
					nt.Data = make([]float32, len(v.Data))
					for i := range nt.Data {
						seed = seed*1664525 + 1013904223
						nt.Data[i] = (float32(seed>>8)/float32(1<<24) - 0.5) * 0.5
					}
				}
				rnd[k] = &nt
			}
			m2, err := New(cfg, rnd)
			if err != nil {
				t.Fatal(err)
			}
			e2, err := NewExplainer(m2, rnd)
			if err != nil {
				t.Fatal(err)
			}
			re, err := e2.GradCAM(x, orig.Classes, layer, "")
			if err != nil {
				t.Fatal(err)
			}
			r := pearson(orig.Maps.Data, re.Maps.Data)
			t.Logf("correlation of the maps before and after re-initialising: %.3f", r)
			if r > 0.9 {
				t.Errorf("correlation of the maps before and after re-initialising is %.3f; Grad-CAM should depend on the weights", r)
			}
			// And the check can fail: the same weights give correlation 1.
			same, err := e.GradCAM(x, orig.Classes, layer, "")
			if err != nil {
				t.Fatal(err)
			}
			if r := pearson(orig.Maps.Data, same.Maps.Data); r < 0.999 {
				t.Errorf("the same weights give correlation %.4f", r)
			}
		})
	}
}

func pearson(a, b []float32) float64 {
	var ma, mb float64
	for i := range a {
		ma += float64(a[i])
		mb += float64(b[i])
	}
	ma /= float64(len(a))
	mb /= float64(len(b))
	var sab, saa, sbb float64
	for i := range a {
		da, db := float64(a[i])-ma, float64(b[i])-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	if saa == 0 || sbb == 0 {
		return 0
	}
	return sab / math.Sqrt(saa*sbb)
}

func TestGradCAMErrors(t *testing.T) {
	e, ref := loadCAMFixture(t, "basic")
	x := asTensor(ref["input"])
	for _, c := range []struct {
		name    string
		classes []int
		layer   string
		method  string
		fast    bool
		want    string
	}{
		{"unknown layer", nil, "stage9", "", false, "unknown Grad-CAM layer"},
		{"unknown method", nil, "", "scorecam", false, "unknown Grad-CAM method"},
		{"class out of range", []int{0, 7}, "", "", false, "class 7 of image 1 is out of range"},
		{"negative class", []int{-1, 0}, "", "", false, "out of range"},
		{"class count", []int{1}, "", "", false, "1 classes for 2 images"},
		{"fast path at another layer", nil, "stage1", "", true, "needs a backward pass"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var err error
			if c.fast {
				_, err = e.m.GradCAM(x, c.classes, c.layer, c.method)
			} else {
				_, err = e.GradCAM(x, c.classes, c.layer, c.method)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// A feature extractor (num_labels 0) has no class score to explain.
func TestGradCAMFeatureExtractor(t *testing.T) {
	cfg, sd, exp := loadFixture(t, "features-only")
	m, err := New(cfg, sd)
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewExplainer(m, sd)
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range []func() (*CAM, error){
		func() (*CAM, error) { return m.GradCAM(asTensor(exp["input"]), nil, "", "") },
		func() (*CAM, error) { return e.GradCAM(asTensor(exp["input"]), nil, "stage1", "") },
	} {
		if _, err := run(); err == nil || !strings.Contains(err.Error(), "no classifier head") {
			t.Errorf("error %v, want one about the missing classifier head", err)
		}
	}
}

// NewExplainer re-reads the checkpoint: one that does not fit the model is refused by name.
func TestNewExplainerChecksWeights(t *testing.T) {
	cfg, sd, _ := loadFixture(t, "basic")
	m, err := New(cfg, sd)
	if err != nil {
		t.Fatal(err)
	}
	_, other, _ := loadFixture(t, "bottleneck-v15")
	if _, err := NewExplainer(m, other); err == nil || !strings.Contains(err.Error(), "missing key") {
		t.Errorf("error %v, want a load error", err)
	}
}

func TestResolveLayer(t *testing.T) {
	e, _ := loadCAMFixture(t, "basic") // depths [2, 1, 2]
	for _, c := range []struct{ in, want string }{
		{"", "resnet.encoder.stages.2.layers.1"},
		{"stage3", "resnet.encoder.stages.2.layers.1"},
		{"layer2", "resnet.encoder.stages.1.layers.0"},
		{"stage1", "resnet.encoder.stages.0.layers.1"},
		{"stem", "resnet.embedder"},
		{"embedder", "resnet.embedder"},
		{"resnet.encoder.stages.0", "resnet.encoder.stages.0.layers.1"},
		{"resnet.encoder.stages.0.layers.0", "resnet.encoder.stages.0.layers.0"},
	} {
		got, err := e.m.ResolveLayer(c.in)
		if err != nil || got.Name != c.want {
			t.Errorf("ResolveLayer(%q) = %q, %v; want %q", c.in, got.Name, err, c.want)
		}
	}
	for _, bad := range []string{"stage0", "stage4", "resnet.encoder.stages.3", "resnet.encoder.stages.0.layers.2", "conv1"} {
		if _, err := e.m.ResolveLayer(bad); err == nil {
			t.Errorf("ResolveLayer(%q) accepted", bad)
		}
	}
}
