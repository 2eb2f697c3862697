package imageproc

import (
	"fmt"
	"image"
	"math"
	"strings"
)

// Backend selects whose resize and crop a Processor reproduces. The float
// steps after them follow the same backend.
type Backend int

const (
	// PIL is transformers' Pillow backend (ConvNextImageProcessor before
	// transformers 5, ConvNextImageProcessorPil from 5 on): Pillow's 8-bit
	// fixed-point resampling, float64 rescale, float32 normalize.
	PIL Backend = iota
	// Torchvision is transformers' torchvision backend (the default in
	// transformers 5 when torchvision is installed): the uint8 image tensor
	// resized by torchvision's float path (cast to float32, antialiased
	// separable interpolation, clamp for bicubic, round half to even, back to
	// uint8), transformers' own centre crop, and rescale fused into normalize
	// ((x - mean/factor) / (std/factor) in float32). See TVResize.
	Torchvision
)

var backendNames = [...]string{"pil", "torchvision"}

// String returns the name ParseBackend accepts ("pil", "torchvision").
func (b Backend) String() string {
	if b >= 0 && int(b) < len(backendNames) {
		return backendNames[b]
	}
	return fmt.Sprintf("Backend(%d)", int(b))
}

// ParseBackend reads a backend name: "pil" or "torchvision" (any case).
func ParseBackend(s string) (Backend, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	for i, n := range backendNames {
		if l == n {
			return Backend(i), nil
		}
	}
	return 0, fmt.Errorf("unknown preprocessing backend %q (want %s)", s, strings.Join(backendNames[:], " or "))
}

// CheckFilter reports whether the backend can resample with f: PIL has all
// six filters; Torchvision bilinear and bicubic (and lanczos, run as
// bicubic as transformers does).
func (b Backend) CheckFilter(f Filter) error {
	if b == Torchvision {
		_, err := tvFilter(f)
		return err
	}
	if !f.Valid() {
		return fmt.Errorf("image processor: resample %d is not a PIL filter (0..5)", int(f))
	}
	return nil
}

// tvFilter is the filter the torchvision backend runs for f. transformers
// maps LANCZOS to BICUBIC (with a warning) because torchvision has no
// Lanczos for tensors; nearest, box and hamming have no antialiased tensor
// kernel we reproduce.
func tvFilter(f Filter) (Filter, error) {
	switch f {
	case Bilinear, Bicubic:
		return f, nil
	case Lanczos:
		return Bicubic, nil
	}
	return 0, fmt.Errorf("image processor: resample %s is not supported by the torchvision backend (bilinear or bicubic; lanczos runs as bicubic, as in transformers)", f)
}

// tvCoeffs are one axis's float32 taps for torchvision's antialiased
// interpolation, for output pixels lo..hi-1: output lo+i reads count[i]
// inputs from first[i] with weights w[i*ksize:].
type tvCoeffs struct {
	ksize        int
	first, count []int
	w            []float32
}

// tvCoeffsFor mirrors ATen's _compute_weights_aa (UpSampleKernel.cpp) for a
// float32 tensor: every quantity is a C float except where C++ promotes an
// expression to double (a double literal in it), and the Go conversions below
// round exactly where the C++ assignments do.
func tvCoeffsFor(in, out, lo, hi int, f Filter) *tvCoeffs {
	interp := 2.0 // bilinear: taps at distance < 1
	kern := tvBilinear
	if f == Bicubic {
		interp, kern = 4.0, tvBicubic
	}
	// area_pixel_compute_scale: static_cast<float>(in) / out, in float.
	scale := float32(in) / float32(out)
	support := float32(interp * 0.5)
	invscale := float32(1)
	if scale >= 1 {
		support = float32(interp * 0.5 * float64(scale))
		invscale = float32(1 / float64(scale))
	}
	ksize := int(math.Ceil(float64(support)))*2 + 1
	n := hi - lo
	c := &tvCoeffs{ksize: ksize, first: make([]int, n), count: make([]int, n), w: make([]float32, n*ksize)}
	for i := range n {
		center := float32(float64(scale) * (float64(lo+i) + 0.5))
		xmin := max(int(float64(center-support)+0.5), 0)
		xsize := min(int(float64(center+support)+0.5), in) - xmin
		xsize = max(xsize, 0)
		w := c.w[i*ksize : i*ksize+xsize]
		var total float32
		for j := range w {
			x := float32((float64(float32(j+xmin)-center) + 0.5) * float64(invscale))
			w[j] = kern(x)
			total += w[j]
		}
		if total != 0 {
			for j := range w {
				w[j] /= total
			}
		}
		c.first[i], c.count[i] = xmin, xsize
	}
	return c
}

// tvBilinear is ATen's HelperInterpLinear::aa_filter: 1 - |x| on (-1, 1).
func tvBilinear(x float32) float32 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return float32(1 - float64(x))
	}
	return 0
}

// tvBicubic is the Keys cubic (a = -0.5, as Pillow) of torch 1.13's
// HelperInterpCubic::aa_filter for float tensors, whose a is a double
// literal: the inner branch ((a+2)x - (a+3))x·x + 1 is evaluated in double,
// the outer one (((x-5)x + 8)x - 4)·a in float up to the final exact ·a.
// PyTorch's x86-64 kernels are built with FMA enabled and the compiler
// contracts each multiply-add into one fused operation; the weights match
// torch bit for bit only with those fusions (TestTVCoeffsFixtures).
func tvBicubic(x float32) float32 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		xd := float64(x)
		t := math.FMA(1.5, xd, -2.5)
		return float32(math.FMA(t*xd, xd, 1))
	}
	if x < 2 {
		return fma32(fma32(x-5, x, 8), x, -4) * -0.5
	}
	return 0
}

// fma32 is a*b+c rounded once to float32, as a fused multiply-add in
// single precision gives. math.FMA rounds the exact value once to float64;
// rounding that to float32 is right unless it landed exactly halfway
// between two float32s, where fma32Tie decides from the exact value.
func fma32(a, b, c float32) float32 {
	s := math.FMA(float64(a), float64(b), float64(c))
	// float32 keeps 23 of float64's 52 fraction bits; below 2^-125 it has
	// fewer (subnormals), so the tie test is left to fma32Tie there.
	const tie, low = 1 << 28, 1<<29 - 1
	if b := math.Float64bits(s); b&low != tie && (b>>52)&0x7ff >= 1023-125 {
		return float32(s)
	}
	return fma32Tie(a, b, c) // a possible tie, or float32's subnormal range
}

// fma32Tie is fma32 by error-free transformation: p = a*b is exact in
// float64, s = p+c rounded with its error e (TwoSum), and a tie at float32
// precision broken by e's sign.
func fma32Tie(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	s := p + float64(c)
	bb := s - p
	e := (p - (s - bb)) + (float64(c) - bb)
	r := float32(s)
	if e != 0 && float64(r) != s {
		lo, hi := r, r
		if float64(r) < s {
			hi = math.Nextafter32(r, float32(math.Inf(1)))
		} else {
			lo = math.Nextafter32(r, float32(math.Inf(-1)))
		}
		if mid := (float64(lo) + float64(hi)) / 2; s == mid {
			if e > 0 {
				r = hi
			} else {
				r = lo
			}
		}
	}
	return r
}

// tvPlane is a float32 image of three interleaved channels.
type tvPlane struct {
	w, h int
	pix  []float32
}

// TVResize returns src resized to w×h as torchvision's
// F.resize(uint8 tensor, [h, w], interpolation, antialias=True) does on its
// float path (torchvision 0.14 everywhere; later versions wherever they do
// not use PyTorch's native uint8 kernel, see docs/design.md): the image is
// cast to float32, resampled along the width over every row (an unchanged
// axis is skipped), stored as float32, resampled along the height, clamped
// to 0..255 for bicubic, rounded half to even and cast back to uint8.
// Downscaling widens the kernel by the scale factor (antialiasing) as Pillow
// does, but the weights and sums are float32 with no 8-bit intermediate, so
// results differ from Resize by a level here and there.
//
// Speed: the resnet-50 pipeline on the 640×480 COCO photo (resize to
// 341×256, 224 crop, normalise) takes 7.7 ms on one Zen 4 core, against
// 0.8 ms for the Pillow path's fixed-point kernels.
//
// f must be Bilinear or Bicubic; it panics otherwise, or if w or h is below 1
// or src is malformed.
func TVResize(src *RGB, w, h int, f Filter) *RGB {
	return TVResizeRegion(src, w, h, f, image.Rect(0, 0, w, h))
}

// TVResizeRegion returns the part r of TVResize(src, w, h, f), computing
// only that part: each output pixel's float operations depend only on its
// own coordinates, so the bytes are those of the full resize.
func TVResizeRegion(src *RGB, w, h int, f Filter, r image.Rectangle) *RGB {
	if err := src.Check(); err != nil {
		panic(err)
	}
	if w < 1 || h < 1 {
		panic(fmt.Sprintf("imageproc: TVResize to %dx%d: height and width must be > 0", w, h))
	}
	if f != Bilinear && f != Bicubic {
		panic(fmt.Sprintf("imageproc: TVResize with filter %v (want bilinear or bicubic)", f))
	}
	if r.Empty() || !r.In(image.Rect(0, 0, w, h)) {
		panic(fmt.Sprintf("imageproc: region %v is empty or outside the %dx%d output", r, w, h))
	}
	if src.W == w && src.H == h {
		return subImage(src, r)
	}
	if src.W == 0 || src.H == 0 {
		return NewRGB(r.Dx(), r.Dy())
	}
	p := tvInterpolate(src, w, h, f, r)
	out := NewRGB(p.w, p.h)
	for i, v := range p.pix {
		if f == Bicubic {
			v = min(max(v, 0), 255)
		}
		// torch.round is round-half-to-even; the float→uint8 cast of a value
		// in range is exact. Bilinear sums stay within 0..255 up to rounding.
		out.Pix[i] = uint8(min(max(math.RoundToEven(float64(v)), 0), 255))
	}
	return out
}

// TVInterpolate returns the float32 result of
// torch.nn.functional.interpolate(x, size=(h, w), mode=f, align_corners=False,
// antialias=True) for x the image as a float32 tensor, interleaved RGB
// (3*w*h values, row-major): the values TVResize rounds.
func TVInterpolate(src *RGB, w, h int, f Filter) []float32 {
	if err := src.Check(); err != nil {
		panic(err)
	}
	if f != Bilinear && f != Bicubic || w < 1 || h < 1 || src.W < 1 || src.H < 1 {
		panic(fmt.Sprintf("imageproc: TVInterpolate %dx%d to %dx%d with %v", src.W, src.H, w, h, f))
	}
	return tvInterpolate(src, w, h, f, image.Rect(0, 0, w, h)).pix
}

// tvInterpolate is ATen's separable_upsample_generic_Nd_kernel_impl for 2-D
// input: the width pass first (over the rows the height pass reads), then
// the height pass, each output a sequential float32 sum of input×weight.
func tvInterpolate(src *RGB, w, h int, f Filter, r image.Rectangle) tvPlane {
	rowLo, rowHi := r.Min.Y, r.Max.Y
	var vert *tvCoeffs
	if h != src.H {
		vert = tvCoeffsFor(src.H, h, r.Min.Y, r.Max.Y, f)
		rowLo, rowHi = src.H, 0
		for i, first := range vert.first {
			rowLo, rowHi = min(rowLo, first), max(rowHi, first+vert.count[i])
		}
		rowHi = max(rowHi, rowLo)
	}
	// Width pass (or the plain float copy of the needed columns and rows).
	mid := tvPlane{w: r.Dx(), h: rowHi - rowLo}
	mid.pix = make([]float32, 3*mid.w*mid.h)
	if w != src.W {
		horiz := tvCoeffsFor(src.W, w, r.Min.X, r.Max.X, f)
		parallelRows(mid.h, mid.w*horiz.ksize, func(y0, y1 int) {
			for y := y0; y < y1; y++ {
				row := src.Pix[3*(y+rowLo)*src.W : 3*(y+rowLo+1)*src.W]
				dst := mid.pix[3*y*mid.w : 3*(y+1)*mid.w]
				for x := range mid.w {
					n, first := horiz.count[x], horiz.first[x]
					k := horiz.w[x*horiz.ksize : x*horiz.ksize+n]
					for c := range 3 {
						dst[3*x+c] = tvSum(row[3*first+c:], 3, k)
					}
				}
			}
		})
	} else {
		for y := range mid.h {
			row := src.Pix[3*((y+rowLo)*src.W+r.Min.X) : 3*((y+rowLo)*src.W+r.Max.X)]
			for i, v := range row {
				mid.pix[3*y*mid.w+i] = float32(v)
			}
		}
	}
	if vert == nil {
		return mid
	}
	out := tvPlane{w: mid.w, h: r.Dy()}
	out.pix = make([]float32, 3*out.w*out.h)
	stride := 3 * mid.w
	parallelRows(out.h, out.w*vert.ksize, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			n, first := vert.count[y], vert.first[y]-rowLo
			k := vert.w[y*vert.ksize : y*vert.ksize+n]
			dst := out.pix[y*stride : (y+1)*stride]
			tvSumRows(dst, mid.pix[first*stride:], stride, k)
		}
	})
	return out
}

// tvSum is ATen's interpolate_aa_single_dim over uint8 samples cast to
// float: t0*w0, then += tj*wj in order, in float32. As the reference torch
// build compiled that loop, the additions go four at a time with the
// product rounded on its own, and the last (taps-1) mod 4 as fused
// multiply-adds: found by matching every tap of the fixtures, where either
// choice alone leaves up to a third of the values 1 ulp off.
func tvSum(p []uint8, step int, k []float32) float32 {
	if len(k) == 0 {
		return 0
	}
	s := float32(float32(p[0]) * k[0])
	for j := 1; j < len(k); j++ {
		if j <= (len(k)-1)/4*4 {
			s += float32(float32(p[j*step]) * k[j])
		} else {
			s = fma32(float32(p[j*step]), k[j], s)
		}
	}
	return s
}

// tvSumRows is tvSum for every element of a row at once, over source rows
// stride apart: the same operations in the same order per element, done
// row by row so that memory is read in order.
func tvSumRows(dst, src []float32, stride int, k []float32) {
	if len(k) == 0 {
		clear(dst)
		return
	}
	row := src[:len(dst)]
	for i, v := range row {
		dst[i] = v * k[0]
	}
	plain := (len(k) - 1) / 4 * 4
	for j := 1; j < len(k); j++ {
		row = src[j*stride : j*stride+len(dst)]
		w := k[j]
		if j <= plain {
			for i, v := range row {
				dst[i] += float32(v * w)
			}
		} else {
			for i, v := range row {
				dst[i] = fma32(v, w, dst[i])
			}
		}
	}
}
