package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/resnet-go/resnet/internal/isatest"
)

// refConv is the definition of a convolution over a channel-major batch, in float64.
func refConv(c *Conv2d, n, h, w int, x []float32) []float64 {
	oh, ow := c.OutSize(h, w)
	y := make([]float64, c.Out*n*oh*ow)
	for o := 0; o < c.Out; o++ {
		for i := 0; i < n; i++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					var s float64
					for ci := 0; ci < c.In; ci++ {
						for ky := 0; ky < c.Kernel; ky++ {
							for kx := 0; kx < c.Kernel; kx++ {
								iy, ix := oy*c.Stride-c.Pad+ky, ox*c.Stride-c.Pad+kx
								if iy < 0 || iy >= h || ix < 0 || ix >= w {
									continue
								}
								s += float64(c.Weight[((o*c.In+ci)*c.Kernel+ky)*c.Kernel+kx]) * float64(x[((ci*n+i)*h+iy)*w+ix])
							}
						}
					}
					y[((o*n+i)*oh+oy)*ow+ox] = s
				}
			}
		}
	}
	return y
}

var convCases = []struct {
	in, out, k, s, p, n, h, w int
}{
	{3, 4, 3, 1, 1, 3, 7, 6},  // ResNet 3×3
	{2, 4, 3, 2, 1, 3, 7, 8},  // strided 3×3, odd height
	{3, 5, 1, 2, 0, 2, 7, 5},  // projection shortcut
	{4, 3, 1, 1, 0, 3, 5, 4},  // bottleneck 1×1
	{3, 4, 7, 2, 3, 2, 11, 9}, // ImageNet stem
	{2, 3, 3, 1, 0, 2, 6, 5},  // no padding
	{2, 3, 3, 1, 2, 2, 4, 5},  // padding k−1
	{2, 2, 5, 3, 1, 2, 9, 10}, // stride larger than padding
	{4, 8, 3, 1, 1, 3, 5, 8},  // direct kernels: rows of 8, channels in fours
	{3, 4, 3, 1, 1, 2, 4, 16}, // direct forward and weight gradient, GEMM input gradient
	{8, 4, 3, 1, 1, 5, 3, 8},  // direct, with a short last tile of pixel vectors
}

// TestConv2dForwardBackward runs every case on each instruction-set path, through the direct
// kernels where they apply (shapes and paths with AVX2) and through the GEMM path.
func TestConv2dForwardBackward(t *testing.T) { isatest.Run(t, testConv2dForwardBackward) }

func testConv2dForwardBackward(t *testing.T) {
	for _, tc := range convCases {
		for _, chunk := range []int{1, 1 << 16} {
			for _, direct := range []bool{true, false} {
				if direct && !directOK(newGeom(tc.in, tc.h, tc.w, tc.k, tc.s, tc.p), tc.out) {
					continue
				}
				t.Run(fmt.Sprintf("%+v/chunk%d/direct=%v", tc, chunk, direct), func(t *testing.T) {
					prev := useDirect
					useDirect = direct
					defer func() { useDirect = prev }()
					withChunk(chunk, func() { testConv(t, tc.in, tc.out, tc.k, tc.s, tc.p, tc.n, tc.h, tc.w) })
				})
			}
		}
	}
}

func testConv(t *testing.T, in, out, k, s, p, n, h, w int) {
	r := rand.New(rand.NewPCG(uint64(in*100+k), uint64(h)))
	c := NewConv2d(in, out, k, s, p)
	copy(c.Weight, randVec(r, len(c.Weight)))
	x := randVec(r, in*n*h*w)
	oh, ow := c.OutSize(h, w)
	y := make([]float32, out*n*oh*ow)
	c.Forward(n, h, w, x, y)
	want := refConv(c, n, h, w, x)
	for i := range y {
		if d := float64(y[i]) - want[i]; d > 1e-5 || d < -1e-5 {
			t.Fatalf("forward y[%d] = %v, want %v", i, y[i], want[i])
		}
	}
	// L = <dy, y>: the gradients are exact linear functions, so central differences of the
	// float64 reference are exact up to rounding and the tolerance can be tight.
	dy := randVec(r, len(y))
	dx := randVec(r, len(x)) // overwritten
	c.Backward(n, h, w, x, dy, dx, false)
	loss := func() float64 {
		var l float64
		for i, v := range refConv(c, n, h, w, x) {
			l += v * float64(dy[i])
		}
		return l
	}
	checkFD(t, "∂W", c.Weight, c.Grad, loss, 0.25, 1e-5, 1000)
	checkFD(t, "∂x", x, dx, loss, 0.25, 1e-5, 1000)
	// accumulate adds onto what dx held.
	base := randVec(r, len(x))
	acc := append([]float32(nil), base...)
	c.Backward(n, h, w, x, dy, acc, true)
	for i := range acc {
		if d := acc[i] - (base[i] + dx[i]); d > 1e-5 || d < -1e-5 {
			t.Fatalf("accumulated dx[%d] = %v, want %v + %v", i, acc[i], base[i], dx[i])
		}
	}
	// Without dx only the weight gradient is computed.
	g := append([]float32(nil), c.Grad...)
	c.Backward(n, h, w, x, dy, nil, false)
	if e := maxRelErr(c.Grad, g); e != 0 {
		t.Fatalf("weight gradient without dx differs by %g", e)
	}
}

func TestConv2dCheck(t *testing.T) {
	c := NewConv2d(3, 4, 3, 1, 1)
	if err := c.Check(2, 5, 5, 3*2*5*5-1, -1); err == nil {
		t.Error("short input accepted")
	}
	if err := c.Check(2, 5, 5, -1, 4*2*5*5-1); err == nil {
		t.Error("short output accepted")
	}
	if err := NewConv2d(3, 4, 3, 1, 3).Check(1, 5, 5, -1, -1); err == nil {
		t.Error("padding ≥ kernel accepted")
	}
	if err := c.Check(1, 5, 5, 75, 100); err != nil {
		t.Errorf("valid sizes rejected: %v", err)
	}
}

// im2col and col2im must be adjoint: <col2im(c), x> = <c, im2col(x)>.
func TestIm2colAdjoint(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range convCases {
		g := newGeom(tc.in, tc.h, tc.w, tc.k, tc.s, tc.p)
		n := tc.n
		x := randVec(r, g.c*n*g.h*g.w)
		// Images 1 … n−1 of the batch as a chunk.
		hw := g.h * g.w
		cols := (n - 1) * g.oh * g.ow
		col := make([]float32, g.rows()*cols)
		im2col(g, x[hw:], n*hw, n-1, col, cols)
		c := randVec(r, len(col))
		dx := make([]float32, len(x))
		col2im(g, c, cols, n-1, dx[hw:], n*hw, true)
		// dx sums up to k·k float32 terms, hence 1e-6 of the terms' magnitude rather than
		// float64 precision.
		var scale float64
		for i := range c {
			scale += math.Abs(float64(c[i]) * float64(col[i]))
		}
		if a, b := dot64(c, col), dot64(dx, x); math.Abs(a-b) > 1e-6*scale {
			t.Errorf("%+v: <c, im2col x> = %v, <col2im c, x> = %v", tc, a, b)
		}
	}
}

func TestTranspose(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, sz := range [][2]int{{3, 5}, {8, 200}, {17, 300}, {64, 129}} {
		rows, cols := sz[0], sz[1]
		src := randVec(r, rows*(cols+3))
		dst := make([]float32, cols*(rows+2))
		transpose(rows, cols, src, cols+3, dst, rows+2)
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				if dst[j*(rows+2)+i] != src[i*(cols+3)+j] {
					t.Fatalf("%d×%d: dst[%d][%d] = %v, want %v", rows, cols, j, i, dst[j*(rows+2)+i], src[i*(cols+3)+j])
				}
			}
		}
	}
}

// The phase-plane route of im2col and col2im against the value-by-value one: the same matrix
// bit for bit (both only copy), and into a zeroed dx the same sums (each position of dx
// receives the same terms in the same order).
func TestIm2colPhase(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct{ c, k, s, p, h, w, n int }{
		{3, 3, 2, 1, 8, 8, 3},   // ResNet's 3×3/2
		{2, 3, 2, 1, 7, 9, 2},   // odd sizes
		{2, 3, 2, 1, 1, 1, 2},   // a single pixel
		{2, 3, 3, 1, 10, 11, 2}, // stride 3
		{2, 2, 2, 0, 6, 7, 2},   // 2×2/2
		{2, 4, 3, 1, 9, 8, 2},   // 4×4/3
		{2, 3, 2, 2, 6, 6, 2},   // padding 2: two phase rows back
	} {
		g := newGeom(tc.c, tc.h, tc.w, tc.k, tc.s, tc.p)
		if !g.phaseOK() {
			t.Fatalf("%+v: phase route expected", tc)
		}
		hw := g.h * g.w
		x := randVec(r, g.c*tc.n*hw)
		cols := (tc.n - 1) * g.oh * g.ow
		want := make([]float32, g.rows()*(cols+3))
		got := randVec(r, len(want)) // every value of the matrix is written
		for i := range want {
			want[i] = got[i] // the padding columns stay as they were
		}
		im2colGather(g, x[hw:], tc.n*hw, tc.n-1, want, cols+3)
		im2colPhase(g, x[hw:], tc.n*hw, tc.n-1, got, cols+3)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%+v: im2col[%d] = %v, want %v", tc, i, got[i], want[i])
			}
		}
		c := randVec(r, len(want))
		// Into a zeroed dx, and writing over what dx held: both the scatter's sums.
		dxWant, dxGot := make([]float32, len(x)), make([]float32, len(x))
		dxOver := randVec(r, len(x))
		col2imScatter(g, c, cols+3, tc.n-1, dxWant[hw:], tc.n*hw)
		col2imPhase(g, append([]float32(nil), c...), cols+3, tc.n-1, dxGot[hw:], tc.n*hw, true)
		col2imPhase(g, c, cols+3, tc.n-1, dxOver[hw:], tc.n*hw, false)
		for i := range dxWant {
			if dxGot[i] != dxWant[i] {
				t.Fatalf("%+v: col2im dx[%d] = %v, want %v", tc, i, dxGot[i], dxWant[i])
			}
			if i%(tc.n*hw) >= hw && dxOver[i] != dxWant[i] { // image 0 is not in the chunk
				t.Fatalf("%+v: col2im writing dx[%d] = %v, want %v", tc, i, dxOver[i], dxWant[i])
			}
		}
	}
	// Stride 1; offsets past the phase planes (ImageNet's 7×7/2 stem, 5×5/3); a kernel
	// narrower than the stride (1×1/2, where a gather reads the one phase it needs).
	for _, tc := range [][3]int{{3, 1, 1}, {7, 2, 3}, {5, 3, 1}, {1, 2, 0}, {2, 3, 0}} {
		if g := newGeom(2, 9, 9, tc[0], tc[1], tc[2]); g.phaseOK() {
			t.Errorf("kernel %d stride %d padding %d: phase route taken", tc[0], tc[1], tc[2])
		}
	}
}
