package kernels

import (
	"fmt"
	"unsafe"
)

// Whole-plane Winograd transforms (AVX-512; see kernels/_asm/winoplane.go). On
// ResNet's 14×14 maps (F4) and 7×7 ones (F2) a channel has 4×4 tiles, and the
// row kernels, 8 tiles a vector, ran half empty, a call per tile row: on one
// Zen 5 core the input and output transforms of a 256→256 layer at 14×14 took
// 134 and 118 µs against 699 for its 36 plane products, and on two threads
// they scaled worst (166 and 86 µs). The plane kernels put a channel's 16 tiles
// in one zmm and transform the channel in one call, with the same arithmetic.

// planeTransforms reports whether the whole-plane transforms serve geometry g
// on path cur: maps of exactly 4×4 tiles whose input rows fit in 15 lanes (the
// 16th is the zero the permutes read for columns outside the row).
func (g *winoGeom) planeTransforms(cur *isaImpl) bool {
	return cur.wino16 && g.th == 4 && g.tw == 4 && g.p.InW <= 15
}

// planeScratchN is the scratch one plane transform needs, with room to align
// it to 64 bytes: F4's input transform stages 18 rows and keeps 36 vectors.
const planeScratchN = 16*(3*4+6+6*6) + 16

// align64 returns s from its first 64-byte aligned element (s holds at least 16).
func align64(s []float32) []float32 {
	return s[(64-int(uintptr(unsafe.Pointer(&s[0]))%64))%64/4:]
}

// winoPlaneIdx holds the input permutes' index vectors, one per window
// column j: lane 4ty+tx takes input column m·tx+j-padW of tile row ty's row,
// lane 15 (zero) where that column is outside the row, from the second table
// (+16) for odd ty.
type winoPlaneIdx [6][16]int32

func newWinoPlaneIdx(k *winoKind, inW, padW int) *winoPlaneIdx {
	var idx winoPlaneIdx
	for j := range k.a {
		for l := range 16 {
			ty, tx := l/4, l%4
			c := k.m*tx + j - padW
			if c < 0 || c >= inW {
				c = 15
			}
			idx[j][l] = int32(c + 16*(ty%2))
		}
	}
	return &idx
}

// winoInputPlane transforms one inH×inW channel plane of a map of 4×4 tiles
// (padding p.PadH, p.PadW): element ξ of tile l goes to v[ξ·stride+l]. idx is
// newWinoPlaneIdx's for the layer, e scratch of planeScratchN values.
func winoInputPlane(k *winoKind, plane []float32, p ConvParams, idx *winoPlaneIdx, e, v []float32, stride int) {
	a, m := k.a, k.m
	if p.InW < 1 || p.InW > 15 || p.InH < 1 || len(plane) < p.InH*p.InW {
		panic(fmt.Errorf("kernels: winoInputPlane: %d values for a %d×%d plane (width 1…15)", len(plane), p.InH, p.InW))
	}
	e = align64(e)
	if len(e) < 16*(3*m+a+a*a) {
		panic(fmt.Errorf("kernels: winoInputPlane: scratch of %d values", len(e)))
	}
	_ = v[(a*a-1)*stride+15]
	lanes := 1<<p.InW - 1
	if a == 6 {
		winoInP6(&plane[0], p.InW, p.InH, p.PadH, lanes, &idx[0][0], &e[0], &v[0], stride)
	} else {
		winoInP4(&plane[0], p.InW, p.InH, p.PadH, lanes, &idx[0][0], &e[0], &v[0], stride)
	}
}

// winoOutputPlane inverts one output channel of a map of 4×4 tiles, tile l
// reading mt[ξ·stride+l], into the oh×ow plane out, adding bias and the
// residual plane res (nil for none), then ReLU. e is scratch of planeScratchN
// values.
func winoOutputPlane(k *winoKind, mt []float32, stride int, e, out, res []float32, oh, ow int, bias float32, relu bool) {
	a, m := k.a, k.m
	if ow < 1 || ow > 4*m || oh < 1 || oh > 4*m || len(out) < oh*ow || (res != nil && len(res) < oh*ow) {
		panic(fmt.Errorf("kernels: winoOutputPlane: %d×%d plane in %d values (residual %d)", oh, ow, len(out), len(res)))
	}
	e = align64(e)
	if len(e) < 16*m*a {
		panic(fmt.Errorf("kernels: winoOutputPlane: scratch of %d values", len(e)))
	}
	_ = mt[(a*a-1)*stride+15]
	flags := 0
	rp := &out[0] // not read without flags&1
	if res != nil {
		flags |= 1
		rp = &res[0]
	}
	if relu {
		flags |= 2
	}
	lanes := 1<<ow - 1
	if a == 6 {
		winoOutP6(&mt[0], stride, &e[0], &out[0], rp, ow, oh, lanes, flags, bias)
	} else {
		winoOutP4(&mt[0], stride, &e[0], &out[0], rp, ow, oh, lanes, flags, bias)
	}
}

// dropLag lays V and M out without winoLag's slack, for the plane kernels,
// which write exactly 16 tiles an image: rows of whole cache lines, and a
// third less V and M than with the slack (24 tiles a row).
func (g *winoGeom) dropLag() {
	g.ld = g.tiles
	g.vs, g.ms = planeStride(g.p.InC*g.ld), planeStride(g.p.OutC*g.ld)
	g.vN, g.mN = g.k.planes()*g.vs, g.k.planes()*g.ms
}
