package imageproc

import "image"

// Frozen copies of the straightforward implementations that the fast paths
// replaced (as of e707abf). Every fast path is checked against these on
// random sizes, so a speed-up can never change an output byte.

// refResizeRegion is the two-pass resampler: a horizontal pass over the source
// rows the vertical pass reads, stored as uint8, then the vertical pass, with
// int32 sums as in Resample.c.
func refResizeRegion(src *RGB, w, h int, f Filter, r image.Rectangle) *RGB {
	if src.W == w && src.H == h {
		return subImage(src, r)
	}
	if f == Nearest {
		return resizeNearest(src, w, h, r)
	}
	kn, _ := kernelFor(f)
	needH, needV := w != src.W, h != src.H
	rowLo, rowHi := r.Min.Y, r.Max.Y
	var vert *axisCoeffs
	if needV {
		vert = precomputeCoeffs(src.H, h, r.Min.Y, r.Max.Y, kn)
		n := r.Dy()
		rowLo, rowHi = vert.first[0], vert.first[n-1]+vert.count[n-1]
		for i := range vert.first {
			vert.first[i] -= rowLo
		}
	}
	var mid *RGB
	if needH {
		horiz := precomputeCoeffs(src.W, w, r.Min.X, r.Max.X, kn)
		mid = NewRGB(r.Dx(), rowHi-rowLo)
		refResampleHorizontal(mid, src, rowLo, horiz)
	} else {
		mid = subImage(src, image.Rect(r.Min.X, rowLo, r.Max.X, rowHi))
	}
	if !needV {
		return mid
	}
	out := NewRGB(mid.W, r.Dy())
	refResampleVertical(out, mid, vert)
	return out
}

func refResampleHorizontal(dst, src *RGB, offset int, c *axisCoeffs) {
	const half = 1 << (precisionBits - 1)
	sstride, dstride := 3*src.W, 3*dst.W
	for yy := 0; yy < dst.H; yy++ {
		row := src.Pix[(yy+offset)*sstride : (yy+offset+1)*sstride]
		out := dst.Pix[yy*dstride : (yy+1)*dstride]
		for xx := 0; xx < dst.W; xx++ {
			n := c.count[xx]
			k := c.k[xx*c.ksize : xx*c.ksize+n]
			p := row[3*c.first[xx] : 3*(c.first[xx]+n)]
			s0, s1, s2 := int32(half), int32(half), int32(half)
			for len(k) > 0 && len(p) >= 3 {
				w := k[0]
				s0 += int32(p[0]) * w
				s1 += int32(p[1]) * w
				s2 += int32(p[2]) * w
				k, p = k[1:], p[3:]
			}
			out[3*xx], out[3*xx+1], out[3*xx+2] = clip8(s0), clip8(s1), clip8(s2)
		}
	}
}

func refResampleVertical(dst, src *RGB, c *axisCoeffs) {
	const half = 1 << (precisionBits - 1)
	stride := 3 * src.W
	acc := make([]int32, stride)
	for yy := 0; yy < dst.H; yy++ {
		for i := range acc {
			acc[i] = half
		}
		n := c.count[yy]
		k := c.k[yy*c.ksize : yy*c.ksize+n]
		for t, w := range k {
			row := src.Pix[(c.first[yy]+t)*stride : (c.first[yy]+t+1)*stride]
			a := acc[:len(row)]
			for i, v := range row {
				a[i] += int32(v) * w
			}
		}
		out := dst.Pix[yy*stride : (yy+1)*stride]
		for i, v := range acc {
			out[i] = clip8(v)
		}
	}
}

// refLibjpegRGB is the plane-at-a-time libjpeg-turbo conversion: upsample each
// chroma plane to full size, then convert pixel by pixel.
func refLibjpegRGB(m *image.YCbCr) (out *RGB, ok bool) {
	b := m.Rect
	if b.Min != (image.Point{}) {
		return nil, false
	}
	w, h := b.Dx(), b.Dy()
	hf, vf, ok := subsampling(m.SubsampleRatio)
	if !ok {
		return nil, false
	}
	cw, ch := (w+hf-1)/hf, (h+vf-1)/vf
	if len(m.Cb) < (ch-1)*m.CStride+cw || len(m.Cr) < (ch-1)*m.CStride+cw || len(m.Y) < (h-1)*m.YStride+w {
		return nil, false
	}
	cb := refUpsample(m.Cb, m.CStride, cw, ch, w, h, hf, vf)
	cr := refUpsample(m.Cr, m.CStride, cw, ch, w, h, hf, vf)
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

func refUpsample(p []uint8, stride, cw, ch, w, h, hf, vf int) []uint8 {
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
			in1 := row(y/2 - 1)
			if y%2 == 1 {
				in1 = row(y/2 + 1)
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
	default:
		for y := 0; y < h; y++ {
			in := row(y / vf)
			for x := 0; x < w; x++ {
				out[y*w+x] = in[x/hf]
			}
		}
	}
	return out
}
