package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/resnet-go/resnet/kernels"
)

func TestBatchNorm2dForwardTrain(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	const c, m = 3, 37
	b := NewBatchNorm2d(c)
	copy(b.Weight, randVec(r, c))
	copy(b.Bias, randVec(r, c))
	copy(b.RunningMean, randVec(r, c))
	for i := range b.RunningVar {
		b.RunningVar[i] = 0.5 + r.Float32()
	}
	rm0, rv0 := append([]float32(nil), b.RunningMean...), append([]float32(nil), b.RunningVar...)
	x := randVec(r, c*m)
	for i := range x {
		x[i] = 3*x[i] + 2 // mean far from 0, variance far from 1
	}
	res := randVec(r, c*m)
	for _, tc := range []struct {
		relu bool
		res  []float32
	}{{false, nil}, {true, nil}, {true, res}, {false, res}} {
		b.RunningMean, b.RunningVar = append([]float32(nil), rm0...), append([]float32(nil), rv0...)
		y := make([]float32, c*m)
		if err := b.ForwardTrain(m, x, tc.res, y, tc.relu); err != nil {
			t.Fatal(err)
		}
		for ch := 0; ch < c; ch++ {
			var mean, v float64
			for _, u := range x[ch*m : (ch+1)*m] {
				mean += float64(u) / m
			}
			for _, u := range x[ch*m : (ch+1)*m] {
				v += (float64(u) - mean) * (float64(u) - mean) / m
			}
			for i := ch * m; i < (ch+1)*m; i++ {
				want := (float64(x[i])-mean)/math.Sqrt(v+BNEps)*float64(b.Weight[ch]) + float64(b.Bias[ch])
				if tc.res != nil {
					want += float64(tc.res[i])
				}
				if tc.relu {
					want = max(want, 0)
				}
				if math.Abs(float64(y[i])-want) > 1e-6*max(1, math.Abs(want)) {
					t.Fatalf("relu %v res %v: y[%d] = %v, want %v", tc.relu, tc.res != nil, i, y[i], want)
				}
			}
			wm, wv := 0.9*float64(rm0[ch])+0.1*mean, 0.9*float64(rv0[ch])+0.1*v*m/(m-1)
			if math.Abs(float64(b.RunningMean[ch])-wm) > 1e-6 || math.Abs(float64(b.RunningVar[ch])-wv) > 1e-6 {
				t.Fatalf("running stats of channel %d: %v %v, want %v %v", ch, b.RunningMean[ch], b.RunningVar[ch], wm, wv)
			}
		}
	}
	if b.NumBatchesTracked != 4 {
		t.Errorf("num_batches_tracked = %d after 4 steps", b.NumBatchesTracked)
	}
	if err := b.ForwardTrain(1, x[:c], nil, make([]float32, c), false); err == nil {
		t.Error("one value per channel accepted in training mode")
	}
	// Eval mode uses the running statistics.
	y := make([]float32, c*m)
	if err := b.ForwardEval(m, x, nil, y, false); err != nil {
		t.Fatal(err)
	}
	for i := range y {
		ch := i / m
		want := (float64(x[i])-float64(b.RunningMean[ch]))/math.Sqrt(float64(b.RunningVar[ch])+BNEps)*float64(b.Weight[ch]) + float64(b.Bias[ch])
		if math.Abs(float64(y[i])-want) > 1e-5 {
			t.Fatalf("eval y[%d] = %v, want %v", i, y[i], want)
		}
	}
}

func TestBatchNorm2dBackward(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	const c, m = 3, 29
	b := NewBatchNorm2d(c)
	copy(b.Weight, randVec(r, c))
	copy(b.Bias, randVec(r, c))
	x := randVec(r, c*m)
	for i := range x {
		x[i] = 2*x[i] + 1
	}
	w := randVec(r, c*m)
	y := make([]float32, c*m)
	loss := func() float64 {
		if err := b.ForwardTrain(m, x, nil, y, false); err != nil {
			t.Fatal(err)
		}
		return dot64(w, y)
	}
	loss()
	dy, dx := append([]float32(nil), w...), make([]float32, c*m)
	if err := b.Backward(m, x, y, dy, dx, false); err != nil {
		t.Fatal(err)
	}
	gw, gb := append([]float32(nil), b.GradWeight...), append([]float32(nil), b.GradBias...)
	// The forward runs in float32 (rounding ~1e-7 of |L| ≈ 10 per evaluation), so with eps
	// 1e-2 the difference quotients carry ~1e-4 of noise; the second-order term is smaller.
	checkFD(t, "∂x", x, dx, loss, 1e-2, 2e-3, 200)
	checkFD(t, "∂γ", b.Weight, gw, loss, 1e-2, 2e-3, 200)
	checkFD(t, "∂β", b.Bias, gb, loss, 1e-2, 2e-3, 200)

	// Fused ReLU and residual: the gradient is the plain one of the masked dy, and dy is masked
	// in place for the residual.
	res := randVec(r, c*m)
	if err := b.ForwardTrain(m, x, res, y, true); err != nil {
		t.Fatal(err)
	}
	masked := make([]float32, c*m)
	for i := range w {
		if y[i] > 0 {
			masked[i] = w[i]
		}
	}
	dy = append([]float32(nil), w...)
	if err := b.Backward(m, x, y, dy, dx, true); err != nil {
		t.Fatal(err)
	}
	if e := maxRelErr(dy, masked); e != 0 {
		t.Fatalf("dy not masked in place (error %g)", e)
	}
	want := make([]float32, c*m)
	plain := append([]float32(nil), masked...)
	if err := b.Backward(m, x, nil, plain, want, false); err != nil {
		t.Fatal(err)
	}
	if e := maxRelErr(dx, want); e != 0 {
		t.Fatalf("fused ReLU backward differs from masked plain backward by %g", e)
	}
}

func TestReLU(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	x := randVec(r, 100)
	for i := range x {
		if math.Abs(float64(x[i])) < 0.05 {
			x[i] = 0.5 // keep away from the kink for the differences
		}
	}
	x[7] = float32(math.NaN())
	y := make([]float32, len(x))
	ReLU(x, y)
	if y[7] == y[7] {
		t.Error("NaN did not stay NaN")
	}
	x[7] = 0.3
	w := randVec(r, len(x))
	ReLU(x, y)
	dx := make([]float32, len(x))
	ReLUBackward(y, w, dx)
	checkFD(t, "∂x", x, dx, func() float64 { ReLU(x, y); return dot64(w, y) }, 1e-2, 1e-5, 100)
}

func TestMaxPool2d(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, sz := range [][2]int{{7, 6}, {8, 8}, {5, 9}, {2, 3}} {
		h, w := sz[0], sz[1]
		const planes = 4
		p := &MaxPool2d{Kernel: 3, Stride: 2, Pad: 1}
		// Distinct values at least 0.1 apart, so no perturbation changes a window's winner.
		x := make([]float32, planes*h*w)
		for i, v := range r.Perm(len(x)) {
			x[i] = float32(v)*0.1 - 3
		}
		oh, ow := p.OutSize(h, w)
		y := make([]float32, planes*oh*ow)
		if err := p.Forward(planes, h, w, x, y); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, len(y))
		for q := 0; q < planes; q++ {
			kernels.MaxPool2D(1, h, w, 3, 2, 1, x[q*h*w:(q+1)*h*w], want[q*oh*ow:(q+1)*oh*ow])
		}
		if e := maxRelErr(y, want); e != 0 {
			t.Fatalf("%d×%d: forward differs from kernels.MaxPool2D by %g", h, w, e)
		}
		dy := randVec(r, len(y))
		dx := randVec(r, len(x))
		if err := p.Backward(planes, h, w, dy, dx); err != nil {
			t.Fatal(err)
		}
		checkFD(t, "∂x", x, dx, func() float64 {
			if err := p.Forward(planes, h, w, x, y); err != nil {
				t.Fatal(err)
			}
			return dot64(dy, y)
		}, 1e-2, 1e-5, 500)
	}
	// Ties (all zeros, as after a ReLU): PyTorch sends the gradient to the first position of
	// each clipped window in row-major order.
	p := &MaxPool2d{Kernel: 3, Stride: 2, Pad: 1}
	x, y := make([]float32, 5*5), make([]float32, 3*3)
	if err := p.Forward(1, 5, 5, x, y); err != nil {
		t.Fatal(err)
	}
	dy, dx := make([]float32, 9), make([]float32, 25)
	for i := range dy {
		dy[i] = 1
	}
	if err := p.Backward(1, 5, 5, dy, dx); err != nil {
		t.Fatal(err)
	}
	// Windows start at rows/columns 0, 1, 3.
	for _, at := range []int{0, 1, 3, 5, 6, 8, 15, 16, 18} {
		if dx[at] != 1 {
			t.Errorf("tied window gradient: dx[%d] = %v, want 1 (dx = %v)", at, dx[at], dx)
		}
	}
	if err := p.Forward(1, 1, 1, x, y); err != nil {
		t.Errorf("1×1 input with padding rejected: %v", err)
	}
	if err := p.Backward(2, 5, 5, dy, dx); err == nil {
		t.Error("backward with a different batch than forward accepted")
	}
}

func TestGlobalAvgPool(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	const c, n, hw = 3, 4, 10
	x := randVec(r, c*n*hw)
	y := make([]float32, n*c)
	if err := GlobalAvgPool(c, n, hw, x, y); err != nil {
		t.Fatal(err)
	}
	var s float64
	for _, v := range x[(2*n+1)*hw : (2*n+2)*hw] {
		s += float64(v)
	}
	if got := y[1*c+2]; math.Abs(float64(got)-s/hw) > 1e-7 {
		t.Fatalf("pooled[1, 2] = %v, want %v", got, s/hw)
	}
	dy := randVec(r, len(y))
	dx := make([]float32, len(x))
	if err := GlobalAvgPoolBackward(c, n, hw, dy, dx); err != nil {
		t.Fatal(err)
	}
	checkFD(t, "∂x", x, dx, func() float64 { _ = GlobalAvgPool(c, n, hw, x, y); return dot64(dy, y) }, 0.25, 1e-5, 200)
	if err := GlobalAvgPool(c, n, hw, x[:10], y); err == nil {
		t.Error("short input accepted")
	}
}

func TestZeroPad(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	for _, z := range []ZeroPad{{2, 4, 2}, {3, 6, 2}, {4, 4, 1}, {2, 5, 2}} {
		const n, h, w = 3, 5, 7
		x := randVec(r, z.In*n*h*w)
		oh, ow := z.OutSize(h, w)
		y := randVec(r, z.Out*n*oh*ow)
		if err := z.Forward(n, h, w, x, y); err != nil {
			t.Fatal(err)
		}
		// Per image, the inference shortcut is the reference.
		xi, yi, want := make([]float32, z.In*h*w), make([]float32, z.Out*oh*ow), make([]float32, z.Out*oh*ow)
		for i := 0; i < n; i++ {
			cnhwImage(i, n, z.In, h*w, x, xi)
			ZeroPadShortcut(xi, z.In, h, w, z.Out, z.Stride, want)
			cnhwImage(i, n, z.Out, oh*ow, y, yi)
			if e := maxRelErr(yi, want); e != 0 {
				t.Fatalf("%+v image %d differs from ZeroPadShortcut", z, i)
			}
		}
		dy := randVec(r, len(y))
		base := randVec(r, len(x))
		dx := append([]float32(nil), base...)
		if err := z.Backward(n, h, w, dy, dx); err != nil {
			t.Fatal(err)
		}
		for i := range dx {
			dx[i] -= base[i] // Backward adds
		}
		checkFD(t, "∂x", x, dx, func() float64 { _ = z.Forward(n, h, w, x, y); return dot64(dy, y) }, 0.25, 1e-6, 500)
	}
}

// cnhwImage copies image i of a [c, n, hw] batch into dst ([c, hw]).
func cnhwImage(i, n, c, hw int, x, dst []float32) {
	for ch := 0; ch < c; ch++ {
		copy(dst[ch*hw:(ch+1)*hw], x[(ch*n+i)*hw:(ch*n+i+1)*hw])
	}
}

func TestLinear(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	const n, in, out = 5, 6, 4
	l := NewLinear(in, out)
	copy(l.Weight, randVec(r, in*out))
	copy(l.Bias, randVec(r, out))
	x := randVec(r, n*in)
	y := make([]float32, n*out)
	if err := l.Forward(n, x, y); err != nil {
		t.Fatal(err)
	}
	if want := float64(l.Bias[2]) + dot64(x[3*in:4*in], l.Weight[2*in:3*in]); math.Abs(float64(y[3*out+2])-want) > 1e-6 {
		t.Fatalf("y[3, 2] = %v, want %v", y[3*out+2], want)
	}
	dy := randVec(r, len(y))
	dx := make([]float32, len(x))
	if err := l.Backward(n, x, dy, dx); err != nil {
		t.Fatal(err)
	}
	loss := func() float64 { _ = l.Forward(n, x, y); return dot64(dy, y) }
	checkFD(t, "∂W", l.Weight, l.GradWeight, loss, 0.25, 1e-5, 100)
	checkFD(t, "∂b", l.Bias, l.GradBias, loss, 0.25, 1e-5, 100)
	checkFD(t, "∂x", x, dx, loss, 0.25, 1e-5, 100)
}

func TestSoftmaxCrossEntropy(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	const n, k = 4, 5
	logits := randVec(r, n*k)
	for i := range logits {
		logits[i] *= 4
	}
	logits[2*k+1] = 50 // a large logit must not overflow
	labels := []int{0, 3, 1, 4}
	d := make([]float32, n*k)
	loss, correct, err := SoftmaxCrossEntropy(n, k, logits, labels, d)
	if err != nil {
		t.Fatal(err)
	}
	var want float64
	for i := 0; i < n; i++ {
		var s float64
		for _, v := range logits[i*k : (i+1)*k] {
			s += math.Exp(float64(v) - 50)
		}
		want += (math.Log(s) + 50 - float64(logits[i*k+labels[i]])) / n
	}
	if math.Abs(loss-want) > 1e-12 {
		t.Errorf("loss %v, want %v", loss, want)
	}
	wantCorrect := 0
	for i := 0; i < n; i++ {
		best := 0
		for j := range k {
			if logits[i*k+j] > logits[i*k+best] {
				best = j
			}
		}
		if best == labels[i] {
			wantCorrect++
		}
	}
	if correct != wantCorrect || correct == 0 {
		t.Errorf("correct = %d, want %d (> 0 by construction of row 2)", correct, wantCorrect)
	}
	checkFD(t, "∂logits", logits, d, func() float64 {
		l, _, _ := SoftmaxCrossEntropy(n, k, logits, labels, nil)
		return l
	}, 1e-3, 1e-5, 100)
	if _, _, err := SoftmaxCrossEntropy(n, k, logits, []int{0, 5, 1, 1}, nil); err == nil {
		t.Error("label 5 of 5 classes accepted")
	}
	if _, _, err := SoftmaxCrossEntropy(n, k, logits, labels[:3], nil); err == nil {
		t.Error("3 labels for 4 rows accepted")
	}
}

func TestCNHWRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	const n, c, hw = 3, 4, 5
	x := randVec(r, n*c*hw)
	y, z := make([]float32, len(x)), make([]float32, len(x))
	ToCNHW(n, c, hw, x, y)
	if y[(2*n+1)*hw+3] != x[(1*c+2)*hw+3] {
		t.Fatal("ToCNHW put image 1 channel 2 in the wrong place")
	}
	FromCNHW(n, c, hw, y, z)
	if e := maxRelErr(z, x); e != 0 {
		t.Fatal("FromCNHW does not undo ToCNHW")
	}
}
