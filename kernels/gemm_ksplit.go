package kernels

import "sync/atomic"

// Splitting K. Where the GEMM's grid splits C by rows (ResNet's 1×1 layers that
// shrink 1024 channels to 256 at 14×14, its 3×3/2 layers into 14×14 and 7×7), every
// task reads all of B: on two cores that do not share a cache, half of it comes from
// the other core, which wrote those channels in the layer before (its tasks split by
// rows too), and those strided reads run latency-bound (docs/design.md). Cut by K
// blocks instead, thread j reads the B rows, and the weights, of its own K blocks:
// the channels it wrote itself. The K blocks' sums then have to meet: thread 0 sums
// its blocks into C as one task would; each later block's sum goes to a matrix of its
// own, and a last pass adds them to C block by block, in order, then applies the
// epilogue, the very additions a one-task GEMM makes (the kernels add each K block's
// sum to C, the epilogue after the last), so the result is the same bit for bit on
// any number of threads.

// kSplitOn enables the K split; tests and benchmarks switch it off to compare.
var kSplitOn = true

// kSplitRuns counts K-split GEMMs, for tests.
var kSplitRuns atomic.Int64

// kSplitMax bounds the memory of the blocks' sums, in float32 values (4 MiB).
const kSplitMax = 1 << 20

// kSplit returns the number of threads t to split the K blocks of g over and the
// number of K blocks nb, or t = 0 where it does not: the grid tm×tn is a split by
// rows alone, there are at least two K blocks a thread, and the blocks' sums fit in
// kSplitMax. It needs the vector epilogue (epilogueRow).
func (g *gemmArgs) kSplit(tm, tn int) (t, nb int) {
	nb = ceilDiv(g.k, g.isa.gemm.kc)
	if !kSplitOn || !g.isa.asm || tn != 1 || tm < 2 || g.accumulate || g.kLo != 0 || g.kHi != 0 || nb < 2*tm {
		return 0, 0
	}
	if (nb-nb/tm)*g.m*g.n > kSplitMax {
		return 0, 0
	}
	return tm, nb
}

// runKSplit computes g on t threads, thread j taking K blocks [j·nb/t, (j+1)·nb/t).
func (g *gemmArgs) runKSplit(t, nb int) {
	ker := g.isa.gemm
	kc := ker.kc
	m, n := g.m, g.n
	nb0 := nb / t // thread 0's blocks, summed into C
	parts := getScratch((nb - nb0) * m * n)
	defer putScratch(parts)
	kSplitRuns.Add(1)
	part := func(b int) []float32 { return (*parts)[(b-nb0)*m*n:][:m*n] }
	parallel(t, func(j int) {
		buf := ker.buf()
		defer ker.putBuf(buf)
		if j == 0 {
			sub := *g
			sub.kHi = nb0 * kc
			sub.rect(0, m, 0, n, *buf)
			return
		}
		for b := j * nb / t; b < (j+1)*nb/t; b++ {
			sub := *g
			sub.kLo, sub.kHi = b*kc, min((b+1)*kc, g.k)
			sub.noEpilogue = true
			sub.c, sub.ldc = part(b), n
			sub.rect(0, m, 0, n, *buf)
		}
	})
	// C += each later block's sum, in order; the epilogue with the last. Thread i
	// takes the rows of C that the i-th task of a split by rows would.
	flags := g.ep.flags()
	mt := ceilDiv(m, ker.mr)
	parallel(t, func(i int) {
		for r := i * mt / t * ker.mr; r < min((i+1)*mt/t*ker.mr, m); r++ {
			c := g.c[r*g.ldc:][:n]
			for b := nb0; b < nb; b++ {
				f, bias := 0, float32(0)
				var res *float32
				if b == nb-1 {
					f = flags
					if f&flagBias != 0 {
						bias = g.ep.bias[r]
					}
					if f&flagResidual != 0 {
						res = &g.ep.res[r*g.ep.ldr : r*g.ep.ldr+n][0]
					}
				}
				epilogueRow(&c[0], &part(b)[r*n : r*n+n][0], res, n, bias, f)
			}
		}
	})
}
