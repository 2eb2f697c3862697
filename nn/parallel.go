package nn

import (
	"sync"
	"sync/atomic"

	"github.com/resnet-go/resnet/kernels"
)

// ParallelFor runs fn(0) … fn(n−1) on up to kernels.Threads() goroutines, for layers above
// this package (the optimiser) with work to split.
func ParallelFor(n int, fn func(i int)) { parallelFor(n, fn) }

// parallelFor runs fn(0) … fn(n-1) on up to kernels.Threads() goroutines (the caller's among
// them), handing indices out lowest first, and returns when all are done. Work is split into
// indices by the callers in a way that does not depend on the thread count, so results are
// the same for any number of threads.
func parallelFor(n int, fn func(i int)) {
	t := min(n, kernels.Threads())
	if t <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	work := func() {
		for {
			i := int(next.Add(1) - 1)
			if i >= n {
				return
			}
			fn(i)
		}
	}
	var wg sync.WaitGroup
	wg.Add(t - 1)
	for w := 0; w < t-1; w++ {
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
}

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
