package kernels

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The worker pool: long-lived goroutines fed by one channel. A parallel loop
// cuts its indices into one contiguous range per thread (ranges); the caller
// takes indices too, so a call finishes even when every worker is busy
// elsewhere (or has just been stopped by SetThreads): concurrent callers never
// deadlock.
var (
	poolMu   sync.Mutex
	poolOnce sync.Once
	workers  int // goroutines currently running worker
	nthreads atomic.Int64
	jobCh    = make(chan *job, 256)
)

// job is one parallel loop; a nil *job on jobCh tells a worker to exit.
type job struct {
	fn     func(i int)
	ranges []indexRange // n indices cut into Threads() contiguous ranges
	left   atomic.Int64 // indices not finished yet
	wg     sync.WaitGroup
	inline [4]indexRange // ranges up to four threads, in the job's one allocation
}

// indexRange is the indices [front, back) of a job not yet taken, packed in one word so
// that its owner can take from the front and other threads from the back.
type indexRange struct {
	span atomic.Uint64 // front<<32 | back
	_    [56]byte      // a cache line each: the owners take from theirs all the time
}

// take claims the front index of r (its owner) or the back one (another thread).
func (r *indexRange) take(back bool) (int, bool) {
	for {
		s := r.span.Load()
		f, b := s>>32, s&0xffffffff
		if f >= b {
			return 0, false
		}
		ns, i := (f+1)<<32|b, f
		if back {
			ns, i = f<<32|(b-1), b-1
		}
		if r.span.CompareAndSwap(s, ns) {
			return int(i), true
		}
	}
}

// help runs indices of j until none are left: those of the range of slot (the caller is
// slot 0, pool worker k slot k), from its front, then what is left of the others', from
// their backs. A thread thus takes the same part of every loop of a layer, and of the next
// layer's loops where they are cut alike (each thread's pixels or channels stay in its
// cache across CCDs: on the Zen 5 VM, two threads, ResNet-18 2.1% faster and ResNet-50
// 0.2%, against handing out indices from one counter, lowest first, which interleaved
// threads' chunks), while a thread slowed by another process still has its range finished
// by the others.
func (j *job) help(slot int) {
	own := slot % len(j.ranges)
	for k := range j.ranges {
		r := &j.ranges[(own+k)%len(j.ranges)]
		for {
			i, ok := r.take(k > 0)
			if !ok {
				break
			}
			j.fn(i)
			j.left.Add(-1)
			j.wg.Done()
		}
	}
}

func worker(slot int) {
	for {
		j := nextJob()
		if j == nil {
			return
		}
		j.help(slot)
	}
}

// spinWait is how long a goroutine of the pool polls before it blocks: an
// idle worker for the next job, a caller for the helpers' last indices.
// Kernel calls of a forward pass follow each other within microseconds, and
// a helper's last index ends within microseconds of the caller's, while
// waking a blocked goroutine takes tens of microseconds (over a hundred on a
// virtual machine, whose idle vCPU must be rescheduled): measured, parking
// cost a 2-thread ResNet-50 pass 6 ms of the caller's time in 89 waits.
// Polling keeps both on their cores, as ONNX Runtime's spinning thread pool
// does, at the price of at most this much busy waiting after the last call.
// The pollers yield the processor now and then, so they never hold up
// goroutines when there are fewer Ps than threads.
const spinWait = 200 * time.Microsecond

// noSpin makes the pool's goroutines sleep as soon as they wait (SetSpinning).
var noSpin atomic.Bool

// SetSpinning sets whether the pool's goroutines poll for up to 200 µs before
// they sleep, for the next kernel call (a worker) or for the last indices of
// one (a caller), as they do by default; off, they sleep at once, like ONNX
// Runtime's allow_spinning = 0. Polling wins while the threads have their
// cores to themselves and loses where other processes want the same cores.
// Measured on the Zen 4 VM, ResNet-50 at batch 1 on two threads: alone, 33.3
// ms polling, 38.3 without (42 and 51 ms where the vCPUs sat on different
// CCDs: waking a thread costs more than the polling); two such processes at
// once on the two cores, 78–80 ms each polling, 69–70 without (each poller
// holds a core the other process's threads could use); beside a process
// spinning at nice 5 on the second core, 62–75 ms polling, 57–66 without.
// Concurrent forward passes in one process share this pool and measured
// alike either way (36–37 ms a pass). Under a container's CPU quota polling
// also spends quota on nothing.
func SetSpinning(on bool) { noSpin.Store(!on) }

// Spinning reports whether the pool polls before it sleeps (SetSpinning).
func Spinning() bool { return !noSpin.Load() }

// spin calls done until it reports true, for up to spinWait (once, with
// spinning off); it reports whether done did.
func spin(done func() bool) bool {
	var deadline time.Time
	for i := 1; ; i++ {
		if done() {
			return true
		}
		if noSpin.Load() {
			return false
		}
		if i%64 == 0 {
			now := time.Now()
			if deadline.IsZero() {
				deadline = now.Add(spinWait)
			} else if now.After(deadline) {
				return false
			}
			runtime.Gosched()
		}
	}
}

// nextJob polls jobCh for up to spinWait, then blocks on it.
func nextJob() *job {
	var j *job
	if spin(func() bool {
		select {
		case j = <-jobCh:
			return true
		default:
			return false
		}
	}) {
		return j
	}
	return <-jobCh
}

// SetThreads sets how many goroutines one kernel call may use (the caller's
// plus pool workers). n < 1 means 1. The default is runtime.GOMAXPROCS(0).
func SetThreads(n int) {
	poolOnce.Do(func() {}) // an explicit setting replaces the default
	setThreads(n)
}

func setThreads(n int) {
	if n < 1 {
		n = 1
	}
	poolMu.Lock()
	defer poolMu.Unlock()
	for workers < n-1 {
		workers++
		go worker(workers)
	}
	for workers > n-1 {
		jobCh <- nil
		workers--
	}
	nthreads.Store(int64(n))
}

// Threads reports how many goroutines a kernel call may use.
func Threads() int {
	poolOnce.Do(func() { setThreads(runtime.GOMAXPROCS(0)) })
	return int(nthreads.Load())
}

// Parallel runs fn(0), …, fn(n-1) on the kernels' pool of Threads() goroutines (the
// caller's among them), each taking first its own contiguous share of the indices, and
// returns when all are done: for layers above this package with work to split, so that their loops run on the
// same goroutines as the kernels'. Calls may nest (an inner call runs on whichever goroutines
// are free, at least its caller).
func Parallel(n int, fn func(i int)) { parallel(n, fn) }

// parallel runs fn(0), …, fn(n-1) on up to Threads() goroutines and returns
// when all are done. The indices are cut into Threads() contiguous ranges,
// thread t's the t-th (see job.help).
func parallel(n int, fn func(i int)) {
	if parallelSim != nil && n > 1 {
		parallelSim(n, fn)
		return
	}
	if n <= 1 {
		if n == 1 {
			fn(0)
		}
		return
	}
	if n > math.MaxUint32 {
		panic("kernels: parallel loop of more than 2³² indices")
	}
	t := Threads()
	j := &job{fn: fn}
	if k := min(n, t); k <= len(j.inline) {
		j.ranges = j.inline[:k]
	} else {
		j.ranges = make([]indexRange, k)
	}
	for r := range j.ranges {
		j.ranges[r].span.Store(uint64(r*n/len(j.ranges))<<32 | uint64((r+1)*n/len(j.ranges)))
	}
	j.left.Store(int64(n))
	j.wg.Add(n)
	helpers := min(n, t) - 1
	for h := 0; h < helpers; h++ {
		select {
		case jobCh <- j:
		default: // queue full: the workers are busy anyway
		}
	}
	j.help(0)
	if !spin(func() bool { return j.left.Load() == 0 }) {
		j.wg.Wait()
	}
}

// parallelSim, when set (by TestGridSimulation only), takes over every loop of
// more than one index: it runs them one after the other on the calling
// goroutine, timing each, to tell what the task grids alone would let a
// machine with more cores gain.
var parallelSim func(n int, fn func(i int))
