package nn

import (
	"sync"

	"github.com/resnet-go/resnet/kernels"
)

// parallelFor runs fn(0) … fn(n-1) on the kernels' goroutines (kernels.Parallel: the
// caller's among them, indices handed out lowest first) and returns when all are done. Work is
// split into indices by the callers in a way that does not depend on the thread count, so
// results are the same for any number of threads. It used to start goroutines of its own,
// which on two cores waited for a processor while the kernels' pool, just done with a
// convolution, polled for its next job: 50 ms of a ResNet-20 step's 2×137 thread-ms sat idle
// (the hooks after a Winograd call ran on one thread); on the pool, 8–10 ms, and the step
// took 119 ms.
func parallelFor(n int, fn func(i int)) { kernels.Parallel(n, fn) }

// scratchPool recycles the per-task buffers of the training layers (im2col blocks,
// transposed gradients), which are too large to allocate on every call.
var scratchPool = sync.Pool{New: func() any { return new([]float32) }}

// getScratch returns a buffer of at least n values (contents undefined); give it back with
// putScratch.
func getScratch(n int) *[]float32 {
	p := scratchPool.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

func putScratch(p *[]float32) { scratchPool.Put(p) }

// copyParallel copies src to dst in blocks on the kernel threads.
func copyParallel(dst, src []float32) {
	const span = 1 << 16
	src = src[:len(dst)]
	parallelFor((len(dst)+span-1)/span, func(b int) {
		lo, hi := b*span, min((b+1)*span, len(dst))
		copy(dst[lo:hi], src[lo:hi])
	})
}
