package datasets

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/imageproc"
)

func TestDatasetConversions(t *testing.T) {
	gray := synthetic(6, 1, 3, 4)
	rgb, err := gray.WithChannels(3)
	if err != nil || rgb.C != 3 || rgb.Len() != 6 {
		t.Fatalf("WithChannels(3): %v", err)
	}
	for i := range 6 {
		g, c := gray.Image(i), rgb.Image(i)
		for k := range 3 {
			if !slices.Equal(c[k*12:(k+1)*12], g) {
				t.Fatalf("image %d channel %d is not the gray plane", i, k)
			}
		}
		// RGB of the 1- and the 3-channel form agree; the interleaved form is (l, l, l).
		if a, b := gray.RGB(i), rgb.RGB(i); !slices.Equal(a.Pix, b.Pix) || a.Pix[3*5+1] != g[5] {
			t.Fatalf("image %d: RGB forms differ", i)
		}
	}
	if same, _ := rgb.WithChannels(3); same != rgb {
		t.Fatal("WithChannels to the same count should return the dataset")
	}
	if _, err := rgb.WithChannels(1); err == nil {
		t.Fatal("colour to gray accepted")
	}

	// Examples → Dataset → Examples round trip.
	back, err := FromExamples(rgb.Examples(), rgb.Classes, nil)
	if err != nil || !slices.Equal(back.Pix, rgb.Pix) || !slices.Equal(back.Labels, rgb.Labels) {
		t.Fatalf("round trip: %v", err)
	}

	sub, err := rgb.Subset([]int{4, 1})
	if err != nil || sub.Len() != 2 || !slices.Equal(sub.Image(0), rgb.Image(4)) || sub.Labels[1] != rgb.Labels[1] {
		t.Fatalf("Subset: %v", err)
	}
	if _, err := rgb.Subset([]int{6}); err == nil || !strings.Contains(err.Error(), "index 6 out of range") {
		t.Fatalf("Subset out of range: %v", err)
	}
}

func TestDatasetCheck(t *testing.T) {
	good := synthetic(3, 3, 2, 2)
	cases := []struct {
		edit func(d *Dataset)
		want string
	}{
		{func(d *Dataset) { d.C = 2 }, "2 channels"},
		{func(d *Dataset) { d.Pix = d.Pix[1:] }, "need 36 bytes, Pix has 35"},
		{func(d *Dataset) { d.Labels = []int{0, -1, 0} }, "image 1 has label -1"},
		{func(d *Dataset) { d.Paths = []string{"a"} }, "1 paths for 3 images"},
		{func(d *Dataset) { d.W = 0 }, "image size 0x2"},
	}
	for _, c := range cases {
		d := *good
		c.edit(&d)
		if err := d.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
	if _, err := FromExamples([]Example{{Image: &imageproc.RGB{W: 2, H: 2}}}, MNISTClasses, nil); err == nil {
		t.Error("malformed image accepted")
	}
}

func TestChannelStats(t *testing.T) {
	d := synthetic(50, 3, 4, 4)
	mean, std := d.ChannelStats()
	for c := range 3 {
		var s, s2, n float64
		for i := range d.Len() {
			for _, v := range d.Image(i)[c*16 : (c+1)*16] {
				x := float64(v) / 255
				s, s2, n = s+x, s2+x*x, n+1
			}
		}
		m := s / n
		if math.Abs(float64(mean[c])-m) > 1e-6 || math.Abs(float64(std[c])-math.Sqrt(s2/n-m*m)) > 1e-6 {
			t.Fatalf("channel %d: %v %v", c, mean[c], std[c])
		}
	}
}

// Gray data resized through Spec goes through imageproc.Resize on the replicated image.
func TestResizeIDX(t *testing.T) {
	images, labels := idxFixture(3, 5, 6)
	dir := writeDir(t, []file{{"train-images-idx3-ubyte", images}, {"train-labels-idx1-ubyte", labels}})
	native, err := Spec{"mnist", dir}.Dataset(Train, Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := Spec{"mnist", dir}.Dataset(Train, Options{Width: 9, Height: 4, Filter: imageproc.Bicubic, Workers: 2})
	if err != nil || d.C != 1 || d.W != 9 || d.H != 4 {
		t.Fatalf("resized: %v", err)
	}
	for i := range 3 {
		if want := imageproc.Resize(native.RGB(i), 9, 4, imageproc.Bicubic); !slices.Equal(d.RGB(i).Pix, want.Pix) {
			t.Fatalf("image %d", i)
		}
	}
}
