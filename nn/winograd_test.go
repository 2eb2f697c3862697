package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/resnet-go/resnet/internal/isatest"
)

// refConvGradX is ∂L/∂x of refConv for L = <dy, y>, in float64: dx[ci, i, y, x] =
// Σ_o Σ_ky,kx W[o, ci, ky, kx] · dy[o, i, (y + p − ky)/s, (x + p − kx)/s].
func refConvGradX(c *Conv2d, n, h, w int, dy []float32) []float64 {
	oh, ow := c.OutSize(h, w)
	k := c.Kernel
	dx := make([]float64, c.In*n*h*w)
	for o := 0; o < c.Out; o++ {
		for ci := 0; ci < c.In; ci++ {
			for ky := 0; ky < k; ky++ {
				for kx := 0; kx < k; kx++ {
					wv := float64(c.Weight[((o*c.In+ci)*k+ky)*k+kx])
					for i := 0; i < n; i++ {
						for oy := 0; oy < oh; oy++ {
							iy := oy*c.Stride - c.Pad + ky
							if iy < 0 || iy >= h {
								continue
							}
							for ox := 0; ox < ow; ox++ {
								ix := ox*c.Stride - c.Pad + kx
								if ix < 0 || ix >= w {
									continue
								}
								dx[((ci*n+i)*h+iy)*w+ix] += wv * float64(dy[((o*n+i)*oh+oy)*ow+ox])
							}
						}
					}
				}
			}
		}
	}
	return dx
}

// winoTol bounds the Winograd path's error relative to the largest magnitude of the tensor
// (y or dx). F(4×4, 3×3) rounds intermediate sums whose terms are up to ~10× the outputs
// (the transform matrices have entries up to 8 and 1/4…1/24 and the points ±2 amplify
// rounding), so its error is about 1e-6 … 1e-5 of max|y| for 16 to 64 channels (kernels'
// TestWinogradTolerance, and the errors this test logs); 1e-4 leaves a margin of ~10, while a
// wrong tile, padding, flip or lane is an error of the order of the outputs.
const winoTol = 1e-4

// TestConv2dWinograd runs the forward pass and the input gradient of 3×3 stride-1 layers on
// the Winograd path against the float64 definitions, on channel-major batches of 1 to 17
// images (partial lane blocks of 8, several groups with one image per chunk), and checks
// that the weight gradient, the accumulation into dx and the chunk hooks match the path
// without Winograd (the direct kernels where the CPU has them, else the GEMM path).
func TestConv2dWinograd(t *testing.T) {
	if raceEnabled {
		testConv2dWinograd(t)
		return
	}
	isatest.Run(t, testConv2dWinograd)
}

func testConv2dWinograd(t *testing.T) {
	cases := []struct{ c, h, w int }{
		{16, 32, 32}, {32, 16, 16}, {64, 8, 8}, // CIFAR ResNet stages
		{16, 8, 16}, // wider than high
		{16, 5, 6},  // rows not a multiple of 8: row-major transforms, GEMM reference
		{24, 8, 8},  // input channels not in 16s: the weight gradient on the direct kernels
	}
	worstY, worstDX := 0.0, 0.0
	for _, tc := range cases {
		for _, n := range []int{1, 2, 3, 4, 5, 9, 17} {
			if tc.c*tc.h*tc.w*n > 16*32*32*5 {
				continue // keep the float64 references quick
			}
			for _, chunk := range []int{1, 1 << 16} {
				name := fmt.Sprintf("%dch_%dx%d/n%d/chunk%d", tc.c, tc.h, tc.w, n, chunk)
				t.Run(name, func(t *testing.T) {
					// One image per chunk also makes groups of 8 images, so that 9 and 17
					// images run several groups and a partial one.
					prev := winoGroupImages
					winoGroupImages = min(chunk, prev)
					defer func() { winoGroupImages = prev }()
					withChunk(chunk, func() {
						ey, edx := testConvWinograd(t, tc.c, n, tc.h, tc.w)
						worstY, worstDX = max(worstY, ey), max(worstDX, edx)
					})
				})
			}
		}
	}
	t.Logf("largest error relative to max|y|: forward %.3g, input gradient %.3g (tolerance %g)", worstY, worstDX, winoTol)
}

func testConvWinograd(t *testing.T, ch, n, h, w int) (errY, errDX float64) {
	r := rand.New(rand.NewPCG(uint64(ch*1000+n), uint64(h*w)))
	c := NewConv2d(ch, ch, 3, 1, 1)
	// He initialisation, post-ReLU-like inputs: the values a ResNet layer sees.
	scale := float32(math.Sqrt(2.0 / float64(9*ch)))
	for i, v := range randVec(r, len(c.Weight)) {
		c.Weight[i] = v * scale * 1.7
	}
	x := randVec(r, ch*n*h*w)
	for i := range x {
		x[i] = float32(math.Abs(float64(x[i])))
	}
	if !c.winoOK(c.geom(h, w)) {
		t.Fatal("the shape does not take the Winograd path")
	}
	y := make([]float32, ch*n*h*w)
	var mu sync.Mutex
	var hooked []int
	c.forward(n, h, w, x, y, func(ci, i0, i1 int) {
		mu.Lock()
		hooked = append(hooked, i0, i1)
		mu.Unlock()
	})
	errY = relErr64(t, "forward", y, refConv(c, n, h, w, x))

	dy := randVec(r, len(y))
	dx := randVec(r, len(x))
	c.Backward(n, h, w, x, dy, dx, false)
	errDX = relErr64(t, "input gradient", dx, refConvGradX(c, n, h, w, dy))
	grad := append([]float32(nil), c.Grad...)

	// The same layer without Winograd: hooks over the same chunks, the same weight gradient
	// (Winograd's where it applies, summed in another grouping, hence not bit for bit), dx
	// accumulation.
	prev := useWino
	useWino = false
	defer func() { useWino = prev }()
	var want []int
	c.forward(n, h, w, x, make([]float32, len(y)), func(ci, i0, i1 int) {
		mu.Lock()
		want = append(want, i0, i1)
		mu.Unlock()
	})
	if fmt.Sprint(sortedPairs(hooked)) != fmt.Sprint(sortedPairs(want)) {
		t.Errorf("hooks ran on chunks %v, want %v", sortedPairs(hooked), sortedPairs(want))
	}
	c.Backward(n, h, w, x, dy, nil, false)
	if e := maxRelErr(grad, c.Grad); e > 1e-5 {
		t.Errorf("weight gradient differs from the path without Winograd by %g", e)
	}
	useWino = true
	base := randVec(r, len(x))
	acc := append([]float32(nil), base...)
	c.Backward(n, h, w, x, dy, acc, true)
	for i := range acc {
		if d := acc[i] - (base[i] + dx[i]); d > 1e-5 || d < -1e-5 {
			t.Fatalf("accumulated dx[%d] = %v, want %v + %v", i, acc[i], base[i], dx[i])
		}
	}
	return errY, errDX
}

// relErr64 checks max|got − want| ≤ winoTol·max|want| and returns the ratio.
func relErr64(t *testing.T, what string, got []float32, want []float64) float64 {
	t.Helper()
	var d, m float64
	at := 0
	for i := range want {
		if e := math.Abs(float64(got[i]) - want[i]); !(e <= d) {
			d, at = e, i
		}
		m = max(m, math.Abs(want[i]))
	}
	if !(d <= winoTol*m) {
		t.Errorf("%s: element %d = %g, want %g: error %.3g of max %.3g (tolerance %g)", what, at, got[at], want[at], d/m, m, winoTol)
	}
	return d / m
}

// sortedPairs sorts the (i0, i1) pairs of s by i0.
func sortedPairs(s []int) [][2]int {
	p := make([][2]int, len(s)/2)
	for i := range p {
		p[i] = [2]int{s[2*i], s[2*i+1]}
	}
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && p[j][0] < p[j-1][0]; j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
	return p
}
