package batching

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resnet-go/resnet/model"
	"github.com/resnet-go/resnet/tensor"
)

// fakeModel computes per image: logits [sum of its values, its first value], pooled [its first
// value × 2]. It records batch sizes, and can block on a gate, sleep, fail or panic.
type fakeModel struct {
	mu      sync.Mutex
	batches []int
	images  atomic.Int64
	gate    chan struct{} // if non-nil, each Run waits for a value (or close)
	entered chan int      // if non-nil, each Run sends its batch size on entry
	sleep   time.Duration
	err     error
	panic   bool
}

func (f *fakeModel) Run(x *tensor.Tensor, hidden bool) (*model.Output, error) {
	n := x.Shape[0]
	if f.entered != nil {
		f.entered <- n
	}
	if f.gate != nil {
		<-f.gate
	}
	time.Sleep(f.sleep)
	f.mu.Lock()
	f.batches = append(f.batches, n)
	f.mu.Unlock()
	f.images.Add(int64(n))
	if f.panic {
		panic("boom")
	}
	if f.err != nil {
		return nil, f.err
	}
	per := len(x.Data) / n
	out := &model.Output{Logits: tensor.New(n, 2), Pooled: tensor.New(n, 1)}
	for i := range n {
		img := x.Data[i*per : (i+1)*per]
		var s float32
		for _, v := range img {
			s += v
		}
		out.Logits.Data[2*i], out.Logits.Data[2*i+1] = s, img[0]
		out.Pooled.Data[i] = 2 * img[0]
	}
	return out, nil
}

func (f *fakeModel) batchSizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.batches...)
}

// images makes n images of shape [c, h, w] whose values identify them: image i is filled with
// id + i.
func images(id float32, n, c, h, w int) *tensor.Tensor {
	x := tensor.New(n, c, h, w)
	per := c * h * w
	for i := range n {
		for j := range per {
			x.Data[i*per+j] = id + float32(i)
		}
	}
	return x
}

// check verifies that res holds the fake model's answer for every image of x.
func check(t *testing.T, x *tensor.Tensor, res *Result) {
	t.Helper()
	n, per := x.Shape[0], tensor.Numel(x.Shape[1:])
	if !tensor.SameShape(res.Logits.Shape, []int{n, 2}) || !tensor.SameShape(res.Pooled.Shape, []int{n, 1}) {
		t.Fatalf("result shapes %v %v for %d images", res.Logits.Shape, res.Pooled.Shape, n)
	}
	for i := range n {
		v := x.Data[i*per]
		if res.Logits.Data[2*i] != v*float32(per) || res.Logits.Data[2*i+1] != v || res.Pooled.Data[i] != 2*v {
			t.Fatalf("image %d: got logits %v pooled %v, want [%v %v] [%v]", i,
				res.Logits.Data[2*i:2*i+2], res.Pooled.Data[i], v*float32(per), v, 2*v)
		}
	}
}

func closeNow(t *testing.T, b *Batcher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestBatchFormation checks when batches run and how requests are split, for requests sent
// at once (a long delay means only a full batch, or Close, can start one).
func TestBatchFormation(t *testing.T) {
	cases := []struct {
		name     string
		max      int
		delay    time.Duration
		requests []int // images per request, all sent concurrently
		want     []int // batch sizes, in order (sorted comparison for concurrent sends)
	}{
		{"full batch of singles", 8, time.Hour, []int{1, 1, 1, 1, 1, 1, 1, 1}, []int{8}},
		{"one request of exactly max runs at once", 8, time.Hour, []int{8}, []int{8}},
		{"a large request is split, never waits for itself", 8, time.Hour, []int{20}, []int{8, 8, 4}},
		{"delay runs a partial batch", 8, 200 * time.Millisecond, []int{1, 2}, []int{3}},
		{"zero delay runs whatever is waiting", 4, 0, []int{1}, []int{1}},
		{"batch of one", 1, time.Hour, []int{1, 1, 1}, []int{1, 1, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeModel{}
			if len(tc.requests) > 1 {
				// Hold the first batch until every request is queued, so the grouping is
				// deterministic.
				f.gate = make(chan struct{})
			}
			b := New(f, Options{MaxBatchSize: tc.max, MaxQueueDelay: tc.delay})
			var wg sync.WaitGroup
			start := time.Now()
			for i, n := range tc.requests {
				wg.Add(1)
				go func() {
					defer wg.Done()
					x := images(float32(100*(i+1)), n, 1, 2, 2)
					res, err := b.Infer(context.Background(), x)
					if err != nil {
						t.Errorf("request %d: %v", i, err)
						return
					}
					check(t, x, res)
				}()
			}
			if f.gate != nil {
				waitFor(t, func() bool { return b.Admitted() == len(tc.requests) })
				close(f.gate)
			}
			wg.Wait()
			if got := f.batchSizes(); !sameMultiset(got, tc.want) {
				t.Errorf("batch sizes %v, want %v", got, tc.want)
			}
			if tc.delay > 0 && tc.delay < time.Hour && time.Since(start) < tc.delay {
				t.Errorf("a partial batch ran after %v, before the %v delay", time.Since(start), tc.delay)
			}
			closeNow(t, b)
		})
	}
}

// TestSplitRowsInOrder: a request split over batches shared with others gets its own rows
// back in order.
func TestSplitRowsInOrder(t *testing.T) {
	f := &fakeModel{gate: make(chan struct{})}
	// The delay lets a request left alone after the others' batches run (it depends on the
	// order they arrive in) go without waiting for company.
	b := New(f, Options{MaxBatchSize: 4, MaxQueueDelay: 50 * time.Millisecond})
	xs := []*tensor.Tensor{images(10, 3, 1, 1, 2), images(20, 6, 1, 1, 2), images(40, 2, 1, 1, 2)}
	var wg sync.WaitGroup
	for _, x := range xs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := b.Infer(context.Background(), x)
			if err != nil {
				t.Error(err)
				return
			}
			check(t, x, res)
			if x.Shape[0] == 6 && res.Batches < 2 {
				t.Errorf("6 images in batches of 4 took %d batch", res.Batches)
			}
		}()
	}
	waitFor(t, func() bool { return b.Admitted() == 3 })
	close(f.gate)
	wg.Wait()
	total := 0
	for _, n := range f.batchSizes() {
		if n > 4 {
			t.Errorf("a batch of %d, over the maximum 4", n)
		}
		total += n
	}
	if total != 11 {
		t.Errorf("batches %v ran %d images, want 11", f.batchSizes(), total)
	}
	closeNow(t, b)
}

// TestShapesDoNotMix: images of different sizes never share a batch, and the other size
// keeps its place for the next one.
func TestShapesDoNotMix(t *testing.T) {
	f := &fakeModel{gate: make(chan struct{})}
	b := New(f, Options{MaxBatchSize: 8, MaxQueueDelay: 200 * time.Millisecond})
	var wg sync.WaitGroup
	for i, hw := range []int{2, 3, 2, 3, 2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := images(float32(i*10), 1, 1, hw, hw)
			res, err := b.Infer(context.Background(), x)
			if err != nil {
				t.Error(err)
				return
			}
			check(t, x, res)
		}()
	}
	waitFor(t, func() bool { return b.Admitted() == 5 })
	close(f.gate)
	wg.Wait()
	if got := f.batchSizes(); !sameMultiset(got, []int{3, 2}) {
		t.Errorf("batch sizes %v, want 3 (2×2 images) and 2 (3×3 images)", got)
	}
	closeNow(t, b)
}

// TestQueueFull: past MaxQueueSize admitted requests, Infer fails at once with ErrQueueFull
// and the model never sees the request.
func TestQueueFull(t *testing.T) {
	f := &fakeModel{gate: make(chan struct{}), entered: make(chan int, 10)}
	b := New(f, Options{MaxBatchSize: 2, MaxQueueDelay: 0, MaxQueueSize: 3})
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.Infer(context.Background(), images(float32(i), 1, 1, 1, 1)); err != nil {
				t.Error(err)
			}
		}()
	}
	<-f.entered // the first batch is running (blocked)
	waitFor(t, func() bool { return b.Admitted() == 3 })
	start := time.Now()
	_, err := b.Infer(context.Background(), images(99, 1, 1, 1, 1))
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("4th request: err %v, want ErrQueueFull", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("refusal took %v; it must be immediate", d)
	}
	close(f.gate)
	wg.Wait()
	if got := f.images.Load(); got != 3 {
		t.Errorf("model ran %d images, want 3 (the refused one never runs)", got)
	}
	// Room again once answered.
	if _, err := b.Infer(context.Background(), images(5, 1, 1, 1, 1)); err != nil {
		t.Errorf("after the queue drained: %v", err)
	}
	closeNow(t, b)
}

// TestCancelBeforeStart: a request whose context ends while it waits is dropped; the model
// never runs its images.
func TestCancelBeforeStart(t *testing.T) {
	for _, how := range []string{"cancel", "deadline"} {
		t.Run(how, func(t *testing.T) {
			f := &fakeModel{gate: make(chan struct{}), entered: make(chan int, 10)}
			b := New(f, Options{MaxBatchSize: 1, MaxQueueDelay: 0})
			first := make(chan error, 1)
			go func() {
				_, err := b.Infer(context.Background(), images(1, 1, 1, 1, 1))
				first <- err
			}()
			<-f.entered
			var ctx context.Context
			var cancel context.CancelFunc
			if how == "cancel" {
				ctx, cancel = context.WithCancel(context.Background())
				time.AfterFunc(20*time.Millisecond, cancel)
			} else {
				ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
			}
			defer cancel()
			_, err := b.Infer(ctx, images(2, 3, 1, 1, 1))
			if !errors.Is(err, ctx.Err()) || err == nil {
				t.Fatalf("cancelled request: err %v, want %v", err, ctx.Err())
			}
			if b.Waiting() != 0 {
				t.Errorf("%d requests still waiting after the cancel", b.Waiting())
			}
			close(f.gate)
			if err := <-first; err != nil {
				t.Fatal(err)
			}
			closeNow(t, b)
			if got := f.images.Load(); got != 1 {
				t.Errorf("model ran %d images, want 1 (the cancelled request's 3 are dropped)", got)
			}
			if b.Admitted() != 0 {
				t.Errorf("%d requests still admitted", b.Admitted())
			}
		})
	}
}

// TestCancelledContextIsNotAdmitted: an already-ended context gets its error without queueing.
func TestCancelledContextIsNotAdmitted(t *testing.T) {
	f := &fakeModel{}
	b := New(f, Options{})
	defer closeNow(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Infer(ctx, images(1, 1, 1, 1, 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if f.images.Load() != 0 {
		t.Error("model ran a cancelled request")
	}
}

// TestCloseDrains: Close refuses new requests at once but finishes everything queued and
// running, without waiting for the delay.
func TestCloseDrains(t *testing.T) {
	f := &fakeModel{gate: make(chan struct{}), entered: make(chan int, 10)}
	b := New(f, Options{MaxBatchSize: 2, MaxQueueDelay: time.Hour})
	var wg sync.WaitGroup
	var ok atomic.Int32
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := images(float32(10*i), 1, 1, 1, 1)
			res, err := b.Infer(context.Background(), x)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			check(t, x, res)
			ok.Add(1)
		}()
	}
	waitFor(t, func() bool { return b.Admitted() == 5 })
	closed := make(chan error, 1)
	go func() { closed <- b.Close(context.Background()) }()
	waitFor(t, func() bool {
		// Before Close takes effect this request is admitted and times out in the queue.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		defer cancel()
		_, err := b.Infer(ctx, images(1, 1, 1, 1, 1))
		return errors.Is(err, ErrClosed)
	})
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) with batches still blocked", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(f.gate)
	wg.Wait()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if ok.Load() != 5 {
		t.Errorf("%d of 5 queued requests answered", ok.Load())
	}
	if err := b.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestCloseTimeout: Close gives up with the context's error when batches outlast it.
func TestCloseTimeout(t *testing.T) {
	f := &fakeModel{gate: make(chan struct{}), entered: make(chan int, 1)}
	b := New(f, Options{})
	res := make(chan error, 1)
	go func() {
		_, err := b.Infer(context.Background(), images(1, 1, 1, 1, 1))
		res <- err
	}()
	<-f.entered
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := b.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close: %v, want deadline exceeded", err)
	}
	close(f.gate)
	if err := <-res; err != nil {
		t.Errorf("the running request failed: %v", err)
	}
	closeNow(t, b)
}

// TestModelFailures: a model error or panic fails every request of the batch, and the
// batcher keeps working.
func TestModelFailures(t *testing.T) {
	cases := []struct {
		name  string
		model *fakeModel
		want  string
	}{
		{"error", &fakeModel{err: errors.New("out of memory")}, "out of memory"},
		{"panic", &fakeModel{panic: true}, "model panicked on a batch of shape [2, 1, 1, 1]: boom"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.model.gate = make(chan struct{})
			b := New(tc.model, Options{MaxBatchSize: 2, MaxQueueDelay: time.Hour})
			errs := make(chan error, 2)
			for i := range 2 {
				go func() {
					_, err := b.Infer(context.Background(), images(float32(i), 1, 1, 1, 1))
					errs <- err
				}()
			}
			waitFor(t, func() bool { return b.Admitted() == 2 })
			close(tc.model.gate)
			for range 2 {
				if err := <-errs; err == nil || err.Error() != tc.want {
					t.Errorf("err %v, want %q", err, tc.want)
				}
			}
			if b.Admitted() != 0 {
				t.Errorf("%d still admitted", b.Admitted())
			}
			closeNow(t, b)
		})
	}
}

// TestBadInput: malformed tensors are refused with a clear error, never queued.
func TestBadInput(t *testing.T) {
	b := New(&fakeModel{}, Options{})
	defer closeNow(t, b)
	for _, x := range []*tensor.Tensor{
		nil,
		{Shape: []int{1, 3, 2}, Data: make([]float32, 6)},
		{Shape: []int{0, 3, 2, 2}},
		{Shape: []int{2, 1, 2, 2}, Data: make([]float32, 5)},
	} {
		if _, err := b.Infer(context.Background(), x); err == nil {
			t.Errorf("shape %v accepted", x)
		}
	}
	if b.Admitted() != 0 {
		t.Error("a bad input was admitted")
	}
}

// TestHooks: Started once per request with its wait, Ran once per batch with its size.
func TestHooks(t *testing.T) {
	f := &fakeModel{gate: make(chan struct{})}
	var mu sync.Mutex
	var started []time.Duration
	var ran []int
	b := New(f, Options{MaxBatchSize: 4, MaxQueueDelay: time.Hour, Hooks: Hooks{
		Started: func(d time.Duration) { mu.Lock(); started = append(started, d); mu.Unlock() },
		Ran: func(n int, d time.Duration, err error) {
			if err != nil || d < 0 {
				t.Errorf("Ran(%d, %v, %v)", n, d, err)
			}
			mu.Lock()
			ran = append(ran, n)
			mu.Unlock()
		},
	}})
	var wg sync.WaitGroup
	for _, n := range []int{1, 1, 6} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.Infer(context.Background(), images(1, n, 1, 1, 1)); err != nil {
				t.Error(err)
			}
		}()
	}
	waitFor(t, func() bool { return b.Admitted() == 3 })
	close(f.gate)
	wg.Wait()
	closeNow(t, b)
	mu.Lock()
	defer mu.Unlock()
	if len(started) != 3 {
		t.Errorf("Started called %d times, want 3", len(started))
	}
	if !sameMultiset(ran, []int{4, 4}) {
		t.Errorf("Ran sizes %v, want 4, 4", ran)
	}
}

// TestConcurrentStress: many clients, random sizes and cancellations, several workers: every
// answer is right, nothing stays admitted and no goroutine is left behind. Run with -race.
func TestConcurrentStress(t *testing.T) {
	before := runtime.NumGoroutine()
	f := &fakeModel{sleep: 100 * time.Microsecond}
	b := New(f, Options{MaxBatchSize: 8, MaxQueueDelay: time.Millisecond, MaxQueueSize: 20, Workers: 2})
	var wg sync.WaitGroup
	var answered, full, cancelled atomic.Int64
	for c := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			for i := range 25 {
				x := images(float32(c*1000+i*20), 1+rng.IntN(10), 1, 1+rng.IntN(2), 2)
				ctx, cancel := context.WithCancel(context.Background())
				if rng.IntN(5) == 0 {
					time.AfterFunc(time.Duration(rng.IntN(2000))*time.Microsecond, cancel)
				}
				res, err := b.Infer(ctx, x)
				cancel()
				switch {
				case err == nil:
					check(t, x, res)
					answered.Add(1)
				case errors.Is(err, ErrQueueFull):
					full.Add(1)
				case errors.Is(err, context.Canceled):
					cancelled.Add(1)
				default:
					t.Errorf("unexpected error %v", err)
				}
			}
		}()
	}
	wg.Wait()
	closeNow(t, b)
	if b.Admitted() != 0 || b.Waiting() != 0 {
		t.Errorf("after the run: %d admitted, %d waiting", b.Admitted(), b.Waiting())
	}
	t.Logf("%d answered, %d refused (queue full), %d cancelled; %d batches", answered.Load(), full.Load(), cancelled.Load(), len(f.batchSizes()))
	if answered.Load() == 0 {
		t.Error("nothing answered")
	}
	for _, n := range f.batchSizes() {
		if n > 8 {
			t.Errorf("a batch of %d images, over the maximum 8", n)
		}
	}
	waitFor(t, func() bool { return runtime.NumGoroutine() <= before })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

func sameMultiset(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[int]int{}
	for _, v := range a {
		count[v]++
	}
	for _, v := range b {
		count[v]--
	}
	for _, c := range count {
		if c != 0 {
			return false
		}
	}
	return true
}
