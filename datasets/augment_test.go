package datasets

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// slowAugment is the obviously-correct augmentation: build the zero-padded image, cut the
// crop whose top-left corner is (top, left), mirror it if asked, then normalise each value.
func slowAugment(src []uint8, c, h, w, pad, top, left int, flip bool, mean, std []float32) []float32 {
	ph, pw := h+2*pad, w+2*pad
	padded := make([]uint8, c*ph*pw)
	for k := range c {
		for y := range h {
			for x := range w {
				padded[k*ph*pw+(y+pad)*pw+(x+pad)] = src[k*h*w+y*w+x]
			}
		}
	}
	crop := make([]uint8, c*h*w)
	for k := range c {
		for y := range h {
			for x := range w {
				crop[k*h*w+y*w+x] = padded[k*ph*pw+(y+top)*pw+(x+left)]
			}
		}
	}
	if flip {
		for k := range c {
			for y := range h {
				slices.Reverse(crop[k*h*w+y*w : k*h*w+(y+1)*w])
			}
		}
	}
	out := make([]float32, len(crop))
	for i, v := range crop {
		k := i / (h * w)
		x := float32(v) / 255
		if mean != nil {
			x = (x - mean[k]) / std[k]
		}
		out[i] = x
	}
	return out
}

func sameFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestFillMatchesSlowAugment(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := []struct{ c, h, w, pad int }{
		{3, 32, 32, 4}, {1, 28, 28, 4}, {3, 5, 7, 2}, {1, 3, 2, 0}, {3, 4, 4, 9}, {3, 1, 1, 1},
	}
	for _, cs := range cases {
		src := make([]uint8, cs.c*cs.h*cs.w)
		for i := range src {
			src[i] = uint8(r.IntN(256))
		}
		norms := []Normalize{{}, {Mean: []float32{0.4914, 0.4822, 0.4465}[:cs.c], Std: []float32{0.2470, 0.2435, 0.2616}[:cs.c]}}
		for _, n := range norms {
			lut, err := n.table(cs.c)
			if err != nil {
				t.Fatal(err)
			}
			for top := 0; top <= 2*cs.pad; top++ {
				for left := 0; left <= 2*cs.pad; left++ {
					for _, flip := range []bool{false, true} {
						got := make([]float32, len(src))
						fill(got, src, cs.c, cs.h, cs.w, placement{dy: top - cs.pad, dx: left - cs.pad, flip: flip}, lut)
						if want := slowAugment(src, cs.c, cs.h, cs.w, cs.pad, top, left, flip, n.Mean, n.Std); !sameFloats(got, want) {
							t.Fatalf("%+v top %d left %d flip %v mean %v: fill differs from the slow version", cs, top, left, flip, n.Mean)
						}
					}
				}
			}
		}
	}
}

// The draws cover every crop offset and both flips, about evenly, and are a function of
// (seed, epoch, index) alone.
func TestAugmentDraw(t *testing.T) {
	a := CIFARAugment
	counts := map[[2]int]int{}
	flips := 0
	const n = 40000
	for i := range n {
		p := a.draw(7, 3, i)
		counts[[2]int{p.dy, p.dx}]++
		if p.flip {
			flips++
		}
		if a.draw(7, 3, i) != p {
			t.Fatal("draw is not a function of its arguments")
		}
	}
	if len(counts) != 81 {
		t.Fatalf("%d distinct offsets, want 81 (-4..4 squared)", len(counts))
	}
	for off, k := range counts {
		if k < n/81*7/10 || k > n/81*13/10 {
			t.Errorf("offset %v drawn %d times of %d", off, k, n)
		}
	}
	if flips < n*45/100 || flips > n*55/100 {
		t.Errorf("%d flips of %d", flips, n)
	}
	// Seed and epoch both change the draws.
	diff := func(s1 uint64, e1 int, s2 uint64, e2 int) int {
		k := 0
		for i := range 100 {
			if a.draw(s1, e1, i) != a.draw(s2, e2, i) {
				k++
			}
		}
		return k
	}
	if diff(7, 3, 8, 3) < 80 || diff(7, 3, 7, 4) < 80 {
		t.Error("seed or epoch hardly changes the augmentation")
	}
	if (Augment{}).draw(7, 3, 1) != (placement{}) || (Augment{Flip: true}).draw(1, 1, 1).dy != 0 {
		t.Error("disabled augmentation moved pixels")
	}
}

// Pinned values: a change here changes every seeded run, which breaks resuming a training
// run saved by an older build.
func TestPermutationPinned(t *testing.T) {
	got := Permutation(1, 0, 10)
	want := []int{4, 9, 2, 6, 8, 1, 3, 0, 5, 7}
	if !slices.Equal(got, want) {
		t.Fatalf("Permutation(1, 0, 10) = %v, want %v", got, want)
	}
	p := Permutation(42, 5, 1000)
	s := slices.Clone(p)
	slices.Sort(s)
	for i, v := range s {
		if v != i {
			t.Fatal("not a permutation")
		}
	}
	if slices.Equal(p, Permutation(42, 6, 1000)) || slices.Equal(p, Permutation(43, 5, 1000)) || !slices.Equal(p, Permutation(42, 5, 1000)) {
		t.Fatal("permutation does not follow (seed, epoch)")
	}
}

func TestBelow(t *testing.T) {
	r := rand.NewPCG(3, 4)
	for _, n := range []uint64{1, 2, 3, 9, 1 << 40, math.MaxUint64} {
		for range 1000 {
			if v := below(r, n); v >= n {
				t.Fatalf("below(%d) = %d", n, v)
			}
		}
	}
}

func TestNormalizeErrors(t *testing.T) {
	cases := []struct {
		n    Normalize
		want string
	}{
		{Normalize{Mean: []float32{0.5}, Std: []float32{0.5}}, "1 means and 1 stds for 3 channels"},
		{Normalize{Mean: []float32{0.5, 0.5, 0.5}}, "3 means and 0 stds"},
		{Normalize{Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{1, 0, 1}}, "channel 1"},
		{Normalize{Mean: []float32{float32(math.NaN()), 0, 0}, Std: []float32{1, 1, 1}}, "channel 0"},
	}
	for _, c := range cases {
		if _, err := c.n.table(3); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.n, err, c.want)
		}
	}
}
