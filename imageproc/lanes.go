package imageproc

import "image"

// Two-lane fixed-point resampling.
//
// Resample.c sums each channel in an int32. Here a pixel is widened once to
// two int64 words, rb = R + B<<32 and g = G, so one 64-bit multiply-add by a
// tap weight w advances the R and B sums together: w*(R + B<<32) = w*R +
// (w*B)<<32 exactly. While every partial sum fits in an int32 (lanesFit), the
// low lane is int32(rb) and the high lane (rb - low)>>32, the same integers
// Resample.c computes, so the bytes are Pillow's. That halves the multiplies;
// with both passes fused per band of output rows (the horizontal results for
// the few rows the vertical taps need live in a small ring of widened rows,
// not a full uint8 intermediate image) the ImageNet resize of a 512×512 JPEG
// (to 256², 224² crop, bicubic) went from 3.3 ms to 2.06 ms on one Zen 4 core
// (0.46 ms with the AVX2 kernels of resample_avx2.go).

// pair is one pixel widened for two-lane sums.
type pair struct{ rb, g int64 }

const (
	halfFixed = 1 << (precisionBits - 1) // the rounding term every sum starts from
	halfPair  = halfFixed | halfFixed<<32
)

// lanesFit reports whether no sum over c's taps can leave the int32 range for
// 8-bit pixels: half plus 255 times the largest sum of |weight| of any output
// pixel stays below 2^31. PIL's filters give about 1.1–1.5 (in units of
// 2^22), far inside that.
func lanesFit(c *axisCoeffs) bool {
	for i, n := range c.count {
		var s int64
		for _, w := range c.k[i*c.ksize : i*c.ksize+n] {
			s += max(int64(w), -int64(w))
		}
		if halfFixed+255*s >= 1<<31 {
			return false
		}
	}
	return true
}

// widen converts RGB bytes to pairs.
func widen(dst []pair, pix []uint8) {
	pix = pix[:3*len(dst)]
	for i := range dst {
		p := pix[3*i : 3*i+3 : 3*i+3]
		dst[i] = pair{int64(p[0]) | int64(p[2])<<32, int64(p[1])}
	}
}

// clipPair splits two-lane sums and applies clip8 to each channel, giving a
// widened pixel again.
func clipPair(rb, g int64) pair {
	lo := int64(int32(rb))
	hi := (rb - lo) >> 32
	return pair{clip8x(lo) | clip8x(hi)<<32, clip8x(int64(int32(g)))}
}

// clip8x is clip8 for a lane value already known to be an int32, written
// with min and max so that it compiles to conditional moves: resampled
// pixels clip often, and mispredicted branches cost more than the sums.
func clip8x(v int64) int64 {
	return min(max(v>>precisionBits, 0), 255)
}

// storePairs writes widened pixels as RGB bytes.
func storePairs(dst []uint8, src []pair) {
	dst = dst[:3*len(src)]
	for i, p := range src {
		d := dst[3*i : 3*i+3 : 3*i+3]
		d[0], d[1], d[2] = uint8(p.rb), uint8(p.g), uint8(p.rb>>32)
	}
}

// hTaps are an axis's taps laid out for horizontalLanes: each output pixel
// has ks+1 words, the first source pixel it reads (relative to the first
// source column read) then ks weights, zero-padded and shifted so that every
// output pixel has exactly ks taps inside the source row. One slice walked
// in step keeps the loop's live values few enough for the registers.
type hTaps struct {
	ks  int
	tap []int64
}

// newHTaps lays out c for a source row of srcW pixels, the first read being
// column base. ks is the most taps any output pixel has (often less than
// ksize: 7 of 9 for bicubic halving), never more than srcW.
func newHTaps(c *axisCoeffs, srcW int) (t hTaps, lo, hi int) {
	ks := 1
	for _, n := range c.count {
		ks = max(ks, n)
	}
	n := len(c.count)
	t = hTaps{ks: ks, tap: make([]int64, n*(ks+1))}
	lo, hi = srcW, 0
	for x := range n {
		f := c.first[x]
		s := max(min(f, srcW-ks), 0)
		lo, hi = min(lo, s), max(hi, s+ks)
		tx := t.tap[x*(ks+1) : (x+1)*(ks+1)]
		tx[0] = int64(s)
		for i, w := range c.k[x*c.ksize : x*c.ksize+c.count[x]] {
			tx[1+f-s+i] = int64(w)
		}
	}
	for x := range n {
		t.tap[x*(ks+1)] -= int64(lo)
	}
	return t, lo, hi
}

// horizontalLanes resamples one widened source row.
func horizontalLanes(dst, src []pair, t *hTaps) {
	ks := t.ks
	tap := t.tap
	for x := range dst {
		tx := tap[x*(ks+1) : (x+1)*(ks+1)]
		dst[x] = dotLanes(tx[1:], src[tx[0]:])
	}
}

// dotLanes is one output pixel: the clipped two-lane sums of w[i]*p[i]. The
// taps go four at a time through array pointers (no bounds checks or slice
// updates inside the loop), then the last one to three in one step; as its
// own function the loop keeps its sums in registers.
func dotLanes(w []int64, p []pair) pair {
	rb, g := int64(halfPair), int64(halfFixed)
	p = p[:len(w)]
	i := 0
	for ; i+4 <= len(w); i += 4 {
		w4, p4 := (*[4]int64)(w[i:i+4]), (*[4]pair)(p[i:i+4])
		rb += w4[0]*p4[0].rb + w4[1]*p4[1].rb + w4[2]*p4[2].rb + w4[3]*p4[3].rb
		g += w4[0]*p4[0].g + w4[1]*p4[1].g + w4[2]*p4[2].g + w4[3]*p4[3].g
	}
	switch len(w) - i {
	case 3:
		w3, p3 := (*[3]int64)(w[i:i+3]), (*[3]pair)(p[i:i+3])
		rb += w3[0]*p3[0].rb + w3[1]*p3[1].rb + w3[2]*p3[2].rb
		g += w3[0]*p3[0].g + w3[1]*p3[1].g + w3[2]*p3[2].g
	case 2:
		w2, p2 := (*[2]int64)(w[i:i+2]), (*[2]pair)(p[i:i+2])
		rb += w2[0]*p2[0].rb + w2[1]*p2[1].rb
		g += w2[0]*p2[0].g + w2[1]*p2[1].g
	case 1:
		rb += w[i] * p[i].rb
		g += w[i] * p[i].g
	}
	return clipPair(rb, g)
}

// verticalLanes sums widened rows rows[t] with weights k[t] into dst.
func verticalLanes(dst []pair, rows [][]pair, k []int32) {
	n := len(dst)
	t := 0
	for i := range dst {
		dst[i] = pair{halfPair, halfFixed}
	}
	for ; t+4 <= len(k); t += 4 {
		r0, r1, r2, r3 := rows[t][:n], rows[t+1][:n], rows[t+2][:n], rows[t+3][:n]
		w0, w1, w2, w3 := int64(k[t]), int64(k[t+1]), int64(k[t+2]), int64(k[t+3])
		for i := range dst {
			a := &dst[i]
			a.rb += w0*r0[i].rb + w1*r1[i].rb + w2*r2[i].rb + w3*r3[i].rb
			a.g += w0*r0[i].g + w1*r1[i].g + w2*r2[i].g + w3*r3[i].g
		}
	}
	for ; t < len(k); t++ {
		r0, w0 := rows[t][:n], int64(k[t])
		for i := range dst {
			a := &dst[i]
			a.rb += w0 * r0[i].rb
			a.g += w0 * r0[i].g
		}
	}
	for i, a := range dst {
		dst[i] = clipPair(a.rb, a.g)
	}
}

// resampleLanes computes region r of the resize with the two-lane sums, in
// bands of output rows. horiz and vert are the taps of the axes that change
// size (nil for an axis that keeps its size); r's columns and rows index the
// resized image, or the source along an axis that keeps its size.
func resampleLanes(src *RGB, r image.Rectangle, horiz, vert *axisCoeffs) *RGB {
	out := NewRGB(r.Dx(), r.Dy())
	ow, oh := r.Dx(), r.Dy()
	// Source columns read: the horizontal taps' span, or the region's own.
	colLo, colHi := r.Min.X, r.Max.X
	if horiz != nil {
		colLo, colHi = horiz.first[0], horiz.first[ow-1]+horiz.count[ow-1]
	}
	// srcRow widens the needed part of source row y and, with a horizontal
	// pass, resamples it into dst.
	var ht hTaps
	if horiz != nil {
		ht, colLo, colHi = newHTaps(horiz, src.W)
	}
	srcRow := func(dst, wide []pair, y int) {
		pix := src.Pix[3*(y*src.W+colLo) : 3*(y*src.W+colHi)]
		if horiz == nil {
			widen(dst, pix)
			return
		}
		widen(wide, pix)
		horizontalLanes(dst, wide, &ht)
	}
	work := ow * 3
	if horiz != nil {
		work *= horiz.ksize
	}
	if vert != nil {
		work *= vert.ksize
	}
	parallelRows(oh, work, func(y0, y1 int) {
		wide := make([]pair, colHi-colLo)
		line := make([]pair, ow)
		if vert == nil {
			for y := y0; y < y1; y++ {
				srcRow(line, wide, r.Min.Y+y)
				storePairs(out.Pix[3*y*ow:3*(y+1)*ow], line)
			}
			return
		}
		// ring holds the last K source rows resampled horizontally: row m
		// in slot m%K. The taps of output row y read rows first..first+count,
		// a window that only moves down and is never wider than K.
		k := vert.ksize
		ring := make([][]pair, k)
		for i := range ring {
			ring[i] = make([]pair, ow)
		}
		rows := make([][]pair, k)
		next := 0 // rows below next are in the ring (or not needed)
		for y := y0; y < y1; y++ {
			first, n := vert.first[y], vert.count[y]
			for m := max(next, first); m < first+n; m++ {
				srcRow(ring[m%k], wide, m)
			}
			next = max(next, first+n)
			for t := range n {
				rows[t] = ring[(first+t)%k]
			}
			verticalLanes(line, rows[:n], vert.k[y*k:y*k+n])
			storePairs(out.Pix[3*y*ow:3*(y+1)*ow], line)
		}
	})
	return out
}
