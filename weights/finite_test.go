package weights

import (
	"errors"
	"fmt"
	"math"
	"testing"
)

func TestFirstNonFinite(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	negNaN := math.Float32frombits(0xffc00001) // sign bit and a payload set
	sNaN := math.Float32frombits(0x7f800001)   // signalling NaN: smallest mantissa
	big, tiny := float32(math.MaxFloat32), math.Float32frombits(1)
	// A run of finite values of every kind that might be mistaken for a non-finite one.
	finite := []float32{0, float32(math.Copysign(0, -1)), 1, -1, big, -big, tiny, -tiny, math.Float32frombits(0x7f7fffff), 1e-38}
	cases := []struct {
		name string
		data []float32
		want int
	}{
		{"empty", nil, -1},
		{"finite extremes", finite, -1},
		{"NaN first", append([]float32{nan}, finite...), 0},
		{"+Inf last", append(append([]float32(nil), finite...), inf), len(finite)},
		{"-Inf in the tail after the unrolled part", append(append([]float32(nil), finite[:9]...), -inf), 9},
		{"negative NaN with payload", []float32{1, 2, negNaN, 4, 5}, 2},
		{"signalling NaN", []float32{1, 2, 3, 4, 5, 6, sNaN, 8}, 6},
		{"the first of several", []float32{1, 2, 3, inf, nan, -inf, 7}, 3},
		{"one value", []float32{inf}, 0},
	}
	for _, c := range cases {
		if got := FirstNonFinite(c.data); got != c.want {
			t.Errorf("%s: FirstNonFinite = %d, want %d", c.name, got, c.want)
		}
	}
	// Every position of every length up to 21 (the unrolled loop, its tail, an odd last
	// value), starting on an 8-byte boundary or between two.
	for skip := 0; skip < 2; skip++ {
		for n := 1; n <= 21; n++ {
			for at := 0; at <= n; at++ {
				buf := make([]float32, n+1)
				data := buf[skip : skip+n]
				for i := range data {
					data[i] = float32(i) - 6.5
				}
				want := -1
				if at < n {
					data[at], want = -inf, at
				}
				buf[(skip+n)%len(buf)] = nan // outside data: never seen
				if got := FirstNonFinite(data); got != want {
					t.Errorf("offset %d, length %d, -Inf at %d: got %d", skip, n, at, got)
				}
			}
		}
	}
}

func TestCheckFiniteMessage(t *testing.T) {
	cases := []struct {
		kind string
		v    float32
		want string
	}{
		{"", float32(math.NaN()), `tensor "a.weight" has a non-finite value (NaN) at index 2`},
		{"gradient of", float32(math.Inf(1)), `gradient of "a.weight" has a non-finite value (+Inf) at index 2`},
		{"BatchNorm statistic", float32(math.Inf(-1)), `BatchNorm statistic "a.weight" has a non-finite value (-Inf) at index 2`},
	}
	for _, c := range cases {
		err := CheckFinite(c.kind, "a.weight", []float32{0, 1, c.v, 3})
		var nf *NonFiniteError
		if !errors.As(err, &nf) || err.Error() != c.want || nf.Index != 2 {
			t.Errorf("got %v, want %s", err, c.want)
		}
	}
	if err := CheckFinite("", "a.weight", []float32{0, 1, 2}); err != nil {
		t.Errorf("finite data: %v", err)
	}
}

// BenchmarkFirstNonFinite measures the pass over ResNet-50's 25.6M parameters' worth of values.
func BenchmarkFirstNonFinite(b *testing.B) {
	for _, n := range []int{1 << 10, 25_557_032} {
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(i%1000) * 1e-3
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(4 * n))
			for b.Loop() {
				if FirstNonFinite(data) >= 0 {
					b.Fatal("found a non-finite value")
				}
			}
		})
	}
}
