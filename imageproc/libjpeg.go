package imageproc

import "image"

// libjpegRGB converts the YCbCr planes of a decoded JPEG the way
// libjpeg-turbo does by default, which is what Pillow uses: "fancy"
// (triangle-filter) chroma upsampling from jdsample.c, then the fixed-point
// tables of jdcolor.c. Go's image/jpeg leaves chroma subsampled and its
// color.YCbCrToRGB rounds differently; converting here removes most of the
// difference (up to ~20 levels at colour edges for 4:2:0), leaving only the
// IDCT's (usually ±1). On libjpeg-turbo's own planes the result is its output
// bit for bit, for every layout and edge (testdata/jpeglayouts, made with
// libjpeg-turbo 2.1.5). ok is false for layouts this does not handle; the
// caller then falls back to Go's conversion.
func libjpegRGB(m *image.YCbCr) (out *RGB, ok bool) {
	b := m.Rect
	if b.Min != (image.Point{}) {
		return nil, false
	}
	w, h := b.Dx(), b.Dy()
	var hf, vf int
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
		hf, vf = 1, 1
	case image.YCbCrSubsampleRatio422:
		hf, vf = 2, 1
	case image.YCbCrSubsampleRatio420:
		hf, vf = 2, 2
	case image.YCbCrSubsampleRatio440:
		hf, vf = 1, 2
	case image.YCbCrSubsampleRatio411:
		hf, vf = 4, 1
	case image.YCbCrSubsampleRatio410:
		hf, vf = 4, 2
	default:
		return nil, false
	}
	// libjpeg's downsampled_width/height: ceil(size / factor).
	cw, ch := (w+hf-1)/hf, (h+vf-1)/vf
	if len(m.Cb) < (ch-1)*m.CStride+cw || len(m.Cr) < (ch-1)*m.CStride+cw || len(m.Y) < (h-1)*m.YStride+w {
		return nil, false
	}
	cb := upsample(m.Cb, m.CStride, cw, ch, w, h, hf, vf)
	cr := upsample(m.Cr, m.CStride, cw, ch, w, h, hf, vf)
	out = NewRGB(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			yy := int32(m.Y[y*m.YStride+x])
			cbv, crv := cb[y*w+x], cr[y*w+x]
			i := 3 * (y*w + x)
			out.Pix[i] = clampU8(yy + crR[crv])
			out.Pix[i+1] = clampU8(yy + (cbG[cbv]+crG[crv])>>16)
			out.Pix[i+2] = clampU8(yy + cbB[cbv])
		}
	}
	return out, true
}

// jdcolor.c build_ycc_rgb_table, SCALEBITS 16.
var crR, cbB, crG, cbG [256]int32

func init() {
	const half = 1 << 15
	fix := func(v float64) int32 { return int32(v*(1<<16) + 0.5) }
	for i := range 256 {
		x := int32(i) - 128
		crR[i] = (fix(1.40200)*x + half) >> 16
		cbB[i] = (fix(1.77200)*x + half) >> 16
		crG[i] = -fix(0.71414) * x
		cbG[i] = -fix(0.34414)*x + half
	}
}

func clampU8(v int32) uint8 {
	return uint8(max(0, min(v, 255)))
}

// upsample expands a cw×ch chroma plane to w×h as jdsample.c chooses:
// h2v1_fancy_upsample and h2v2_fancy_upsample when the plane is more than 2
// samples wide, h1v2_fancy_upsample, and plain replication otherwise. Rows
// above the first and below the last are the edge rows repeated, as
// jdmainct.c arranges its context rows.
func upsample(p []uint8, stride, cw, ch, w, h, hf, vf int) []uint8 {
	out := make([]uint8, w*h)
	row := func(r int) []uint8 {
		r = max(0, min(r, ch-1))
		return p[r*stride : r*stride+cw]
	}
	line := make([]uint8, 2*cw+4)
	fancyH := hf == 2 && cw > 2
	switch {
	case hf == 2 && vf == 2 && fancyH:
		sum := make([]int32, cw)
		for y := 0; y < h; y++ {
			in0 := row(y / 2)
			in1 := row(y/2 - 1) // v == 0: row above
			if y%2 == 1 {
				in1 = row(y/2 + 1) // v == 1: row below
			}
			for c := range cw {
				sum[c] = 3*int32(in0[c]) + int32(in1[c])
			}
			for c := range cw {
				if c == 0 {
					line[0] = uint8((sum[0]*4 + 8) >> 4)
				} else {
					line[2*c] = uint8((sum[c]*3 + sum[c-1] + 8) >> 4)
				}
				if c == cw-1 {
					line[2*c+1] = uint8((sum[c]*4 + 7) >> 4)
				} else {
					line[2*c+1] = uint8((sum[c]*3 + sum[c+1] + 7) >> 4)
				}
			}
			copy(out[y*w:(y+1)*w], line[:w])
		}
	case hf == 2 && vf == 1 && fancyH:
		for y := 0; y < h; y++ {
			in := row(y)
			for c := range cw {
				v := 3 * int32(in[c])
				if c == 0 {
					line[0] = in[0]
				} else {
					line[2*c] = uint8((v + int32(in[c-1]) + 1) >> 2)
				}
				if c == cw-1 {
					line[2*c+1] = in[c]
				} else {
					line[2*c+1] = uint8((v + int32(in[c+1]) + 2) >> 2)
				}
			}
			copy(out[y*w:(y+1)*w], line[:w])
		}
	case hf == 1 && vf == 2:
		for y := 0; y < h; y++ {
			in0 := row(y / 2)
			in1, bias := row(y/2-1), int32(1)
			if y%2 == 1 {
				in1, bias = row(y/2+1), 2
			}
			for x := 0; x < w; x++ {
				out[y*w+x] = uint8((3*int32(in0[x]) + int32(in1[x]) + bias) >> 2)
			}
		}
	default: // 4:4:4, or replication (h2v1/h2v2 on narrow planes, 4:1:1, 4:1:0)
		for y := 0; y < h; y++ {
			in := row(y / vf)
			for x := 0; x < w; x++ {
				out[y*w+x] = in[x/hf]
			}
		}
	}
	return out
}
