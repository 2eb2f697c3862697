package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/resnet-go/resnet/internal/isatest"
	"github.com/resnet-go/resnet/kernels"
)

// withScalar runs f on the go path, giving the portable results.
func withScalar(f func()) {
	prev := kernels.ISA()
	if err := kernels.SetISA("go"); err != nil {
		panic(err)
	}
	defer kernels.SetISA(prev)
	f()
}

// The AVX2 loops against the portable ones for every length up to 100 (main loop, 8-value
// tail, scalar remainder) and a few long ones (several blocks): equal up to float32
// summation order and fused multiply-adds.
func TestVectorLoops(t *testing.T) { isatest.Run(t, testVectorLoops) }

func testVectorLoops(t *testing.T) {
	if !useAVX2() {
		t.Skipf("the %s path has no vector loops to compare with the portable ones", kernels.ISA())
	}
	r := rand.New(rand.NewPCG(11, 12))
	lengths := []int{1000, 2048 + 24, 5000}
	for n := 1; n <= 100; n++ {
		lengths = append(lengths, n)
	}
	near := func(what string, n int, got, want, scale float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-5*scale {
			t.Fatalf("%s, n = %d: %v, portable %v", what, n, got, want)
		}
	}
	for _, n := range lengths {
		x, y, g := randVec(r, n), randVec(r, n), randVec(r, n)
		y[0] = float32(math.NaN())
		var s1, s2, q1, q2 float64
		g1, g2 := append([]float32(nil), g...), append([]float32(nil), g...)
		s1, q1 = sum64(x), sqDev64(x, 0.25)
		sm1, dt1 := gradSums(g1, x, y, 0.1)
		ps1, pd1 := gradSums(append([]float32(nil), g...), x, nil, 0.1)
		var sm2, dt2, ps2, pd2 float64
		withScalar(func() {
			s2, q2 = sum64(x), sqDev64(x, 0.25)
			sm2, dt2 = gradSums(g2, x, y, 0.1)
			ps2, pd2 = gradSums(append([]float32(nil), g...), x, nil, 0.1)
		})
		near("sum", n, s1, s2, float64(n))
		near("squared deviations", n, q1, q2, float64(n))
		near("masked gradient sum", n, sm1, sm2, float64(n))
		near("masked gradient dot", n, dt1, dt2, float64(n))
		near("gradient sum", n, ps1, ps2, float64(n))
		near("gradient dot", n, pd1, pd2, float64(n))
		for i := range g1 {
			if g1[i] != g2[i] {
				t.Fatalf("mask, n = %d: g[%d] = %v, portable %v", n, i, g1[i], g2[i])
			}
		}
		bn := NewBatchNorm2d(1)
		bn.Weight[0], bn.Bias[0] = 1.5, -0.25
		co := bnBackCoef{[]float32{0.1}, []float32{0.2}, []float32{0.3}, []float32{1.7}}
		for _, relu := range []bool{false, true} {
			for _, res := range [][]float32{nil, g} {
				o1, o2 := make([]float32, n), make([]float32, n)
				bn.apply(0, n, x, res, o1, 0.3, 1.2, relu)
				withScalar(func() { bn.apply(0, n, x, res, o2, 0.3, 1.2, relu) })
				if e := maxRelErr(o1, o2); e > 1e-6 {
					t.Fatalf("apply relu=%v res=%v n=%d: differs by %g", relu, res != nil, n, e)
				}
			}
		}
		// addTo is one rounding per value either way: equal bit for bit.
		a1, a2 := append([]float32(nil), y...), append([]float32(nil), y...)
		addTo(a1[1:], x[1:])
		withScalar(func() { addTo(a2[1:], x[1:]) })
		for i := range a1 {
			if a1[i] != a2[i] && !(i == 0 && a1[0] != a1[0] && a2[0] != a2[0]) {
				t.Fatalf("addTo, n = %d: [%d] = %v, portable %v", n, i, a1[i], a2[i])
			}
		}
		c1, c2 := make([]float32, n), make([]float32, n)
		co.apply(0, g, x, c1)
		withScalar(func() { co.apply(0, g, x, c2) })
		if e := maxRelErr(c1, c2); e > 1e-6 {
			t.Fatalf("coefficient apply n=%d: differs by %g", n, e)
		}
	}
	// NaN propagates through the ReLU of apply, as in PyTorch.
	bn := NewBatchNorm2d(1)
	x := make([]float32, 16)
	x[3] = float32(math.NaN())
	out := make([]float32, 16)
	bn.apply(0, 16, x, nil, out, 0, 1, true)
	if out[3] == out[3] {
		t.Error("NaN input gave a number after the ReLU")
	}
}

func TestPadChunk(t *testing.T) { isatest.Run(t, testPadChunk) }

func testPadChunk(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, sz := range [][2]int{{3, 8}, {2, 16}, {4, 5}, {1, 32}} {
		h, w := sz[0], sz[1]
		const c, n = 2, 3
		x := randVec(r, c*n*h*w)
		p1, p2 := randVec(r, c*(n-1)*(h+2)*(w+2)), randVec(r, c*(n-1)*(h+2)*(w+2))
		// Images 1 and 2 of the batch.
		padChunk(c, n-1, h, w, x[h*w:], n*h*w, p1)
		withScalar(func() { padChunk(c, n-1, h, w, x[h*w:], n*h*w, p2) })
		for ch := 0; ch < c; ch++ {
			for i := 0; i < n-1; i++ {
				for y := 0; y < h+2; y++ {
					for xx := 0; xx < w+2; xx++ {
						want := float32(0)
						if y > 0 && y <= h && xx > 0 && xx <= w {
							want = x[((ch*n+i+1)*h+y-1)*w+xx-1]
						}
						at := ((ch*(n-1)+i)*(h+2)+y)*(w+2) + xx
						if p1[at] != want || p2[at] != want {
							t.Fatalf("%d×%d: padded [%d,%d,%d,%d] = %v / %v, want %v", h, w, ch, i, y, xx, p1[at], p2[at], want)
						}
					}
				}
			}
		}
	}
}

// Scratch size classes: a buffer holds what was asked, at most a quarter more (above the
// smallest class), and a returned buffer goes back to the class it came from.
func TestScratchClasses(t *testing.T) {
	prevClass, prevCap := -1, 0
	for n := 1; n < 1<<22; n += 1 + n/7 {
		class, c := scratchClass(n)
		if c < n || (n > 64 && float64(c) > 1.25*float64(n)) {
			t.Fatalf("n %d: capacity %d", n, c)
		}
		if class < prevClass || (class == prevClass) != (c == prevCap) {
			t.Fatalf("n %d: class %d capacity %d after class %d capacity %d", n, class, c, prevClass, prevCap)
		}
		prevClass, prevCap = class, c
		p := getScratch(n)
		if len(*p) != n || cap(*p) != c {
			t.Fatalf("n %d: buffer of %d (capacity %d), want capacity %d", n, len(*p), cap(*p), c)
		}
		if back, _ := scratchClass(cap(*p)); back != class {
			t.Fatalf("n %d: capacity %d is in class %d, not %d", n, c, back, class)
		}
		putScratch(p)
	}
}
