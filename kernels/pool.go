package kernels

import "fmt"

// MaxPool2D is PyTorch's MaxPool2d for one image (ceil_mode false,
// dilation 1): in is c×h×w, out is c×oh×ow with oh = (h+2·pad-k)/stride+1
// (likewise ow); both may be longer, only the prefixes are used. Padding counts as -∞, so it never wins; a NaN in a window
// makes that output NaN, as in PyTorch. It panics with the CheckMaxPool2D
// error on bad arguments.
func MaxPool2D(c, h, w, k, stride, pad int, in, out []float32) {
	if err := CheckMaxPool2D(c, h, w, k, stride, pad, len(in), len(out)); err != nil {
		panic(err)
	}
	oh, ow := (h+2*pad-k)/stride+1, (w+2*pad-k)/stride+1
	chunks := chunksFor(c, c*oh*ow*k*k)
	asm := curISA().asm && k == 3 && stride == 2 && pad == 1
	parallel(chunks, func(i int) {
		for ch := i * c / chunks; ch < (i+1)*c/chunks; ch++ {
			src, dst := in[ch*h*w:(ch+1)*h*w], out[ch*oh*ow:(ch+1)*oh*ow]
			switch {
			case asm:
				maxPool3s2Plane(h, w, oh, ow, src, dst)
			case k == 3 && stride == 2 && pad == 1:
				maxPool3s2PlaneGo(h, w, oh, ow, src, dst)
			default:
				maxPoolPlane(h, w, k, stride, pad, oh, ow, src, dst)
			}
		}
	})
}

// maxPool3s2Plane is maxPoolPlane for the ResNet stem's 3×3, stride-2,
// padding-1 pool on the assembly kernel: a padding row is passed as a second
// copy of a valid one, which changes no maximum.
func maxPool3s2Plane(h, w, oh, ow int, in, out []float32) {
	for y := range oh {
		y0, y2 := max(2*y-1, 0), min(2*y+1, h-1)
		r0, r1, r2 := in[y0*w:(y0+1)*w], in[2*y*w:(2*y+1)*w], in[y2*w:(y2+1)*w]
		o := out[y*ow : (y+1)*ow]
		maxPool3s2Row(&r0[0], &r1[0], &r2[0], w, &o[0], ow)
	}
}

// maxPool3s2PlaneGo is maxPool3s2Plane in portable Go (the go and neon
// paths): each column's maximum over the three rows is taken once and
// serves two windows, and the built-in max keeps a NaN. Padding is a copy of
// a valid row or column, which changes no maximum. 3.3× maxPoolPlane on a
// plane of ResNet's stem pool (112×112 → 56×56: 11.7 against 38.6 µs, Zen 4).
func maxPool3s2PlaneGo(h, w, oh, ow int, in, out []float32) {
	for y := range oh {
		y0, y2 := max(2*y-1, 0), min(2*y+1, h-1)
		r0, r1, r2 := in[y0*w:(y0+1)*w], in[2*y*w:(2*y+1)*w], in[y2*w:(y2+1)*w]
		o := out[y*ow : (y+1)*ow]
		prev := max(r0[0], r1[0], r2[0]) // column -1: padding
		for x := range o {
			c0 := max(r0[2*x], r1[2*x], r2[2*x])
			c1 := c0 // column w: padding
			if 2*x+1 < w {
				c1 = max(r0[2*x+1], r1[2*x+1], r2[2*x+1])
			}
			o[x] = max(prev, c0, c1)
			prev = c1
		}
	}
}

// maxPoolPlane pools one channel; windows are clipped to the image (never
// empty because pad ≤ k/2).
func maxPoolPlane(h, w, k, stride, pad, oh, ow int, in, out []float32) {
	for y := 0; y < oh; y++ {
		y0, y1 := max(y*stride-pad, 0), min(y*stride-pad+k, h)
		for x := 0; x < ow; x++ {
			x0, x1 := max(x*stride-pad, 0), min(x*stride-pad+k, w)
			m := in[y0*w+x0]
			for yy := y0; yy < y1; yy++ {
				for _, v := range in[yy*w+x0 : yy*w+x1] {
					if v > m || v != v { // once m is NaN nothing replaces it
						m = v
					}
				}
			}
			out[y*ow+x] = m
		}
	}
}

// CheckMaxPool2D reports whether MaxPool2D accepts these arguments. Like
// PyTorch it requires pad ≤ k/2. in and out may be longer than needed.
func CheckMaxPool2D(c, h, w, k, stride, pad, lenIn, lenOut int) error {
	switch {
	case c < 1 || h < 1 || w < 1:
		return fmt.Errorf("kernels: maxpool: input %d×%d×%d must be non-empty", c, h, w)
	case k < 1 || stride < 1 || pad < 0:
		return fmt.Errorf("kernels: maxpool: kernel %d, stride %d, pad %d: need kernel ≥ 1, stride ≥ 1, pad ≥ 0", k, stride, pad)
	case 2*pad > k:
		return fmt.Errorf("kernels: maxpool: pad %d must be at most half the kernel %d", pad, k)
	case h+2*pad < k || w+2*pad < k:
		return fmt.Errorf("kernels: maxpool: kernel %d larger than the padded input %d×%d", k, h+2*pad, w+2*pad)
	}
	oh, ow := (h+2*pad-k)/stride+1, (w+2*pad-k)/stride+1
	if lenIn < c*h*w {
		return fmt.Errorf("kernels: maxpool: input has %d values, want at least %d (%d×%d×%d)", lenIn, c*h*w, c, h, w)
	}
	if lenOut < c*oh*ow {
		return fmt.Errorf("kernels: maxpool: output has %d values, want at least %d (%d×%d×%d)", lenOut, c*oh*ow, c, oh, ow)
	}
	return nil
}

// GlobalAvgPool writes the mean of each of the c channels of in (c×hw
// values) to out (c values); longer slices are allowed, only the prefixes are
// used. Each sum is accumulated in float64 and rounded once, so the result is
// the correctly rounded mean up to float64 error (PyTorch sums in float32
// with a different order, so the two may differ in the last bit). It panics
// if a slice is too short.
func GlobalAvgPool(c, hw int, in, out []float32) {
	if c < 0 || hw < 1 || len(in) < c*hw || len(out) < c {
		panic(fmt.Errorf("kernels: global average pool of %d channels × %d values: input has %d values, output %d", c, hw, len(in), len(out)))
	}
	// Split by channels, each thread a contiguous range: the layer before
	// split its output channels alike (ResNet-50's last 1×1 layer by rows),
	// so each thread sums values in its own core's cache. A float64 add
	// chain of hw values a channel costs about three simple operations a
	// value: ResNet-50's 2048×49 values took 50 µs on one Intel Xeon thread
	// (session 20), 59–105 µs on two unsplit.
	chunks := chunksFor(c, 3*c*hw)
	parallel(chunks, func(i int) {
		for ch := i * c / chunks; ch < (i+1)*c/chunks; ch++ {
			var s float64
			for _, v := range in[ch*hw : (ch+1)*hw] {
				s += float64(v)
			}
			out[ch] = float32(s / float64(hw))
		}
	})
}

// chunksFor splits n independent items of total cost work (≈ simple
// operations) into at most Threads() chunks worth a goroutine each.
func chunksFor(n, work int) int {
	return max(1, min(n, Threads(), work/(1<<16)))
}
