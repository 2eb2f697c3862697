package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/resnet-go/resnet/internal/isatest"
)

// TestGather checks the strided gather that fills phase planes, whose stride-2
// assembly handles blocks of 8 outputs and must not read past src.
func TestGather(t *testing.T) {
	isatest.Run(t, func(t *testing.T) {
		for _, stride := range []int{1, 2, 3} {
			for n := 0; n <= 35; n++ {
				t.Run(fmt.Sprintf("s%d/n%d", stride, n), func(t *testing.T) {
					srcLen := 0
					if n > 0 {
						srcLen = (n-1)*stride + 1 // exactly up to the last value read
					}
					src := make([]float32, srcLen)
					for i := range src {
						src[i] = float32(i + 1)
					}
					dst := fill(make([]float32, n+1), -1)
					gather(dst[:n], src, stride, curISA().asm)
					for i := 0; i < n; i++ {
						if dst[i] != float32(i*stride+1) {
							t.Fatalf("dst[%d] = %g, want %d", i, dst[i], i*stride+1)
						}
					}
					if dst[n] != -1 {
						t.Fatalf("dst[%d] beyond the end written: %g", n, dst[n])
					}
				})
			}
		}
	})
}

// TestAddReLURow checks the residual stage of compacted convolution outputs
// on both paths, every tail length, without writing past dst.
func TestAddReLURow(t *testing.T) {
	isatest.Run(t, func(t *testing.T) {
		for n := 0; n <= 19; n++ {
			for _, relu := range []bool{false, true} {
				src, res := make([]float32, n), make([]float32, n)
				for i := range src {
					src[i], res[i] = float32(i%5)-2.5, float32(i%3)-0.75
				}
				if n > 3 {
					src[3] = float32(math.NaN())
				}
				dst := fill(make([]float32, n+8), 9)
				addReLURow(dst[:n], src, res, relu, curISA().asm)
				for i := range n {
					want := src[i] + res[i]
					if relu && want < 0 {
						want = 0
					}
					if got := dst[i]; got != want && !(got != got && want != want) {
						t.Fatalf("n=%d relu=%v: dst[%d] = %g, want %g", n, relu, i, got, want)
					}
				}
				for i, v := range dst[n:] {
					if v != 9 {
						t.Fatalf("n=%d: dst[%d] past the end written", n, n+i)
					}
				}
			}
		}
	})
}

// TestFillBands checks the row bands in which a strided convolution's GEMM
// tasks fill their own planes (phaseGeom.bands): on ResNet-50's strided layers
// and the small cases, on 2 and 3 threads, the bands cover every row once, in
// order, wherever the GEMM is split by columns alone (as ResNet-50's 3×3/2
// into 28×28 must be), and the planes they fill equal the planes filled by
// channels, slack included.
func TestFillBands(t *testing.T) {
	cases := []ConvParams{
		{InC: 128, InH: 56, InW: 56, OutC: 128, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
		{InC: 256, InH: 28, InW: 28, OutC: 256, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
		{InC: 256, InH: 56, InW: 56, OutC: 512, KH: 1, KW: 1, StrideH: 2, StrideW: 2},
		{InC: 3, InH: 224, InW: 224, OutC: 64, KH: 7, KW: 7, StrideH: 2, StrideW: 2, PadH: 3, PadW: 3},
	}
	for _, tc := range convCases {
		if tc.p.StrideH > 1 || tc.p.StrideW > 1 || tc.p.KH > 1 {
			cases = append(cases, tc.p)
		}
	}
	isatest.Run(t, func(t *testing.T) {
		for ci, p := range cases {
			for _, threads := range []int{2, 3} {
				t.Run(fmt.Sprintf("%d/t%d", ci, threads), func(t *testing.T) {
					prevT, prevMin := Threads(), minParallelFlops
					SetThreads(threads)
					defer func() { SetThreads(prevT); minParallelFlops = prevMin }()
					if p.InC <= 8 {
						minParallelFlops = 0 // split the small cases too
					}
					pg := newPhaseGeom(p)
					cur := curISA()
					k := p.InC * p.KH * p.KW
					g := gemmArgs{m: p.OutC, k: k, n: pg.n, pa: PackA(p.OutC, k, make([]float32, p.OutC*k), k), isa: cur}
					size := p.InC * pg.planes * pg.plane
					g.b = &imagesB{src: make([]float32, size), off: pg.off, imgStride: size, cols: pg.n, imgs: 1}
					rows := pg.bands(&g)
					if tm, tn := g.split(); !g.colsOnly {
						if rows != nil {
							t.Fatalf("split %d×%d not by columns alone: bands %v, want none", tm, tn, rows)
						}
						if ci == 0 {
							t.Fatalf("ResNet-50's 3×3/2 into 28×28 split %d×%d, not by columns", tm, tn)
						}
						return
					}
					if len(rows) != threads+1 || rows[0] != 0 || rows[threads] != pg.rows {
						t.Fatalf("bands %v for %d rows on %d threads", rows, pg.rows, threads)
					}
					for i := 1; i < len(rows); i++ {
						if rows[i] < rows[i-1] {
							t.Fatalf("bands %v out of order", rows)
						}
					}
					in := randSlice(rand.New(rand.NewPCG(uint64(ci), 7)), p.InC*p.InH*p.InW)
					want, got := fill(make([]float32, size), 5), fill(make([]float32, size), 5)
					pg.fill(in, want, 0, p.InC, 0, pg.rows, cur.asm)
					for i := len(rows) - 2; i >= 0; i-- { // any order
						pg.fill(in, got, 0, p.InC, rows[i], rows[i+1], cur.asm)
					}
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("planes differ at %d: %g, want %g (bands %v)", i, got[i], want[i], rows)
						}
					}
				})
			}
		}
	})
}

// TestPhaseFill checks every value of the phase planes against their definition (plane
// (c, a, v) row i column j holds in[c][(i+dhMin)·sh+a][(j+base)·sw+b], zero off the map),
// for strides 1–3, odd and even maps, paddings and kernel sizes, both column layouts, whole
// planes and row ranges, into dirty memory, on every path (the stride-2 assembly fills a
// plane's rows in one call).
func TestPhaseFill(t *testing.T) {
	type tc struct{ inH, inW, k, s, pad int }
	cases := []tc{
		{56, 56, 3, 2, 1}, {28, 28, 3, 2, 1}, {14, 14, 3, 2, 1}, {224, 224, 7, 2, 3}, {56, 56, 1, 2, 0},
		{15, 17, 3, 2, 1}, {9, 33, 5, 2, 2}, {17, 40, 3, 2, 0}, {8, 8, 1, 2, 0}, {20, 19, 3, 3, 1}, {12, 12, 3, 1, 1},
	}
	isatest.Run(t, func(t *testing.T) {
		asm := curISA().asm
		for ci, c := range cases {
			for _, mode := range []int{splitNever, splitAlways} {
				t.Run(fmt.Sprintf("%d/mode%d", ci, mode), func(t *testing.T) {
					prev := phaseSplit
					phaseSplit = mode
					defer func() { phaseSplit = prev }()
					p := ConvParams{InC: 3, InH: c.inH, InW: c.inW, OutC: 1, KH: c.k, KW: c.k, StrideH: c.s, StrideW: c.s, PadH: c.pad, PadW: c.pad}
					g := newPhaseGeom(p)
					in := randSlice(rand.New(rand.NewPCG(uint64(ci), 3)), p.InC*p.InH*p.InW)
					size := p.InC * g.planes * g.plane
					for _, rr := range [][2]int{{0, g.rows}, {1, g.rows / 2}, {g.rows / 2, g.rows}} {
						e := fill(make([]float32, size), float32(math.NaN()))
						g.fill(in, e, 0, p.InC, rr[0], rr[1], asm)
						for ch := range p.InC {
							for a := range g.sh {
								if !g.usedH[a] {
									continue
								}
								for v, cv := range g.cv {
									plane := e[((ch*g.sh+a)*len(g.cv)+v)*g.plane:][:g.plane]
									for i := rr[0]; i < rr[1]; i++ {
										for j := range g.ew {
											y, x := (i+g.dhMin)*g.sh+a, (j+cv.base)*g.sw+cv.b
											want := float32(0)
											if y >= 0 && y < p.InH && x >= 0 && x < p.InW {
												want = in[(ch*p.InH+y)*p.InW+x]
											}
											if got := plane[i*g.ew+j]; math.Float32bits(got) != math.Float32bits(want) {
												t.Fatalf("rows %v: channel %d phase %d variant %+v: [%d][%d] = %v, want %v", rr, ch, a, cv, i, j, got, want)
											}
										}
									}
								}
							}
						}
					}
				})
			}
		}
	})
}
