package model

import (
	"sort"
	"time"

	"github.com/resnet-go/resnet/tensor"
)

// LayerTime is the time spent in one kind of layer during profiled forward passes.
type LayerTime struct {
	Kind  string // "conv 3x3/1", "conv 1x1/2", "max-pool", ...
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

func (r *runner) stop(kind string, t time.Time, macs int64) {
	if r.prof == nil {
		return
	}
	l := r.prof[kind]
	if l == nil {
		l = &LayerTime{Kind: kind}
		r.prof[kind] = l
	}
	l.Calls++
	l.Time += time.Since(t)
	l.MACs += macs
}

// Profile runs x through the network runs times and reports where the time went, by layer
// kind, slowest first. It is for `resnet bench --profile`, not for serving: it times every layer.
func (m *Model) Profile(x *tensor.Tensor, runs int) ([]LayerTime, error) {
	if err := m.checkInput(x); err != nil {
		return nil, err
	}
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	r := m.newRunner(h, w, 1)
	r.prof = map[string]*LayerTime{}
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
