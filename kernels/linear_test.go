package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/internal/isatest"
)

// refLinear returns w·x + bias in float64 and the error-bound magnitudes.
func refLinear(inF, outF int, x, w, bias []float32) (out, mag []float64) {
	out, mag = make([]float64, outF), make([]float64, outF)
	for o := 0; o < outF; o++ {
		for i := 0; i < inF; i++ {
			v := float64(w[o*inF+i]) * float64(x[i])
			out[o] += v
			mag[o] += math.Abs(v)
		}
		if bias != nil {
			out[o] += float64(bias[o])
			mag[o] += math.Abs(float64(bias[o]))
		}
	}
	return out, mag
}

var linearCases = []struct {
	n, inF, outF int
	bias         bool
}{
	{1, 2048, 1000, true}, // ResNet-50 head
	{1, 512, 10, true},
	{1, 7, 5, false},
	{1, 16, 4, true},
	{1, 0, 3, true},
	{3, 37, 11, true},
	{8, 512, 10, false},
	{7, 300, 33, true},
}

func TestLinear(t *testing.T) {
	isatest.Run(t, func(t *testing.T) {
		for i, tc := range linearCases {
			t.Run(fmt.Sprintf("n%d_%dto%d_bias=%v", tc.n, tc.inF, tc.outF, tc.bias), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(i), 9))
				x, w := randSlice(r, tc.n*tc.inF), randSlice(r, tc.outF*tc.inF)
				var bias []float32
				if tc.bias {
					bias = randSlice(r, tc.outF)
				}
				out := fill(make([]float32, tc.n*tc.outF), float32(math.NaN()))
				withThreads(3, func() {
					if tc.n == 1 {
						Linear(x, w, bias, out)
					} else {
						LinearBatch(tc.n, x, tc.inF, w, tc.outF, bias, out)
					}
				})
				for b := 0; b < tc.n; b++ {
					want, mag := refLinear(tc.inF, tc.outF, x[b*tc.inF:(b+1)*tc.inF], w, bias)
					tol := make([]float64, tc.outF)
					for o := range tol {
						tol[o] = bound(tc.inF, 1, mag[o], 0)
					}
					checkClose(t, fmt.Sprintf("out[%d]", b), 1, tc.outF, out[b*tc.outF:], tc.outF, want, tol)
				}
			})
		}
	})
}

func TestCheckLinear(t *testing.T) {
	tests := []struct {
		name                                string
		n, inF, outF, lenIn, lenW, lenB, lo int
		want                                string
	}{
		{"ok", 2, 3, 4, 6, 12, 4, 8, ""},
		{"no bias", 2, 3, 4, 6, 12, 0, 8, ""},
		{"input", 2, 3, 4, 5, 12, 4, 8, "input has 5 values, want at least 6"},
		{"longer buffers", 2, 3, 4, 7, 12, 4, 9, ""},
		{"weight", 2, 3, 4, 6, 11, 4, 8, "weight has 11 values, want 12"},
		{"bias", 2, 3, 4, 6, 12, 3, 8, "bias has 3 values, want 4"},
		{"output", 2, 3, 4, 6, 12, 4, 7, "output has 7 values, want at least 8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckLinear(tc.n, tc.inF, tc.outF, tc.lenIn, tc.lenW, tc.lenB, tc.lo)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// BenchmarkLinear is the ResNet-50 classifier (2048 → 1000) for one vector.
func BenchmarkLinear(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	x, w, bias, out := randSlice(r, 2048), randSlice(r, 1000*2048), randSlice(r, 1000), make([]float32, 1000)
	benchPaths(b, func(b *testing.B) {
		for b.Loop() {
			Linear(x, w, bias, out)
		}
		b.ReportMetric(2*2048*1000*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}
