package kernels

import (
	"fmt"
	"sync/atomic"
)

// Winograd convolution F(m×m, 3×3) for 3×3 stride-1 convolutions (Lavin &
// Gray 2016): each m×m output tile is Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A for the α×α
// input patch d (α = m+2) and the 3×3 filter g. Summed over input channels
// the element-wise products become α² independent GEMMs M_ξ = U_ξ·V_ξ, with
// U_ξ the OutC×InC transformed filters (packed once, like PackConvWeights)
// and V_ξ the InC×tiles transformed input; they run on the packed GEMM. Bias,
// residual and ReLU are applied in the output transform.
//
// F(4×4, 3×3) needs 36/16 multiplications per output instead of 9, F(2×2,
// 3×3) 16/4; F4 has the larger rounding error (see TestWinogradTolerance) and
// 36/9 = 4 times the weights, which dominates when few tiles share them (a
// 7×7 map at batch 1 has 4 F4 tiles), so small maps use F2.
// The transforms use the points 0, ±1, ±2.

// winoLag is the tile slack at the end of V and M rows: the vectorised
// transforms read and write whole groups of 8 tiles.
const winoLag = 8

// winoKind is one F(m×m, 3×3) algorithm.
type winoKind struct {
	m, a int // output tile side m, input tile side α = m+2
	bt   [][]float64
	g    [][]float64
	at   [][]float64
}

func (k *winoKind) planes() int { return k.a * k.a }

var (
	winoF4 = &winoKind{m: 4, a: 6,
		bt: [][]float64{
			{4, 0, -5, 0, 1, 0},
			{0, -4, -4, 1, 1, 0},
			{0, 4, -4, -1, 1, 0},
			{0, -2, -1, 2, 1, 0},
			{0, 2, -1, -2, 1, 0},
			{0, 4, 0, -5, 0, 1},
		},
		g: [][]float64{
			{1.0 / 4, 0, 0},
			{-1.0 / 6, -1.0 / 6, -1.0 / 6},
			{-1.0 / 6, 1.0 / 6, -1.0 / 6},
			{1.0 / 24, 1.0 / 12, 1.0 / 6},
			{1.0 / 24, -1.0 / 12, 1.0 / 6},
			{0, 0, 1},
		},
		at: [][]float64{
			{1, 1, 1, 1, 1, 0},
			{0, 1, -1, 2, -2, 0},
			{0, 1, 1, 4, 4, 0},
			{0, 1, -1, 8, -8, 1},
		},
	}
	winoF2 = &winoKind{m: 2, a: 4,
		bt: [][]float64{
			{1, 0, -1, 0},
			{0, 1, 1, 0},
			{0, -1, 1, 0},
			{0, 1, 0, -1},
		},
		g: [][]float64{
			{1, 0, 0},
			{0.5, 0.5, 0.5},
			{0.5, -0.5, 0.5},
			{0, 0, 1},
		},
		at: [][]float64{
			{1, 1, 1, 0},
			{0, 1, -1, -1},
		},
	}
)

// winoWeights holds U_ξ = (G g Gᵀ)_ξ for every filter pair, packed per ξ for
// the GEMM: u[ξ] is OutC×InC.
type winoWeights struct {
	kind      *winoKind
	outC, inC int
	u         []*PackedA
	vec       atomic.Pointer[winoVecLayout] // the last geometry's vector layout (vecDesc)
}

// winoApplies reports whether p is a convolution the Winograd path computes.
func winoApplies(p ConvParams) bool {
	return p.KH == 3 && p.KW == 3 && p.StrideH == 1 && p.StrideW == 1
}

// newWinoWeights transforms OutC×InC×3×3 weights. The transform is done in
// float64, so U is the exact transform rounded once.
func newWinoWeights(k *winoKind, p ConvParams, w []float32) *winoWeights {
	if !winoApplies(p) {
		panic(fmt.Errorf("kernels: conv %+v: Winograd needs a 3×3 stride-1 kernel", p))
	}
	if len(w) != p.OutC*p.InC*9 {
		panic(fmt.Errorf("kernels: conv %+v: weights has %d values, want %d", p, len(w), p.OutC*p.InC*9))
	}
	np := k.planes()
	ww := &winoWeights{kind: k, outC: p.OutC, inC: p.InC, u: make([]*PackedA, np)}
	// U_ξ goes straight into the packed layout (PackedA.index), with no
	// dense copy. The planes share one allocation, planeStride apart: the
	// transform writes one value to each of them in turn, and planes of a
	// multiple of 4 KiB would all fall into one L1 set (measured: the
	// re-transform 10% slower).
	ker := curISA().gemm
	size := packedSize(p.OutC, p.InC, ker)
	stride := planeStride(size)
	all := make([]float32, (np-1)*stride+size)
	for x := range ww.u {
		ww.u[x] = &PackedA{m: p.OutC, k: p.InC, mr: ker.mr, kc: ker.kc, data: all[x*stride : x*stride+size : x*stride+size]}
	}
	ww.transform(w)
	return ww
}

// transform sets U from the OutC×InC×3×3 weights w (checked by the caller),
// overwriting the packed planes in place.
func (ww *winoWeights) transform(w []float32) {
	for _, u := range ww.u {
		u.changed()
	}
	chunks := chunksFor(ww.outC, ww.outC*ww.inC*ww.kind.planes()*12)
	if chunks == 1 {
		ww.transformRows(w, 0, ww.outC) // no closure to allocate
		return
	}
	parallel(chunks, func(i int) {
		ww.transformRows(w, i*ww.outC/chunks, (i+1)*ww.outC/chunks)
	})
}

// transformRows is transform for output channels o0…o1-1.
func (ww *winoWeights) transformRows(w []float32, o0, o1 int) {
	switch ww.kind.a {
	case 6:
		ww.transformRows6(w, o0, o1)
	case 4:
		ww.transformRows4(w, o0, o1)
	default:
		panic(fmt.Errorf("kernels: no Winograd weight transform for α = %d", ww.kind.a))
	}
}

// transformRows4 is the matrix form G·g·Gᵀ (transformRowsMatrix, the tests'
// reference) unrolled for α = 4 (F2): the same products and sums in the same
// order, so the same bits (F2's G holds only 0, ±½ and 1, so every product is
// exact and a fused multiply-add, as arm64 compiles them, rounds alike), with
// the plane slices and G's entries in locals instead of loops over slices of
// slices. The transform of one of
// ResNet-50's 512→512 layers at 7×7 (16.8 MB of U) took 8.5–9.3 ms instead
// of 16.2–16.7 on the 2-core Intel Xeon (BenchmarkWinoWeightTransform, two
// threads): the matrix form was the largest item of a ResNet-50 load's CPU
// profile (14% of the samples of load, first pass and one more).
func (ww *winoWeights) transformRows4(w []float32, o0, o1 int) {
	inC := ww.inC
	gm := ww.kind.g
	g00, g01, g02 := gm[0][0], gm[0][1], gm[0][2]
	g10, g11, g12 := gm[1][0], gm[1][1], gm[1][2]
	g20, g21, g22 := gm[2][0], gm[2][1], gm[2][2]
	g30, g31, g32 := gm[3][0], gm[3][1], gm[3][2]
	var planes [16][]float32
	for x := range planes {
		planes[x] = ww.u[x].data
	}
	for o := o0; o < o1; o++ {
		for c := 0; c < inC; c++ {
			at := ww.u[0].index(o, c)
			g := (*[9]float32)(w[(o*inC+c)*9:])
			// Column j of G·g: gm[r][0]·g[j] + gm[r][1]·g[3+j] + gm[r][2]·g[6+j].
			var gg [4][3]float64
			for j := range 3 {
				x0, x1, x2 := float64(g[j]), float64(g[3+j]), float64(g[6+j])
				gg[0][j] = g00*x0 + g01*x1 + g02*x2
				gg[1][j] = g10*x0 + g11*x1 + g12*x2
				gg[2][j] = g20*x0 + g21*x1 + g22*x2
				gg[3][j] = g30*x0 + g31*x1 + g32*x2
			}
			for r := range 4 {
				y0, y1, y2 := gg[r][0], gg[r][1], gg[r][2]
				planes[4*r][at] = float32(y0*g00 + y1*g01 + y2*g02)
				planes[4*r+1][at] = float32(y0*g10 + y1*g11 + y2*g12)
				planes[4*r+2][at] = float32(y0*g20 + y1*g21 + y2*g22)
				planes[4*r+3][at] = float32(y0*g30 + y1*g31 + y2*g32)
			}
		}
	}
}

// transformRows6 is transformRows for α = 6 (F4) through winoG6, G·g·Gᵀ by
// the sums G's rows share, for training's re-transform at every step. It
// is the matrix form's arithmetic (transformRowsMatrix) reassociated in
// float64 (tests compare them), so the float32 results agree but for a rare last bit.
func (ww *winoWeights) transformRows6(w []float32, o0, o1 int) {
	inC := ww.inC
	var planes [36][]float32
	for x := range planes {
		planes[x] = ww.u[x].data
	}
	for o := o0; o < o1; o++ {
		for c := 0; c < inC; c++ {
			at := ww.u[0].index(o, c)
			g := (*[9]float32)(w[(o*inC+c)*9:])
			// The columns of G·g, then G applied to each of its rows.
			a0, a1, a2, a3, a4, a5 := winoG6(float64(g[0]), float64(g[3]), float64(g[6]))
			b0, b1, b2, b3, b4, b5 := winoG6(float64(g[1]), float64(g[4]), float64(g[7]))
			c0, c1, c2, c3, c4, c5 := winoG6(float64(g[2]), float64(g[5]), float64(g[8]))
			winoPut6(&planes, 0, at, a0, b0, c0)
			winoPut6(&planes, 1, at, a1, b1, c1)
			winoPut6(&planes, 2, at, a2, b2, c2)
			winoPut6(&planes, 3, at, a3, b3, c3)
			winoPut6(&planes, 4, at, a4, b4, c4)
			winoPut6(&planes, 5, at, a5, b5, c5)
		}
	}
}

// winoPut6 stores row r of G·g·Gᵀ, G applied to row r of G·g, at index at of planes 6r…6r+5.
func winoPut6(planes *[36][]float32, r, at int, x0, x1, x2 float64) {
	y0, y1, y2, y3, y4, y5 := winoG6(x0, x1, x2)
	planes[6*r][at] = float32(y0)
	planes[6*r+1][at] = float32(y1)
	planes[6*r+2][at] = float32(y2)
	planes[6*r+3][at] = float32(y3)
	planes[6*r+4][at] = float32(y4)
	planes[6*r+5][at] = float32(y5)
}

// The entries of F4's weight transform G, for winoG6 and winoGCols.
const gQuarter, gSixth, gTwelfth, g24th = 1.0 / 4, 1.0 / 6, 1.0 / 12, 1.0 / 24

// winoG6 is G·x for a 3-vector x, G F4's weight transform (6×3), through the sums its rows
// share: 12 operations instead of 18 multiply-adds, in float64 as the matrix form. With it
// the transform (twice a training step for every 3×3 layer) runs ~2× faster.
func winoG6(x0, x1, x2 float64) (y0, y1, y2, y3, y4, y5 float64) {
	e := x0 + x2
	f, h := x0*g24th+x2*gSixth, x1*gTwelfth
	return x0 * gQuarter, -(e + x1) * gSixth, -(e - x1) * gSixth, f + h, f - h, x2
}

// winoGeom is the tiling of one call: n images of the convolution p in
// th×tw tiles of m×m outputs per image, numbered image by image, row by row.
type winoGeom struct {
	k        *winoKind
	p        ConvParams
	n        int
	oh, ow   int
	th, tw   int
	tiles    int // n·th·tw
	ld       int // row stride of V and M: tiles + winoLag
	groups   int // vector groups of 8 tiles per tile row
	ew       int // width of a row of the vertical-pass scratch
	vs, ms   int // strides of the planes of V (InC×ld) and M (OutC×ld)
	vN, mN   int // sizes of V and M
	inPlane  int
	outPlane int
}

func newWinoGeom(k *winoKind, p ConvParams, n int) winoGeom {
	g := winoGeom{k: k, p: p, n: n, oh: p.OutH(), ow: p.OutW()}
	g.th, g.tw = ceilDiv(g.oh, k.m), ceilDiv(g.ow, k.m)
	g.tiles = n * g.th * g.tw
	g.ld = g.tiles + winoLag
	g.groups = ceilDiv(g.tw, 8)
	g.ew = 8*k.m*g.groups + 16 + p.PadW
	g.vs, g.ms = planeStride(p.InC*g.ld), planeStride(p.OutC*g.ld)
	g.vN, g.mN = k.planes()*g.vs, k.planes()*g.ms
	g.inPlane, g.outPlane = p.InH*p.InW, g.oh*g.ow
	return g
}

// planeStride is a stride of at least n floats for planes accessed together
// (a transform reads one vector from each of 36 planes): an odd number of
// cache lines, so that the planes do not all fall into one L1 set, as they
// would with a multiple of 4 KiB.
func planeStride(n int) int {
	lines := ceilDiv(n, 16)
	if lines%2 == 0 {
		lines++
	}
	return lines * 16
}

// winoBatchBytes bounds the V and M matrices of one pass over a batch: the
// images of a batch are transformed together (more tiles per GEMM, weights
// read once), but in groups whose transformed data stays in the L3 cache.
const winoBatchBytes = 4 << 20

// winoConv runs n NCHW images through the Winograd convolution with the
// row-major transforms (the inference path); arguments are checked by the
// caller.
func winoConv(p ConvParams, n int, in []float32, ww *winoWeights, bias, residual []float32, relu bool, out []float32) {
	winoConvLayout(p, n, in, NCHW(p.InC, p.InH, p.InW), ww, bias, residual, relu, out, NCHW(p.OutC, p.OutH(), p.OutW()), false)
}

// winoConvLayout runs n images, their planes placed as inL and outL say
// (residual as out), through the Winograd convolution: with lanes set and
// where they apply, all at once through the lane-major transforms
// (winoGroupFused), else in groups of images of at most winoBatchBytes of
// transformed data (one image at least) through the row-major ones.
// Arguments are checked by the caller.
func winoConvLayout(p ConvParams, n int, in []float32, inL Layout, ww *winoWeights, bias, residual []float32, relu bool, out []float32, outL Layout, lanes bool) {
	cur := curISA()
	one := newWinoGeom(ww.kind, p, 1)
	perImage := 4 * one.k.planes() * (p.InC + p.OutC) * one.tiles
	per := max(1, min(n, winoBatchBytes/perImage))
	lanes = lanes && lanesApply(cur, ww.kind, p)
	all := newWinoGeom(ww.kind, p, n)
	tiled := !lanes && winoTiledApplies(&all, Threads())
	if lanes || tiled {
		per = n // the fused paths keep V and M per task, not per group
	}
	for i := 0; i < n; i += per {
		k := min(per, n-i)
		var res []float32
		if residual != nil {
			res = residual[i*outL.Image:]
		}
		group := winoGroup
		switch {
		case lanes:
			group = winoGroupFused
		case tiled:
			group = winoGroupTiled
		}
		group(cur, p, k, in[i*inL.Image:], inL, ww, bias, res, relu, out[i*outL.Image:], outL)
	}
}

// winoGroup is winoConvLayout for one group of n images with the row-major
// transforms on path cur; in, residual and out start at the group's first image.
func winoGroup(cur *isaImpl, p ConvParams, n int, in []float32, inL Layout, ww *winoWeights, bias, residual []float32, relu bool, out []float32, outL Layout) {
	g := newWinoGeom(ww.kind, p, n)
	vd := ww.vecDesc(cur, p)
	if vd != nil {
		g.dropLag()
	}
	buf := getScratch(g.vN + g.mN)
	defer putScratch(buf)
	v, m := (*buf)[:g.vN], (*buf)[g.vN:g.vN+g.mN]

	// Input transform, parallel over channels: a worker owns whole V rows,
	// so the 8-tile vector stores that run past a tile row are overwritten
	// in order by the next row, never raced.
	chunks := workChunks(p.InC, p.InC*g.inPlane*n)
	parallel(chunks, func(i int) {
		e := getScratch(max(g.k.a*g.ew, winoVecScratch))
		clear(*e) // the margins stay zero: they are the horizontal padding
		zero := getScratch(p.InW + 8)
		clear(*zero)
		for c := i * p.InC / chunks; c < (i+1)*p.InC/chunks; c++ {
			for img := range n {
				at := img*inL.Image + c*inL.Channel
				plane := in[at : at+g.inPlane]
				if vd != nil {
					for q := range vd.calls(g.th) {
						t0 := (img*g.th + q*vd.rows) * g.tw
						winoInputVec(g.k, vd, plane, p, g.th, q, *e, v[c*g.ld+t0:], g.vs)
					}
					continue
				}
				for ty := range g.th {
					t0 := (img*g.th + ty) * g.tw
					g.inputRow(plane, *zero, *e, v[c*g.ld+t0:], ty, cur)
				}
			}
		}
		putScratch(zero)
		putScratch(e)
	})

	g.gemms(ww, v, m, cur)

	// Output transform with the epilogue, parallel over output channels.
	chunks = workChunks(p.OutC, p.OutC*g.outPlane*n)
	parallel(chunks, func(i int) {
		junk := getScratch(max(g.ow, winoVecScratch))
		for o := i * p.OutC / chunks; o < (i+1)*p.OutC/chunks; o++ {
			var b float32
			if bias != nil {
				b = bias[o]
			}
			for img := range n {
				off := img*outL.Image + o*outL.Channel
				dst := out[off : off+g.outPlane]
				var res []float32
				if residual != nil {
					res = residual[off : off+g.outPlane]
				}
				if vd != nil {
					for q := range vd.calls(g.th) {
						t0 := (img*g.th + q*vd.rows) * g.tw
						winoOutputVec(g.k, vd, m[o*g.ld+t0:], g.ms, g.th, q, *junk, dst, res, g.oh, g.ow, b, relu)
					}
					continue
				}
				for ty := range g.th {
					t0 := (img*g.th + ty) * g.tw
					g.outputRow(m[o*g.ld+t0:], dst, res, *junk, ty, b, relu, cur)
				}
			}
		}
		putScratch(junk)
	})
}

// gemms computes M_ξ = U_ξ·V_ξ for the α² planes on path cur, each plane's rows cut into
// planeSplit blocks, one task each, and its columns into the bands winoGroupTiled would
// take (so that both round alike).
func (g *winoGeom) gemms(ww *winoWeights, v, m []float32, cur *isaImpl) {
	planes, mr := g.k.planes(), cur.gemm.mr
	panels := ceilDiv(g.p.OutC, mr)
	nbi := g.bandsPerImage()
	s := planeSplit(planes, panels, Threads(), 2*float64(g.p.OutC)*float64(g.tiles)*float64(g.p.InC))
	parallel(planes*s, func(i int) {
		x, part := i/s, i%s
		m0, m1 := part*panels/s*mr, min((part+1)*panels/s*mr, g.p.OutC)
		ga := g.planeGemm(ww, x, v, m, g.tiles, cur)
		b := cur.gemm.buf()
		if nbi == 1 {
			ga.rect(m0, m1, 0, g.tiles, *b)
		} else {
			for band := range g.n * nbi {
				r0, r1 := g.band(band, nbi)
				ga.rect(m0, m1, r0*g.tw, r1*g.tw, *b)
			}
		}
		cur.gemm.putBuf(b)
	})
}

// planeGemm is the GEMM of plane x, M_x = U_x·V_x, over n columns of V and M laid out
// as g says (planes g.vs and g.ms apart, rows g.ld), on path cur.
func (g *winoGeom) planeGemm(ww *winoWeights, x int, v, m []float32, n int, cur *isaImpl) gemmArgs {
	return gemmArgs{
		m: g.p.OutC, n: n, k: g.p.InC,
		pa: ww.u[x],
		b:  denseB{v[x*g.vs:], g.ld},
		c:  m[x*g.ms:], ldc: g.ld,
		isa: cur,
	}
}

// planeSplit is how many row blocks each of the planes' GEMMs (rowPanels panels of rows,
// flops each) is cut into so that the tasks fill t threads evenly. One task per plane
// leaves threads idle wherever t does not divide the planes: F4's 36 planes on 16
// threads run in three rounds, the last with 4 of 16 threads busy (75% of the phase's
// time used); cut in 4, 144 tasks make 9 full rounds. A cut must leave each task whole
// panels and a quarter of minParallelFlops (~5 µs: a task is a step of the parallel
// call's counter, not a hand-off), and must gain 2% of balance to be taken (each block
// reads the plane's V again). On 1, 2 and 4 threads the planes divide evenly: no cut.
func planeSplit(planes, rowPanels, t int, flops float64) int {
	best, bestEff := 1, 0.0
	for s := 1; s <= min(rowPanels, 8); s++ {
		if s > 1 && flops/float64(s) < minParallelFlops/4 {
			break
		}
		tasks := planes * s
		if eff := float64(tasks) / float64(ceilDiv(tasks, t)*t); eff > bestEff+0.02 {
			best, bestEff = s, eff
		}
	}
	return best
}

// workChunks splits n items (channels) of `values` pixels in all into
// chunks the pool hands out dynamically: several per thread, so the last
// chunk leaves the other threads little to wait for and a core slowed by
// another process does not hold the phase up, but none much below ~4k
// pixels, a few microseconds of work.
func workChunks(n, values int) int {
	return max(1, min(n, chunksPerThread*Threads(), values/(1<<12)))
}

// inputRow transforms tile row ty of one channel plane: tile tx's α² values
// go to v[ξ·vs + tx] (v starts at the row's first tile of channel c).
// zero is a zero row of at least InW+8 values; e is scratch of α·ew values
// whose margins are zero. cur is the path whose kernels run.
func (g *winoGeom) inputRow(plane, zero, e, v []float32, ty int, cur *isaImpl) {
	p, k := g.p, g.k
	var rows [6][]float32
	for i := range k.a {
		y := k.m*ty - p.PadH + i
		if y < 0 || y >= p.InH {
			rows[i] = zero[:p.InW]
		} else {
			rows[i] = plane[y*p.InW : (y+1)*p.InW]
		}
	}
	switch {
	case cur.asm && p.PadW < 8:
		winoInputAsm(k.m, rows[:k.a], p.InW, p.PadW, e, g.ew, g.groups, v, g.vs)
	case cur.neon && k.m == 4 && p.PadW < 8:
		winoInputNEON(&rows, p.InW, p.PadW, g.tw, e, g.ew, g.groups, v, g.vs)
	case k.m == 2:
		winoInput2Go((*[4][]float32)(rows[:4]), p.PadW, g.tw, v, g.vs)
	default:
		winoInputGo(&rows, p.PadW, g.tw, v, g.vs)
	}
}

// outputRow writes output rows m·ty… (those < OH) of one channel from the
// tile row of M starting at mt, adding bias and the residual plane res (nil
// for none) and applying ReLU. junk absorbs the rows past OH.
func (g *winoGeom) outputRow(mt, dst, res, junk []float32, ty int, bias float32, relu bool, cur *isaImpl) {
	var outRows, resRows [4][]float32
	for i := range g.k.m {
		y := g.k.m*ty + i
		if y >= g.oh {
			outRows[i] = junk[:g.ow]
			if res != nil {
				resRows[i] = junk[:g.ow]
			}
			continue
		}
		outRows[i] = dst[y*g.ow : (y+1)*g.ow]
		if res != nil {
			resRows[i] = res[y*g.ow : (y+1)*g.ow]
		}
	}
	switch {
	case cur.asm:
		winoOutputAsm(g.k.m, mt, g.ms, g.groups, g.ow, outRows[:g.k.m], resRows[:g.k.m], res != nil, bias, relu)
	case cur.neon && g.k.m == 4:
		winoOutputNEON(mt, g.ms, g.tw, g.ow, &outRows, &resRows, bias, relu)
	case g.k.m == 2:
		winoOutput2Go(mt, g.ms, g.tw, (*[2][]float32)(outRows[:2]), (*[2][]float32)(resRows[:2]), bias, relu)
	default:
		winoOutputGo(mt, g.ms, g.tw, &outRows, &resRows, bias, relu)
	}
}

// chunksPerThread bounds how many chunks workChunks makes per goroutine.
const chunksPerThread = 2
