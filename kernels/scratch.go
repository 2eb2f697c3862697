package kernels

import (
	"sync"
	"sync/atomic"
)

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

// Per-slot scratch: buffers kept by a task's index, so that the thread that
// runs task i (the one whose range holds it, job.help) writes memory it wrote
// before, not lines another core holds (getScratch hands out whichever buffer
// fits). Slots past len(slotBufs) use getScratch.
var slotBufs [64]atomic.Pointer[[]float32]

// getSlotScratch returns slot i's buffer if it holds at least n values, else
// a buffer from getScratch; contents unspecified.
func getSlotScratch(i, n int) *[]float32 {
	if i < len(slotBufs) {
		if b := slotBufs[i].Swap(nil); b != nil {
			if cap(*b) >= n {
				*b = (*b)[:n]
				return b
			}
			putScratch(b)
		}
	}
	return getScratch(n)
}

// putSlotScratch keeps b in slot i (handing the slot's previous buffer, if
// any, to putScratch).
func putSlotScratch(i int, b *[]float32) {
	if i >= len(slotBufs) {
		putScratch(b)
		return
	}
	if old := slotBufs[i].Swap(b); old != nil {
		putScratch(old)
	}
}
