package onnx

import (
	"fmt"
	"math"
	"slices"

	"github.com/resnet-go/resnet/arch"
)

// convMatch is one Conv node, with the BatchNormalization that follows it if any.
type convMatch struct {
	node, bn              int // node indices; bn is -1 when BN was folded into the conv
	w, bias               *value
	gamma, beta, mean, vr *value
	eps                   float32
	kernel, stride, pad   int
	out                   string // the tensor after BN (or after the conv when there is none)
}

// blockMatch is one residual (or plain) block as found in the graph.
type blockMatch struct {
	convs    []*convMatch
	shortcut arch.ShortcutKind
	proj     *convMatch
	// Option A: the stride of the subsampling Slice and the zero channels the Pad adds in front
	// and behind.
	padStride, padFront, padBack int
	add                          int // the Add node, -1 for plain blocks
}

// match is a whole graph mapped onto our architecture.
type match struct {
	stem      *convMatch
	maxPool   bool
	layerType string
	blocks    []*blockMatch
	fcW, fcB  []float32 // HF layout [num_labels, features], nil without a classifier
	numLabels int
}

// sole returns the single node reading a tensor, or an error naming the tensor's producer.
func (g *graph) sole(name, what string) (int, error) {
	u := g.usersOf(name)
	if len(u) == 1 {
		return u[0], nil
	}
	where := fmt.Sprintf("tensor %q", name)
	if p, ok := g.producer[g.resolve(name)]; ok {
		return -1, g.nodeError(p, "output %q feeds %d nodes, want exactly one (%s)", name, len(u), what)
	}
	return -1, fmt.Errorf("%s feeds %d nodes, want exactly one (%s)", where, len(u), what)
}

func (g *graph) op(i int) string { return g.nodes[i].GetOpType() }

// floatConst returns a FLOAT constant input of node i with the given element count.
func (g *graph) floatConst(i, k int, what string, n int) (*value, error) {
	in := g.nodes[i].GetInput()
	if k >= len(in) || in[k] == "" {
		return nil, g.nodeError(i, "has no %s input", what)
	}
	v := g.constant(in[k])
	if v == nil {
		return nil, g.nodeError(i, "%s %q is not a constant (initializer or Constant)", what, in[k])
	}
	if !v.float {
		return nil, g.nodeError(i, "%s %q is not FLOAT", what, in[k])
	}
	if n >= 0 && len(v.f32) != n {
		return nil, g.nodeError(i, "%s %q has %d values, want %d", what, in[k], len(v.f32), n)
	}
	return v, nil
}

// intConst returns an integer constant input of node i (shapes, axes, pads).
func (g *graph) intConst(i, k int, what string) ([]int64, error) {
	in := g.nodes[i].GetInput()
	if k >= len(in) || in[k] == "" {
		return nil, nil
	}
	v := g.constant(in[k])
	if v == nil || v.float {
		return nil, g.nodeError(i, "%s %q must be a constant integer tensor", what, in[k])
	}
	return v.i64, nil
}

// square2 checks a 2-element attribute with equal entries (strides, kernel_shape).
func square2(v []int64) (int, bool) {
	if len(v) != 2 || v[0] != v[1] {
		return 0, false
	}
	return int(v[0]), true
}

// takeConv reads Conv node i, whose data input must be in, and the BatchNormalization that
// is its only reader if there is one.
func (g *graph) takeConv(i int, in string) (*convMatch, error) {
	n := g.nodes[i]
	if g.op(i) != "Conv" {
		return nil, g.nodeError(i, "expected a Conv here")
	}
	if g.resolve(n.GetInput()[0]) != g.resolve(in) {
		return nil, g.nodeError(i, "reads its weights where the image tensor was expected")
	}
	a := g.attrs(i)
	w, err := g.floatConst(i, 1, "weight", -1)
	if err != nil {
		return nil, err
	}
	if len(w.dims) != 4 || w.dims[2] != w.dims[3] {
		return nil, g.nodeError(i, "weight %q has shape %v, want [out, in, k, k]", w.name, w.dims)
	}
	c := &convMatch{node: i, bn: -1, w: w, kernel: w.dims[2]}
	if gr := a.int("group", 1); gr != 1 {
		return nil, g.nodeError(i, "attribute group = %d: grouped convolutions are not supported (ResNet convolutions have group 1)", gr)
	}
	for _, d := range a.ints("dilations", nil) {
		if d != 1 {
			return nil, g.nodeError(i, "attribute dilations = %v: dilated convolutions are not supported", a.ints("dilations", nil))
		}
	}
	if ks := a.ints("kernel_shape", nil); ks != nil && (len(ks) != 2 || int(ks[0]) != w.dims[2] || int(ks[1]) != w.dims[3]) {
		return nil, g.nodeError(i, "attribute kernel_shape = %v disagrees with weight shape %v", ks, w.dims)
	}
	var ok bool
	if c.stride, ok = square2(a.ints("strides", []int64{1, 1})); !ok || c.stride < 1 {
		return nil, g.nodeError(i, "attribute strides = %v: want two equal positive strides", a.ints("strides", nil))
	}
	switch ap := a.str("auto_pad", "NOTSET"); ap {
	case "NOTSET", "":
		pads := a.ints("pads", []int64{0, 0, 0, 0})
		if len(pads) != 4 || pads[0] != pads[1] || pads[0] != pads[2] || pads[0] != pads[3] || pads[0] < 0 {
			return nil, g.nodeError(i, "attribute pads = %v: want four equal paddings", pads)
		}
		c.pad = int(pads[0])
	case "VALID":
		c.pad = 0
	default:
		return nil, g.nodeError(i, "attribute auto_pad = %q is not supported (write explicit pads)", ap)
	}
	if len(n.GetInput()) == 3 && n.GetInput()[2] != "" {
		if c.bias, err = g.floatConst(i, 2, "bias", w.dims[0]); err != nil {
			return nil, err
		}
	}
	g.used[i] = true
	c.out = n.GetOutput()[0]
	if u := g.usersOf(c.out); len(u) == 1 && g.op(u[0]) == "BatchNormalization" {
		if err := g.takeBN(u[0], c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// bnEps is PyTorch's BatchNorm2d epsilon, which our model folds with (nn.BNEps); ONNX files
// store it as float32.
const bnEps = 1e-5

// takeBN reads BatchNormalization node i into c.
func (g *graph) takeBN(i int, c *convMatch) error {
	n := g.nodes[i]
	a := g.attrs(i)
	if s := a.int("spatial", 1); s != 1 {
		return g.nodeError(i, "attribute spatial = %d: only per-channel (spatial = 1) batch norm is supported", s)
	}
	if t := a.int("training_mode", 0); t != 0 {
		return g.nodeError(i, "attribute training_mode = %d: only inference-mode batch norm is supported", t)
	}
	if a["is_test"] != nil && a.int("is_test", 0) == 0 {
		return g.nodeError(i, "attribute is_test = 0: only inference-mode batch norm is supported")
	}
	// Before opset 14 the output count is the mode: Y alone is inference, Y plus the running
	// and saved statistics is training (batch statistics), which would compute something else.
	for k, out := range n.GetOutput()[1:] {
		if out != "" {
			return g.nodeError(i, "has training output %d (%q): training-mode batch norm normalises with batch statistics; only inference mode is supported", k+1, out)
		}
	}
	o := c.w.dims[0]
	var err error
	if c.gamma, err = g.floatConst(i, 1, "scale", o); err != nil {
		return err
	}
	if c.beta, err = g.floatConst(i, 2, "bias", o); err != nil {
		return err
	}
	if c.mean, err = g.floatConst(i, 3, "mean", o); err != nil {
		return err
	}
	if c.vr, err = g.floatConst(i, 4, "var", o); err != nil {
		return err
	}
	c.eps = a.float("epsilon", bnEps)
	if !(c.eps >= 0) || math.IsInf(float64(c.eps), 0) {
		return g.nodeError(i, "attribute epsilon = %g is not a non-negative number", c.eps)
	}
	c.bn = i
	c.out = n.GetOutput()[0]
	g.used[i] = true
	return nil
}

// takeRelu checks that the only reader of t is a Relu and returns its output.
func (g *graph) takeRelu(t, what string) (string, error) {
	u, err := g.sole(t, what)
	if err != nil {
		return "", err
	}
	if g.op(u) != "Relu" {
		return "", g.nodeError(u, "expected Relu (%s)", what)
	}
	g.used[u] = true
	return g.nodes[u].GetOutput()[0], nil
}

// matchGraph walks the graph from its input: stem, blocks, head.
func (g *graph) matchGraph() (*match, error) {
	m := &match{}
	u := g.usersOf(g.input)
	if len(u) != 1 {
		return nil, fmt.Errorf("graph input %q feeds %d nodes, want one stem convolution", g.input, len(u))
	}
	if g.op(u[0]) == "BatchNormalization" {
		return nil, g.nodeError(u[0], "batch norm on the raw input before the stem: a pre-activation (ResNet v2) network, which the HF ResNet architecture cannot express")
	}
	if g.op(u[0]) != "Conv" {
		return nil, g.nodeError(u[0], "expected the stem Conv to read the graph input")
	}
	var err error
	if m.stem, err = g.takeConv(u[0], g.input); err != nil {
		return nil, err
	}
	t, err := g.takeRelu(m.stem.out, "after the stem convolution")
	if err != nil {
		return nil, err
	}
	if p := g.usersOf(t); len(p) == 1 && g.op(p[0]) == "MaxPool" {
		if err := g.checkMaxPool(p[0]); err != nil {
			return nil, err
		}
		m.maxPool = true
		t = g.nodes[p[0]].GetOutput()[0]
	}
	s := m.stem
	switch {
	case m.maxPool && (s.kernel != 7 || s.stride != 2 || s.pad != 3):
		return nil, g.nodeError(s.node, "stem convolution is %d×%d stride %d pad %d; an ImageNet stem (with max-pool) is 7×7 stride 2 pad 3", s.kernel, s.kernel, s.stride, s.pad)
	case !m.maxPool && (s.kernel != 3 || s.stride != 1 || s.pad != 1):
		return nil, g.nodeError(s.node, "stem convolution is %d×%d stride %d pad %d without a max-pool; a CIFAR stem is 3×3 stride 1 pad 1 (an ImageNet stem needs the 3×3/2 max-pool)", s.kernel, s.kernel, s.stride, s.pad)
	}
	for {
		users := g.usersOf(t)
		if len(users) == 1 && (g.op(users[0]) == "GlobalAveragePool" || g.op(users[0]) == "ReduceMean") {
			return m, g.matchHead(m, users[0])
		}
		b, next, err := g.matchBlock(m, t, users)
		if err != nil {
			return nil, err
		}
		m.blocks = append(m.blocks, b)
		t = next
	}
}

func (g *graph) checkMaxPool(i int) error {
	a := g.attrs(i)
	n := g.nodes[i]
	if len(n.GetOutput()) == 2 && n.GetOutput()[1] != "" {
		return g.nodeError(i, "the Indices output is not supported")
	}
	if c := a.int("ceil_mode", 0); c != 0 {
		return g.nodeError(i, "attribute ceil_mode = %d is not supported (ResNet's max-pool floors)", c)
	}
	if s := a.int("storage_order", 0); s != 0 {
		return g.nodeError(i, "attribute storage_order = %d is not supported", s)
	}
	if ap := a.str("auto_pad", "NOTSET"); ap != "NOTSET" && ap != "" {
		return g.nodeError(i, "attribute auto_pad = %q is not supported (write explicit pads)", ap)
	}
	for _, d := range a.ints("dilations", nil) {
		if d != 1 {
			return g.nodeError(i, "attribute dilations = %v: dilated pooling is not supported", a.ints("dilations", nil))
		}
	}
	if k := a.ints("kernel_shape", nil); !slices.Equal(k, []int64{3, 3}) {
		return g.nodeError(i, "attribute kernel_shape = %v: the ResNet stem pools 3×3", k)
	}
	if s := a.ints("strides", []int64{1, 1}); !slices.Equal(s, []int64{2, 2}) {
		return g.nodeError(i, "attribute strides = %v: the ResNet stem pools with stride 2", s)
	}
	if p := a.ints("pads", []int64{0, 0, 0, 0}); !slices.Equal(p, []int64{1, 1, 1, 1}) {
		return g.nodeError(i, "attribute pads = %v: the ResNet stem pools with padding 1", p)
	}
	g.used[i] = true
	return nil
}

// matchBlock reads one block whose input t is read by users: the branch (2 or 3 convolutions
// with ReLUs between), the shortcut (none, identity, a 1×1 projection, or option A's strided
// Slice + Pad), the Add and the ReLU after it.
func (g *graph) matchBlock(m *match, t string, users []int) (*blockMatch, string, error) {
	b := &blockMatch{add: -1}
	var branch *convMatch
	identity := false
	var padOut string
	padNode := -1
	for _, u := range users {
		switch g.op(u) {
		case "Conv":
			c, err := g.takeConv(u, t)
			if err != nil {
				return nil, "", err
			}
			next := g.usersOf(c.out)
			switch {
			case len(next) == 1 && g.op(next[0]) == "Relu":
				if branch != nil {
					return nil, "", g.nodeError(u, "a second convolution branch reads the same block input (node %d)", branch.node)
				}
				branch = c
			case len(next) == 1 && g.op(next[0]) == "Add":
				if b.proj != nil {
					return nil, "", g.nodeError(u, "a second projection shortcut reads the same block input")
				}
				b.proj = c
			default:
				return nil, "", g.nodeError(u, "is followed neither by Relu (a residual branch) nor by Add (a projection shortcut)")
			}
		case "Add":
			identity = true
		case "Slice", "Pad":
			if padNode >= 0 {
				return nil, "", g.nodeError(u, "a second Slice/Pad shortcut reads the same block input")
			}
			var err error
			if padOut, err = g.matchPadShortcut(b, u); err != nil {
				return nil, "", err
			}
			padNode = u
		case "BatchNormalization":
			return nil, "", g.nodeError(u, "batch norm on a block input before its convolution: a pre-activation (ResNet v2) block, which the HF ResNet architecture cannot express")
		default:
			if p, ok := g.producer[g.resolve(t)]; ok {
				return nil, "", g.nodeError(u, "cannot follow node %d %q in a ResNet (expected block convolutions or the global average pool)", p, g.nodes[p].GetName())
			}
			return nil, "", g.nodeError(u, "cannot follow the stem in a ResNet")
		}
	}
	if branch == nil {
		if p, ok := g.producer[g.resolve(t)]; ok {
			return nil, "", g.nodeError(p, "no residual branch (Conv → BN → Relu → …) reads its output %q", t)
		}
		return nil, "", fmt.Errorf("no residual branch reads %q", t)
	}
	if m.layerType == "" {
		switch branch.kernel {
		case 3:
			m.layerType = arch.Basic
		case 1:
			m.layerType = arch.Bottleneck
		default:
			return nil, "", g.nodeError(branch.node, "the first block convolution is %d×%d; basic blocks start with 3×3, bottlenecks with 1×1", branch.kernel, branch.kernel)
		}
	}
	n := 2
	if m.layerType == arch.Bottleneck {
		n = 3
	}
	b.convs = []*convMatch{branch}
	for len(b.convs) < n {
		cur := b.convs[len(b.convs)-1]
		r, err := g.takeRelu(cur.out, "inside a residual branch")
		if err != nil {
			return nil, "", err
		}
		next, err := g.sole(r, "the next branch convolution")
		if err != nil {
			return nil, "", err
		}
		c, err := g.takeConv(next, r)
		if err != nil {
			return nil, "", err
		}
		b.convs = append(b.convs, c)
	}
	end := b.convs[n-1].out
	last, err := g.sole(end, "the residual Add or the block's Relu")
	if err != nil {
		return nil, "", err
	}
	switch g.op(last) {
	case "Relu":
		if identity || b.proj != nil || padNode >= 0 {
			return nil, "", g.nodeError(last, "the block has a shortcut but its branch ends in Relu without an Add")
		}
		b.shortcut = arch.ShortcutNone
		g.used[last] = true
		return b, g.nodes[last].GetOutput()[0], nil
	case "Add":
	default:
		return nil, "", g.nodeError(last, "expected the residual Add (or Relu in a plain network) after the branch")
	}
	in := g.nodes[last].GetInput()
	other := g.resolve(in[0])
	if other == g.resolve(end) {
		other = g.resolve(in[1])
	} else if g.resolve(in[1]) != g.resolve(end) {
		return nil, "", g.nodeError(last, "does not add the branch output %q", end)
	}
	switch {
	case b.proj != nil && other == g.resolve(b.proj.out):
		b.shortcut = arch.ShortcutProject
	case padNode >= 0 && other == g.resolve(padOut):
		b.shortcut = arch.ShortcutPad
	case identity && other == g.resolve(t) && slices.Contains(users, last):
		b.shortcut = arch.ShortcutIdentity
	default:
		return nil, "", g.nodeError(last, "adds %q, which is not the block input, a projection or a zero-pad shortcut", other)
	}
	if identity && b.shortcut != arch.ShortcutIdentity {
		return nil, "", g.nodeError(last, "the block input feeds an Add besides its shortcut")
	}
	b.add = last
	g.used[last] = true
	u := g.usersOf(g.nodes[last].GetOutput()[0])
	if len(u) != 1 || g.op(u[0]) != "Relu" {
		return nil, "", g.nodeError(last, "the residual Add is not followed by Relu: pre-activation (ResNet v2) blocks are not supported")
	}
	g.used[u[0]] = true
	return b, g.nodes[u[0]].GetOutput()[0], nil
}

// bigEnd is the smallest Slice end taken to mean "to the end" (exporters write INT64_MAX or
// INT32_MAX; a model's input is never this large).
const bigEnd = 1 << 30

// matchPadShortcut reads option A's shortcut from node i on: a chain of Slices (stride s on
// H and W, whole range elsewhere) and a constant zero Pad of the channel axis, in either order.
func (g *graph) matchPadShortcut(b *blockMatch, i int) (string, error) {
	var t string
	strideH, strideW := 1, 1
	padded := false
	for {
		n := g.nodes[i]
		switch g.op(i) {
		case "Slice":
			var starts, ends, axes, steps []int64
			var err error
			if g.opset < 10 {
				a := g.attrs(i)
				starts, ends, axes = a.ints("starts", nil), a.ints("ends", nil), a.ints("axes", nil)
			} else {
				if starts, err = g.intConst(i, 1, "starts"); err != nil {
					return "", err
				}
				if ends, err = g.intConst(i, 2, "ends"); err != nil {
					return "", err
				}
				if axes, err = g.intConst(i, 3, "axes"); err != nil {
					return "", err
				}
				if steps, err = g.intConst(i, 4, "steps"); err != nil {
					return "", err
				}
			}
			if axes == nil {
				for k := range starts {
					axes = append(axes, int64(k))
				}
			}
			if steps == nil {
				steps = make([]int64, len(starts))
				for k := range steps {
					steps[k] = 1
				}
			}
			if len(starts) != len(axes) || len(ends) != len(axes) || len(steps) != len(axes) {
				return "", g.nodeError(i, "starts, ends, axes and steps have different lengths")
			}
			for k, ax := range axes {
				if ax < 0 {
					ax += 4
				}
				if starts[k] != 0 || ends[k] < bigEnd || steps[k] < 1 || (ax < 2 && steps[k] != 1) || ax > 3 {
					return "", g.nodeError(i, "slice of axis %d [%d:%d:%d] is not option A's subsampling x[:, :, ::s, ::s]", axes[k], starts[k], ends[k], steps[k])
				}
				if ax == 2 {
					strideH *= int(steps[k])
				} else if ax == 3 {
					strideW *= int(steps[k])
				}
			}
		case "Pad":
			if padded {
				return "", g.nodeError(i, "a second Pad in the shortcut")
			}
			padded = true
			a := g.attrs(i)
			if mode := a.str("mode", "constant"); mode != "constant" {
				return "", g.nodeError(i, "attribute mode = %q: option A pads with zeros (constant)", mode)
			}
			pads := a.ints("pads", nil)
			if g.opset >= 11 {
				var err error
				if pads, err = g.intConst(i, 1, "pads"); err != nil {
					return "", err
				}
				if len(n.GetInput()) > 2 && n.GetInput()[2] != "" {
					v, err := g.floatConst(i, 2, "constant_value", 1)
					if err != nil {
						return "", err
					}
					if v.f32[0] != 0 {
						return "", g.nodeError(i, "pads with %g, option A pads with zeros", v.f32[0])
					}
				}
				if len(n.GetInput()) > 3 && n.GetInput()[3] != "" {
					return "", g.nodeError(i, "the axes input is not supported")
				}
			} else if a.float("value", 0) != 0 {
				return "", g.nodeError(i, "attribute value = %g, option A pads with zeros", a.float("value", 0))
			}
			if len(pads) != 8 || pads[0] != 0 || pads[2] != 0 || pads[3] != 0 || pads[4] != 0 || pads[6] != 0 || pads[7] != 0 || pads[1] < 0 || pads[5] < 0 {
				return "", g.nodeError(i, "pads %v: option A pads only the channel axis", pads)
			}
			b.padFront, b.padBack = int(pads[1]), int(pads[5])
		}
		g.used[i] = true
		t = n.GetOutput()[0]
		u := g.usersOf(t)
		if len(u) != 1 {
			return "", g.nodeError(i, "output %q feeds %d nodes, want one", t, len(u))
		}
		if g.op(u[0]) == "Add" {
			break
		}
		if op := g.op(u[0]); op != "Slice" && op != "Pad" {
			return "", g.nodeError(u[0], "expected the shortcut's Slice, Pad or the residual Add")
		}
		i = u[0]
	}
	if strideH != strideW {
		return "", g.nodeError(i, "option A shortcut must subsample H and W alike (found strides %d, %d)", strideH, strideW)
	}
	b.padStride = strideH
	return t, nil
}

// batchDim marks the symbolic batch size in shape arithmetic.
const batchDim = math.MinInt64

// matchHead reads global average pooling, the flatten (Flatten, a constant Reshape, or
// torch's Shape → Gather → Unsqueeze → Concat → Reshape), and the classifier (Gemm, or MatMul
// then Add). A graph that stops after pooling is a feature extractor (num_labels 0).
func (g *graph) matchHead(m *match, pool int) error {
	features := m.stem.w.dims[0]
	if len(m.blocks) > 0 {
		last := m.blocks[len(m.blocks)-1].convs
		features = last[len(last)-1].w.dims[0]
	}
	a := g.attrs(pool)
	dims := []int64{batchDim, int64(features), 1, 1}
	if g.op(pool) == "ReduceMean" {
		axes := a.ints("axes", nil)
		if g.opset >= 18 {
			var err error
			if axes, err = g.intConst(pool, 1, "axes"); err != nil {
				return err
			}
		}
		norm := slices.Clone(axes)
		for k := range norm {
			if norm[k] < 0 {
				norm[k] += 4
			}
		}
		slices.Sort(norm)
		if !slices.Equal(norm, []int64{2, 3}) {
			return g.nodeError(pool, "axes %v: only the spatial mean (axes [2, 3]) is a global average pool", axes)
		}
		if a.int("keepdims", 1) == 0 {
			dims = dims[:2]
		}
	}
	g.used[pool] = true
	t := g.nodes[pool].GetOutput()[0]
	pooled := []string{g.resolve(t)}
	for {
		// torch's x.view(x.size(0), -1) also reads the features' Shape; shapeValue
		// accounts for that node.
		var u []int
		for _, k := range g.usersOf(t) {
			if g.op(k) != "Shape" {
				u = append(u, k)
			}
		}
		if len(u) == 0 {
			break
		}
		if len(u) != 1 {
			return g.nodeError(pool, "the pooled features feed %d nodes, want one", len(u))
		}
		i := u[0]
		n := g.nodes[i]
		if m.fcW != nil {
			return g.nodeError(i, "nothing may follow the classifier")
		}
		switch g.op(i) {
		case "Flatten":
			if ax := g.attrs(i).int("axis", 1); ax != 1 {
				return g.nodeError(i, "attribute axis = %d: the head flattens from axis 1", ax)
			}
			dims = []int64{batchDim, int64(features)}
			pooled = append(pooled, g.resolve(n.GetOutput()[0]))
		case "Reshape":
			if g.resolve(n.GetInput()[0]) != g.resolve(t) {
				return g.nodeError(i, "reshapes its shape input instead of the features")
			}
			shape, err := g.shapeValue(n.GetInput()[1], t, dims)
			if err != nil {
				return err
			}
			if err := g.checkFlatShape(i, shape, features); err != nil {
				return err
			}
			dims = []int64{batchDim, int64(features)}
			pooled = append(pooled, g.resolve(n.GetOutput()[0]))
		case "Gemm":
			if err := g.matchGemm(m, i, features); err != nil {
				return err
			}
		case "MatMul":
			if len(dims) != 2 {
				return g.nodeError(i, "multiplies the unflattened [N, C, 1, 1] features; flatten them first")
			}
			if err := g.matchMatMul(m, i, features); err != nil {
				return err
			}
			i = g.usersOf(n.GetOutput()[0])[0]
			n = g.nodes[i]
		default:
			return g.nodeError(i, "expected Flatten, Reshape, Gemm or MatMul after the global average pool")
		}
		g.used[i] = true
		t = n.GetOutput()[0]
	}
	// The first output is the model's result; further outputs may only repeat the pooled
	// features (HF's pooler_output).
	outs := g.outputs()
	if len(outs) == 0 || g.resolve(outs[0]) != g.resolve(t) {
		return fmt.Errorf("graph output %v: the first output must be the head's result %q", outs, t)
	}
	for _, o := range outs[1:] {
		if !slices.Contains(pooled, g.resolve(o)) {
			return fmt.Errorf("graph output %q is neither the logits nor the pooled features", o)
		}
	}
	return nil
}

// checkFlatShape accepts a Reshape target meaning [batch, features].
func (g *graph) checkFlatShape(i int, shape []int64, features int) error {
	fixedBatch := int64(-2)
	if len(g.inDims) == 4 && g.inDims[0] > 0 {
		fixedBatch = g.inDims[0]
	}
	if len(shape) == 2 {
		d0, d1 := shape[0], shape[1]
		okBatch := d0 == batchDim || d0 == 0 || d0 == fixedBatch
		if (okBatch && (d1 == -1 || d1 == int64(features))) || (d0 == -1 && d1 == int64(features)) {
			return nil
		}
	}
	show := make([]string, len(shape))
	for k, d := range shape {
		if d == batchDim {
			show[k] = "batch"
		} else {
			show[k] = fmt.Sprint(d)
		}
	}
	return g.nodeError(i, "reshapes the pooled features to %v; want [batch, %d]", show, features)
}

// shapeValue evaluates a Reshape's shape input: a constant, or torch's
// Shape(x) → Gather → Unsqueeze → Concat chain over the tensor x being reshaped, whose dims
// are known up to the batch.
func (g *graph) shapeValue(name, x string, xdims []int64) ([]int64, error) {
	if v := g.constant(name); v != nil {
		if v.float {
			return nil, fmt.Errorf("shape tensor %q is FLOAT", name)
		}
		return v.i64, nil
	}
	i, ok := g.producer[g.resolve(name)]
	if !ok {
		return nil, fmt.Errorf("shape tensor %q is neither a constant nor computed by a node", name)
	}
	n := g.nodes[i]
	a := g.attrs(i)
	var out []int64
	switch g.op(i) {
	case "Shape":
		if g.resolve(n.GetInput()[0]) != g.resolve(x) {
			return nil, g.nodeError(i, "takes the shape of %q, not of the features being reshaped", n.GetInput()[0])
		}
		if a["start"] != nil || a["end"] != nil {
			return nil, g.nodeError(i, "attributes start/end are not supported")
		}
		out = slices.Clone(xdims)
	case "Gather":
		data, err := g.shapeValue(n.GetInput()[0], x, xdims)
		if err != nil {
			return nil, err
		}
		if ax := a.int("axis", 0); ax != 0 {
			return nil, g.nodeError(i, "attribute axis = %d, want 0", ax)
		}
		idx, err := g.intConst(i, 1, "indices")
		if err != nil || idx == nil {
			return nil, g.nodeError(i, "indices must be a constant")
		}
		for _, k := range idx {
			if k < 0 {
				k += int64(len(data))
			}
			if k < 0 || k >= int64(len(data)) {
				return nil, g.nodeError(i, "index %d is out of range for %d dims", k, len(data))
			}
			out = append(out, data[k])
		}
	case "Unsqueeze":
		data, err := g.shapeValue(n.GetInput()[0], x, xdims)
		if err != nil {
			return nil, err
		}
		axes := a.ints("axes", nil)
		if g.opset >= 13 {
			if axes, err = g.intConst(i, 1, "axes"); err != nil {
				return nil, err
			}
		}
		if !slices.Equal(axes, []int64{0}) || len(data) != 1 {
			return nil, g.nodeError(i, "only unsqueezing a scalar at axis 0 is supported in a shape computation")
		}
		out = data
	case "Concat":
		if ax := a.int("axis", 0); ax != 0 {
			return nil, g.nodeError(i, "attribute axis = %d, want 0", ax)
		}
		for _, in := range n.GetInput() {
			part, err := g.shapeValue(in, x, xdims)
			if err != nil {
				return nil, err
			}
			out = append(out, part...)
		}
	default:
		return nil, g.nodeError(i, "is not part of a supported shape computation (Shape → Gather → Unsqueeze → Concat)")
	}
	g.used[i] = true
	return out, nil
}

// matchGemm reads the classifier Gemm: Y = X·Bᵀ + C with alpha = beta = 1 and transA = 0.
func (g *graph) matchGemm(m *match, i, features int) error {
	a := g.attrs(i)
	if v := a.float("alpha", 1); v != 1 {
		return g.nodeError(i, "attribute alpha = %g is not supported (want 1)", v)
	}
	if v := a.float("beta", 1); v != 1 {
		return g.nodeError(i, "attribute beta = %g is not supported (want 1)", v)
	}
	if v := a.int("transA", 0); v != 0 {
		return g.nodeError(i, "attribute transA = %d is not supported (want 0)", v)
	}
	w, err := g.floatConst(i, 1, "weight B", -1)
	if err != nil {
		return err
	}
	transB := a.int("transB", 0)
	if err := m.setClassifier(w, transB == 1, features); err != nil {
		return g.nodeError(i, "%v", err)
	}
	if n := g.nodes[i]; len(n.GetInput()) == 3 && n.GetInput()[2] != "" {
		c, err := g.floatConst(i, 2, "bias C", m.numLabels)
		if err != nil {
			return err
		}
		if len(c.dims) > 2 || (len(c.dims) == 2 && c.dims[0] != 1) {
			return g.nodeError(i, "bias C has shape %v, want [%d]", c.dims, m.numLabels)
		}
		m.fcB = c.f32
	} else {
		m.fcB = make([]float32, m.numLabels)
	}
	return nil
}

// matchMatMul reads MatMul(X, W[features, labels]) followed by Add(bias).
func (g *graph) matchMatMul(m *match, i, features int) error {
	w, err := g.floatConst(i, 1, "weight", -1)
	if err != nil {
		return err
	}
	if err := m.setClassifier(w, false, features); err != nil {
		return g.nodeError(i, "%v", err)
	}
	g.used[i] = true
	out := g.nodes[i].GetOutput()[0]
	u := g.usersOf(out)
	if len(u) != 1 || g.op(u[0]) != "Add" {
		return g.nodeError(i, "a MatMul classifier must be followed by the Add of its bias")
	}
	in := g.nodes[u[0]].GetInput()
	k := 1
	if g.resolve(in[1]) == g.resolve(out) {
		k = 0
	}
	c, err := g.floatConst(u[0], k, "bias", m.numLabels)
	if err != nil {
		return err
	}
	m.fcB = c.f32
	return nil
}

// setClassifier stores the weight in HF's [labels, features] layout.
func (m *match) setClassifier(w *value, transposed bool, features int) error {
	if len(w.dims) != 2 {
		return fmt.Errorf("weight %q has shape %v, want a matrix", w.name, w.dims)
	}
	if transposed {
		if w.dims[1] != features {
			return fmt.Errorf("weight %q has shape %v, want [labels, %d]", w.name, w.dims, features)
		}
		m.numLabels, m.fcW = w.dims[0], w.f32
		return nil
	}
	if w.dims[0] != features {
		return fmt.Errorf("weight %q has shape %v, want [%d, labels]", w.name, w.dims, features)
	}
	n := w.dims[1]
	m.numLabels, m.fcW = n, make([]float32, len(w.f32))
	for r := 0; r < features; r++ {
		for c := 0; c < n; c++ {
			m.fcW[c*features+r] = w.f32[r*n+c]
		}
	}
	return nil
}
