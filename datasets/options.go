package datasets

import (
	"fmt"
	"io"
	"runtime"

	"github.com/resnet-go/resnet/hub"
	"github.com/resnet-go/resnet/imageproc"
)

// BadImagePolicy says what an unreadable or corrupt image in a folder dataset does: a
// scraped dataset often holds a few, while a curated one holding any is a bug worth stopping
// for, hence the choice.
type BadImagePolicy int

const (
	BadImageFail BadImagePolicy = iota // stop with an error naming the file (the default)
	BadImageSkip                       // leave it out, list it in Skipped and report it to Warn
)

func (p BadImagePolicy) String() string {
	switch p {
	case BadImageFail:
		return "fail"
	case BadImageSkip:
		return "skip"
	}
	return fmt.Sprintf("BadImagePolicy(%d)", int(p))
}

// ParseBadImagePolicy reads "fail" or "skip" (for a CLI flag).
func ParseBadImagePolicy(s string) (BadImagePolicy, error) {
	switch s {
	case "fail":
		return BadImageFail, nil
	case "skip":
		return BadImageSkip, nil
	}
	return 0, fmt.Errorf("bad-image policy %q: want fail or skip", s)
}

// BadImage is an image that could not be used, with the reason.
type BadImage struct {
	Path string // e.g. "train.tar.gz:train/cat/0001.jpg" or "DIR/cat/0001.jpg"
	Err  error
}

func (b BadImage) Error() string { return b.Path + ": " + b.Err.Error() }
func (b BadImage) Unwrap() error { return b.Err }

// Options control how images are read.
type Options struct {
	// Width and Height, when set, resize every decoded image to exactly Width×Height with
	// Filter (Pillow-exact, see imageproc.Resize) unless it has that size already. Zero keeps
	// each image's size; a Dataset then needs all images to agree.
	Width, Height int
	// Filter is the resampling filter for the resize. Its zero value is imageproc.Nearest
	// (PIL's numbering); torchvision's Resize default is imageproc.Bilinear.
	Filter imageproc.Filter
	// OnBadImage chooses between failing and skipping on an unreadable image.
	OnBadImage BadImagePolicy
	// Warn, when set, gets one line per skipped image.
	Warn io.Writer
	// Workers is the number of decoding goroutines; 0 means GOMAXPROCS.
	Workers int
	// MaxPixels refuses larger images (a decompression-bomb guard); 0 means
	// imageproc.DefaultMaxPixels, negative means no limit.
	MaxPixels int
	// KeepOrientation decodes images as stored, as torchvision's ImageFolder
	// does, instead of turned upright by their EXIF orientation, as the
	// datasets library's Image feature does (imageproc.DecodeOptions).
	KeepOrientation bool
	// ImageColumn and LabelColumn name the columns of an hf: dataset; empty means the first
	// Image and ClassLabel features of its metadata.
	ImageColumn, LabelColumn string
	// Hub is the client hf: datasets are fetched with; nil means hub.NewFromEnv().
	Hub *hub.Client

	// lazy (Spec.List) lists the images and keeps each one's file name or encoded bytes
	// instead of decoding it.
	lazy bool
}

func (o *Options) validate() error {
	if (o.Width == 0) != (o.Height == 0) || o.Width < 0 || o.Height < 0 {
		return fmt.Errorf("datasets: resize size %dx%d: give both width and height (>= 1) or neither", o.Width, o.Height)
	}
	if o.Width > 0 && !o.Filter.Valid() {
		return fmt.Errorf("datasets: resize filter %d is not a PIL filter", int(o.Filter))
	}
	if o.OnBadImage != BadImageFail && o.OnBadImage != BadImageSkip {
		return fmt.Errorf("datasets: unknown %v", o.OnBadImage)
	}
	if o.Workers < 0 {
		return fmt.Errorf("datasets: %d workers", o.Workers)
	}
	return nil
}

func (o *Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return runtime.GOMAXPROCS(0)
}

func (o *Options) maxPixels() int {
	switch {
	case o.MaxPixels == 0:
		return imageproc.DefaultMaxPixels
	case o.MaxPixels < 0:
		return 0
	}
	return o.MaxPixels
}

// resize applies the Width×Height resize, if any.
func (o *Options) resize(img *imageproc.RGB) *imageproc.RGB {
	if o.Width == 0 || (img.W == o.Width && img.H == o.Height) {
		return img
	}
	return imageproc.Resize(img, o.Width, o.Height, o.Filter)
}
