package onnx

import (
	"fmt"
	"slices"

	"github.com/resnet-go/resnet/onnx/onnxpb"
)

// graph indexes a model's nodes for the matcher: who produces and who consumes each tensor
// (after looking through Identity and inference-mode Dropout), and the constant tensors.
type graph struct {
	nodes    []*onnxpb.NodeProto
	opset    int64
	alias    map[string]string // output of an Identity/Dropout → its input
	producer map[string]int
	users    map[string][]int
	consts   map[string]*value
	used     []bool
	input    string
	inDims   []int64 // the input's dims; -1 where symbolic or unknown
	outs     []string
}

// outputs lists the graph's output names.
func (g *graph) outputs() []string { return g.outs }

// isOutput reports whether a tensor is a graph output.
func (g *graph) isOutput(name string) bool { return slices.Contains(g.outs, name) }

// nodeError names a node by index, name and op, as every import error about a node does.
func (g *graph) nodeError(i int, format string, args ...any) error {
	n := g.nodes[i]
	name := n.GetName()
	if name == "" {
		name = "(unnamed)"
	}
	return fmt.Errorf("node %d %q (%s): %s", i, name, n.GetOpType(), fmt.Sprintf(format, args...))
}

// resolve follows Identity/Dropout aliases.
func (g *graph) resolve(name string) string {
	for k := 0; k < len(g.nodes)+1; k++ {
		a, ok := g.alias[name]
		if !ok {
			return name
		}
		name = a
	}
	return name
}

// constant returns the constant behind a tensor name, or nil.
func (g *graph) constant(name string) *value { return g.consts[g.resolve(name)] }

// usersOf lists the nodes reading a tensor (through aliases).
func (g *graph) usersOf(name string) []int { return g.users[g.resolve(name)] }

// attrs gives a node's attributes by name, refusing duplicates and attributes whose type
// does not match what the op table expects.
type attrs map[string]*onnxpb.AttributeProto

func (a attrs) int(name string, def int64) int64 {
	if x, ok := a[name]; ok {
		return x.GetI()
	}
	return def
}

func (a attrs) ints(name string, def []int64) []int64 {
	if x, ok := a[name]; ok {
		return x.GetInts()
	}
	return def
}

func (a attrs) float(name string, def float32) float32 {
	if x, ok := a[name]; ok {
		return x.GetF()
	}
	return def
}

func (a attrs) str(name, def string) string {
	if x, ok := a[name]; ok {
		return string(x.GetS())
	}
	return def
}

// opSpec says which attributes an op may carry (with their types) and how many inputs and
// outputs it has. Ops outside this table are refused: the importer maps graphs onto our
// ResNet, so an op it cannot place is an error, not something to skip.
type opSpec struct {
	attrs          map[string]onnxpb.AttributeProto_AttributeType
	minIn, maxIn   int
	minOut, maxOut int
}

const (
	aInt    = onnxpb.AttributeProto_INT
	aInts   = onnxpb.AttributeProto_INTS
	aFloat  = onnxpb.AttributeProto_FLOAT
	aFloats = onnxpb.AttributeProto_FLOATS
	aString = onnxpb.AttributeProto_STRING
	aTensor = onnxpb.AttributeProto_TENSOR
)

var opTable = map[string]opSpec{
	"Conv":               {map[string]onnxpb.AttributeProto_AttributeType{"auto_pad": aString, "dilations": aInts, "group": aInt, "kernel_shape": aInts, "pads": aInts, "strides": aInts}, 2, 3, 1, 1},
	"BatchNormalization": {map[string]onnxpb.AttributeProto_AttributeType{"epsilon": aFloat, "momentum": aFloat, "spatial": aInt, "training_mode": aInt, "is_test": aInt}, 5, 5, 1, 5},
	"Relu":               {nil, 1, 1, 1, 1},
	"Add":                {nil, 2, 2, 1, 1},
	"MaxPool":            {map[string]onnxpb.AttributeProto_AttributeType{"auto_pad": aString, "ceil_mode": aInt, "dilations": aInts, "kernel_shape": aInts, "pads": aInts, "storage_order": aInt, "strides": aInts}, 1, 1, 1, 2},
	"GlobalAveragePool":  {nil, 1, 1, 1, 1},
	"ReduceMean":         {map[string]onnxpb.AttributeProto_AttributeType{"axes": aInts, "keepdims": aInt, "noop_with_empty_axes": aInt}, 1, 2, 1, 1},
	"Flatten":            {map[string]onnxpb.AttributeProto_AttributeType{"axis": aInt}, 1, 1, 1, 1},
	"Reshape":            {map[string]onnxpb.AttributeProto_AttributeType{"allowzero": aInt}, 2, 2, 1, 1},
	"Shape":              {map[string]onnxpb.AttributeProto_AttributeType{"start": aInt, "end": aInt}, 1, 1, 1, 1},
	"Gather":             {map[string]onnxpb.AttributeProto_AttributeType{"axis": aInt}, 2, 2, 1, 1},
	"Unsqueeze":          {map[string]onnxpb.AttributeProto_AttributeType{"axes": aInts}, 1, 2, 1, 1},
	"Concat":             {map[string]onnxpb.AttributeProto_AttributeType{"axis": aInt}, 1, 1 << 20, 1, 1},
	"Gemm":               {map[string]onnxpb.AttributeProto_AttributeType{"alpha": aFloat, "beta": aFloat, "transA": aInt, "transB": aInt}, 2, 3, 1, 1},
	"MatMul":             {nil, 2, 2, 1, 1},
	"Identity":           {nil, 1, 1, 1, 1},
	"Constant":           {map[string]onnxpb.AttributeProto_AttributeType{"value": aTensor, "value_float": aFloat, "value_floats": aFloats, "value_int": aInt, "value_ints": aInts}, 0, 0, 1, 1},
	"Dropout":            {map[string]onnxpb.AttributeProto_AttributeType{"ratio": aFloat, "seed": aInt, "is_test": aInt}, 1, 3, 1, 2},
	"Slice":              {map[string]onnxpb.AttributeProto_AttributeType{"starts": aInts, "ends": aInts, "axes": aInts}, 1, 5, 1, 1},
	"Pad":                {map[string]onnxpb.AttributeProto_AttributeType{"mode": aString, "pads": aInts, "value": aFloat}, 1, 4, 1, 1},
	// Integer shape arithmetic only (see foldConstants).
	"ConstantOfShape": {map[string]onnxpb.AttributeProto_AttributeType{"value": aTensor}, 1, 1, 1, 1},
	"Transpose":       {map[string]onnxpb.AttributeProto_AttributeType{"perm": aInts}, 1, 1, 1, 1},
	"Cast":            {map[string]onnxpb.AttributeProto_AttributeType{"to": aInt, "saturate": aInt}, 1, 1, 1, 1},
}

// opsetRange is what the importer reads: opset 7 (the Model Zoo's Gluon files) to 21; the
// ops above keep their meaning across it once the attribute-to-input moves (Slice 10,
// Pad 11, Unsqueeze 13, ReduceMean 18) are handled.
const minOpset, maxOpset = 7, 21

// newGraph checks the model's opsets and every node against the op table, decodes the
// constants and indexes producers and users.
func newGraph(m *onnxpb.ModelProto, dir string) (*graph, error) {
	g := &graph{alias: map[string]string{}, producer: map[string]int{}, users: map[string][]int{}, consts: map[string]*value{}}
	for _, op := range m.GetOpsetImport() {
		switch op.GetDomain() {
		case "", "ai.onnx":
			g.opset = op.GetVersion()
		default:
			return nil, fmt.Errorf("opset_import: domain %q is not supported (only the default ONNX domain)", op.GetDomain())
		}
	}
	if g.opset == 0 {
		return nil, fmt.Errorf("opset_import has no entry for the default ONNX domain")
	}
	if g.opset < minOpset || g.opset > maxOpset {
		return nil, fmt.Errorf("opset %d is outside the supported range %d–%d", g.opset, minOpset, maxOpset)
	}
	gp := m.GetGraph()
	if gp == nil {
		return nil, fmt.Errorf("model has no graph")
	}
	if len(gp.GetSparseInitializer()) > 0 {
		return nil, fmt.Errorf("graph: sparse initializers are not supported")
	}
	for _, t := range gp.GetInitializer() {
		if t.GetName() == "" {
			return nil, fmt.Errorf("graph: an initializer has no name")
		}
		if _, dup := g.consts[t.GetName()]; dup {
			return nil, fmt.Errorf("graph: initializer %q is defined twice", t.GetName())
		}
		v, err := decodeTensor(t, dir)
		if err != nil {
			return nil, fmt.Errorf("initializer: %w", err)
		}
		g.consts[t.GetName()] = v
		// The float32 copy replaces the bytes: a ResNet-50 file is not held twice.
		t.RawData = nil
	}
	// The one image input: graph inputs that are not initializers (IR < 4 lists them too).
	for _, in := range gp.GetInput() {
		if _, isInit := g.consts[in.GetName()]; isInit {
			continue
		}
		if g.input != "" {
			return nil, fmt.Errorf("graph has more than one input (%q and %q); a ResNet takes one image tensor", g.input, in.GetName())
		}
		g.input = in.GetName()
		tt := in.GetType().GetTensorType()
		if tt == nil {
			return nil, fmt.Errorf("input %q is not a tensor", in.GetName())
		}
		if et := tt.GetElemType(); et != int32(onnxpb.TensorProto_FLOAT) {
			return nil, fmt.Errorf("input %q has element type %s, want FLOAT", in.GetName(), typeName(et))
		}
		if sh := tt.GetShape(); sh != nil {
			if len(sh.GetDim()) != 4 {
				return nil, fmt.Errorf("input %q has rank %d, want 4 (N, C, H, W)", in.GetName(), len(sh.GetDim()))
			}
			for _, d := range sh.GetDim() {
				if _, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok {
					g.inDims = append(g.inDims, d.GetDimValue())
				} else {
					g.inDims = append(g.inDims, -1)
				}
			}
		}
	}
	if g.input == "" {
		return nil, fmt.Errorf("graph has no input besides its initializers")
	}
	g.nodes = gp.GetNode()
	for _, o := range gp.GetOutput() {
		g.outs = append(g.outs, o.GetName())
	}
	g.used = make([]bool, len(g.nodes))
	defined := map[string]bool{g.input: true}
	for name := range g.consts {
		defined[name] = true
	}
	for i, n := range g.nodes {
		if err := g.checkNode(i, defined); err != nil {
			return nil, err
		}
		for _, out := range n.GetOutput() {
			if out == "" {
				continue
			}
			if defined[out] {
				return nil, g.nodeError(i, "output %q is already defined (not SSA)", out)
			}
			defined[out] = true
			g.producer[out] = i
		}
		switch n.GetOpType() {
		case "Identity", "Dropout":
			g.alias[n.GetOutput()[0]] = n.GetInput()[0]
			g.used[i] = true
		case "Constant":
			v, err := g.constantNode(i)
			if err != nil {
				return nil, err
			}
			g.consts[n.GetOutput()[0]] = v
			g.used[i] = true
		}
	}
	if err := g.foldConstants(); err != nil {
		return nil, err
	}
	for i, n := range g.nodes {
		op := n.GetOpType()
		if op == "Identity" || op == "Dropout" || op == "Constant" || g.used[i] {
			continue
		}
		for _, in := range n.GetInput() {
			if in == "" {
				continue
			}
			r := g.resolve(in)
			if !slices.Contains(g.users[r], i) {
				g.users[r] = append(g.users[r], i)
			}
		}
	}
	return g, nil
}

// checkNode refuses ops outside the table, other domains, wrongly typed or duplicate
// attributes, wrong input/output counts and inputs not defined earlier (topological order).
func (g *graph) checkNode(i int, defined map[string]bool) error {
	n := g.nodes[i]
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		return g.nodeError(i, "domain %q is not supported (only the default ONNX domain)", d)
	}
	spec, ok := opTable[n.GetOpType()]
	if !ok {
		return g.nodeError(i, "op %q is not supported by the ResNet importer", n.GetOpType())
	}
	if k := len(n.GetInput()); k < spec.minIn || k > spec.maxIn {
		return g.nodeError(i, "has %d inputs, want %d to %d", k, spec.minIn, spec.maxIn)
	}
	if k := len(n.GetOutput()); k < spec.minOut || k > spec.maxOut || n.GetOutput()[0] == "" {
		return g.nodeError(i, "has %d outputs, want %d to %d", k, spec.minOut, spec.maxOut)
	}
	if spec.minIn > 0 && n.GetInput()[0] == "" {
		return g.nodeError(i, "its first input is empty")
	}
	for _, in := range n.GetInput() {
		if in != "" && !defined[in] {
			return g.nodeError(i, "input %q is not produced by an earlier node, an initializer or the graph input", in)
		}
	}
	seen := map[string]bool{}
	for _, a := range n.GetAttribute() {
		want, ok := spec.attrs[a.GetName()]
		if !ok {
			return g.nodeError(i, "attribute %q is not supported", a.GetName())
		}
		if seen[a.GetName()] {
			return g.nodeError(i, "attribute %q appears twice", a.GetName())
		}
		seen[a.GetName()] = true
		if a.GetRefAttrName() != "" {
			return g.nodeError(i, "attribute %q refers to a function attribute", a.GetName())
		}
		if a.GetType() != want {
			return g.nodeError(i, "attribute %q has type %s, want %s", a.GetName(), a.GetType(), want)
		}
	}
	return nil
}

func (g *graph) attrs(i int) attrs {
	a := attrs{}
	for _, x := range g.nodes[i].GetAttribute() {
		a[x.GetName()] = x
	}
	return a
}

// constantNode evaluates a Constant node.
func (g *graph) constantNode(i int) (*value, error) {
	a := g.attrs(i)
	out := g.nodes[i].GetOutput()[0]
	if len(a) != 1 {
		return nil, g.nodeError(i, "needs exactly one value attribute, has %d", len(a))
	}
	switch {
	case a["value"] != nil:
		v, err := decodeTensor(a["value"].GetT(), "")
		if err != nil {
			return nil, g.nodeError(i, "%v", err)
		}
		v.name = out
		return v, nil
	case a["value_float"] != nil:
		return &value{name: out, dims: []int{}, float: true, f32: []float32{a["value_float"].GetF()}}, nil
	case a["value_floats"] != nil:
		f := a["value_floats"].GetFloats()
		return &value{name: out, dims: []int{len(f)}, float: true, f32: f}, nil
	case a["value_int"] != nil:
		return &value{name: out, dims: []int{}, i64: []int64{a["value_int"].GetI()}}, nil
	default:
		v := a["value_ints"].GetInts()
		return &value{name: out, dims: []int{len(v)}, i64: v}, nil
	}
}
