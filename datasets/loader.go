package datasets

import (
	"context"
	"fmt"
	"sync"

	"github.com/resnet-go/resnet/tensor"
)

// LoaderOptions configure a Loader.
type LoaderOptions struct {
	BatchSize int
	Shuffle   bool   // a new order each epoch, from (Seed, epoch)
	DropLast  bool   // leave out the last, smaller batch of an epoch
	Seed      uint64 // seeds the shuffle and the augmentation
	Augment   Augment
	Normalize Normalize
	// Prefetch is how many batches are prepared ahead of the consumer; 0 means 2.
	Prefetch int
	// Workers is the number of goroutines that fill one batch; 0 means 1, since the
	// consumer (training) wants the cores and one goroutine fills a CIFAR batch in well
	// under a millisecond. The bytes do not depend on it.
	Workers int
}

// Loader cuts a Dataset into float32 NCHW mini-batches. It is safe for concurrent use; each
// Epoch call has its own goroutine and buffers.
type Loader struct {
	d   *Dataset
	o   LoaderOptions
	lut [][256]float32
	n   int // batches per epoch
}

// NewLoader checks the dataset and options.
func NewLoader(d *Dataset, o LoaderOptions) (*Loader, error) {
	if err := d.Check(); err != nil {
		return nil, err
	}
	switch {
	case o.BatchSize < 1:
		return nil, fmt.Errorf("datasets: batch size %d (want >= 1)", o.BatchSize)
	case o.Prefetch < 0 || o.Workers < 0:
		return nil, fmt.Errorf("datasets: prefetch %d and workers %d must not be negative", o.Prefetch, o.Workers)
	case o.Augment.Pad < 0:
		return nil, fmt.Errorf("datasets: augmentation padding %d", o.Augment.Pad)
	}
	lut, err := o.Normalize.table(d.C)
	if err != nil {
		return nil, err
	}
	if o.Prefetch == 0 {
		o.Prefetch = 2
	}
	if o.Workers == 0 {
		o.Workers = 1
	}
	n := d.Len() / o.BatchSize
	if !o.DropLast && d.Len()%o.BatchSize != 0 {
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("datasets: %s has %d images, fewer than one batch of %d with drop-last", d.name(), d.Len(), o.BatchSize)
	}
	return &Loader{d: d, o: o, lut: lut, n: n}, nil
}

// NewEvalLoader returns a loader for evaluation: dataset order, no augmentation, every image
// (the last batch may be smaller). Iterate it with Epoch(ctx, 0, 0).
func NewEvalLoader(d *Dataset, batchSize int, norm Normalize) (*Loader, error) {
	return NewLoader(d, LoaderOptions{BatchSize: batchSize, Normalize: norm})
}

// Len is the number of batches per epoch.
func (l *Loader) Len() int { return l.n }

// Dataset returns the dataset being loaded.
func (l *Loader) Dataset() *Dataset { return l.d }

// Order returns the dataset indices of an epoch in the order they are served.
func (l *Loader) Order(epoch int) []int {
	if l.o.Shuffle {
		return Permutation(l.o.Seed, epoch, l.d.Len())
	}
	p := make([]int, l.d.Len())
	for i := range p {
		p[i] = i
	}
	return p
}

// Batch is one mini-batch.
type Batch struct {
	Epoch, Index int
	X            []float32 // Shape[0]×Shape[1]×Shape[2]×Shape[3] values, NCHW
	Shape        [4]int    // N, C, H, W
	Labels       []int     // N class indices
	Indices      []int     // N dataset indices, to trace an example
}

// Tensor wraps X (no copy) as an N×C×H×W tensor.
func (b *Batch) Tensor() *tensor.Tensor {
	return &tensor.Tensor{Shape: b.Shape[:], Data: b.X}
}

// Batch computes batch index of an epoch directly, without the background goroutine.
func (l *Loader) Batch(epoch, index int) (*Batch, error) {
	if index < 0 || index >= l.n {
		return nil, fmt.Errorf("datasets: batch %d out of range (an epoch has %d)", index, l.n)
	}
	b := &Batch{}
	l.build(b, epoch, index, l.Order(epoch))
	return b, nil
}

// build fills b (reusing its memory) with batch index of an epoch served in order.
func (l *Loader) build(b *Batch, epoch, index int, order []int) {
	lo := index * l.o.BatchSize
	idx := order[lo:min(lo+l.o.BatchSize, len(order))]
	n, size := len(idx), l.d.ImageSize()
	b.Epoch, b.Index = epoch, index
	b.Shape = [4]int{n, l.d.C, l.d.H, l.d.W}
	b.X = grow(b.X, n*size)
	b.Labels = grow(b.Labels, n)
	b.Indices = append(b.Indices[:0], idx...)
	for i, j := range idx {
		b.Labels[i] = l.d.Labels[j]
	}
	one := func(i int) {
		j := idx[i]
		p := l.o.Augment.draw(l.o.Seed, epoch, j)
		fill(b.X[i*size:(i+1)*size], l.d.Image(j), l.d.C, l.d.H, l.d.W, p, l.lut)
	}
	workers := min(l.o.Workers, n)
	if workers <= 1 {
		for i := range n {
			one(i)
		}
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w * n / workers; i < (w+1)*n/workers; i++ {
				one(i)
			}
		})
	}
	wg.Wait()
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// Iter serves the batches of one epoch, prepared ahead in a background goroutine.
//
//	it := loader.Epoch(ctx, epoch, 0)
//	defer it.Close()
//	for it.Next() {
//		b := it.Batch() // valid until the next Next or Close: its memory is reused
//	}
//	if err := it.Err(); err != nil { ... } // the context's error if it stopped the epoch
type Iter struct {
	ctx    context.Context
	cancel context.CancelFunc
	ch     chan *Batch
	free   chan *Batch
	done   chan struct{} // closed when the goroutine has returned
	cur    *Batch
	err    error
	// complete is set by the goroutine before it closes ch when every batch was sent.
	complete bool
	closed   bool
}

// Epoch starts serving batches start, start+1, … of an epoch: start 0 for a whole epoch,
// the saved batch index to resume one. Cancelling ctx or calling Close stops the goroutine.
func (l *Loader) Epoch(ctx context.Context, epoch, start int) *Iter {
	ctx, cancel := context.WithCancel(ctx)
	it := &Iter{ctx: ctx, cancel: cancel, ch: make(chan *Batch, l.o.Prefetch),
		free: make(chan *Batch, l.o.Prefetch+2), done: make(chan struct{})}
	if start < 0 || start > l.n {
		it.err = fmt.Errorf("datasets: cannot start at batch %d (an epoch has %d)", start, l.n)
		close(it.ch)
		close(it.done)
		return it
	}
	go func() {
		defer close(it.done)
		defer close(it.ch)
		order := l.Order(epoch)
		for i := start; i < l.n; i++ {
			if ctx.Err() != nil {
				return
			}
			var b *Batch
			select {
			case b = <-it.free:
			default:
				b = &Batch{}
			}
			l.build(b, epoch, i, order)
			select {
			case it.ch <- b:
			case <-ctx.Done():
				return
			}
		}
		it.complete = true
	}()
	return it
}

// Next advances to the next batch, reporting false at the end of the epoch or when stopped.
func (it *Iter) Next() bool {
	if it.cur != nil {
		select {
		case it.free <- it.cur:
		default:
		}
		it.cur = nil
	}
	if it.closed || it.err != nil {
		return false
	}
	if it.ctx.Err() != nil { // do not hand out what was prefetched before a cancel
		it.err = context.Cause(it.ctx)
		return false
	}
	b, ok := <-it.ch
	if !ok {
		if !it.complete && it.err == nil {
			it.err = context.Cause(it.ctx)
		}
		it.cancel() // release the context now; Close stays harmless
		return false
	}
	it.cur = b
	return true
}

// Batch is the current batch.
func (it *Iter) Batch() *Batch { return it.cur }

// Err is the error that ended the epoch early, if any: a bad start index or the context's.
func (it *Iter) Err() error { return it.err }

// Close stops the goroutine and waits for it to return. It is safe to call more than once.
func (it *Iter) Close() {
	if !it.closed {
		it.closed = true
		it.cur = nil
		it.cancel()
		for range it.ch {
		}
	}
	<-it.done
}
