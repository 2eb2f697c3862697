package datasets

import (
	"math"
	"path/filepath"
	"testing"
	"time"
)

// The test JPEGs read straight from test-jpg.tar.gz must be the images of test_batch.bin
// (the same JPEGs decoded by Pillow), in the same order with the same labels; pixels differ
// only by Go's JPEG IDCT rounding (a few percent of bytes, a few levels).
func TestRealCIFARTestJPEGs(t *testing.T) {
	cifar := filepath.Join(sharedDir(t), "data", "cifar10")
	start := time.Now()
	f, err := ReadFolder(filepath.Join(cifar, "test-jpg.tar.gz"), Test, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("read 10,000 test JPEGs from the tar.gz in %v", time.Since(start).Round(time.Millisecond))
	d, err := f.Dataset()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := ReadCIFAR10Dataset(filepath.Join(cifar, "test_batch.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 10000 || len(d.Skipped) != 0 || d.C != 3 || d.H != 32 || d.W != 32 {
		t.Fatalf("%d images %dx%dx%d, %d skipped", d.Len(), d.C, d.H, d.W, len(d.Skipped))
	}
	for i := range d.Labels {
		if d.Labels[i] != bin.Labels[i] {
			t.Fatalf("image %d (%s): label %d, test_batch.bin says %d", i, d.Paths[i], d.Labels[i], bin.Labels[i])
		}
	}
	differ, worst := 0, 0
	for i, v := range d.Pix {
		if diff := int(v) - int(bin.Pix[i]); diff != 0 {
			differ++
			worst = max(worst, diff, -diff)
		}
	}
	frac := float64(differ) / float64(len(d.Pix))
	t.Logf("%.2f%% of bytes differ from Pillow's decoding, by at most %d", 100*frac, worst)
	if frac > 0.05 || worst > 4 {
		t.Fatalf("%.2f%% of bytes differ, by up to %d: not the same images", 100*frac, worst)
	}
}

// The whole training set from train-jpg.tar.gz through the cifar10 spec (there are no
// data_batch files beside it): 50,000 images, 5,000 per class, in a few seconds.
func TestRealCIFARTrainJPEGs(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short: reads 50,000 JPEGs")
	}
	cifar := filepath.Join(sharedDir(t), "data", "cifar10")
	start := time.Now()
	d, err := Spec{"cifar10", cifar}.Dataset(Train, Options{})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("read 50,000 training JPEGs from train-jpg.tar.gz in %v", took.Round(time.Millisecond))
	if d.Len() != 50000 {
		t.Fatalf("%d images", d.Len())
	}
	count := make([]int, 10)
	for _, l := range d.Labels {
		count[l]++
	}
	for k, n := range count {
		if n != 5000 {
			t.Fatalf("class %s has %d images", CIFAR10Classes[k], n)
		}
	}
	// The usual CIFAR-10 training statistics, up to the JPEG loss.
	mean, std := d.ChannelStats()
	wantMean, wantStd := []float64{0.4914, 0.4822, 0.4465}, []float64{0.2470, 0.2435, 0.2616}
	for c := range 3 {
		if math.Abs(float64(mean[c])-wantMean[c]) > 0.005 || math.Abs(float64(std[c])-wantStd[c]) > 0.005 {
			t.Errorf("channel %d: mean %.4f std %.4f, want about %.4f %.4f", c, mean[c], std[c], wantMean[c], wantStd[c])
		}
	}
	t.Logf("channel mean %.4f std %.4f", mean, std)
}
