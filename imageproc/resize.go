package imageproc

import (
	"fmt"
	"image"
)

// Resize returns src resized to w×h exactly as Pillow's
// Image.resize((w, h), resample=f, reducing_gap=None) does for an RGB image.
//
// For all filters but Nearest this is Resample.c: per-axis convolution with
// the kernel stretched by the downscale factor (antialiasing), 22-bit fixed
// point weights, a horizontal pass over only the source rows the vertical pass
// reads, stored as uint8, then the vertical pass; an axis whose size does not
// change is not resampled. Nearest is Pillow's affine nearest-neighbour scale.
// When the size does not change at all the result is a copy.
//
// It panics if w or h is below 1, f is not a PIL filter, or src is malformed:
// those are programming errors, not bad input data.
func Resize(src *RGB, w, h int, f Filter) *RGB {
	return ResizeRegion(src, w, h, f, image.Rect(0, 0, w, h))
}

// ResizeRegion returns the part r of Resize(src, w, h, f) without computing
// the rest: every output pixel of Pillow's resampler depends only on its own
// coordinates, so a centre crop of a large resize costs only the crop. r must
// lie within the w×h output.
func ResizeRegion(src *RGB, w, h int, f Filter, r image.Rectangle) *RGB {
	if err := src.Check(); err != nil {
		panic(err)
	}
	if w < 1 || h < 1 {
		panic(fmt.Sprintf("imageproc: Resize to %dx%d: height and width must be > 0", w, h))
	}
	if !f.Valid() {
		panic(fmt.Sprintf("imageproc: Resize with unknown filter %v", f))
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
	if f == Nearest {
		return resizeNearest(src, w, h, r)
	}
	kn, _ := kernelFor(f)
	needH, needV := w != src.W, h != src.H
	var horiz, vert *axisCoeffs
	if needH {
		horiz = precomputeCoeffs(src.W, w, r.Min.X, r.Max.X, kn)
	}
	if needV {
		vert = precomputeCoeffs(src.H, h, r.Min.Y, r.Max.Y, kn)
	}
	if (horiz == nil || lanesFit(horiz)) && (vert == nil || lanesFit(vert)) {
		if useAVX2() {
			return resampleAVX2(src, r, horiz, vert)
		}
		return resampleLanes(src, r, horiz, vert)
	}
	return resampleTwoPass(src, r, horiz, vert)
}

// resampleTwoPass is Resample.c's order of work with int32 sums: the
// horizontal pass over every source row the vertical taps read, stored as
// uint8, then the vertical pass. It serves the weights for which
// resampleLanes's 32-bit lanes could overflow (none of the PIL filters at
// ordinary scales; see lanesFit).
func resampleTwoPass(src *RGB, r image.Rectangle, horiz, vert *axisCoeffs) *RGB {
	// Source rows the result needs: those the vertical taps read, or the
	// region's own rows when there is no vertical pass.
	rowLo, rowHi := r.Min.Y, r.Max.Y
	if vert != nil {
		n := r.Dy()
		rowLo, rowHi = vert.first[0], vert.first[n-1]+vert.count[n-1]
		for i := range vert.first {
			vert.first[i] -= rowLo
		}
	}
	var mid *RGB
	if horiz != nil {
		mid = NewRGB(r.Dx(), rowHi-rowLo)
		resampleHorizontal(mid, src, rowLo, horiz)
	} else {
		mid = subImage(src, image.Rect(r.Min.X, rowLo, r.Max.X, rowHi))
	}
	if vert == nil {
		return mid
	}
	out := NewRGB(mid.W, r.Dy())
	resampleVertical(out, mid, vert)
	return out
}

// subImage copies the part r of src.
func subImage(src *RGB, r image.Rectangle) *RGB {
	out := NewRGB(r.Dx(), r.Dy())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		copy(out.Pix[3*(y-r.Min.Y)*out.W:], src.Pix[3*(y*src.W+r.Min.X):3*(y*src.W+r.Max.X)])
	}
	return out
}

// resampleHorizontal fills each row y of dst from source row y+offset.
func resampleHorizontal(dst, src *RGB, offset int, c *axisCoeffs) {
	const half = 1 << (precisionBits - 1)
	sstride, dstride := 3*src.W, 3*dst.W
	parallelRows(dst.H, dst.W*c.ksize, func(y0, y1 int) {
		for yy := y0; yy < y1; yy++ {
			row := src.Pix[(yy+offset)*sstride : (yy+offset+1)*sstride]
			out := dst.Pix[yy*dstride : (yy+1)*dstride]
			for xx := 0; xx < dst.W; xx++ {
				n := c.count[xx]
				k := c.k[xx*c.ksize : xx*c.ksize+n]
				p := row[3*c.first[xx] : 3*(c.first[xx]+n)]
				s0, s1, s2 := int32(half), int32(half), int32(half)
				for len(k) > 0 && len(p) >= 3 { // shaped so the compiler drops bounds checks
					w := k[0]
					s0 += int32(p[0]) * w
					s1 += int32(p[1]) * w
					s2 += int32(p[2]) * w
					k, p = k[1:], p[3:]
				}
				out[3*xx], out[3*xx+1], out[3*xx+2] = clip8(s0), clip8(s1), clip8(s2)
			}
		}
	})
}

// resampleVertical fills dst row by row, adding whole source rows scaled by
// each tap; integer sums do not depend on the order of addition, so this
// cache-friendly order gives Pillow's bytes.
func resampleVertical(dst, src *RGB, c *axisCoeffs) {
	const half = 1 << (precisionBits - 1)
	stride := 3 * src.W
	parallelRows(dst.H, dst.W*c.ksize, func(y0, y1 int) {
		acc := make([]int32, stride)
		for yy := y0; yy < y1; yy++ {
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
	})
}

// resizeNearest is ImagingScaleAffine as Pillow's resize calls it for NEAREST:
// source coordinate (x+0.5)*in/out, accumulated by repeated addition from 0 (so
// the rounding drift matches the C), truncated; pixels whose coordinate falls
// outside the source stay black. Only region r is produced.
func resizeNearest(src *RGB, w, h int, r image.Rectangle) *RGB {
	out := NewRGB(r.Dx(), r.Dy())
	xin := nearestTable(src.W, w, r.Min.X, r.Max.X)
	yin := nearestTable(src.H, h, r.Min.Y, r.Max.Y)
	for y, yi := range yin {
		if yi < 0 {
			continue
		}
		srow := src.Pix[yi*3*src.W:]
		drow := out.Pix[y*3*out.W:]
		for x, xi := range xin {
			if xi >= 0 {
				copy(drow[3*x:3*x+3], srow[3*xi:3*xi+3])
			}
		}
	}
	return out
}

// nearestTable returns the source index of outputs lo..hi-1 (-1 when outside).
func nearestTable(in, out, lo, hi int) []int {
	a := float64(float32(in)) / float64(out) // box given as C floats
	t := make([]int, hi-lo)
	v := a * 0.5
	for x := 0; x < hi; x++ {
		if x >= lo {
			xi := coord(v)
			if xi >= in {
				xi = -1
			}
			t[x-lo] = xi
		}
		v += a
	}
	return t
}

// coord is Geometry.c's COORD: truncation, with every negative value mapped to
// -1 (so -0.5 is outside, not pixel 0).
func coord(v float64) int {
	if v < 0 {
		return -1
	}
	return int(v)
}
