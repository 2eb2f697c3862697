package kernels

import (
	"math"
	"testing"
)

func TestReLU(t *testing.T) {
	for _, n := range []int{0, 1, 7, 300001} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(i%7) - 3
		}
		if n > 2 {
			x[2] = float32(math.NaN())
		}
		withThreads(3, func() { ReLU(x) })
		for i, v := range x {
			want := max(float32(i%7)-3, 0)
			if i == 2 {
				if !math.IsNaN(float64(v)) {
					t.Fatalf("n=%d: NaN became %g", n, v)
				}
				continue
			}
			if v != want {
				t.Fatalf("n=%d: x[%d] = %g, want %g", n, i, v, want)
			}
		}
	}
}

func TestAdd(t *testing.T) {
	for _, n := range []int{0, 3, 300001} {
		d, a := make([]float32, n), make([]float32, n)
		for i := range d {
			d[i], a[i] = float32(i), float32(2*i)
		}
		withThreads(3, func() { Add(d, a) })
		for i, v := range d {
			if v != float32(3*i) {
				t.Fatalf("n=%d: d[%d] = %g, want %d", n, i, v, 3*i)
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Add with different lengths did not panic")
		}
	}()
	Add(make([]float32, 2), make([]float32, 3))
}

// Copy copies (or, with src nil, zeroes) every value whatever the length, on any thread
// count, and refuses a short source.
func TestCopy(t *testing.T) {
	prev := Threads()
	defer SetThreads(prev)
	for _, threads := range []int{1, 3} {
		SetThreads(threads)
		for _, n := range []int{0, 1, 4095, 1 << 18} {
			src, dst := make([]float32, n), make([]float32, n)
			for i := range src {
				src[i], dst[i] = float32(i+1), -1
			}
			Copy(dst, src)
			for i := range dst {
				if dst[i] != src[i] {
					t.Fatalf("threads %d, n %d: dst[%d] = %v, want %v", threads, n, i, dst[i], src[i])
				}
			}
			Copy(dst, nil)
			for i, v := range dst {
				if v != 0 {
					t.Fatalf("threads %d, n %d: cleared dst[%d] = %v", threads, n, i, v)
				}
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("a source shorter than dst was accepted")
		}
	}()
	Copy(make([]float32, 3), make([]float32, 2))
}
