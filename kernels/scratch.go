package kernels

import "sync"

// The temporary buffers of the transform-based convolutions (Winograd's V
// and M matrices, per-worker row buffers) are recycled through a free list
// rather than a sync.Pool: a pool is emptied by every garbage collection, and
// refaulting megabytes of fresh pages costs as much as a small layer. At most
// maxFree buffers are kept; they are only as large as the largest layer seen.
const maxFree = 16

var (
	freeMu   sync.Mutex
	freeList []*[]float32
)

// getScratch returns a buffer of exactly n values with unspecified contents.
func getScratch(n int) *[]float32 {
	freeMu.Lock()
	// Best fit: the smallest free buffer that is large enough.
	best := -1
	for i, b := range freeList {
		if cap(*b) >= n && (best < 0 || cap(*b) < cap(*freeList[best])) {
			best = i
		}
	}
	if best >= 0 {
		b := freeList[best]
		freeList[best] = freeList[len(freeList)-1]
		freeList = freeList[:len(freeList)-1]
		freeMu.Unlock()
		*b = (*b)[:n]
		return b
	}
	freeMu.Unlock()
	s := make([]float32, n)
	return &s
}

// putScratch hands a buffer from getScratch back; when the list is full the
// smallest buffer is dropped.
func putScratch(b *[]float32) {
	freeMu.Lock()
	defer freeMu.Unlock()
	if len(freeList) < maxFree {
		freeList = append(freeList, b)
		return
	}
	small := 0
	for i, f := range freeList {
		if cap(*f) < cap(*freeList[small]) {
			small = i
		}
	}
	if cap(*b) > cap(*freeList[small]) {
		freeList[small] = b
	}
}
