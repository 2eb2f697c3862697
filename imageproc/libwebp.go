package imageproc

import "image"

// libwebpRGB converts the Y'CbCr planes of a lossy WebP (4:2:0, BT.601
// limited range) as libwebp does for RGB output, which is what Pillow gets:
// the "fancy" upsampler of upsampling.c (each chroma sample weighted
// 9:3:3:1 with libwebp's intermediate rounding) and the fixed-point
// VP8YuvToRgb of yuv.h. VP8 reconstruction itself is normative, so Go's
// planes equal libwebp's. ok is false for a layout this does not handle.
func libwebpRGB(m *image.YCbCr) (out *RGB, ok bool) {
	b := m.Rect
	if b.Min != (image.Point{}) || m.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		return nil, false
	}
	w, h := b.Dx(), b.Dy()
	cw, ch := (w+1)/2, (h+1)/2
	if len(m.Cb) < (ch-1)*m.CStride+cw || len(m.Cr) < (ch-1)*m.CStride+cw || len(m.Y) < (h-1)*m.YStride+w {
		return nil, false
	}
	out = pooledRGB(w, h)
	u := make([]int32, w)
	v := make([]int32, w)
	for y := 0; y < h; y++ {
		// Row 2k-1 leans on chroma row k-1, row 2k on row k; past either
		// edge the near row is used twice (EmitFancyRGB mirrors it).
		near, far := y/2, y/2-1
		if y%2 == 1 {
			near, far = (y-1)/2, (y+1)/2
		}
		far = max(0, min(far, ch-1))
		upsampleRowWebP(u, m.Cb[near*m.CStride:], m.Cb[far*m.CStride:], w)
		upsampleRowWebP(v, m.Cr[near*m.CStride:], m.Cr[far*m.CStride:], w)
		for x := 0; x < w; x++ {
			yy := int32(m.Y[y*m.YStride+x])
			i := 3 * (y*w + x)
			out.Pix[i] = webpClip8(multHi(yy, 19077) + multHi(v[x], 26149) - 14234)
			out.Pix[i+1] = webpClip8(multHi(yy, 19077) - multHi(u[x], 6419) - multHi(v[x], 13320) + 8708)
			out.Pix[i+2] = webpClip8(multHi(yy, 19077) + multHi(u[x], 33050) - 17685)
		}
	}
	return out, true
}

// upsampleRowWebP fills dst[0:w] from the near and far chroma rows as
// UPSAMPLE_FUNC does for one output row.
func upsampleRowWebP(dst []int32, near, far []uint8, w int) {
	dst[0] = (3*int32(near[0]) + int32(far[0]) + 2) >> 2
	last := (w - 1) >> 1
	for x := 1; x <= last; x++ {
		a, b := int32(near[x-1]), int32(near[x])
		c, d := int32(far[x-1]), int32(far[x])
		avg := a + b + c + d + 8
		dst[2*x-1] = ((avg+2*(b+c))>>3 + a) >> 1
		dst[2*x] = ((avg+2*(a+d))>>3 + b) >> 1
	}
	if w&1 == 0 {
		dst[w-1] = (3*int32(near[last]) + int32(far[last]) + 2) >> 2
	}
}

func multHi(v, coeff int32) int32 { return (v * coeff) >> 8 }

// webpClip8 is VP8Clip8: 14-bit fixed point (YUV_FIX2 = 6) to 0..255.
func webpClip8(v int32) uint8 {
	const mask = (256 << 6) - 1
	if v&^mask == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}
