package imageproc

import (
	"fmt"
	"image"
)

// RGB is an 8-bit interleaved RGB image, the form PIL's convert("RGB") produces
// and the only form the resamplers work on, so that every step has one exact
// meaning.
type RGB struct {
	W, H int
	Pix  []uint8 // len(Pix) == 3*W*H, row-major, R G B per pixel
}

// NewRGB returns a black w×h image.
func NewRGB(w, h int) *RGB {
	if w < 0 || h < 0 {
		panic(fmt.Sprintf("imageproc: negative image size %dx%d", w, h))
	}
	return &RGB{W: w, H: h, Pix: make([]uint8, 3*w*h)}
}

// pooledRGB is NewRGB with Pix from rgbPool, for the images Decode returns:
// a caller done with one can give its memory to the next decode (Release).
func pooledRGB(w, h int) *RGB {
	return &RGB{W: w, H: h, Pix: rgbPool.get(3 * w * h)}
}

// Release hands Pix over to later decodes and empties m (0×0). Callers that
// decode many images and keep only what they computed from each (a tensor,
// a prediction) release each image once done with it, so that decoding
// reuses memory instead of touching fresh pages (see scratch.go); m, and any
// slice of its Pix, must not be used afterwards.
func (m *RGB) Release() {
	if m == nil {
		return
	}
	rgbPool.put(m.Pix)
	m.W, m.H, m.Pix = 0, 0, nil
}

// Check reports an error if Pix does not hold exactly 3*W*H bytes, so that a
// hand-built RGB never indexes out of range deep inside a resampler.
func (m *RGB) Check() error {
	if m == nil {
		return fmt.Errorf("imageproc: nil RGB image")
	}
	if m.W < 0 || m.H < 0 || len(m.Pix) != 3*m.W*m.H {
		return fmt.Errorf("imageproc: RGB image %dx%d needs %d bytes, has %d", m.W, m.H, 3*m.W*m.H, len(m.Pix))
	}
	return nil
}

// At returns the pixel at column x, row y.
func (m *RGB) At(x, y int) (r, g, b uint8) {
	i := 3 * (y*m.W + x)
	return m.Pix[i], m.Pix[i+1], m.Pix[i+2]
}

// Image converts to an opaque *image.RGBA, e.g. to save with image/png.
func (m *RGB) Image() *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, m.W, m.H))
	for i, j := 0, 0; i < len(m.Pix); i, j = i+3, j+4 {
		out.Pix[j], out.Pix[j+1], out.Pix[j+2], out.Pix[j+3] = m.Pix[i], m.Pix[i+1], m.Pix[i+2], 0xff
	}
	return out
}

// Clone returns a deep copy.
func (m *RGB) Clone() *RGB {
	return &RGB{W: m.W, H: m.H, Pix: append([]uint8(nil), m.Pix...)}
}
