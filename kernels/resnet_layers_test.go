package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/internal/isatest"
)

// TestResNetLayersAnyCoreCount runs every distinct convolution of ResNet-18 and ResNet-50 at
// 224×224, at its real size, as the models run it (bias and ReLU; the residual where a block
// adds one, after its last 1×1 or 3×3 convolution; the stem fused with its max pool), on every
// path, for one image and for two, on 1 thread and then on 2, 5 and 16. The task grids, K
// splits, Winograd tile bands, stem row chunks and pool splits all change with the thread
// count; the sums must not: every output must be the same bit for bit. This is what a 16-core
// user gets, checked on the 2-core machines that CI and development have (no 16-core machine
// is at hand; the threads only take turns here). Three output channels of each layer are also
// checked against a float64 direct convolution, with the tolerances of TestConv2DPlanned.
// Skipped with -short (the emulated and pure-Go runs in .ci/run): on the go path alone it
// takes most of a minute.
func TestResNetLayersAnyCoreCount(t *testing.T) {
	if testing.Short() {
		t.Skip("full-size ResNet layers on four thread counts: not with -short")
	}
	type layer struct {
		p        ConvParams
		residual bool // a block's last convolution: the block adds its input
		pooled   bool // the stem, fused with the 3×3/2 max pool
	}
	var layers []layer
	seen := map[string]bool{}
	add := func(ps []ConvParams, last func(i int) bool) {
		for i, p := range ps {
			l := layer{p: p, residual: last(i), pooled: i == 0}
			key := fmt.Sprintf("%+v %v", p, l.residual)
			if !seen[key] {
				seen[key] = true
				layers = append(layers, l)
			}
		}
	}
	// ResNet-50's list is stem, then per block [projection], 1×1, 3×3, 1×1 (the last adds the
	// residual); ResNet-18's is stem, then per block [projection], 3×3, 3×3 (the last adds it).
	r50 := resnet50Convs()
	add(r50, func(i int) bool { return i >= 2 && r50[i].KH == 1 && r50[i-1].KH == 3 })
	r18 := resnet18Convs()
	add(r18, func(i int) bool { return i > 0 && r18[i].KH == 3 && isSecond3x3(r18, i) })
	isatest.Run(t, func(t *testing.T) {
		for _, l := range layers {
			for _, n := range []int{1, 2} {
				p := l.p
				name := fmt.Sprintf("%dx%d/%d %d->%d @%d n%d", p.KH, p.KW, p.StrideH, p.InC, p.OutC, p.InH, n)
				if l.residual {
					name += " +res"
				}
				if l.pooled {
					name += " +pool"
				}
				t.Run(name, func(t *testing.T) { runAnyCoreCount(t, p, n, l.residual, l.pooled, nameSeed(name)) })
			}
		}
	})
}

// isSecond3x3 reports whether ResNet-18's convolution i is the second 3×3 of its block: the
// list alternates first and second 3×3 convolutions, with a 1×1 projection before some
// firsts.
func isSecond3x3(ps []ConvParams, i int) bool {
	k := 0 // position within the run of 3×3 convolutions since the last 1×1 or the stem
	for j := 1; j <= i; j++ {
		if ps[j].KH == 1 {
			k = 0
			continue
		}
		k++
	}
	return k%2 == 0
}

func runAnyCoreCount(t *testing.T, p ConvParams, n int, withRes, pooled bool, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 3))
	in := randSlice(r, n*p.InC*p.InH*p.InW)
	w := randSlice(r, p.OutC*p.InC*p.KH*p.KW)
	bias := randSlice(r, p.OutC)
	oh, ow := p.OutH(), p.OutW()
	outN := n * p.OutC * oh * ow
	var res []float32
	if withRes {
		res = randSlice(r, outN)
	}
	pl := PlanConv(p, w)
	ph, pw := (oh-1)/2+1, (ow-1)/2+1
	run := func(threads int) []float32 {
		size := outN
		if pooled {
			size = n * p.OutC * ph * pw
		}
		out := fill(make([]float32, size), float32(math.NaN()))
		withThreads(threads, func() {
			if pooled {
				Conv2DPlannedMaxPool(p, n, in, pl, bias, true, nil, out)
			} else {
				Conv2DPlanned(p, n, in, pl, bias, res, true, out)
			}
		})
		return out
	}
	want := run(1)
	for _, threads := range []int{2, 5, 16} {
		got := run(threads)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s, %d threads: output %d = %g, one thread gives %g (the sums must not depend on the thread count)",
					pl.Algorithm(), threads, i, got[i], want[i])
			}
		}
	}
	// Three output channels of the last image against float64, before the pool.
	img := n - 1
	inImg := in[img*p.InC*p.InH*p.InW : (img+1)*p.InC*p.InH*p.InW]
	hw := oh * ow
	for _, o := range []int{0, p.OutC / 2, p.OutC - 1} {
		ref, mag := make([]float64, hw), make([]float64, hw)
		for y := range oh {
			for x := range ow {
				s, m := float64(bias[o]), math.Abs(float64(bias[o]))
				for c := range p.InC {
					for ky := range p.KH {
						iy := y*p.StrideH - p.PadH + ky
						if iy < 0 || iy >= p.InH {
							continue
						}
						for kx := range p.KW {
							ix := x*p.StrideW - p.PadW + kx
							if ix < 0 || ix >= p.InW {
								continue
							}
							v := float64(w[((o*p.InC+c)*p.KH+ky)*p.KW+kx]) * float64(inImg[(c*p.InH+iy)*p.InW+ix])
							s += v
							m += math.Abs(v)
						}
					}
				}
				if res != nil {
					rv := float64(res[(img*p.OutC+o)*hw+y*ow+x])
					s, m = s+rv, m+math.Abs(rv)
				}
				ref[y*ow+x], mag[y*ow+x] = math.Max(s, 0), m
			}
		}
		if pooled {
			checkPooledPlane(t, want[(img*p.OutC+o)*ph*pw:][:ph*pw], ref, mag, oh, ow, p.InC*p.KH*p.KW)
			continue
		}
		got := want[(img*p.OutC+o)*hw:][:hw]
		if strings.HasPrefix(pl.Algorithm(), "winograd") {
			checkPlanes(t, got, ref, mag, hw)
			continue
		}
		tol := make([]float64, hw)
		for i := range tol {
			tol[i] = bound(p.InC*p.KH*p.KW, 2, mag[i], 0)
		}
		checkClose(t, fmt.Sprintf("%s, channel %d", pl.Algorithm(), o), 1, hw, got, hw, ref, tol)
	}
}

// checkPooledPlane checks one channel of the fused stem and pool against the 3×3/2 max pool
// (padding 1) of the float64 convolution ref, with the convolution's tolerance: the pool
// picks one of the window's values, each within its bound of the true one.
func checkPooledPlane(t *testing.T, got []float32, ref, mag []float64, oh, ow, k int) {
	t.Helper()
	ph, pw := (oh-1)/2+1, (ow-1)/2+1
	for y := range ph {
		for x := range pw {
			best, tol := math.Inf(-1), 0.0
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					iy, ix := 2*y+dy, 2*x+dx
					if iy < 0 || iy >= oh || ix < 0 || ix >= ow {
						continue
					}
					best = math.Max(best, ref[iy*ow+ix])
					tol = math.Max(tol, bound(k, 2, mag[iy*ow+ix], 0))
				}
			}
			if g := float64(got[y*pw+x]); !(math.Abs(g-best) <= tol) {
				t.Fatalf("pooled [%d,%d] = %g, want %g (±%.3g)", y, x, g, best, tol)
			}
		}
	}
}
