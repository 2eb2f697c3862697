// Package batching runs one model's inference requests in dynamic batches, as serving systems
// do (Triton's dynamic_batching, Ray Serve's @serve.batch): callers submit tensors of one or
// more images, and a batch runs when MaxBatchSize images are waiting or MaxQueueDelay has
// passed since the oldest of them arrived. Results are split back per request.
//
// It knows nothing of HTTP or gRPC; a server front end (package serve) or any Go program that
// embeds a model calls Infer from as many goroutines as it likes:
//
//	b := batching.New(m, batching.Options{MaxBatchSize: 8, MaxQueueDelay: 2 * time.Millisecond, MaxQueueSize: 64})
//	defer b.Close(context.Background())
//	res, err := b.Infer(ctx, x) // x is [n, C, H, W]; res.Logits is [n, K], res.Pooled [n, F]
//
// The rules:
//   - A request never waits for itself: one of n ≥ MaxBatchSize images makes the queue full
//     enough to run at once. A request larger than the room left in a batch is split; its
//     parts may run in different batches and their rows are joined back in order.
//   - Only requests whose images have the same [C, H, W] share a batch; the others keep their
//     place in the queue for the next one.
//   - MaxQueueSize bounds the requests admitted and not yet answered (waiting or running).
//     Infer refuses one more with ErrQueueFull at once, before any model work.
//   - A request whose context ends before its images start running is dropped from the queue
//     and gets the context's error; once running, a batch finishes (its other requests need
//     it) and the cancelled request's rows are thrown away.
//   - Close stops admitting (ErrClosed), runs everything already queued without waiting for
//     the delay, and returns when the last batch has finished: nothing admitted is lost.
//   - One forward pass runs at a time unless Workers says more; while it runs, new requests
//     gather into the next batch, which starts as soon as a worker is free.
package batching

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/resnet-go/resnet/model"
	"github.com/resnet-go/resnet/tensor"
)

// Model is what a Batcher runs: a forward pass over a batch [N, C, H, W] that returns the
// logits [N, K] and the pooled embedding [N, F]. *resnet.Model (through its *model.Model)
// satisfies it; hidden is always false here.
type Model interface {
	Run(x *tensor.Tensor, hidden bool) (*model.Output, error)
}

// DefaultMaxBatchSize is used when Options.MaxBatchSize is 0.
const DefaultMaxBatchSize = 8

// Options configure a Batcher. The zero value runs batches of up to DefaultMaxBatchSize images
// with no delay, one at a time, with no queue limit.
type Options struct {
	// MaxBatchSize is the most images one forward pass runs (0: DefaultMaxBatchSize).
	MaxBatchSize int
	// MaxQueueDelay is how long the oldest waiting image may wait for others to join its
	// batch (0: a batch runs as soon as a worker is free, with whatever is waiting).
	MaxQueueDelay time.Duration
	// MaxQueueSize bounds the requests admitted and not yet answered, waiting or running
	// (0: no bound). One more gets ErrQueueFull.
	MaxQueueSize int
	// Workers is how many forward passes may run at once (0: 1). The kernels already use
	// every thread for one pass, so more workers rarely help on a CPU.
	Workers int
	// Hooks receive timings, e.g. for metrics.
	Hooks Hooks
}

// Hooks are called from the batcher's goroutines, never with its lock held; they must be
// quick and safe for concurrent use. Nil hooks are skipped.
type Hooks struct {
	// Started is called once per request when its first images start running, with the
	// time it waited in the queue.
	Started func(queued time.Duration)
	// Ran is called after each forward pass with its number of images, its duration and
	// its error.
	Ran func(images int, compute time.Duration, err error)
}

// ErrQueueFull is returned by Infer when MaxQueueSize requests are already admitted.
var ErrQueueFull = errors.New("queue full")

// ErrClosed is returned by Infer after Close.
var ErrClosed = errors.New("batcher closed")

// Result is the answer to one request: its own rows of the batch outputs, in order.
type Result struct {
	Logits *tensor.Tensor // [n, K]
	Pooled *tensor.Tensor // [n, F]
	// Queued is the time from Infer to the start of the request's first batch.
	Queued time.Duration
	// Compute is the duration of the forward passes that ran the request (summed when it
	// was split over several batches).
	Compute time.Duration
	// Batches is how many forward passes the request took part in.
	Batches int
}

// Batcher queues requests for one model and runs them in batches. It is safe for concurrent
// use; call Close when done with it.
type Batcher struct {
	m   Model
	opt Options

	mu           sync.Mutex
	queue        []piece // waiting parts of requests, oldest first
	queuedImages int
	admitted     int // requests admitted and not yet answered
	waiting      int // admitted requests none of whose images has started
	closed       bool

	wake    chan struct{} // a new request or Close; capacity 1
	workers chan struct{} // a token per running forward pass
	done    chan struct{} // closed when the dispatcher and every batch have finished
}

// request is one Infer call.
type request struct {
	ctx     context.Context
	x       *tensor.Tensor
	n       int
	arrived time.Time

	// Guarded by Batcher.mu.
	left    int  // images not yet finished or dropped
	started bool // some image started running, or the request was dropped
	err     error
	logits  []float32
	pooled  []float32
	k, f    int
	queued  time.Duration
	compute time.Duration
	batches int
	done    chan struct{} // closed when left reaches 0
}

// piece is images [off, off+n) of a request.
type piece struct {
	r      *request
	off, n int
}

// New starts a batcher for m.
func New(m Model, opt Options) *Batcher {
	if opt.MaxBatchSize <= 0 {
		opt.MaxBatchSize = DefaultMaxBatchSize
	}
	if opt.Workers <= 0 {
		opt.Workers = 1
	}
	opt.MaxQueueDelay = max(opt.MaxQueueDelay, 0)
	b := &Batcher{
		m:       m,
		opt:     opt,
		wake:    make(chan struct{}, 1),
		workers: make(chan struct{}, opt.Workers),
		done:    make(chan struct{}),
	}
	go b.dispatch()
	return b
}

// Options returns the options in force (defaults filled in).
func (b *Batcher) Options() Options { return b.opt }

// Waiting is the number of requests in the queue none of whose images has started running.
func (b *Batcher) Waiting() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.waiting
}

// Admitted is the number of requests admitted and not yet answered (waiting or running); it
// is what MaxQueueSize bounds.
func (b *Batcher) Admitted() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.admitted
}

// Infer queues x, a batch [n, C, H, W] of n ≥ 1 images, and waits for its rows of the outputs.
// It returns ErrQueueFull at once when the queue is full, ErrClosed after Close, ctx's error
// when ctx ends first, and otherwise the model's error for a batch that failed.
func (b *Batcher) Infer(ctx context.Context, x *tensor.Tensor) (*Result, error) {
	if x == nil || len(x.Shape) != 4 || x.Shape[0] < 1 || len(x.Data) != tensor.Numel(x.Shape) {
		var s []int
		if x != nil {
			s = x.Shape
		}
		return nil, fmt.Errorf("batching: input must be [N, C, H, W] with N ≥ 1 and its data, got %s", tensor.Format(s))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := &request{ctx: ctx, x: x, n: x.Shape[0], arrived: time.Now(), done: make(chan struct{})}
	r.left = r.n
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		return nil, ErrClosed
	case b.opt.MaxQueueSize > 0 && b.admitted >= b.opt.MaxQueueSize:
		b.mu.Unlock()
		return nil, fmt.Errorf("%w: %d requests admitted, the limit", ErrQueueFull, b.opt.MaxQueueSize)
	}
	b.admitted++
	b.waiting++
	b.queue = append(b.queue, piece{r: r, n: r.n})
	b.queuedImages += r.n
	b.mu.Unlock()
	b.signal()

	select {
	case <-r.done:
	case <-ctx.Done():
		select {
		case <-r.done: // finished at the same moment: the answer is there
		default:
			b.cancel(r)
			return nil, ctx.Err()
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return &Result{
		Logits:  &tensor.Tensor{Shape: []int{r.n, r.k}, Data: r.logits},
		Pooled:  &tensor.Tensor{Shape: []int{r.n, r.f}, Data: r.pooled},
		Queued:  r.queued,
		Compute: r.compute,
		Batches: r.batches,
	}, nil
}

// Close stops admitting requests, runs every queued one without waiting for the delay, and
// returns when the last batch has finished, or with ctx's error if ctx ends first (the work
// then still finishes in the background). It may be called more than once.
func (b *Batcher) Close(ctx context.Context) error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.signal()
	select {
	case <-b.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Batcher) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// cancel drops the request's queued parts. Parts already running finish and are thrown away.
func (b *Batcher) cancel(r *request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	keep := b.queue[:0]
	for _, p := range b.queue {
		if p.r != r {
			keep = append(keep, p)
			continue
		}
		b.dropLocked(p, r.ctx.Err())
	}
	clear(b.queue[len(keep):])
	b.queue = keep
}

// dropLocked removes piece p from the accounting, failing its request with err.
func (b *Batcher) dropLocked(p piece, err error) {
	r := p.r
	b.queuedImages -= p.n
	if r.err == nil {
		r.err = err
	}
	if !r.started {
		r.started = true
		b.waiting--
	}
	b.finishPartLocked(r, p.n)
}

// finishPartLocked counts n images of r as done and answers r when none are left.
func (b *Batcher) finishPartLocked(r *request, n int) {
	r.left -= n
	if r.left == 0 {
		b.admitted--
		close(r.done)
	}
}

// dispatch forms batches until Close has been called and the queue is empty.
func (b *Batcher) dispatch() {
	var running sync.WaitGroup
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		// Take a worker first: requests that arrive while every worker is busy gather into
		// the next batch instead of each starting a small one.
		b.workers <- struct{}{}
		batch, started := b.next(timer)
		if batch == nil {
			<-b.workers
			break
		}
		if b.opt.Hooks.Started != nil {
			for _, d := range started {
				b.opt.Hooks.Started(d)
			}
		}
		running.Add(1)
		go func() {
			defer running.Done()
			defer func() { <-b.workers }()
			b.run(batch)
		}()
	}
	running.Wait()
	close(b.done)
}

// next waits until a batch is due and takes it from the queue; it returns nil after Close
// once the queue is empty. started holds the queue times of requests starting now.
func (b *Batcher) next(timer *time.Timer) (batch []piece, started []time.Duration) {
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			closed := b.closed
			b.mu.Unlock()
			if closed {
				return nil, nil
			}
			<-b.wake
			continue
		}
		wait := b.opt.MaxQueueDelay - time.Since(b.queue[0].r.arrived)
		if b.queuedImages >= b.opt.MaxBatchSize || wait <= 0 || b.closed || b.splitWaitingLocked() {
			batch, started = b.takeLocked()
			b.mu.Unlock()
			if len(batch) > 0 {
				return batch, started
			}
			continue // every candidate had been cancelled
		}
		b.mu.Unlock()
		timer.Reset(wait)
		select {
		case <-b.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// splitWaitingLocked reports whether the rest of a split request is waiting: it runs at once,
// since a request never waits for itself.
func (b *Batcher) splitWaitingLocked() bool {
	for _, p := range b.queue {
		if p.r.started {
			return true
		}
	}
	return false
}

// takeLocked takes up to MaxBatchSize images from the queue, oldest first, of the same
// [C, H, W] as the oldest; a request that does not fit whole is split. Requests whose context
// has ended are dropped on the way.
func (b *Batcher) takeLocked() (batch []piece, started []time.Duration) {
	shape := b.queue[0].r.x.Shape[1:]
	room := b.opt.MaxBatchSize
	now := time.Now()
	keep := make([]piece, 0, len(b.queue))
	for _, p := range b.queue {
		if room == 0 || !tensor.SameShape(p.r.x.Shape[1:], shape) {
			keep = append(keep, p)
			continue
		}
		if err := p.r.ctx.Err(); err != nil {
			b.dropLocked(p, err)
			continue
		}
		take := min(p.n, room)
		batch = append(batch, piece{r: p.r, off: p.off, n: take})
		if take < p.n {
			keep = append(keep, piece{r: p.r, off: p.off + take, n: p.n - take})
		}
		room -= take
		b.queuedImages -= take
		if r := p.r; !r.started {
			r.started = true
			b.waiting--
			r.queued = now.Sub(r.arrived)
			started = append(started, r.queued)
		}
	}
	b.queue = keep
	return batch, started
}

// run runs one batch and hands each request its rows.
func (b *Batcher) run(batch []piece) {
	n := 0
	for _, p := range batch {
		n += p.n
	}
	var x *tensor.Tensor
	if p := batch[0]; len(batch) == 1 && p.n == p.r.n {
		x = p.r.x // a whole request: no copy
	} else {
		shape := batch[0].r.x.Shape
		per := tensor.Numel(shape[1:])
		x = &tensor.Tensor{Shape: []int{n, shape[1], shape[2], shape[3]}, Data: make([]float32, 0, n*per)}
		for _, p := range batch {
			x.Data = append(x.Data, p.r.x.Data[p.off*per:(p.off+p.n)*per]...)
		}
	}
	start := time.Now()
	out, err := safeRun(b.m, x)
	d := time.Since(start)
	if err == nil {
		err = checkOutput(out, n)
	}
	if b.opt.Hooks.Ran != nil {
		b.opt.Hooks.Ran(n, d, err)
	}
	row := 0
	for _, p := range batch {
		r := p.r
		if err == nil {
			k, f := out.Logits.Shape[1], out.Pooled.Shape[1]
			b.mu.Lock()
			if r.logits == nil {
				r.k, r.f = k, f
				r.logits = make([]float32, r.n*k)
				r.pooled = make([]float32, r.n*f)
			}
			b.mu.Unlock()
			copy(r.logits[p.off*k:(p.off+p.n)*k], out.Logits.Data[row*k:(row+p.n)*k])
			copy(r.pooled[p.off*f:(p.off+p.n)*f], out.Pooled.Data[row*f:(row+p.n)*f])
		}
		b.mu.Lock()
		if err != nil && r.err == nil {
			r.err = err
		}
		r.compute += d
		r.batches++
		b.finishPartLocked(r, p.n)
		b.mu.Unlock()
		row += p.n
	}
}

// safeRun calls the model, turning a panic into an error so that one bad batch cannot take a
// server down.
func safeRun(m Model, x *tensor.Tensor) (out *model.Output, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("model panicked on a batch of shape %s: %v", tensor.Format(x.Shape), p)
		}
	}()
	return m.Run(x, false)
}

// checkOutput makes sure the model returned n rows of logits and embeddings.
func checkOutput(out *model.Output, n int) error {
	ok := func(t *tensor.Tensor) bool {
		return t != nil && len(t.Shape) == 2 && t.Shape[0] == n && len(t.Data) == tensor.Numel(t.Shape)
	}
	if out == nil || !ok(out.Logits) || !ok(out.Pooled) {
		return fmt.Errorf("model returned outputs of the wrong shape for a batch of %d", n)
	}
	return nil
}
