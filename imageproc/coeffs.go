package imageproc

import "math"

// precisionBits is Resample.c's PRECISION_BITS: weights are fixed point with
// 22 fractional bits, leaving room in an int32 for 8-bit pixels and for
// negative lobes that push a sum below 0 or above 255.
const precisionBits = 32 - 8 - 2

// axisCoeffs are the taps of one axis, as Resample.c's precompute_coeffs and
// normalize_coeffs_8bpc compute them, for output pixels lo..hi-1 only: output
// pixel lo+i reads count[i] source pixels starting at first[i] with weights
// k[i*ksize : i*ksize+count[i]]. Each output pixel's taps depend on nothing
// but its own index, so computing a sub-range gives the same weights.
type axisCoeffs struct {
	ksize  int
	first  []int
	count  []int
	k      []int32   // fixed point, what the passes use
	kFloat []float64 // normalized double weights before rounding (tests)
}

// precomputeCoeffs mirrors precompute_coeffs for box (0, inSize) and then
// rounds the weights to fixed point, for output pixels lo..hi-1 of outSize.
// Every floating-point step is in the same order as the C so that the rounded
// integer weights are identical.
func precomputeCoeffs(inSize, outSize, lo, hi int, kn kernel) *axisCoeffs {
	// Pillow passes the box as C floats: (double)(in1 - in0) with in0 = 0.
	scale := float64(float32(inSize)) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := kn.support * filterscale
	ksize := int(math.Ceil(support))*2 + 1

	n := hi - lo
	c := &axisCoeffs{
		ksize:  ksize,
		first:  make([]int, n),
		count:  make([]int, n),
		k:      make([]int32, n*ksize),
		kFloat: make([]float64, n*ksize),
	}
	ss := 1 / filterscale
	for i := 0; i < n; i++ {
		xx := lo + i
		center := float64((float64(xx) + 0.5) * scale)
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		k := c.kFloat[i*ksize : (i+1)*ksize]
		ww := 0.0
		for x := 0; x < xmax; x++ {
			w := kn.fn((float64(x+xmin) - center + 0.5) * ss)
			k[x] = w
			ww += w
		}
		if ww != 0 {
			for x := 0; x < xmax; x++ {
				k[x] /= ww
			}
		}
		c.first[i] = xmin
		c.count[i] = max(xmax, 0)
		for x, w := range k {
			c.k[i*ksize+x] = toFixed(w)
		}
	}
	return c
}

// toFixed is normalize_coeffs_8bpc for one weight: round half away from zero
// by adding ±0.5 and truncating.
func toFixed(w float64) int32 {
	const one = 1 << precisionBits
	if w < 0 {
		return int32(-0.5 + float64(w*one))
	}
	return int32(0.5 + float64(w*one))
}

// clip8 is Resample.c's clip8: drop the fraction (arithmetic shift, i.e. floor)
// and clamp to 0..255.
func clip8(v int32) uint8 {
	v >>= precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}
