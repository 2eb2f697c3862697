package kernels

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// PackedA is an m×k matrix packed once into the micro-panel layout the GEMM
// reads (ceil(m/mr) panels of mr rows, zero-padded), for matrices used many
// times such as a layer's weights: GemmPacked and Conv2DPacked skip packing
// A, which matters most when N is small (late ResNet layers).
// K is stored in blocks of kc columns, the GEMM's K blocks, each block
// holding all panels (kcb steps × mr rows each, kcb the block's width): a
// sweep of the GEMM over one K block then reads A as one sequential stream,
// which the prefetchers follow when the weights come from memory.
// mr and kc are those of the micro-kernel of the path in use when it was
// packed; on another path (SetISA) the GEMM repacks it once for that path's
// kernel and keeps the copy (alt).
// It is read-only after PackA and safe for concurrent use.
type PackedA struct {
	m, k   int
	mr, kc int
	data   []float32
	alt    atomic.Pointer[PackedA] // repacked for another kernel, or nil
	altMu  sync.Mutex
}

// newPackedA allocates an m×k PackedA in the layout of kernel ker.
func newPackedA(m, k int, ker *gemmKernel) *PackedA {
	return &PackedA{m: m, k: k, mr: ker.mr, kc: ker.kc, data: make([]float32, packedSize(m, k, ker))}
}

// packedSize is the number of values of an m×k PackedA for kernel ker.
func packedSize(m, k int, ker *gemmKernel) int { return ceilDiv(m, ker.mr) * ker.mr * k }

// block returns the offset of K block pc (a multiple of kc) and its
// width; panel q of the block starts q·kc·mr after it.
func (p *PackedA) block(pc int) (off, kc int) {
	return pc * ceilDiv(p.m, p.mr) * p.mr, min(p.kc, p.k-pc)
}

// index is the position of element (row, col) in data.
func (p *PackedA) index(row, col int) int {
	pc := col / p.kc * p.kc
	off, kc := p.block(pc)
	return off + row/p.mr*kc*p.mr + (col-pc)*p.mr + row%p.mr
}

// fits reports whether p is in the layout of kernel ker.
func (p *PackedA) fits(ker *gemmKernel) bool { return p.mr == ker.mr && p.kc == ker.kc }

// forKernel returns p in the layout of kernel ker: p itself, or a copy
// repacked once (after a SetISA to a path with another tile).
func (p *PackedA) forKernel(ker *gemmKernel) *PackedA {
	if p.fits(ker) {
		return p
	}
	if q := p.alt.Load(); q != nil && q.fits(ker) {
		return q
	}
	p.altMu.Lock()
	defer p.altMu.Unlock()
	if q := p.alt.Load(); q != nil && q.fits(ker) {
		return q
	}
	dense := make([]float32, p.m*p.k)
	for i := range p.m {
		for j := range p.k {
			dense[i*p.k+j] = p.data[p.index(i, j)]
		}
	}
	q := packAFor(p.m, p.k, dense, p.k, ker)
	p.alt.Store(q)
	return q
}

// changed drops the repacked copy after p's data was rewritten in place.
func (p *PackedA) changed() { p.alt.Store(nil) }

// Rows is m, the number of rows of the packed matrix.
func (p *PackedA) Rows() int { return p.m }

// Cols is k, the number of columns of the packed matrix.
func (p *PackedA) Cols() int { return p.k }

// PackA packs the row-major m×k matrix a (row stride lda) for the path in
// use. It panics with a descriptive error if the sizes are inconsistent.
func PackA(m, k int, a []float32, lda int) *PackedA {
	if m < 0 || k < 0 {
		panic(fmt.Errorf("kernels: PackA: negative size m=%d k=%d", m, k))
	}
	if err := checkMatrix("A", m, k, len(a), lda); err != nil {
		panic(err)
	}
	return packAFor(m, k, a, lda, curISA().gemm)
}

// packAFor is PackA for kernel ker.
func packAFor(m, k int, a []float32, lda int, ker *gemmKernel) *PackedA {
	p := newPackedA(m, k, ker)
	if k == 0 {
		return p
	}
	mr := ker.mr
	panels := ceilDiv(m, mr)
	chunks := chunksFor(panels, m*k)
	parallel(chunks, func(i int) {
		lo, hi := i*panels/chunks*mr, min((i+1)*panels/chunks*mr, m)
		for pc := 0; pc < k; pc += p.kc {
			off, kc := p.block(pc)
			// packA's layout of one block of rows and columns.
			packA(p.data[off+lo*kc:], a, lda, lo, hi-lo, pc, kc, mr)
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
