package onnx

import (
	"fmt"

	"github.com/resnet-go/resnet/onnx/onnxpb"
)

// foldable ops are evaluated when all their inputs are integer constants. torch 1.13 leaves
// F.pad's pads computation unfolded (ConstantOfShape → Concat → Reshape → Slice(step −1) →
// Transpose → Reshape → Cast, for option A shortcuts); evaluating it here turns it into the
// constant the Pad needs. Float data is never folded: weights pass through unchanged.
var foldable = map[string]bool{"ConstantOfShape": true, "Concat": true, "Reshape": true, "Slice": true, "Transpose": true, "Cast": true}

// foldConstants evaluates integer constant subgraphs in node order (which is topological).
func (g *graph) foldConstants() error {
	for i, n := range g.nodes {
		if !foldable[n.GetOpType()] || g.used[i] {
			continue
		}
		var in []*value
		ok := true
		for _, name := range n.GetInput() {
			if name == "" {
				in = append(in, nil)
				continue
			}
			v := g.constant(name)
			if v == nil || v.float {
				ok = false
				break
			}
			in = append(in, v)
		}
		if !ok || len(in) == 0 || in[0] == nil {
			continue
		}
		v, err := g.foldNode(i, in)
		if err != nil {
			return err
		}
		if v == nil {
			continue
		}
		v.name = n.GetOutput()[0]
		g.consts[v.name] = v
		g.used[i] = true
	}
	return nil
}

func (g *graph) foldNode(i int, in []*value) (*value, error) {
	a := g.attrs(i)
	switch g.op(i) {
	case "ConstantOfShape":
		if len(in) != 1 || len(in[0].dims) != 1 {
			return nil, g.nodeError(i, "shape input must be a 1-D constant")
		}
		fill := int64(0)
		if t := a["value"]; t != nil {
			v, err := decodeTensor(t.GetT(), "")
			if err != nil || v.float || len(v.i64) != 1 {
				return nil, nil // a float fill is not a shape computation; left for the matcher to refuse
			}
			fill = v.i64[0]
		}
		_, n, err := numel(g.nodes[i].GetOutput()[0], in[0].i64)
		if err != nil || n > 1<<16 {
			return nil, g.nodeError(i, "constant of shape %v is too large", in[0].i64)
		}
		out := &value{dims: make([]int, len(in[0].i64)), i64: make([]int64, n)}
		for k, d := range in[0].i64 {
			out.dims[k] = int(d)
		}
		for k := range out.i64 {
			out.i64[k] = fill
		}
		return out, nil
	case "Cast":
		switch onnxpb.TensorProto_DataType(a.int("to", 0)) {
		case onnxpb.TensorProto_INT64, onnxpb.TensorProto_INT32:
			return in[0], nil
		}
		return nil, nil
	case "Concat":
		ax := a.int("axis", 0)
		if ax != 0 {
			return nil, nil
		}
		out := &value{}
		for k, v := range in {
			if v == nil || len(v.dims) == 0 {
				return nil, g.nodeError(i, "input %d is not a tensor of rank ≥ 1", k)
			}
			if k == 0 {
				out.dims = append([]int(nil), v.dims...)
				out.dims[0] = 0
			} else if !sameInts(v.dims[1:], out.dims[1:]) {
				return nil, g.nodeError(i, "inputs have shapes that cannot be concatenated on axis 0")
			}
			out.dims[0] += v.dims[0]
			out.i64 = append(out.i64, v.i64...)
		}
		return out, nil
	case "Reshape":
		if len(in) != 2 || in[1] == nil {
			return nil, g.nodeError(i, "needs a shape")
		}
		dims, err := reshapeDims(len(in[0].i64), in[0].dims, in[1].i64, a.int("allowzero", 0) != 0)
		if err != nil {
			return nil, g.nodeError(i, "%v", err)
		}
		return &value{dims: dims, i64: in[0].i64}, nil
	case "Transpose":
		return transposeInts(in[0], a.ints("perm", nil))
	case "Slice":
		if g.opset < 10 || len(in) < 3 {
			return nil, nil
		}
		get := func(k int) []int64 {
			if k < len(in) && in[k] != nil {
				return in[k].i64
			}
			return nil
		}
		v, err := sliceInts(in[0], get(1), get(2), get(3), get(4))
		if err != nil {
			return nil, g.nodeError(i, "%v", err)
		}
		return v, nil
	}
	return nil, nil
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// reshapeDims resolves a Reshape target (0 copies a dim, −1 is inferred).
func reshapeDims(n int, in []int, shape []int64, allowZero bool) ([]int, error) {
	out := make([]int, len(shape))
	infer, prod := -1, 1
	for k, d := range shape {
		switch {
		case d == 0 && !allowZero:
			if k >= len(in) {
				return nil, fmt.Errorf("shape %v copies a dim the %v input lacks", shape, in)
			}
			out[k] = in[k]
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("shape %v has two -1", shape)
			}
			infer = k
			continue
		case d < 0:
			return nil, fmt.Errorf("shape %v has a negative dim", shape)
		default:
			out[k] = int(d)
		}
		prod *= out[k]
	}
	if infer >= 0 {
		if prod == 0 || n%prod != 0 {
			return nil, fmt.Errorf("cannot reshape %d values to %v", n, shape)
		}
		out[infer] = n / prod
	} else if prod != n {
		return nil, fmt.Errorf("cannot reshape %d values to %v", n, shape)
	}
	return out, nil
}

// strides of a row-major shape.
func stridesOf(dims []int) []int {
	s := make([]int, len(dims))
	acc := 1
	for k := len(dims) - 1; k >= 0; k-- {
		s[k] = acc
		acc *= dims[k]
	}
	return s
}

// transposeInts permutes an integer tensor's axes (perm empty reverses them).
func transposeInts(v *value, perm []int64) (*value, error) {
	r := len(v.dims)
	if len(perm) == 0 {
		for k := r - 1; k >= 0; k-- {
			perm = append(perm, int64(k))
		}
	}
	if len(perm) != r {
		return nil, fmt.Errorf("transpose: perm %v for rank %d", perm, r)
	}
	seen := make([]bool, r)
	out := &value{dims: make([]int, r), i64: make([]int64, len(v.i64))}
	for k, p := range perm {
		if p < 0 || int(p) >= r || seen[p] {
			return nil, fmt.Errorf("transpose: perm %v is not a permutation", perm)
		}
		seen[p] = true
		out.dims[k] = v.dims[p]
	}
	is, os := stridesOf(v.dims), stridesOf(out.dims)
	for o := range out.i64 {
		src, rem := 0, o
		for k := 0; k < r; k++ {
			idx := rem / os[k]
			rem %= os[k]
			src += idx * is[perm[k]]
		}
		out.i64[o] = v.i64[src]
	}
	return out, nil
}

// sliceInts is ONNX Slice (opset ≥ 10) on an integer tensor, with negative steps.
func sliceInts(v *value, starts, ends, axes, steps []int64) (*value, error) {
	r := len(v.dims)
	if len(starts) != len(ends) || (axes != nil && len(axes) != len(starts)) || (steps != nil && len(steps) != len(starts)) {
		return nil, fmt.Errorf("slice: starts, ends, axes and steps differ in length")
	}
	idx := make([][]int, r)
	for k := range idx {
		for j := 0; j < v.dims[k]; j++ {
			idx[k] = append(idx[k], j)
		}
	}
	for j := range starts {
		ax := int64(j)
		if axes != nil {
			ax = axes[j]
		}
		if ax < 0 {
			ax += int64(r)
		}
		if ax < 0 || int(ax) >= r {
			return nil, fmt.Errorf("slice: axis %d out of range", ax)
		}
		step := int64(1)
		if steps != nil {
			step = steps[j]
		}
		if step == 0 {
			return nil, fmt.Errorf("slice: step 0")
		}
		n := int64(v.dims[ax])
		clamp := func(x, lo, hi int64) int64 { return max(lo, min(hi, x)) }
		s, e := starts[j], ends[j]
		if s < 0 {
			s += n
		}
		if e < 0 {
			e += n
		}
		var sel []int
		if step > 0 {
			s, e = clamp(s, 0, n), clamp(e, 0, n)
			for x := s; x < e; x += step {
				sel = append(sel, int(x))
			}
		} else {
			s, e = clamp(s, 0, n-1), clamp(e, -1, n-1)
			for x := s; x > e; x += step {
				sel = append(sel, int(x))
			}
		}
		idx[ax] = sel
	}
	out := &value{dims: make([]int, r)}
	total := 1
	for k := range idx {
		out.dims[k] = len(idx[k])
		total *= len(idx[k])
	}
	is, os := stridesOf(v.dims), stridesOf(out.dims)
	out.i64 = make([]int64, total)
	for o := range out.i64 {
		src, rem := 0, o
		for k := 0; k < r; k++ {
			j := rem / os[k]
			rem %= os[k]
			src += idx[k][j] * is[k]
		}
		out.i64[o] = v.i64[src]
	}
	return out, nil
}
