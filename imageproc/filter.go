package imageproc

import (
	"fmt"
	"math"
	"strings"
)

// Filter is a resampling filter, numbered as PIL.Image.Resampling so that the
// "resample" value of a preprocessor_config.json maps onto it directly.
type Filter int

// The PIL filters, with PIL's numbers.
const (
	Nearest  Filter = 0
	Lanczos  Filter = 1
	Bilinear Filter = 2
	Bicubic  Filter = 3
	Box      Filter = 4
	Hamming  Filter = 5
)

var filterNames = [...]string{"nearest", "lanczos", "bilinear", "bicubic", "box", "hamming"}

// String returns the lower-case PIL name ("bicubic").
func (f Filter) String() string {
	if f.Valid() {
		return filterNames[f]
	}
	return fmt.Sprintf("Filter(%d)", int(f))
}

// Valid reports whether f is one of the six PIL filters.
func (f Filter) Valid() bool { return f >= Nearest && f <= Hamming }

// ParseFilter accepts a PIL name in any case ("BICUBIC", "bicubic") or
// "antialias", PIL's old name for Lanczos.
func ParseFilter(s string) (Filter, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	if l == "antialias" {
		return Lanczos, nil
	}
	for i, n := range filterNames {
		if l == n {
			return Filter(i), nil
		}
	}
	return 0, fmt.Errorf("unknown resampling filter %q (want one of %s)", s, strings.Join(filterNames[:], ", "))
}

// kernel is one of Resample.c's filters: the weight function and its support
// (half-width) at scale 1.
type kernel struct {
	fn      func(x float64) float64
	support float64
}

// kernelFor returns Resample.c's filter for f; Nearest has none (it is an
// affine pixel lookup, not a convolution).
func kernelFor(f Filter) (kernel, bool) {
	switch f {
	case Box:
		return kernel{boxKernel, 0.5}, true
	case Bilinear:
		return kernel{bilinearKernel, 1}, true
	case Hamming:
		return kernel{hammingKernel, 1}, true
	case Bicubic:
		return kernel{bicubicKernel, 2}, true
	case Lanczos:
		return kernel{lanczosKernel, 3}, true
	}
	return kernel{}, false
}

// The kernels follow Resample.c operation by operation. The explicit float64()
// conversions forbid the compiler from fusing a multiply and an add (Go may
// emit FMA on some targets; Pillow's x86-64 build does not), so the weights
// round exactly as in C.

func boxKernel(x float64) float64 {
	if x > -0.5 && x <= 0.5 {
		return 1
	}
	return 0
}

func bilinearKernel(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// Pillow writes the Hamming constants as float literals (0.54f, 0.46f), so
// they are the float32 values widened to double.
var hammingA, hammingB = float64(float32(0.54)), float64(float32(0.46))

func hammingKernel(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x == 0 {
		return 1
	}
	if x >= 1 {
		return 0
	}
	x = x * math.Pi
	return math.Sin(x) / x * (hammingA + float64(hammingB*math.Cos(x)))
}

func bicubicKernel(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		// ((a+2)*x - (a+3)) * x * x + 1
		t := float64((a + 2) * x)
		t = float64(float64(t-(a+3)) * x)
		return float64(t*x) + 1
	}
	if x < 2 {
		// (((x-5)*x + 8)*x - 4) * a
		t := float64((x - 5) * x)
		t = float64((t + 8) * x)
		return (t - 4) * a
	}
	return 0
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	x = x * math.Pi
	return math.Sin(x) / x
}

func lanczosKernel(x float64) float64 {
	if -3 <= x && x < 3 {
		return sinc(x) * sinc(x/3)
	}
	return 0
}
