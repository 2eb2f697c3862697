package kernels

import (
	"fmt"
	"unsafe"
)

// Winograd transforms 16 tiles a vector (AVX-512; see kernels/_asm/winovec.go).
// The row kernels take 8 tiles of one tile row a vector, a call per tile row:
// on ResNet's 14×14 (F4) and 7×7 (F2) maps, 4 tiles a row, half of every vector
// was empty, and on one Zen 5 core the input and output transforms of a 256→256
// layer at 14×14 took 134 and 118 µs against 699 for its 36 plane products. A
// call of the vector kernels transforms 16 tiles of one channel: four tile rows
// of a map of ≤ 4 tiles a row, two of ≤ 8, or one of ≤ 16 (in two halves), in
// V's order. Measured on one Zen 5 core, every channel of a layer in a loop
// (input, output transform, µs): 14×14 with 256 channels 90 → 34 and 74 → 24,
// 28×28 with 128 channels 89 → 56 and 70 → 42, 56×56 with 64 channels 111 → 119
// and 105 → 96; the whole layers (BenchmarkConv2DPlanned, alternating runs) 5%
// faster at 56×56 on one thread and 10% on two, where V and M, no longer
// padded by winoLag, are 4% smaller. ResNet-18 on two threads: 0.912 of the
// time with the four-row layout alone (ABBA rounds), 0.966 of that with the others.

// winoVecDesc lays a layer's tiles out 16 to a vector for the vector kernels,
// which read its fields at fixed offsets (vd… in kernels/_asm/winovec.go;
// TestWinoVecDescLayout). Per call, input block b holds the a rows
// y0+inRow[b]+i (i < a) from column inCol[b]/4, 16 columns, zero outside the
// plane; the input permute of window column j takes lane l from position
// inIdx[j][l] of blocks 0‖1, or of 2‖3 where seg has l. Output block b is
// output row yo+outRow[b]+r (r < m), columns outCol[b]/4… under outMask[b],
// lane c taken from lane outIdx[b][c] of Y(r,0)‖Y(r,1), or of Y(r,2)‖Y(r,3)
// where blend has c (F4).
type winoVecDesc struct {
	inIdx   [6][16]int32
	outIdx  [4][16]int32
	inRow   [4]int64
	inCol   [4]int64
	inMask  [4]int64
	outRow  [4]int64
	outCol  [4]int64
	outMask [4]int64
	rowB    int64
	owB     int64
	seg     int64
	blend   int64

	// Not read by the kernels.
	rows int // tile rows a call
	tw   int // tiles a tile row
}

// winoVecScratch is the scratch a vector-kernel call needs, with room to align
// it to 64 bytes: F4's input transform stages 4·6 block rows and keeps 36
// vectors.
const winoVecScratch = 16*(4*6+6*6) + 16

// align64 returns s from its first 64-byte aligned element (s holds at least 16).
func align64(s []float32) []float32 {
	return s[(64-int(uintptr(unsafe.Pointer(&s[0]))%64))%64/4:]
}

// newWinoVecDesc lays out the tiles of layer p (algorithm k) for the vector
// kernels of path cur, or returns nil where they do not serve: other paths,
// tile rows of more than 16 tiles, or windows wider than the blocks reach.
func newWinoVecDesc(cur *isaImpl, k *winoKind, p ConvParams) *winoVecDesc {
	m, a := k.m, k.a
	ow := p.OutW()
	tw := ceilDiv(ow, m)
	if !cur.wino16 || tw > 16 {
		return nil
	}
	d := &winoVecDesc{rowB: int64(4 * p.InW), owB: int64(4 * ow), tw: tw}
	// Each input block's tile row and first column, each lane's tile and permute.
	var bdt, bx0 [4]int
	type lane struct{ dt, tx, perm int }
	var lanes []lane
	// Output blocks: tile row and first column.
	var odt, ocol [4]int
	switch {
	case tw <= 4:
		d.rows = 4
		for b := range 4 {
			bdt[b], bx0[b] = b, -p.PadW
			odt[b] = b
		}
		for dt := range 4 {
			for tx := range tw {
				lanes = append(lanes, lane{dt, tx, dt / 2})
			}
		}
	case tw <= 8:
		d.rows = 2
		bdt = [4]int{0, 0, 1, 1}
		bx0 = [4]int{-p.PadW, 16 - p.PadW, -p.PadW, 16 - p.PadW}
		odt, ocol = [4]int{0, 0, 1, 1}, [4]int{0, 16, 0, 16}
		for dt := range 2 {
			for tx := range tw {
				lanes = append(lanes, lane{dt, tx, dt})
			}
		}
	default:
		d.rows = 1
		h := (tw + 1) / 2
		bx0 = [4]int{-p.PadW, 16 - p.PadW, m*h - p.PadW, m*h + 16 - p.PadW}
		ocol = [4]int{0, 16, 32, 48}
		for tx := range tw {
			lanes = append(lanes, lane{0, tx, tx / h})
		}
	}
	if d.rows*tw > 16 || ow > 16*(4/d.rows) {
		return nil
	}
	inside := func(x int) bool { return x >= 0 && x < p.InW }
	for b := range 4 {
		d.inRow[b], d.inCol[b] = int64(m*bdt[b]), int64(4*bx0[b])
		for c := range 16 {
			if inside(bx0[b] + c) {
				d.inMask[b] |= 1 << c
			}
		}
	}
	for l, ln := range lanes {
		if ln.perm == 1 {
			d.seg |= 1 << l
		}
	}
	for j := range a {
		for l, ln := range lanes {
			col := m*ln.tx + j - p.PadW
			pos := -1
			for t := range 2 {
				b := 2*ln.perm + t
				if inside(col) {
					if bdt[b] == ln.dt && col-bx0[b] >= 0 && col-bx0[b] < 16 {
						pos = 16*t + col - bx0[b]
						break
					}
					continue
				}
				for c := range 16 { // any value outside the row is a zero
					if !inside(bx0[b] + c) {
						pos = 16*t + c
						break
					}
				}
				if pos >= 0 {
					break
				}
			}
			if pos < 0 {
				return nil
			}
			d.inIdx[j][l] = int32(pos)
		}
	}
	lane0 := func(dt, tx int) int { return dt*tw + tx } // the lane of tile (dt, tx)
	if d.rows == 1 {
		lane0 = func(_, tx int) int { return tx }
	}
	for b := range 4 {
		d.outRow[b], d.outCol[b] = int64(m*odt[b]), int64(4*ocol[b])
		for c := range 16 {
			col := ocol[b] + c
			if col >= ow {
				continue
			}
			d.outMask[b] |= 1 << c
			tx, cc := col/m, col%m
			d.outIdx[b][c] = int32(lane0(odt[b], tx) + 16*(cc%2))
		}
	}
	if m == 4 {
		d.blend = 0xcccc
	}
	return d
}

// winoVecLayout is a layer's vector layout for one geometry and path (nil d: the row
// kernels serve it).
type winoVecLayout struct {
	cur *isaImpl
	p   ConvParams
	d   *winoVecDesc
}

// vecDesc is newWinoVecDesc for ww's layer, kept for the geometry of the last call:
// building one takes ~4 µs and five allocations, a layer's call on a 14×14 map ~200 µs.
func (ww *winoWeights) vecDesc(cur *isaImpl, p ConvParams) *winoVecDesc {
	if l := ww.vec.Load(); l != nil && l.cur == cur && l.p == p {
		return l.d
	}
	l := &winoVecLayout{cur: cur, p: p, d: newWinoVecDesc(cur, ww.kind, p)}
	ww.vec.Store(l)
	return l.d
}

// calls is how many vector-kernel calls a channel of one image takes (th tile rows).
func (d *winoVecDesc) calls(th int) int { return ceilDiv(th, d.rows) }

// call returns call q's first tile row and the lanes of its tiles.
func (d *winoVecDesc) call(q, th int) (ty0, lanes int) {
	ty0 = q * d.rows
	return ty0, 1<<(min(d.rows, th-ty0)*d.tw) - 1
}

// winoInputVec transforms call q of one inH×inW channel plane (padding p.PadH):
// element ξ of the call's l-th tile goes to v[ξ·stride+l]. e is scratch of
// winoVecScratch values.
func winoInputVec(k *winoKind, d *winoVecDesc, plane []float32, p ConvParams, th, q int, e, v []float32, stride int) {
	a := k.a
	if len(plane) < p.InH*p.InW || d.rowB != int64(4*p.InW) {
		panic(fmt.Errorf("kernels: winoInputVec: %d values for a %d×%d plane", len(plane), p.InH, p.InW))
	}
	e = align64(e)
	if len(e) < 16*(4*a+a*a) {
		panic(fmt.Errorf("kernels: winoInputVec: scratch of %d values", len(e)))
	}
	ty0, lanes := d.call(q, th)
	_ = v[(a*a-1)*stride+min(d.rows, th-ty0)*d.tw-1]
	y0 := k.m*ty0 - p.PadH
	if a == 6 {
		winoInV6(&plane[0], p.InH, y0, &d.inIdx[0][0], &e[0], &v[0], stride, lanes)
	} else {
		winoInV4(&plane[0], p.InH, y0, &d.inIdx[0][0], &e[0], &v[0], stride, lanes)
	}
}

// winoOutputVec inverts call q of one output channel, the call's l-th tile
// reading mt[ξ·stride+l], into the oh×ow plane out, adding bias and the
// residual plane res (nil for none), then ReLU. e is scratch of winoVecScratch
// values.
func winoOutputVec(k *winoKind, d *winoVecDesc, mt []float32, stride, th, q int, e, out, res []float32, oh, ow int, bias float32, relu bool) {
	a := k.a
	if d.owB != int64(4*ow) || len(out) < oh*ow || (res != nil && len(res) < oh*ow) {
		panic(fmt.Errorf("kernels: winoOutputVec: %d×%d plane in %d values (residual %d)", oh, ow, len(out), len(res)))
	}
	e = align64(e)
	if len(e) < 16*k.m*a {
		panic(fmt.Errorf("kernels: winoOutputVec: scratch of %d values", len(e)))
	}
	ty0, lanes := d.call(q, th)
	_ = mt[(a*a-1)*stride+min(d.rows, th-ty0)*d.tw-1]
	flags := 0
	rp := &out[0] // not read without flags&1
	if res != nil {
		flags |= 1
		rp = &res[0]
	}
	if relu {
		flags |= 2
	}
	if a == 6 {
		winoOutV6(&mt[0], stride, &d.inIdx[0][0], &e[0], &out[0], rp, oh, k.m*ty0, lanes, flags, bias)
	} else {
		winoOutV4(&mt[0], stride, &d.inIdx[0][0], &e[0], &out[0], rp, oh, k.m*ty0, lanes, flags, bias)
	}
}

// dropLag lays V and M out without winoLag's slack, for the vector kernels,
// which write and read exactly the tiles they transform.
func (g *winoGeom) dropLag() {
	g.ld = g.tiles
	g.vs, g.ms = planeStride(g.p.InC*g.ld), planeStride(g.p.OutC*g.ld)
	g.vN, g.mN = g.k.planes()*g.vs, g.k.planes()*g.ms
}
