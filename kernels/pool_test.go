package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/internal/isatest"
)

// refMaxPool pads with -∞ explicitly and takes every window's maximum.
func refMaxPool(c, h, w, k, s, pad int, in []float32) []float32 {
	ph, pw := h+2*pad, w+2*pad
	padded := fill(make([]float32, c*ph*pw), float32(math.Inf(-1)))
	for ch := 0; ch < c; ch++ {
		for y := 0; y < h; y++ {
			copy(padded[(ch*ph+y+pad)*pw+pad:], in[(ch*h+y)*w:(ch*h+y+1)*w])
		}
	}
	oh, ow := (ph-k)/s+1, (pw-k)/s+1
	out := make([]float32, c*oh*ow)
	for ch := 0; ch < c; ch++ {
		for y := 0; y < oh; y++ {
			for x := 0; x < ow; x++ {
				m := float32(math.Inf(-1))
				for dy := 0; dy < k; dy++ {
					for dx := 0; dx < k; dx++ {
						v := padded[(ch*ph+y*s+dy)*pw+x*s+dx]
						if math.IsNaN(float64(v)) || math.IsNaN(float64(m)) {
							m = float32(math.NaN())
						} else if v > m {
							m = v
						}
					}
				}
				out[(ch*oh+y)*ow+x] = m
			}
		}
	}
	return out
}

func TestMaxPool2D(t *testing.T) {
	tests := []struct{ c, h, w, k, s, pad int }{
		{64, 112, 112, 3, 2, 1}, // ResNet stem pool
		{3, 7, 9, 3, 2, 1},
		{2, 8, 8, 2, 2, 0},
		{2, 5, 5, 3, 1, 1},
		{1, 1, 1, 1, 1, 0},
		{1, 3, 3, 3, 3, 1},
		{5, 10, 3, 2, 1, 1},
	}
	// The 3×3/2/1 assembly path: every width up to three vector groups
	// (tails of input and output), heights 1…4.
	for w := 1; w <= 40; w++ {
		tests = append(tests, struct{ c, h, w, k, s, pad int }{2, 1 + w%4, w, 3, 2, 1})
	}
	isatest.Run(t, func(t *testing.T) {
		for i, tc := range tests {
			t.Run(fmt.Sprintf("%dx%dx%d_k%d_s%d_p%d", tc.c, tc.h, tc.w, tc.k, tc.s, tc.pad), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(i), 3))
				in := randSlice(r, tc.c*tc.h*tc.w)
				for j := range in { // all-negative values check that padding is -∞, not 0
					in[j] = -float32(math.Abs(float64(in[j]))) - 1
				}
				in[r.IntN(len(in))] = float32(math.NaN())
				want := refMaxPool(tc.c, tc.h, tc.w, tc.k, tc.s, tc.pad, in)
				got := fill(make([]float32, len(want)+9), 7)
				withThreads(3, func() { MaxPool2D(tc.c, tc.h, tc.w, tc.k, tc.s, tc.pad, in, got[:len(want)]) })
				for j := range want {
					if got[j] != want[j] && !(math.IsNaN(float64(got[j])) && math.IsNaN(float64(want[j]))) {
						t.Fatalf("out[%d] = %g, want %g", j, got[j], want[j])
					}
				}
				for j, v := range got[len(want):] {
					if v != 7 {
						t.Fatalf("out[%d] past the output written", len(want)+j)
					}
				}
			})
		}
	})
}

// TestMaxPoolNaNEverywhere puts a NaN at each input position in turn: every
// window containing it, and only those, must be NaN.
func TestMaxPoolNaNEverywhere(t *testing.T) {
	isatest.Run(t, func(t *testing.T) {
		for _, w := range []int{5, 16, 19} {
			h := 5
			r := rand.New(rand.NewPCG(uint64(w), 4))
			base := randSlice(r, h*w)
			for pos := range base {
				in := append([]float32(nil), base...)
				in[pos] = float32(math.NaN())
				want := refMaxPool(1, h, w, 3, 2, 1, in)
				got := make([]float32, len(want))
				MaxPool2D(1, h, w, 3, 2, 1, in, got)
				for j := range want {
					if got[j] != want[j] && !(math.IsNaN(float64(got[j])) && math.IsNaN(float64(want[j]))) {
						t.Fatalf("w=%d NaN at %d: out[%d] = %g, want %g", w, pos, j, got[j], want[j])
					}
				}
			}
		}
	})
}

func TestCheckMaxPool2D(t *testing.T) {
	tests := []struct {
		name                            string
		c, h, w, k, s, pad, lenIn, lenO int
		want                            string
	}{
		{"ok", 2, 4, 4, 3, 2, 1, 32, 8, ""},
		{"pad too big", 2, 4, 4, 3, 2, 2, 32, 18, "at most half"},
		{"zero stride", 2, 4, 4, 3, 0, 1, 32, 8, "stride ≥ 1"},
		{"short input", 2, 4, 4, 3, 2, 1, 31, 8, "input has 31 values, want at least 32"},
		{"short output", 2, 4, 4, 3, 2, 1, 32, 7, "output has 7 values, want at least 8"},
		{"longer buffers", 2, 4, 4, 3, 2, 1, 40, 9, ""},
		{"empty", 0, 4, 4, 3, 2, 1, 0, 0, "non-empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckMaxPool2D(tc.c, tc.h, tc.w, tc.k, tc.s, tc.pad, tc.lenIn, tc.lenO)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestGlobalAvgPool(t *testing.T) {
	tests := []struct{ c, hw int }{{1, 1}, {3, 49}, {6, 7}, {2048, 49}, {64, 3136}}
	prev := Threads()
	SetThreads(3) // the large cases split their channels between threads
	defer SetThreads(prev)
	for i, tc := range tests {
		t.Run(fmt.Sprintf("%dx%d", tc.c, tc.hw), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 5))
			in := randSlice(r, tc.c*tc.hw)
			for j := range in {
				in[j] += 1000 // a large common offset exposes float32 accumulation
			}
			out := make([]float32, tc.c)
			GlobalAvgPool(tc.c, tc.hw, in, out)
			for ch := 0; ch < tc.c; ch++ {
				var s float64
				for _, v := range in[ch*tc.hw : (ch+1)*tc.hw] {
					s += float64(v)
				}
				want := s / float64(tc.hw)
				if math.Abs(float64(out[ch])-want) > 1e-6*math.Abs(want) {
					t.Fatalf("channel %d: %g, want %g", ch, out[ch], want)
				}
				// Channels split between threads keep each sum's order: bit for
				// bit the one-channel-at-a-time float64 mean, rounded once.
				if math.Float32bits(out[ch]) != math.Float32bits(float32(want)) {
					t.Fatalf("channel %d: %g, want %g exactly", ch, out[ch], float32(want))
				}
			}
		})
	}
}

func TestGlobalAvgPoolPanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "input has 5 values") {
			t.Fatalf("recovered %v", r)
		}
	}()
	GlobalAvgPool(2, 3, make([]float32, 5), make([]float32, 3))
}
