package imageproc

import (
	"fmt"
	"image"
	"math"
)

// Processor reproduces the Hugging Face image processor a
// preprocessor_config.json configures: ConvNextImageProcessor (the class
// microsoft/resnet-* use) or, for a size given as height and width,
// ViTImageProcessor-style warping.
type Processor struct {
	DoResize bool
	// ShortestEdge > 0 selects the ConvNext rule: below 384, scale the short
	// side to int(ShortestEdge/CropPct) and centre-crop ShortestEdge²; at 384
	// and above, warp to ShortestEdge² with no crop.
	ShortestEdge int
	// Height and Width are used when ShortestEdge is 0: warp to exactly
	// Width×Height, no crop.
	Height, Width int
	CropPct       float64
	Resample      Filter
	DoRescale     bool
	RescaleFactor float64
	DoNormalize   bool
	Mean, Std     [3]float32
	// Backend is whose resize, crop and float steps to reproduce: PIL (the
	// zero value) or Torchvision (transformers 5's default backend; see
	// Torchvision). It is not part of preprocessor_config.json, which
	// transformers leaves to the loading code too.
	Backend Backend
}

// convnextWarpEdge is where ConvNextImageProcessor stops cropping: "warping
// (no cropping) when evaluated at 384 or larger".
const convnextWarpEdge = 384

// Limits that keep a configuration or an oddly shaped image from asking for an
// absurd intermediate image; Pillow would fail on these with MemoryError.
const (
	maxOutputEdge = 8192
	maxResizeEdge = 1 << 24
)

// ImageNet normalisation constants (transformers IMAGENET_DEFAULT_MEAN/STD).
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// ImageNetProcessor is the microsoft/resnet-50 preprocessor: shortest edge
// 224, crop_pct 0.875 (resize to 256), bicubic, rescale 1/255, ImageNet
// mean/std.
func ImageNetProcessor() *Processor {
	return &Processor{
		DoResize: true, ShortestEdge: 224, CropPct: 0.875, Resample: Bicubic,
		DoRescale: true, RescaleFactor: 1.0 / 255, DoNormalize: true,
		Mean: ImageNetMean, Std: ImageNetStd,
	}
}

// CIFARProcessor matches the akamaster CIFAR-10 ResNets' training transform
// (ToTensor, then Normalize with ImageNet mean/std) for 32×32 input; other
// sizes are warped to 32×32 with Pillow BILINEAR.
func CIFARProcessor() *Processor {
	return &Processor{
		DoResize: true, Height: 32, Width: 32, Resample: Bilinear,
		DoRescale: true, RescaleFactor: 1.0 / 255, DoNormalize: true,
		Mean: ImageNetMean, Std: ImageNetStd,
	}
}

// Validate reports settings the pipeline cannot run with.
func (p *Processor) Validate() error {
	if p.DoResize {
		switch {
		case p.ShortestEdge > 0 && (p.Height != 0 || p.Width != 0):
			return fmt.Errorf("image processor: size has both shortest_edge (%d) and height/width (%dx%d)", p.ShortestEdge, p.Height, p.Width)
		case p.ShortestEdge > 0:
			if p.ShortestEdge > maxOutputEdge {
				return fmt.Errorf("image processor: shortest_edge %d is over the supported maximum %d", p.ShortestEdge, maxOutputEdge)
			}
			if p.ShortestEdge < convnextWarpEdge {
				if !(p.CropPct > 0) || math.IsInf(p.CropPct, 0) {
					return fmt.Errorf("image processor: crop_pct must be a positive number, got %v", p.CropPct)
				}
				if r := float64(p.ShortestEdge) / p.CropPct; !(r >= 1 && r <= maxResizeEdge) {
					return fmt.Errorf("image processor: crop_pct %v makes the resize target %v pixels (want 1..%d)", p.CropPct, r, maxResizeEdge)
				}
			}
		case p.Height > 0 && p.Width > 0:
			if p.Height > maxOutputEdge || p.Width > maxOutputEdge {
				return fmt.Errorf("image processor: size %dx%d is over the supported maximum %d", p.Width, p.Height, maxOutputEdge)
			}
		default:
			return fmt.Errorf("image processor: do_resize is set but size is not (shortest_edge %d, height %d, width %d)", p.ShortestEdge, p.Height, p.Width)
		}
		if !p.Resample.Valid() {
			return fmt.Errorf("image processor: resample %d is not a PIL filter (0..5)", int(p.Resample))
		}
	}
	if p.DoRescale && (math.IsNaN(p.RescaleFactor) || math.IsInf(p.RescaleFactor, 0)) {
		return fmt.Errorf("image processor: rescale_factor %v is not finite", p.RescaleFactor)
	}
	if err := p.validateBackend(); err != nil {
		return err
	}
	if p.DoNormalize {
		for c, s := range p.Std {
			if s == 0 || math.IsNaN(float64(s)) || math.IsNaN(float64(p.Mean[c])) {
				return fmt.Errorf("image processor: channel %d has mean %v, std %v; std must be non-zero and both numbers", c, p.Mean[c], s)
			}
		}
	}
	return nil
}

// OutputSize is the (height, width) of every tensor Apply returns, or (0, 0)
// when DoResize is false and the output keeps each input's size.
func (p *Processor) OutputSize() (h, w int) {
	switch {
	case !p.DoResize:
		return 0, 0
	case p.ShortestEdge > 0:
		return p.ShortestEdge, p.ShortestEdge
	default:
		return p.Height, p.Width
	}
}

// plan is what Resized does to a w×h input: resize to rw×rh, then take the
// outW×outH window whose top-left is at (left, top) in the resized image
// (negative or overhanging windows are zero-padded).
type plan struct {
	rw, rh     int
	left, top  int
	outW, outH int
}

func (p *Processor) plan(w, h int) (plan, error) {
	if w < 1 || h < 1 {
		return plan{}, fmt.Errorf("image is %dx%d: width and height must be at least 1", w, h)
	}
	if !p.DoResize {
		return plan{rw: w, rh: h, outW: w, outH: h}, nil
	}
	if err := p.Validate(); err != nil {
		return plan{}, err
	}
	if p.ShortestEdge == 0 {
		return plan{rw: p.Width, rh: p.Height, outW: p.Width, outH: p.Height}, nil
	}
	s := p.ShortestEdge
	if s >= convnextWarpEdge {
		return plan{rw: s, rh: s, outW: s, outH: s}, nil
	}
	// transformers: resize_shortest_edge = int(shortest_edge / crop_pct), then
	// get_resize_output_image_size(default_to_square=False):
	// new_long = int(new_short * long / short) with float division.
	ns := int(float64(s) / p.CropPct)
	short, long := min(w, h), max(w, h)
	// The product is exact (< 2^53), so the division rounds as Python int/int.
	nl := float64(ns) * float64(long) / float64(short)
	if nl > maxResizeEdge {
		return plan{}, fmt.Errorf("image is %dx%d: resizing its short side to %d makes the long side %.0f pixels (limit %d)", w, h, ns, nl, maxResizeEdge)
	}
	rw, rh := ns, int(nl)
	if w > h {
		rw, rh = int(nl), ns
	}
	return plan{rw: rw, rh: rh, left: floorDiv(rw-s, 2), top: floorDiv(rh-s, 2), outW: s, outH: s}, nil
}

// CheckInput reports whether a w×h image can go through Resized and Apply,
// which panic on exactly the inputs this rejects: empty images, an invalid
// Processor, or a shape so elongated that the resize would be absurdly large.
func (p *Processor) CheckInput(w, h int) error {
	_, err := p.plan(w, h)
	return err
}

// Resized returns the uint8 image after the resize and centre crop, before
// any float conversion: the bytes transformers hands to rescale/normalize.
// It computes only the cropped window of the resize (same bytes, less work).
// It panics where CheckInput(img.W, img.H) returns an error.
func (p *Processor) Resized(img *RGB) *RGB {
	if err := img.Check(); err != nil {
		panic(err)
	}
	pl, err := p.plan(img.W, img.H)
	if err != nil {
		panic(err)
	}
	if !p.DoResize {
		return img.Clone()
	}
	if p.Backend == Torchvision {
		return p.tvResized(img, pl)
	}
	win := image.Rect(pl.left, pl.top, pl.left+pl.outW, pl.top+pl.outH)
	inside := win.Intersect(image.Rect(0, 0, pl.rw, pl.rh))
	if inside == win {
		return ResizeRegion(img, pl.rw, pl.rh, p.Resample, win)
	}
	// The crop is larger than the resized image along some axis: zero padding.
	out := NewRGB(pl.outW, pl.outH)
	if inside.Empty() {
		return out
	}
	part := ResizeRegion(img, pl.rw, pl.rh, p.Resample, inside)
	ox, oy := inside.Min.X-pl.left, inside.Min.Y-pl.top
	for y := 0; y < part.H; y++ {
		copy(out.Pix[3*((y+oy)*out.W+ox):], part.Pix[3*y*part.W:3*(y+1)*part.W])
	}
	return out
}

// Apply runs the whole processor and returns float32 pixel values in CHW
// order, [3][H][W], reusing dst when it is large enough.
func (p *Processor) Apply(img *RGB, dst []float32) []float32 {
	return p.ToTensor(p.Resized(img), dst)
}

// ToTensor is the float part of Apply for an already resized image, with
// transformers' numerics: rescale is float64(x)*factor rounded to float32;
// normalize is (x - mean) / std in float32 with mean and std as float32.
func (p *Processor) ToTensor(img *RGB, dst []float32) []float32 {
	if err := img.Check(); err != nil {
		panic(err)
	}
	n := img.W * img.H
	if cap(dst) < 3*n {
		dst = make([]float32, 3*n)
	}
	dst = dst[:3*n]
	var lut [3][256]float32
	if p.Backend == Torchvision {
		lut = p.tvLUT()
	} else {
		lut = p.pilLUT()
	}
	for i := 0; i < n; i++ {
		dst[i] = lut[0][img.Pix[3*i]]
		dst[n+i] = lut[1][img.Pix[3*i+1]]
		dst[2*n+i] = lut[2][img.Pix[3*i+2]]
	}
	return dst
}

// pilLUT is ToTensor's float step for each channel and uint8 level with the
// Pillow backend's numerics (see ToTensor).
func (p *Processor) pilLUT() (lut [3][256]float32) {
	for c := range 3 {
		for v := range 256 {
			x := float32(v)
			if p.DoRescale {
				x = float32(float64(v) * p.RescaleFactor)
			}
			if p.DoNormalize {
				x = (x - p.Mean[c]) / p.Std[c]
			}
			lut[c][v] = x
		}
	}
	return lut
}
