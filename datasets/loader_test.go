package datasets

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// synthetic returns n random c×h×w images with labels i%10.
func synthetic(n, c, h, w int) *Dataset {
	r := rand.New(rand.NewPCG(9, 9))
	d := &Dataset{C: c, H: h, W: w, Pix: make([]uint8, n*c*h*w), Labels: make([]int, n), Classes: MNISTClasses}
	for i := range d.Pix {
		d.Pix[i] = uint8(r.IntN(256))
	}
	for i := range d.Labels {
		d.Labels[i] = i % 10
	}
	return d
}

var cifarNorm = Normalize{Mean: []float32{0.4914, 0.4822, 0.4465}, Std: []float32{0.2470, 0.2435, 0.2616}}

// epoch collects a whole epoch through the iterator, copying each batch (they are reused).
func epoch(t *testing.T, l *Loader, e, start int) []Batch {
	t.Helper()
	it := l.Epoch(context.Background(), e, start)
	defer it.Close()
	var out []Batch
	for it.Next() {
		b := it.Batch()
		out = append(out, Batch{Epoch: b.Epoch, Index: b.Index, Shape: b.Shape,
			X: slices.Clone(b.X), Labels: slices.Clone(b.Labels), Indices: slices.Clone(b.Indices)})
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLoaderCoversEpoch(t *testing.T) {
	d := synthetic(103, 3, 5, 7)
	cases := []struct {
		batch          int
		shuffle, drop  bool
		batches, lastN int
	}{
		{10, true, false, 11, 3},
		{10, true, true, 10, 10},
		{10, false, false, 11, 3},
		{1, true, false, 103, 1},
		{103, true, true, 1, 103},
		{200, false, false, 1, 103},
	}
	for _, c := range cases {
		l, err := NewLoader(d, LoaderOptions{BatchSize: c.batch, Shuffle: c.shuffle, DropLast: c.drop, Seed: 5, Augment: CIFARAugment, Normalize: cifarNorm})
		if err != nil {
			t.Fatal(err)
		}
		if l.Len() != c.batches {
			t.Fatalf("%+v: %d batches per epoch", c, l.Len())
		}
		for e := range 2 {
			bs := epoch(t, l, e, 0)
			if len(bs) != c.batches || bs[len(bs)-1].Shape[0] != c.lastN {
				t.Fatalf("%+v epoch %d: %d batches, last of %d", c, e, len(bs), bs[len(bs)-1].Shape[0])
			}
			seen := make([]int, d.Len())
			var order []int
			for i, b := range bs {
				if b.Index != i || b.Epoch != e || b.Shape != [4]int{len(b.Indices), 3, 5, 7} || len(b.X) != len(b.Indices)*105 {
					t.Fatalf("%+v: batch %d is %d of epoch %d, shape %v", c, i, b.Index, b.Epoch, b.Shape)
				}
				for k, j := range b.Indices {
					seen[j]++
					order = append(order, j)
					if b.Labels[k] != d.Labels[j] {
						t.Fatalf("label of %d", j)
					}
					// The image is the augmentation drawn for (seed, epoch, j), computed slowly.
					p := CIFARAugment.draw(5, e, j)
					want := slowAugment(d.Image(j), 3, 5, 7, 4, p.dy+4, p.dx+4, p.flip, cifarNorm.Mean, cifarNorm.Std)
					if !sameFloats(b.X[k*105:(k+1)*105], want) {
						t.Fatalf("%+v: batch %d image %d (example %d) differs from the slow augmentation", c, i, k, j)
					}
				}
			}
			want := 1
			for j, n := range seen {
				if n > want || (!c.drop && n != want) {
					t.Fatalf("%+v epoch %d: example %d served %d times", c, e, j, n)
				}
			}
			if !slices.Equal(order, l.Order(e)[:len(order)]) {
				t.Fatalf("served order is not Order(%d)", e)
			}
			if sorted := slices.IsSorted(order); sorted == c.shuffle {
				t.Fatalf("%+v: shuffle %v but order sorted %v", c, c.shuffle, sorted)
			}
		}
	}
}

func sameBatches(a, b []Batch) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameFloats(a[i].X, b[i].X) || !slices.Equal(a[i].Labels, b[i].Labels) || !slices.Equal(a[i].Indices, b[i].Indices) || a[i].Shape != b[i].Shape {
			return false
		}
	}
	return true
}

func TestLoaderDeterminism(t *testing.T) {
	d := synthetic(64, 3, 8, 8)
	mk := func(seed uint64, workers, prefetch int) *Loader {
		l, err := NewLoader(d, LoaderOptions{BatchSize: 16, Shuffle: true, Seed: seed, Augment: CIFARAugment, Normalize: cifarNorm, Workers: workers, Prefetch: prefetch})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	ref := epoch(t, mk(1, 1, 1), 3, 0)
	for _, wp := range [][2]int{{1, 1}, {4, 3}, {16, 0}} {
		if got := epoch(t, mk(1, wp[0], wp[1]), 3, 0); !sameBatches(got, ref) {
			t.Fatalf("workers %d prefetch %d: different batches for the same seed", wp[0], wp[1])
		}
	}
	if sameBatches(epoch(t, mk(2, 1, 1), 3, 0), ref) {
		t.Fatal("another seed gave the same batches")
	}
	if sameBatches(epoch(t, mk(1, 1, 1), 4, 0), ref) {
		t.Fatal("another epoch gave the same batches")
	}
	// The same order with augmentation off still differs in pixels: augmentation is on above.
	l, _ := NewLoader(d, LoaderOptions{BatchSize: 16, Shuffle: true, Seed: 1, Normalize: cifarNorm})
	plain := epoch(t, l, 3, 0)
	if !slices.Equal(plain[0].Indices, ref[0].Indices) || sameFloats(plain[0].X, ref[0].X) {
		t.Fatal("augmentation should change pixels, not order")
	}
}

func TestLoaderResume(t *testing.T) {
	d := synthetic(50, 1, 6, 6)
	l, err := NewLoader(d, LoaderOptions{BatchSize: 8, Shuffle: true, Seed: 11, Augment: Augment{Pad: 2, Flip: true}})
	if err != nil {
		t.Fatal(err)
	}
	full := epoch(t, l, 7, 0)
	for _, start := range []int{0, 1, 5, 6, 7} {
		if got := epoch(t, l, 7, start); !sameBatches(got, full[start:]) {
			t.Fatalf("resuming at batch %d of epoch 7 differs from the uninterrupted epoch", start)
		}
	}
	for i, want := range full {
		b, err := l.Batch(7, i)
		if err != nil || !sameBatches([]Batch{*b}, []Batch{want}) {
			t.Fatalf("Loader.Batch(7, %d) differs from the iterator: %v", i, err)
		}
	}
	if _, err := l.Batch(7, 7); err == nil {
		t.Fatal("batch past the end accepted")
	}
	it := l.Epoch(context.Background(), 7, 8)
	if it.Next() || it.Err() == nil || !strings.Contains(it.Err().Error(), "cannot start at batch 8") {
		t.Fatalf("bad start: %v", it.Err())
	}
	it.Close()
}

func TestEvalLoader(t *testing.T) {
	d := synthetic(23, 3, 4, 4)
	l, err := NewEvalLoader(d, 10, cifarNorm)
	if err != nil {
		t.Fatal(err)
	}
	bs := epoch(t, l, 0, 0)
	if len(bs) != 3 || bs[2].Shape[0] != 3 {
		t.Fatalf("%d batches", len(bs))
	}
	for i, b := range bs {
		for k, j := range b.Indices {
			if j != i*10+k {
				t.Fatalf("eval order: batch %d position %d is example %d", i, k, j)
			}
			if want := slowAugment(d.Image(j), 3, 4, 4, 0, 0, 0, false, cifarNorm.Mean, cifarNorm.Std); !sameFloats(b.X[k*48:(k+1)*48], want) {
				t.Fatalf("example %d is not just normalised", j)
			}
		}
	}
	if x := bs[0].Tensor(); x.Shape[0] != 10 || x.Shape[1] != 3 || len(x.Data) != 480 {
		t.Fatalf("tensor shape %v", x.Shape)
	}
}

func TestLoaderOptionErrors(t *testing.T) {
	d := synthetic(5, 3, 2, 2)
	cases := []struct {
		o    LoaderOptions
		want string
	}{
		{LoaderOptions{}, "batch size 0"},
		{LoaderOptions{BatchSize: 8, DropLast: true}, "fewer than one batch of 8"},
		{LoaderOptions{BatchSize: 2, Normalize: Normalize{Mean: []float32{0}, Std: []float32{1}}}, "for 3 channels"},
		{LoaderOptions{BatchSize: 2, Augment: Augment{Pad: -1}}, "padding -1"},
		{LoaderOptions{BatchSize: 2, Workers: -1}, "must not be negative"},
	}
	for _, c := range cases {
		if _, err := NewLoader(d, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.o, err, c.want)
		}
	}
	broken := *d
	broken.Labels = append(slices.Clone(d.Labels[:4]), 12)
	if _, err := NewLoader(&broken, LoaderOptions{BatchSize: 1}); err == nil || !strings.Contains(err.Error(), "label 12") {
		t.Errorf("bad label: %v", err)
	}
}

// Cancelling the context or closing the iterator ends the prefetch goroutine: inside a
// synctest bubble a goroutine left blocked would make synctest.Test fail.
func TestLoaderStops(t *testing.T) {
	d := synthetic(1000, 3, 4, 4)
	l, err := NewLoader(d, LoaderOptions{BatchSize: 4, Shuffle: true, Prefetch: 2, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		it := l.Epoch(ctx, 0, 0)
		for range 2 {
			if !it.Next() {
				t.Fatal("no batches")
			}
		}
		synctest.Wait() // the goroutine has filled the prefetch queue and is blocked
		cancel()
		if it.Next() {
			t.Fatal("a batch after cancel")
		}
		if !errors.Is(it.Err(), context.Canceled) {
			t.Fatalf("Err = %v, want context.Canceled", it.Err())
		}
		synctest.Wait()
		select {
		case <-it.done:
		default:
			t.Fatal("prefetch goroutine still running after cancel")
		}
		it.Close()
	})
	synctest.Test(t, func(t *testing.T) {
		it := l.Epoch(context.Background(), 0, 0)
		it.Next()
		it.Close() // without cancelling the context
		it.Close()
		if it.Next() || it.Err() != nil {
			t.Fatalf("after Close: Next true or Err %v", it.Err())
		}
	})
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		it := l.Epoch(ctx, 0, 0)
		defer it.Close()
		time.Sleep(2 * time.Second) // the consumer stalls past the deadline
		for it.Next() {
		}
		if !errors.Is(it.Err(), context.DeadlineExceeded) {
			t.Fatalf("Err = %v, want deadline exceeded", it.Err())
		}
	})
}
