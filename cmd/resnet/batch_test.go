package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/resnet-go/resnet"
	"github.com/resnet-go/resnet/datasets"
	"github.com/resnet-go/resnet/imageproc"
	"github.com/resnet-go/resnet/tensor"
)

// TestForEachBatchReusesBuffers runs forEachBatchOf, which reuses its pixel buffers and its
// batch from batch to batch, over photos of several sizes with a broken file among them:
// every image must get the logits of a batch of the same images built from fresh tensors,
// in input order, and the broken file its error.
func TestForEachBatchReusesBuffers(t *testing.T) {
	m, err := resnet.FromPretrained(context.Background(), tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	samples := imagenetSamples(t)
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "a.png"), 40, 30)
	writePNG(t, filepath.Join(dir, "b.png"), 25, 60)
	broken := filepath.Join(dir, "broken.jpg")
	os.WriteFile(broken, []byte("\xff\xd8\xff\xdbnot a jpeg"), 0o644)
	paths := append([]string{filepath.Join(dir, "a.png")}, samples[:5]...)
	paths = append(paths, broken, filepath.Join(dir, "b.png"))
	paths = append(paths, samples[15:]...)
	paths = append(paths, samples[:3]...)
	xs := make([]*tensor.Tensor, len(paths))
	for i, p := range paths {
		if p != broken {
			if xs[i], err = m.PreprocessFile(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range []struct{ batch, workers int }{{3, 2}, {4, 1}, {1, 3}, {16, 2}} {
		// The expected logits: each batch's good images stacked from fresh tensors (the
		// kernels' blocking depends on the batch size, so logits can differ in the last
		// bit from a batch of another size).
		want := make([][]float32, len(paths))
		for start := 0; start < len(paths); start += c.batch {
			var in []*tensor.Tensor
			var idx []int
			for j := start; j < min(start+c.batch, len(paths)); j++ {
				if xs[j] != nil {
					in, idx = append(in, xs[j]), append(idx, j)
				}
			}
			if len(in) == 0 {
				continue
			}
			x, err := resnet.Stack(in)
			if err != nil {
				t.Fatal(err)
			}
			y, err := m.Forward(x)
			if err != nil {
				t.Fatal(err)
			}
			n := y.Shape[1]
			for r, j := range idx {
				want[j] = append([]float32(nil), y.Data[r*n:(r+1)*n]...)
			}
		}
		i := 0
		err := forEachBatchOf(built(m).wait, m, paths, c.batch, c.workers, func(path string, logits []float32, err error) {
			switch {
			case i >= len(paths) || path != paths[i]:
				t.Fatalf("batch %d: call %d for %s", c.batch, i, path)
			case path == broken:
				if err == nil {
					t.Errorf("batch %d: no error for the broken file", c.batch)
				}
			case err != nil:
				t.Errorf("batch %d, %s: %v", c.batch, path, err)
			default:
				for k := range want[i] {
					if logits[k] != want[i][k] {
						t.Errorf("batch %d, %s: logit %d is %g, want %g", c.batch, filepath.Base(path), k, logits[k], want[i][k])
						break
					}
				}
			}
			i++
		})
		if err != nil || i != len(paths) {
			t.Errorf("batch %d: %d calls of %d, err %v", c.batch, i, len(paths), err)
		}
	}
}

// TestPredictAllReusesBuffers: eval's batches reuse their pixel buffers and batch tensor;
// every example must still get the class of its own image.
func TestPredictAllReusesBuffers(t *testing.T) {
	m, err := resnet.Default() // the CIFAR-10 model: the tiny test model gives every photo one class
	if err != nil {
		t.Fatal(err)
	}
	samples := imagenetSamples(t)
	var examples []datasets.Example
	var want []int
	for _, p := range samples {
		img, err := imageproc.DecodeFile(p, 0)
		if err != nil {
			t.Fatal(err)
		}
		x, err := m.PreprocessRGB(img)
		if err != nil {
			t.Fatal(err)
		}
		y, err := m.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		examples = append(examples, datasets.Example{Image: img})
		want = append(want, m.TopK(y, 1)[0][0].Index)
	}
	if distinct := len(slices.Compact(slices.Sorted(slices.Values(want)))); distinct < 3 {
		t.Fatalf("the model gives only %d classes over the samples: a mix-up would go unseen", distinct)
	}
	for _, batch := range []int{3, 7, 20} {
		got, err := predictAll(built(m), examples, batch, 2, false)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("batch %d: %v, one by one %v", batch, got, want)
		}
	}
}

// Eval streams listed images (predictListed) where it once decoded the folder whole
// (predictAll): same classes and labels, in the same order, for a CIFAR-10 sample read
// straight from its tarball.
func TestPredictListedMatchesPredictAll(t *testing.T) {
	m, err := resnet.Default()
	if err != nil {
		t.Fatal(err)
	}
	spec := datasets.Spec{Kind: "folder", Path: filepath.Join(shared(t), "data", "cifar10", "test-jpg.tar.gz")}
	listing, err := spec.List(datasets.Test, datasets.Options{})
	if err != nil {
		t.Fatal(err)
	}
	examples, _, _, err := spec.LoadWithOptions(datasets.Test, datasets.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 60
	preds, labels, _, skipped, err := predictListed(built(m), sample(listing.Listed, n), datasets.Options{}, spec, 7, 2, false)
	if err != nil || len(skipped) != 0 {
		t.Fatalf("%v; skipped %v", err, skipped)
	}
	ex := sample(examples, n)
	want, err := predictAll(built(m), ex, 7, 2, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(preds, want) {
		t.Errorf("streamed classes %v, decoded whole %v", preds, want)
	}
	for i := range ex {
		if labels[i] != ex[i].Label {
			t.Fatalf("example %d: label %d streamed, %d loaded", i, labels[i], ex[i].Label)
		}
	}
	if distinct := len(slices.Compact(slices.Sorted(slices.Values(want)))); distinct < 5 {
		t.Errorf("only %d classes predicted over %d images", distinct, n)
	}
}

// imagenetSamples lists the 20 ImageNet validation photos of ../shared (512×512 and one
// 1024×683 progressive JPEG).
func imagenetSamples(t *testing.T) []string {
	t.Helper()
	samples, _ := filepath.Glob(filepath.Join(shared(t), "data", "images", "imagenet-val-samples", "*.jpg"))
	if len(samples) < 20 {
		t.Fatal("want the 20 ImageNet samples under ../shared/data/images/imagenet-val-samples")
	}
	return samples
}

// built is a pendingModel that is m, built already.
func built(m *resnet.Model) *pendingModel {
	p := &pendingModel{pre: m, m: m, done: make(chan struct{})}
	close(p.done)
	return p
}
