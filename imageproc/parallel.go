package imageproc

import (
	"runtime"
	"sync"
)

// parallelRows splits rows [0, n) into contiguous bands run on separate
// goroutines when the work (n rows × perRow multiply-adds) is large enough to
// pay for them. Each row is computed independently, so the result does not
// depend on the split.
func parallelRows(n, perRow int, fn func(y0, y1 int)) {
	const minWork = 1 << 18
	workers := runtime.GOMAXPROCS(0)
	if perRow < 1 {
		perRow = 1
	}
	if maxByWork := n * perRow / minWork; maxByWork < workers {
		workers = maxByWork
	}
	if workers <= 1 || n < 2 {
		fn(0, n)
		return
	}
	workers = min(workers, n)
	var wg sync.WaitGroup
	for i := range workers {
		y0, y1 := i*n/workers, (i+1)*n/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(y0, y1)
		}()
	}
	wg.Wait()
}
