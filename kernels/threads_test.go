package kernels

import (
	"sync"
	"sync/atomic"
	"testing"
)

// Every index of a parallel loop runs exactly once, whatever the thread count, with loops
// nested and several callers at once.
func TestParallelRunsEachIndexOnce(t *testing.T) {
	prev := Threads()
	defer SetThreads(prev)
	for _, threads := range []int{1, 2, 3, 5, 16} {
		SetThreads(threads)
		for _, n := range []int{0, 1, 2, 3, 7, 16, 17, 100, 1000} {
			counts := make([]atomic.Int32, n)
			parallel(n, func(i int) { counts[i].Add(1) })
			for i := range counts {
				if c := counts[i].Load(); c != 1 {
					t.Fatalf("%d threads, %d indices: index %d ran %d times", threads, n, i, c)
				}
			}
		}
		// Nested loops and concurrent callers.
		var wg sync.WaitGroup
		counts := make([]atomic.Int32, 4*13*9)
		for c := range 4 {
			wg.Go(func() {
				parallel(13, func(i int) {
					parallel(9, func(k int) { counts[(c*13+i)*9+k].Add(1) })
				})
			})
		}
		wg.Wait()
		for i := range counts {
			if c := counts[i].Load(); c != 1 {
				t.Fatalf("%d threads, nested: index %d ran %d times", threads, i, c)
			}
		}
	}
}

// On one thread a loop runs in order; a range gives its front to its owner and its back to
// the others until they meet.
func TestParallelRanges(t *testing.T) {
	prev := Threads()
	defer SetThreads(prev)
	SetThreads(1)
	var order []int
	parallel(10, func(i int) { order = append(order, i) })
	for i, v := range order {
		if v != i {
			t.Fatalf("one thread ran %v", order)
		}
	}
	r := indexRange{}
	r.span.Store(3<<32 | 7)
	var got []int
	for _, back := range []bool{false, true, true, false, false} {
		i, ok := r.take(back)
		if !ok {
			got = append(got, -1)
			continue
		}
		got = append(got, i)
	}
	want := []int{3, 6, 5, 4, -1}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("takes %v, want %v", got, want)
		}
	}
}
