package imageproc

import (
	"image"
	"io"
	"sync"
)

// Decoding a photo allocates a few megabytes that die within the call: the
// file's bytes, a progressive JPEG's coefficients (1.5 MB for 512×512 4:2:0)
// and its Y'CbCr planes. Freshly allocated, every 4 KiB of them is a page
// fault when first written; on a 2-vCPU Zen 5 VM, `resnet classify` over 100
// ImageNet photos took 61,000 faults more than over one (2.5 MB an image, 4 µs
// a fault: 2.5 ms of CPU per image against 3.5 ms of decoding proper). The
// pools below keep those buffers between images instead.

// slicePool hands out slices of at least a given length. Buffers come back
// zeroed, as make's do, so that a decoder reusing one cannot see another
// image's data.
type slicePool[T any] struct{ p sync.Pool }

func (sp *slicePool[T]) get(n int) []T {
	if s, ok := sp.p.Get().(*[]T); ok && cap(*s) >= n {
		out := (*s)[:n]
		clear(out)
		return out
	}
	return make([]T, n)
}

func (sp *slicePool[T]) put(s []T) {
	if cap(s) > 0 {
		s = s[:0]
		sp.p.Put(&s)
	}
}

// One pool per kind of buffer, so that a request finds one of about its size.
var (
	filePool    slicePool[byte]   // encoded files (readPooled)
	planePool   slicePool[byte]   // Y'CbCr planes (pooledYCbCr)
	rgbPool     slicePool[byte]   // RGB.Pix (pooledRGB, Release)
	blockPool   slicePool[jBlock] // progressive coefficients
	nonzeroPool slicePool[uint64]
)

// pooledYCbCr returns an image laid out as image.NewYCbCr(image.Rect(0, 0,
// w, h), ratio) would, and the one buffer from planePool that holds its planes
// (give it back with planePool.put once the image is no longer used).
func pooledYCbCr(w, h int, ratio image.YCbCrSubsampleRatio) (*image.YCbCr, []byte) {
	cw, ch := w, h
	switch ratio {
	case image.YCbCrSubsampleRatio422:
		cw = (w + 1) / 2
	case image.YCbCrSubsampleRatio420:
		cw, ch = (w+1)/2, (h+1)/2
	case image.YCbCrSubsampleRatio440:
		ch = (h + 1) / 2
	case image.YCbCrSubsampleRatio411:
		cw = (w + 3) / 4
	case image.YCbCrSubsampleRatio410:
		cw, ch = (w+3)/4, (h+1)/2
	}
	i0, i1 := w*h, w*h+cw*ch
	i2 := i1 + cw*ch
	b := planePool.get(i2)
	return &image.YCbCr{
		Y: b[:i0:i0], Cb: b[i0:i1:i1], Cr: b[i1:i2:i2],
		SubsampleRatio: ratio, YStride: w, CStride: cw, Rect: image.Rect(0, 0, w, h),
	}, b
}

// readPooled is io.ReadAll into a buffer from filePool.
func readPooled(r io.Reader) ([]byte, error) {
	b := filePool.get(0)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // grows as io.ReadAll does
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
	}
}
