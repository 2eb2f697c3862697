package model

import (
	"sort"
	"time"

	"github.com/resnet-go/resnet/tensor"
)

// LayerTime is the time spent in the layers of one kind and shape during profiled forward
// passes.
type LayerTime struct {
	Kind  string // "conv 3x3/1", "conv 1x1/2", "max-pool", ...
	Shape string // a convolution's "InC->OutC HxW" (its input map), e.g. "256->64 56x56"; "" otherwise
	Calls int
	Time  time.Duration
	MACs  int64
}

// GFLOPS is the arithmetic rate reached (2 FLOPs per multiply-add).
func (l LayerTime) GFLOPS() float64 {
	if l.Time <= 0 {
		return 0
	}
	return 2 * float64(l.MACs) / l.Time.Seconds() / 1e9
}

func (r *runner) start() time.Time {
	if r.prof == nil {
		return time.Time{}
	}
	return time.Now()
}

func (r *runner) stop(kind, shape string, t time.Time, macs int64) {
	if r.prof == nil {
		return
	}
	key := kind + "|" + shape
	l := r.prof[key]
	if l == nil {
		l = &LayerTime{Kind: kind, Shape: shape}
		r.prof[key] = l
	}
	l.Calls++
	l.Time += time.Since(t)
	l.MACs += macs
}

// Profile runs x through the network runs times and reports where the time went, by layer
// kind and shape, slowest first (ByKind sums the shapes). It is for `resnet bench --profile`, not for serving: it times every layer.
func (m *Model) Profile(x *tensor.Tensor, runs int) ([]LayerTime, error) {
	if err := m.checkInput(x); err != nil {
		return nil, err
	}
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	// A pooled runner, as Run's: a fresh one would put its buffers' first-touch page faults
	// into the first pass's layer times.
	r := m.getRunner(h, w, 1)
	defer m.putRunner(r)
	r.prof = map[string]*LayerTime{}
	defer func() { r.prof = nil }()
	pooled := make([]float32, m.Spec.Features)
	for run := 0; run < runs; run++ {
		for i := 0; i < n; i++ {
			r.images(x.Slice(i).Data, 1, h, w, pooled, nil)
		}
	}
	var out []LayerTime
	for _, l := range r.prof {
		out = append(out, *l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time > out[j].Time })
	return out, nil
}

// ByKind sums layer times over shapes, slowest kind first.
func ByKind(ls []LayerTime) []LayerTime {
	at := map[string]int{}
	var out []LayerTime
	for _, l := range ls {
		i, ok := at[l.Kind]
		if !ok {
			i = len(out)
			at[l.Kind] = i
			out = append(out, LayerTime{Kind: l.Kind})
		}
		k := &out[i]
		k.Calls += l.Calls
		k.Time += l.Time
		k.MACs += l.MACs
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time > out[j].Time })
	return out
}
