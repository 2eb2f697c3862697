package imageproc

import (
	"image"
	"math/rand/v2"
	"testing"

	"github.com/resnet-go/resnet/internal/isatest"
)

// The resampler (the two-lane Go code, or the AVX2 kernels) gives the bytes
// of the frozen two-pass reference for random sizes (up, down, one axis
// unchanged, tiny), every filter and random regions, on every
// instruction-set path this CPU runs.
func TestResizeLanesMatchReference(t *testing.T) { isatest.Run(t, testResizeMatchesReference) }

// The Pillow fixtures, on every instruction-set path.
func TestResizeMatchesPillowEveryISA(t *testing.T) { isatest.Run(t, TestResizeMatchesPillow) }

func testResizeMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dim := func() int {
		switch rng.IntN(4) {
		case 0:
			return 1 + rng.IntN(4)
		case 1:
			return 1 + rng.IntN(40)
		default:
			return 1 + rng.IntN(300)
		}
	}
	n := 600
	if testing.Short() {
		n = 150
	}
	for i := range n {
		sw, sh := dim(), dim()
		w, h := dim(), dim()
		switch rng.IntN(5) {
		case 0:
			w = sw
		case 1:
			h = sh
		}
		src := randRGB(sw, sh, uint32(i))
		f := Filter(rng.IntN(6))
		x0, y0 := rng.IntN(w), rng.IntN(h)
		r := image.Rect(x0, y0, x0+1+rng.IntN(w-x0), y0+1+rng.IntN(h-y0))
		if rng.IntN(3) == 0 {
			r = image.Rect(0, 0, w, h)
		}
		got := ResizeRegion(src, w, h, f, r)
		want := refResizeRegion(src, w, h, f, r)
		if msg, _ := diffRGB(got, want); msg != "" {
			t.Fatalf("%dx%d -> %dx%d %v region %v: %s", sw, sh, w, h, f, r, msg)
		}
	}
}

// resampleTwoPass, kept for weights whose sums could overflow a 32-bit lane,
// still matches the reference (no PIL filter reaches it through Resize).
func TestResampleTwoPassMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 100 {
		sw, sh, w, h := 1+rng.IntN(120), 1+rng.IntN(120), 1+rng.IntN(120), 1+rng.IntN(120)
		f := Filter(1 + rng.IntN(5))
		kn, _ := kernelFor(f)
		src := randRGB(sw, sh, uint32(i))
		r := image.Rect(0, 0, w, h)
		var horiz, vert *axisCoeffs
		if w != sw {
			horiz = precomputeCoeffs(sw, w, 0, w, kn)
		}
		if h != sh {
			vert = precomputeCoeffs(sh, h, 0, h, kn)
		}
		if horiz == nil && vert == nil {
			continue
		}
		got := resampleTwoPass(src, r, horiz, vert)
		if msg, _ := diffRGB(got, refResizeRegion(src, w, h, f, r)); msg != "" {
			t.Fatalf("%dx%d -> %dx%d %v: %s", sw, sh, w, h, f, msg)
		}
	}
}

func TestLanesFitBound(t *testing.T) {
	for f := Lanczos; f <= Hamming; f++ {
		kn, _ := kernelFor(f)
		for _, sz := range [][2]int{{640, 341}, {5, 300}, {300, 5}, {1, 9}, {2, 1000}, {1000, 3}} {
			if c := precomputeCoeffs(sz[0], sz[1], 0, sz[1], kn); !lanesFit(c) {
				t.Errorf("%v %d->%d: lanes do not fit", f, sz[0], sz[1])
			}
		}
	}
	big := &axisCoeffs{ksize: 2, first: []int{0}, count: []int{2}, k: []int32{1 << 23, 1 << 23}}
	if lanesFit(big) {
		t.Error("weights summing to 4.0 accepted")
	}
}

// The row-at-a-time conversion (Go, or the AVX2 kernels) gives the
// plane-at-a-time reference's bytes for every layout, odd and even sizes,
// narrow planes and padded strides, on every instruction-set path.
func TestLibjpegRGBMatchesReference(t *testing.T) { isatest.Run(t, testLibjpegRGBMatchesReference) }

// libjpeg-turbo's own planes, upsampled and converted, on every path.
func TestJPEGLayoutsUpsampleExactEveryISA(t *testing.T) { isatest.Run(t, TestJPEGLayoutsUpsampleExact) }

func testLibjpegRGBMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	ratios := []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410}
	for i := range 400 {
		w, h := 1+rng.IntN(40), 1+rng.IntN(40)
		switch i % 4 {
		case 0:
			w, h = 1+rng.IntN(4), 1+rng.IntN(4)
		case 1:
			w = 1 + rng.IntN(200)
		}
		// A larger image cut to w×h, as image/jpeg returns it.
		big := image.NewYCbCr(image.Rect(0, 0, w+rng.IntN(17), h+rng.IntN(17)), ratios[i%len(ratios)])
		for _, p := range [][]uint8{big.Y, big.Cb, big.Cr} {
			for j := range p {
				p[j] = uint8(rng.IntN(256))
			}
		}
		m := big.SubImage(image.Rect(0, 0, w, h)).(*image.YCbCr)
		got, ok := libjpegRGB(m)
		want, wok := refLibjpegRGB(m)
		if ok != wok {
			t.Fatalf("%dx%d %v: ok %v, reference %v", w, h, m.SubsampleRatio, ok, wok)
		}
		if !ok {
			continue
		}
		if msg, _ := diffRGB(got, want); msg != "" {
			t.Fatalf("%dx%d %v: %s", w, h, m.SubsampleRatio, msg)
		}
	}
}

// The range-limit table gives clampU8 for every Y, Cb, Cr.
func TestRangeLimitCoversYCbCr(t *testing.T) {
	for y := range int32(256) {
		for c1 := range 256 {
			if got, want := rangeLimit[(y+crR[c1]+rangeOffset)&rangeMask], clampU8(y+crR[c1]); got != want {
				t.Fatalf("R y=%d cr=%d: %d, want %d", y, c1, got, want)
			}
			if got, want := rangeLimit[(y+cbB[c1]+rangeOffset)&rangeMask], clampU8(y+cbB[c1]); got != want {
				t.Fatalf("B y=%d cb=%d: %d, want %d", y, c1, got, want)
			}
			for c2 := range 256 {
				g := (cbG[c1] + crG[c2]) >> 16
				if got, want := rangeLimit[(y+g+rangeOffset)&rangeMask], clampU8(y+g); got != want {
					t.Fatalf("G y=%d cb=%d cr=%d: %d, want %d", y, c1, c2, got, want)
				}
			}
		}
	}
}

// yccToRGBAVX2 computes jdcolor.c's table values for every Y, Cb, Cr.
func TestYCbCrAVX2Exhaustive(t *testing.T) {
	if !useAVX2() {
		t.Skip("the AVX2 kernels do not run here")
	}
	const n = 256 * 256 // every (Cb, Cr) for one Y
	yr, cb, cr := make([]uint8, n), make([]uint8, n), make([]uint8, n)
	for i := range n {
		cb[i], cr[i] = uint8(i), uint8(i>>8)
	}
	got := make([]uint8, 3*n+4)
	for y := range 256 {
		for i := range yr {
			yr[i] = uint8(y)
		}
		yccToRGBAVX2(&got[0], &yr[0], &cb[0], &cr[0], n/8)
		for i := range n {
			yy := int32(y)
			want := [3]uint8{clampU8(yy + crR[cr[i]]), clampU8(yy + (cbG[cb[i]]+crG[cr[i]])>>16), clampU8(yy + cbB[cb[i]])}
			if [3]uint8(got[3*i:3*i+3]) != want {
				t.Fatalf("y=%d cb=%d cr=%d: %v, want %v", y, cb[i], cr[i], got[3*i:3*i+3], want)
			}
		}
	}
}
