package model

import (
	"fmt"
	"sync"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/kernels"
	"github.com/resnet-go/resnet/nn"
	"github.com/resnet-go/resnet/tensor"
	"github.com/resnet-go/resnet/weights"
)

// Output is what one forward pass returns, as HF's model outputs do.
type Output struct {
	// Logits is [N, num_labels]; for a feature extractor (num_labels 0) it is Pooled.
	Logits *tensor.Tensor
	// Pooled is the global-average-pooled embedding, [N, features].
	Pooled *tensor.Tensor
	// Hidden holds HF's hidden_states when asked for: the stem output (after max-pool) and
	// each stage's output, each [N, C, H, W].
	Hidden []*tensor.Tensor
}

// Forward runs a batch x of shape [N, C, H, W] and returns [N, num_labels] logits.
func (m *Model) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	out, err := m.Run(x, false)
	if err != nil {
		return nil, err
	}
	return out.Logits, nil
}

// Run is Forward with the pooled embedding and, if hidden is true, every stage's feature map.
func (m *Model) Run(x *tensor.Tensor, hidden bool) (*Output, error) {
	if err := m.checkInput(x); err != nil {
		return nil, err
	}
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	shapes := m.Spec.Shapes(h, w)
	out := &Output{Pooled: tensor.New(n, m.Spec.Features)}
	if hidden {
		for _, s := range shapes {
			out.Hidden = append(out.Hidden, tensor.New(n, s.C, s.H, s.W))
		}
	}
	chunk := m.chunk(n, shapes)
	r := m.getRunner(h, w, chunk)
	defer m.putRunner(r)
	for i := 0; i < n; i += chunk {
		k := min(chunk, n-i)
		var stages [][]float32
		if hidden {
			for _, t := range out.Hidden {
				per := len(t.Data) / n
				stages = append(stages, t.Data[i*per:(i+k)*per])
			}
		}
		per := len(x.Data) / n
		r.images(x.Data[i*per:(i+k)*per], k, h, w, out.Pooled.Data[i*m.Spec.Features:(i+k)*m.Spec.Features], stages)
	}
	if m.Config.NumLabels == 0 {
		out.Logits = out.Pooled
	} else {
		out.Logits = tensor.New(n, m.Config.NumLabels)
		kernels.LinearBatch(n, out.Pooled.Data, m.Spec.Features, m.fcWeight, m.Config.NumLabels, m.fcBias, out.Logits.Data)
	}
	if err := m.checkOutput(x, out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkOutput refuses a NaN or ±Inf in the embedding or the logits, which would otherwise
// print as a "NaN" score or count as a wrong answer. New refuses non-finite weights, so
// with a finite input this means finite weights so large that the activations overflow
// float32: a checkpoint saved by a training run that diverged.
func (m *Model) checkOutput(x *tensor.Tensor, out *Output) error {
	for _, t := range []struct {
		name string
		t    *tensor.Tensor
	}{{"embedding", out.Pooled}, {"logits", out.Logits}} {
		i := weights.FirstNonFinite(t.t.Data)
		if i < 0 {
			continue
		}
		k := t.t.Shape[1]
		msg := fmt.Sprintf("the model's output is not finite (%s of image %d has %v at index %d)", t.name, i/k, t.t.Data[i], i%k)
		if j := weights.FirstNonFinite(x.Data); j >= 0 {
			return fmt.Errorf("%s: the input holds %v at index %d", msg, x.Data[j], j)
		}
		return fmt.Errorf("%s: the weights are finite but so large that the activations overflow; the checkpoint is broken (was it saved by a training run that diverged?)", msg)
	}
	return nil
}

// chunkBytes bounds one activation buffer of a chunk. Measured on ResNet-50 at 224×224
// (3.2 MB per image at the widest layer), batch 8 ran as fast in chunks of 2 images as of 8,
// with 80 MB less memory: past the L3 cache, larger chunks only cost memory.
const chunkBytes = 8 << 20

// chunk is the number of images per chunk for a batch of n.
func (m *Model) chunk(n int, shapes []arch.StageShape) int {
	widest := 0
	for _, s := range shapes {
		widest = max(widest, s.C*s.H*s.W)
	}
	return max(1, min(n, maxChunk, chunkBytes/(4*max(widest, 1))))
}

func (m *Model) checkInput(x *tensor.Tensor) error {
	if x == nil || len(x.Shape) != 4 {
		var s []int
		if x != nil {
			s = x.Shape
		}
		return fmt.Errorf("input must be [N, %d, H, W], got %s", m.Config.NumChannels, tensor.Format(s))
	}
	if x.Shape[1] != m.Config.NumChannels {
		return fmt.Errorf("input has %d channels, the model expects %d (input shape %s)", x.Shape[1], m.Config.NumChannels, tensor.Format(x.Shape))
	}
	if len(x.Data) != tensor.Numel(x.Shape) {
		return fmt.Errorf("input shape %s needs %d values, has %d", tensor.Format(x.Shape), tensor.Numel(x.Shape), len(x.Data))
	}
	minSize := 1
	if m.Spec.MaxPool {
		minSize = 2
	}
	if x.Shape[2] < minSize || x.Shape[3] < minSize {
		return fmt.Errorf("input %dx%d is too small", x.Shape[3], x.Shape[2])
	}
	return nil
}

// maxChunk is how many images of a batch go through each layer together at most: enough for
// the kernels to read each weight once per group, few enough to keep activations small.
const maxChunk = 8

// getRunner takes scratch memory planned for this input size and chunk from a pool, so
// steady-state inference allocates nothing per layer or per call, and concurrent calls never
// share it.
func (m *Model) getRunner(h, w, n int) *runner {
	p, _ := m.runners.LoadOrStore([3]int{h, w, n}, &sync.Pool{})
	if r, ok := p.(*sync.Pool).Get().(*runner); ok {
		return r
	}
	return m.newRunner(h, w, n)
}

func (m *Model) putRunner(r *runner) {
	if p, ok := m.runners.Load([3]int{r.h, r.w, r.n}); ok {
		p.(*sync.Pool).Put(r)
	}
}

// runner holds the scratch memory of one forward pass for one input size.
type runner struct {
	m            *Model
	h, w, n      int       // input size and images per chunk
	a, b, t1, t2 []float32 // ping-pong activations and branch temporaries
	sc, scratch  []float32 // shortcut output and im2col scratch
	stemOut      []float32
	stemH, stemW int
	poolH, poolW int
	prof         map[string]*LayerTime // non-nil only while profiling
}

func (m *Model) newRunner(h, w, n int) *runner {
	r := &runner{m: m, h: h, w: w, n: n}
	// Each buffer is sized for what it holds, per image: block inputs and outputs (act),
	// the branch temporaries (t1 after odd, t2 after even convolutions), the shortcut (sc).
	act, t1, t2, sc, maxScratch := 0, 0, 0, 0, 0
	out := func(c *nn.ConvBN, h, w int) (int, int, int) {
		p := nn.WithInput(c.Params, h, w)
		maxScratch = max(maxScratch, kernels.ConvScratch(p))
		return p.OutC * p.OutH() * p.OutW(), p.OutH(), p.OutW()
	}
	stem, sh, sw := out(m.stem, h, w)
	r.stemH, r.stemW = sh, sw
	h, w = r.stemH, r.stemW
	if m.Spec.MaxPool {
		h, w = (h+2-3)/2+1, (w+2-3)/2+1
	}
	r.poolH, r.poolW = h, w
	act = m.stem.Params.OutC * h * w
	for _, b := range m.blocks {
		switch {
		case b.proj != nil:
			size, _, _ := out(b.proj, h, w)
			sc = max(sc, size)
		case b.spec.Shortcut == arch.ShortcutPad:
			sc = max(sc, b.spec.Out*((h+b.spec.Stride-1)/b.spec.Stride)*((w+b.spec.Stride-1)/b.spec.Stride))
		}
		bh, bw := h, w
		for ci, c := range b.convs {
			var size int
			size, bh, bw = out(c, bh, bw)
			switch {
			case ci == len(b.convs)-1:
				act = max(act, size)
			case ci%2 == 0:
				t1 = max(t1, size)
			default:
				t2 = max(t2, size)
			}
		}
		h, w = bh, bw
	}
	r.a, r.b = make([]float32, n*act), make([]float32, n*max(act, stem))
	// The stem's output is pooled (or copied) into a before b is first written.
	r.stemOut = r.b[:n*stem]
	r.t1, r.t2, r.sc = make([]float32, n*t1), make([]float32, n*t2), make([]float32, n*sc)
	r.scratch = make([]float32, maxScratch)
	return r
}

// images runs n [C,H,W] images stored one after another, writing their pooled features and
// optionally each stage's output ([n, C, H, W] per stage).
func (r *runner) images(x []float32, n, h, w int, pooled []float32, stages [][]float32) {
	m := r.m
	c := m.stem.Params.OutC
	cur := r.a
	if m.Spec.MaxPool {
		// The stem and its pool in one call (nn.ConvBN.ForwardMaxPool), timed as one.
		t := r.start()
		m.stem.ForwardMaxPool(x, n, h, w, r.stemOut, cur, r.scratch)
		if r.prof != nil {
			p := nn.WithInput(m.stem.Params, h, w)
			kind, shape := convLabel(p)
			r.stop(kind+" + max-pool", shape, t, int64(n)*p.MACs())
		}
	} else {
		r.conv(m.stem, x, n, h, w, nil, r.stemOut)
		copy(cur, r.stemOut)
	}
	h, w = r.poolH, r.poolW
	if stages != nil {
		copy(stages[0], cur[:n*c*h*w])
	}
	// The shortcut buffer is local: a block may leave its output there and hand its input's
	// buffer over as the next shortcut buffer; the runner's own three stay distinct.
	next, sc := r.b, r.sc
	for bi, b := range m.blocks {
		// Shortcut first, so the branch's last convolution can add it in its output stage.
		var res []float32
		switch b.spec.Shortcut {
		case arch.ShortcutIdentity:
			res = cur
		case arch.ShortcutProject:
			r.conv(b.proj, cur, n, h, w, nil, sc)
			res = sc
		case arch.ShortcutPad:
			t := r.start()
			inLen := b.spec.In * h * w
			outLen := b.spec.Out * ((h + b.spec.Stride - 1) / b.spec.Stride) * ((w + b.spec.Stride - 1) / b.spec.Stride)
			for i := 0; i < n; i++ {
				nn.ZeroPadShortcut(cur[i*inLen:], b.spec.In, h, w, b.spec.Out, b.spec.Stride, sc[i*outLen:])
			}
			r.stop("zero-pad shortcut", "", t, 0)
			res = sc
		}
		in, bh, bw := cur, h, w
		for ci, cv := range b.convs {
			p := nn.WithInput(cv.Params, bh, bw)
			dst := r.t1
			if ci%2 == 1 {
				dst = r.t2
			}
			var add []float32
			if ci == len(b.convs)-1 {
				dst, add = next, res
				if cv.Plan != nil && cv.Plan.ResidualInPlace(p) && len(res) >= len(next) {
					// Over the residual it adds (the block's input, or its projection):
					// no second buffer's lines to read for ownership
					// (kernels.ConvPlan.ResidualInPlace).
					dst = res
				}
			}
			r.conv(cv, in, n, bh, bw, add, dst)
			in, bh, bw = dst, p.OutH(), p.OutW()
		}
		switch {
		case &in[0] == &next[0]:
			cur, next = next, cur
		case &in[0] == &sc[0]: // the output went over the projection: the input's buffer takes its place
			cur, sc = sc, cur
		}
		h, w, c = bh, bw, b.spec.Out
		if stages != nil && (bi == len(m.blocks)-1 || m.blocks[bi+1].spec.Stage != b.spec.Stage) {
			copy(stages[b.spec.Stage+1], cur[:n*c*h*w])
		}
	}
	t := r.start()
	kernels.GlobalAvgPool(n*c, h*w, cur, pooled)
	r.stop("global avg-pool", "", t, 0)
}

// conv runs one convolution over n images, timing it when profiling.
func (r *runner) conv(c *nn.ConvBN, in []float32, n, h, w int, residual, out []float32) {
	t := r.start()
	c.Forward(in, n, h, w, residual, out, r.scratch)
	if r.prof != nil {
		p := nn.WithInput(c.Params, h, w)
		kind, shape := convLabel(p)
		r.stop(kind, shape, t, int64(n)*p.MACs())
	}
}

// convLabel is a convolution's profile kind ("conv 3x3/2") and shape ("64->128 56x56").
func convLabel(p kernels.ConvParams) (kind, shape string) {
	return fmt.Sprintf("conv %dx%d/%d", p.KH, p.KW, p.StrideH), fmt.Sprintf("%d->%d %dx%d", p.InC, p.OutC, p.InH, p.InW)
}
