// Package gradcam turns a class activation map (model.CAM) into the picture pytorch-grad-cam
// draws: ReLU, per-map min-max scaling, OpenCV's bilinear resize to the photo's size, and the
// JET overlay of show_cam_on_image. Each step repeats that library's float32 arithmetic, so
// the overlay's bytes equal the Python pipeline's (tools/fixtures/gen_gradcam.py).
package gradcam

import (
	_ "embed"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"

	"github.com/resnet-go/resnet/imageproc"
)

// jetRGB is OpenCV 4.6's COLORMAP_JET (cv2.applyColorMap of 0…255), 256 × RGB, written by
// tools/fixtures/gen_gradcam.py. OpenCV samples its own float table rather than the textbook
// piecewise-linear formula, so the table is shipped instead of computed.
//
//go:embed jet_rgb.bin
var jetRGB []byte

// Jet returns the RGB colour of v in OpenCV's JET colour map.
func Jet(v uint8) (r, g, b uint8) { return jetRGB[3*int(v)], jetRGB[3*int(v)+1], jetRGB[3*int(v)+2] }

// Scale is pytorch-grad-cam's scale_cam_image without the resize: ReLU, then
// (x − min) / (1e-7 + max(x − min)) in float32. flat reports a map with no positive variation
// (every value ≤ 0, or all equal): its result is all zeros, never NaN, and callers should say
// so, since the class has no positive evidence at this layer.
func Scale(m []float32) (out []float32, flat bool) {
	out = make([]float32, len(m))
	if len(m) == 0 {
		return out, true
	}
	lo := float32(math.Inf(1))
	for i, v := range m {
		v = max(v, 0)
		out[i] = v
		lo = min(lo, v)
	}
	var hi float32
	for i := range out {
		out[i] -= lo
		hi = max(hi, out[i])
	}
	// numpy adds the Python float 1e-7 to the float32 maximum in float64 and divides by
	// that sum rounded to float32.
	d := float32(1e-7 + float64(hi))
	for i := range out {
		out[i] /= d
	}
	return out, hi == 0
}

// Resize is cv2.resize(src, (dw, dh)) with INTER_LINEAR on a float32 h×w map: half-pixel
// centres (x_src = (x+0.5)·sw/dw − 0.5), edge positions clamped to the border pixel, the
// horizontal pass first, float32 weights.
func Resize(src []float32, sh, sw, dh, dw int) []float32 {
	if len(src) != sh*sw || sh < 1 || sw < 1 || dh < 1 || dw < 1 {
		panic(fmt.Sprintf("gradcam: resize of a %d×%d map holding %d values to %d×%d", sh, sw, len(src), dh, dw))
	}
	out := make([]float32, dh*dw)
	if sh == dh && sw == dw {
		copy(out, src)
		return out
	}
	xo, xa := linearTaps(sw, dw)
	yo, ya := linearTaps(sh, dh)
	rows := make([][]float32, sh) // horizontally resized source rows, made when first used
	row := func(y int) []float32 {
		if rows[y] == nil {
			r := make([]float32, dw)
			s := src[y*sw : (y+1)*sw]
			for x := range r {
				i := xo[x]
				r[x] = float32(s[i]*xa[2*x]) + float32(s[min(i+1, sw-1)]*xa[2*x+1])
			}
			rows[y] = r
		}
		return rows[y]
	}
	for y := 0; y < dh; y++ {
		r0, r1 := row(yo[y]), row(min(yo[y]+1, sh-1))
		b0, b1 := ya[2*y], ya[2*y+1]
		d := out[y*dw : (y+1)*dw]
		for x := range d {
			d[x] = float32(r0[x]*b0) + float32(r1[x]*b1)
		}
	}
	return out
}

// linearTaps are OpenCV's source index and two weights per destination position.
func linearTaps(s, d int) ([]int, []float32) {
	scale := 1 / (float64(d) / float64(s))
	ofs, alpha := make([]int, d), make([]float32, 2*d)
	for i := range ofs {
		f := float32((float64(i)+0.5)*scale - 0.5)
		si := int(math.Floor(float64(f)))
		f -= float32(si)
		if si < 0 {
			f, si = 0, 0
		}
		if si >= s-1 {
			f, si = 0, s-1
		}
		ofs[i] = si
		alpha[2*i], alpha[2*i+1] = 1-f, f
	}
	return ofs, alpha
}

// Mask is a raw h×w map scaled and resized to dh×dw, as scale_cam_image with a target size.
func Mask(raw []float32, h, w, dh, dw int) (mask []float32, flat bool) {
	s, flat := Scale(raw)
	return Resize(s, h, w, dh, dw), flat
}

// Overlay is show_cam_on_image(img/255, mask, use_rgb=True, colormap=JET, image_weight): the
// JET colour of uint8(255·mask) blended with the image, divided by the largest value of the
// result, and truncated to uint8. mask holds one value in [0, 1] per pixel of img.
func Overlay(img *imageproc.RGB, mask []float32, imageWeight float32) (*imageproc.RGB, error) {
	if err := img.Check(); err != nil {
		return nil, err
	}
	if len(mask) != img.W*img.H {
		return nil, fmt.Errorf("gradcam: mask has %d values for a %dx%d image", len(mask), img.W, img.H)
	}
	if imageWeight < 0 || imageWeight > 1 || math.IsNaN(float64(imageWeight)) {
		return nil, fmt.Errorf("gradcam: image weight %g is outside [0, 1]", imageWeight)
	}
	mix := make([]float32, len(img.Pix))
	hw := 1 - imageWeight
	var peak float32
	for p, m := range mask {
		if !(m >= 0 && m <= 1) {
			return nil, fmt.Errorf("gradcam: mask value %g at pixel %d is outside [0, 1]", m, p)
		}
		c := 3 * int(uint8(float32(255*m)))
		for k := 0; k < 3; k++ {
			heat := float32(jetRGB[c+k]) / 255
			v := float32(hw*heat) + float32(imageWeight*(float32(img.Pix[3*p+k])/255))
			mix[3*p+k] = v
			peak = max(peak, v)
		}
	}
	out := imageproc.NewRGB(img.W, img.H)
	for i, v := range mix {
		out.Pix[i] = uint8(float32(255 * (v / peak)))
	}
	return out, nil
}

// EncodePNG writes img as an 8-bit RGB PNG.
func EncodePNG(w io.Writer, img *imageproc.RGB) error {
	rgba := image.NewRGBA(image.Rect(0, 0, img.W, img.H))
	for p := 0; p < img.W*img.H; p++ {
		copy(rgba.Pix[4*p:4*p+3], img.Pix[3*p:3*p+3])
		rgba.Pix[4*p+3] = 255
	}
	return png.Encode(w, rgba)
}
