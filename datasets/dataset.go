package datasets

import (
	"errors"
	"fmt"
	"math"

	"github.com/resnet-go/resnet/imageproc"
)

// Example is one labelled image.
type Example struct {
	Image *imageproc.RGB
	Label int
}

// Dataset is a labelled set of same-size 8-bit images in one block, planar per image
// (N×C×H×W, the order of the float batches), so that a batch is cut without per-image
// allocations and 1-channel data (MNIST) stays 1-channel.
type Dataset struct {
	C, H, W int
	Pix     []uint8 // Len()*C*H*W bytes: image i is Pix[i*C*H*W:], channel planes of H rows of W
	Labels  []int   // one per image, 0 <= label < len(Classes)
	Classes []string
	// Paths names each image's source file for folder datasets (nil otherwise), so that a
	// suspicious example can be traced.
	Paths []string
	// Skipped lists the unreadable images left out under BadImageSkip.
	Skipped []BadImage
	// Source says where the data came from, for messages ("cifar10:DIR (train)").
	Source string
}

// Len is the number of images.
func (d *Dataset) Len() int { return len(d.Labels) }

// ImageSize is the number of bytes (and of floats in a batch) per image: C*H*W.
func (d *Dataset) ImageSize() int { return d.C * d.H * d.W }

// Image returns image i's planar C×H×W bytes (a view, not a copy).
func (d *Dataset) Image(i int) []uint8 {
	n := d.ImageSize()
	return d.Pix[i*n : (i+1)*n : (i+1)*n]
}

// Check reports an inconsistent Dataset (sizes, labels out of range) instead of letting a
// loader index out of range later.
func (d *Dataset) Check() error {
	if d == nil {
		return fmt.Errorf("datasets: nil Dataset")
	}
	if d.C != 1 && d.C != 3 {
		return fmt.Errorf("datasets: %s has %d channels (want 1 or 3)", d.name(), d.C)
	}
	if d.H < 1 || d.W < 1 {
		return fmt.Errorf("datasets: %s has image size %dx%d", d.name(), d.W, d.H)
	}
	if want := d.Len() * d.ImageSize(); len(d.Pix) != want {
		return fmt.Errorf("datasets: %s: %d images of %dx%dx%d need %d bytes, Pix has %d", d.name(), d.Len(), d.C, d.H, d.W, want, len(d.Pix))
	}
	if d.Paths != nil && len(d.Paths) != d.Len() {
		return fmt.Errorf("datasets: %s has %d paths for %d images", d.name(), len(d.Paths), d.Len())
	}
	for i, l := range d.Labels {
		if l < 0 || l >= len(d.Classes) {
			return fmt.Errorf("datasets: %s image %d has label %d (want 0..%d)", d.name(), i, l, len(d.Classes)-1)
		}
	}
	return nil
}

func (d *Dataset) name() string {
	if d.Source == "" {
		return "dataset"
	}
	return d.Source
}

// RGB returns image i as an interleaved RGB image; a gray image is replicated (l, l, l) as
// PIL's convert("RGB") does.
func (d *Dataset) RGB(i int) *imageproc.RGB {
	img := imageproc.NewRGB(d.W, d.H)
	src := d.Image(i)
	plane := d.H * d.W
	for p := range plane {
		for c := range 3 {
			img.Pix[3*p+c] = src[min(c, d.C-1)*plane+p]
		}
	}
	return img
}

// Examples converts to the per-image form (RGB, gray replicated), e.g. for evaluation through
// a model's preprocessor.
func (d *Dataset) Examples() []Example {
	out := make([]Example, d.Len())
	for i := range out {
		out[i] = Example{Image: d.RGB(i), Label: d.Labels[i]}
	}
	return out
}

// Subset returns the images at the given indices, in that order (a copy), e.g. to hold out a
// validation split or to evaluate on the first N.
func (d *Dataset) Subset(idx []int) (*Dataset, error) {
	n := d.ImageSize()
	out := &Dataset{C: d.C, H: d.H, W: d.W, Classes: d.Classes, Source: d.Source,
		Pix: make([]uint8, 0, len(idx)*n), Labels: make([]int, 0, len(idx))}
	if d.Paths != nil {
		out.Paths = make([]string, 0, len(idx))
	}
	for _, i := range idx {
		if i < 0 || i >= d.Len() {
			return nil, fmt.Errorf("datasets: subset index %d out of range (%s has %d images)", i, d.name(), d.Len())
		}
		out.Pix = append(out.Pix, d.Image(i)...)
		out.Labels = append(out.Labels, d.Labels[i])
		if d.Paths != nil {
			out.Paths = append(out.Paths, d.Paths[i])
		}
	}
	return out, nil
}

// WithChannels returns the dataset with c channels: the same one when it already has them,
// gray replicated to 3 channels for c == 3 (a 3-channel model on MNIST). Reducing colour to
// gray is refused: there is no single right formula.
func (d *Dataset) WithChannels(c int) (*Dataset, error) {
	switch {
	case c == d.C:
		return d, nil
	case d.C == 1 && c == 3:
		out := *d
		plane := d.H * d.W
		out.C = 3
		out.Pix = make([]uint8, d.Len()*3*plane)
		for i := range d.Len() {
			src := d.Image(i)
			dst := out.Pix[i*3*plane : (i+1)*3*plane]
			for k := range 3 {
				copy(dst[k*plane:], src)
			}
		}
		return &out, nil
	}
	return nil, fmt.Errorf("datasets: cannot convert %s from %d to %d channels", d.name(), d.C, c)
}

// ChannelStats returns the mean and (population) standard deviation of each channel over
// all pixels, on the 0..1 scale: the Normalize constants computed from the training data
// (for CIFAR-10 train about 0.4914, 0.4822, 0.4465 and 0.2470, 0.2435, 0.2616).
func (d *Dataset) ChannelStats() (mean, std []float32) {
	plane := d.H * d.W
	mean, std = make([]float32, d.C), make([]float32, d.C)
	for c := range d.C {
		var hist [256]int64
		for i := range d.Len() {
			for _, v := range d.Image(i)[c*plane : (c+1)*plane] {
				hist[v]++
			}
		}
		var n, s, s2 float64
		for v, k := range hist {
			x := float64(v) / 255
			n += float64(k)
			s += float64(k) * x
			s2 += float64(k) * x * x
		}
		if n == 0 {
			continue
		}
		m := s / n
		mean[c] = float32(m)
		std[c] = float32(math.Sqrt(max(s2/n-m*m, 0)))
	}
	return mean, std
}

// ErrMixedSizes is FromExamples's error (wrapped, with the two sizes) for images of
// different sizes: a Dataset holds one size, which Options.Width and Height give a folder
// of photos as it is read.
var ErrMixedSizes = errors.New("images differ in size")

// FromExamples packs RGB examples into a 3-channel Dataset. All images must have one size
// (ErrMixedSizes otherwise); paths, when given, name the images in errors.
func FromExamples(ex []Example, classes []string, paths []string) (*Dataset, error) {
	d := &Dataset{C: 3, Classes: classes, Paths: paths}
	if len(ex) == 0 {
		return nil, fmt.Errorf("datasets: no images")
	}
	name := func(i int) string {
		if paths != nil {
			return paths[i]
		}
		return fmt.Sprintf("image %d", i)
	}
	for i, e := range ex {
		if err := e.Image.Check(); err != nil {
			return nil, fmt.Errorf("datasets: %s: %w", name(i), err)
		}
	}
	d.W, d.H = ex[0].Image.W, ex[0].Image.H
	plane := d.W * d.H
	d.Pix = make([]uint8, len(ex)*3*plane)
	d.Labels = make([]int, len(ex))
	for i, e := range ex {
		if e.Image.W != d.W || e.Image.H != d.H {
			return nil, fmt.Errorf("datasets: %w: %s is %dx%d, %s is %dx%d",
				ErrMixedSizes, name(0), d.W, d.H, name(i), e.Image.W, e.Image.H)
		}
		dst := d.Pix[i*3*plane : (i+1)*3*plane]
		for p := range plane {
			dst[p] = e.Image.Pix[3*p]
			dst[plane+p] = e.Image.Pix[3*p+1]
			dst[2*plane+p] = e.Image.Pix[3*p+2]
		}
		d.Labels[i] = e.Label
	}
	if err := d.Check(); err != nil {
		return nil, err
	}
	return d, nil
}
