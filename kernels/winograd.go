package kernels

import "fmt"

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
	// dense copy.
	for x := range ww.u {
		ww.u[x] = &PackedA{m: p.OutC, k: p.InC, data: make([]float32, ceilDiv(p.OutC, mr)*mr*p.InC)}
	}
	chunks := chunksFor(p.OutC, p.OutC*p.InC*np*12)
	parallel(chunks, func(i int) {
		gg := make([][3]float64, k.a) // G g
		for o := i * p.OutC / chunks; o < (i+1)*p.OutC/chunks; o++ {
			for c := 0; c < p.InC; c++ {
				at := ww.u[0].index(o, c) // the same in every U_ξ
				g := w[(o*p.InC+c)*9 : (o*p.InC+c)*9+9]
				for r := range k.a {
					for j := range 3 {
						gg[r][j] = k.g[r][0]*float64(g[j]) + k.g[r][1]*float64(g[3+j]) + k.g[r][2]*float64(g[6+j])
					}
				}
				for r := range k.a {
					for s := range k.a {
						v := gg[r][0]*k.g[s][0] + gg[r][1]*k.g[s][1] + gg[r][2]*k.g[s][2]
						ww.u[r*k.a+s].data[at] = float32(v)
					}
				}
			}
		}
	})
	return ww
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

// winoConv runs n images through the Winograd convolution, in groups of
// images of at most winoBatchBytes of transformed data (one image at least);
// arguments are checked by the caller.
func winoConv(p ConvParams, n int, in []float32, ww *winoWeights, bias, residual []float32, relu bool, out []float32) {
	one := newWinoGeom(ww.kind, p, 1)
	perImage := 4 * one.k.planes() * (p.InC + p.OutC) * one.tiles
	per := max(1, min(n, winoBatchBytes/perImage))
	inN, outN := p.InC*p.InH*p.InW, p.OutC*p.OutH()*p.OutW()
	for i := 0; i < n; i += per {
		k := min(per, n-i)
		var res []float32
		if residual != nil {
			res = residual[i*outN : (i+k)*outN]
		}
		winoGroup(p, k, in[i*inN:(i+k)*inN], ww, bias, res, relu, out[i*outN:(i+k)*outN])
	}
}

// winoGroup is winoConv for one group of n images.
func winoGroup(p ConvParams, n int, in []float32, ww *winoWeights, bias, residual []float32, relu bool, out []float32) {
	g := newWinoGeom(ww.kind, p, n)
	asm := useAsm.Load()
	buf := getScratch(g.vN + g.mN)
	defer putScratch(buf)
	v, m := (*buf)[:g.vN], (*buf)[g.vN:g.vN+g.mN]

	// Input transform, parallel over channels: a worker owns whole V rows,
	// so the 8-tile vector stores that run past a tile row are overwritten
	// in order by the next row, never raced.
	chunks := workChunks(p.InC, p.InC*g.inPlane*n)
	parallel(chunks, func(i int) {
		e := getScratch(g.k.a * g.ew)
		clear(*e) // the margins stay zero: they are the horizontal padding
		zero := getScratch(p.InW + 8)
		clear(*zero)
		for c := i * p.InC / chunks; c < (i+1)*p.InC/chunks; c++ {
			for img := range n {
				plane := in[(img*p.InC+c)*g.inPlane : (img*p.InC+c+1)*g.inPlane]
				for ty := range g.th {
					t0 := (img*g.th + ty) * g.tw
					g.inputRow(plane, *zero, *e, v[c*g.ld+t0:], ty, asm)
				}
			}
		}
		putScratch(zero)
		putScratch(e)
	})

	// The α² GEMMs, one task each.
	parallel(g.k.planes(), func(x int) {
		ga := gemmArgs{
			m: p.OutC, n: g.tiles, k: p.InC,
			pa: ww.u[x],
			b:  denseB{v[x*g.vs:], g.ld},
			c:  m[x*g.ms:], ldc: g.ld,
		}
		b := bufPool.Get().(*[]float32)
		ga.rect(0, p.OutC, 0, g.tiles, *b, asm)
		bufPool.Put(b)
	})

	// Output transform with the epilogue, parallel over output channels.
	chunks = workChunks(p.OutC, p.OutC*g.outPlane*n)
	parallel(chunks, func(i int) {
		junk := getScratch(g.ow)
		for o := i * p.OutC / chunks; o < (i+1)*p.OutC/chunks; o++ {
			var b float32
			if bias != nil {
				b = bias[o]
			}
			for img := range n {
				off := (img*p.OutC + o) * g.outPlane
				dst := out[off : off+g.outPlane]
				var res []float32
				if residual != nil {
					res = residual[off : off+g.outPlane]
				}
				for ty := range g.th {
					t0 := (img*g.th + ty) * g.tw
					g.outputRow(m[o*g.ld+t0:], dst, res, *junk, ty, b, relu, asm)
				}
			}
		}
		putScratch(junk)
	})
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
// whose margins are zero.
func (g *winoGeom) inputRow(plane, zero, e, v []float32, ty int, asm bool) {
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
	case asm && p.PadW < 8:
		winoInputAsm(k.m, rows[:k.a], p.InW, p.PadW, e, g.ew, g.groups, v, g.vs)
	case k.m == 2:
		winoInput2Go((*[4][]float32)(rows[:4]), p.PadW, g.tw, v, g.vs)
	default:
		winoInputGo(&rows, p.PadW, g.tw, v, g.vs)
	}
}

// outputRow writes output rows m·ty… (those < OH) of one channel from the
// tile row of M starting at mt, adding bias and the residual plane res (nil
// for none) and applying ReLU. junk absorbs the rows past OH.
func (g *winoGeom) outputRow(mt, dst, res, junk []float32, ty int, bias float32, relu, asm bool) {
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
	case asm:
		winoOutputAsm(g.k.m, mt, g.ms, g.groups, g.ow, outRows[:g.k.m], resRows[:g.k.m], res != nil, bias, relu)
	case g.k.m == 2:
		winoOutput2Go(mt, g.ms, g.tw, (*[2][]float32)(outRows[:2]), (*[2][]float32)(resRows[:2]), bias, relu)
	default:
		winoOutputGo(mt, g.ms, g.tw, &outRows, &resRows, bias, relu)
	}
}

// chunksPerThread bounds how many chunks workChunks makes per goroutine.
const chunksPerThread = 2
