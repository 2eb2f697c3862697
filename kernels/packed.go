package kernels

import (
	"errors"
	"fmt"
)

// PackedA is an m×k matrix packed once into the micro-panel layout the GEMM
// reads (ceil(m/6) panels of 6 rows, zero-padded), for matrices used many
// times such as a layer's weights: GemmPacked and Conv2DPacked skip packing
// A, which matters most when N is small (late ResNet layers).
// K is stored in blocks of kcBlock columns, the GEMM's K blocks, each block
// holding all panels (kcb steps × 6 rows each, kcb the block's width): a
// sweep of the GEMM over one K block then reads A as one sequential stream,
// which the prefetchers follow when the weights come from memory.
// It is read-only after PackA and safe for concurrent use.
type PackedA struct {
	m, k int
	data []float32
}

// block returns the offset of K block pc (a multiple of kcBlock) and its
// width; panel q of the block starts q·kc·mr after it.
func (p *PackedA) block(pc int) (off, kc int) {
	return pc * ceilDiv(p.m, mr) * mr, min(kcBlock, p.k-pc)
}

// index is the position of element (row, col) in data.
func (p *PackedA) index(row, col int) int {
	pc := col / kcBlock * kcBlock
	off, kc := p.block(pc)
	return off + row/mr*kc*mr + (col-pc)*mr + row%mr
}

// Rows is m, the number of rows of the packed matrix.
func (p *PackedA) Rows() int { return p.m }

// Cols is k, the number of columns of the packed matrix.
func (p *PackedA) Cols() int { return p.k }

// PackA packs the row-major m×k matrix a (row stride lda). It panics with
// a descriptive error if the sizes are inconsistent.
func PackA(m, k int, a []float32, lda int) *PackedA {
	if m < 0 || k < 0 {
		panic(fmt.Errorf("kernels: PackA: negative size m=%d k=%d", m, k))
	}
	if err := checkMatrix("A", m, k, len(a), lda); err != nil {
		panic(err)
	}
	p := &PackedA{m: m, k: k, data: make([]float32, ceilDiv(m, mr)*mr*k)}
	if k == 0 {
		return p
	}
	panels := ceilDiv(m, mr)
	chunks := chunksFor(panels, m*k)
	parallel(chunks, func(i int) {
		lo, hi := i*panels/chunks*mr, min((i+1)*panels/chunks*mr, m)
		for pc := 0; pc < k; pc += kcBlock {
			off, kc := p.block(pc)
			// packA's layout of one block of rows and columns.
			packA(p.data[off+lo*kc:], a, lda, lo, hi-lo, pc, kc)
		}
	})
	return p
}

// GemmPacked is Gemm with a prepacked A (m = a.Rows(), k = a.Cols()).
func GemmPacked(a *PackedA, n int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	if a == nil {
		panic(errors.New("kernels: GemmPacked: nil packed matrix"))
	}
	if err := CheckGemm(a.m, n, a.k, len(a.data), a.k, len(b), ldb, len(c), ldc); err != nil {
		panic(err)
	}
	g := gemmArgs{m: a.m, n: n, k: a.k, pa: a, b: denseB{b, ldb}, c: c, ldc: ldc, accumulate: accumulate}
	g.run()
}

// PackConvWeights packs OutC×InC×KH×KW convolution weights for Conv2DPacked.
func PackConvWeights(p ConvParams, w []float32) *PackedA {
	k := p.InC * p.KH * p.KW
	if len(w) != p.OutC*k {
		panic(fmt.Errorf("kernels: conv %+v: weights has %d values, want %d", p, len(w), p.OutC*k))
	}
	return PackA(p.OutC, k, w, k)
}
