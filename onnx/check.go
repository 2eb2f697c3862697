package onnx

import (
	"fmt"
	"strings"

	"github.com/resnet-go/resnet/onnx/onnxpb"
)

// Check applies the rules of onnx.checker.check_model (ONNX 1.12's checker.cc) that an
// exported ResNet can break, so a broken graph is refused before it is written:
//
//   - ir_version set and at most IRVersion; exactly one default-domain opset_import, in
//     MinOpset..MaxOpset, and no other domain;
//   - tensors: a non-empty unique name, a known data type, exactly one data field, holding
//     exactly the number of elements the dims give (raw_data: that many bytes);
//   - nodes: an op of the table below (the ops the exporter writes), in the default domain,
//     with the schema's number of inputs and outputs; attributes named, each at most once,
//     with the type the schema gives and only the value field of that type set;
//   - SSA: every value is produced once (by a graph input, an initializer or one node output);
//     topological order: a node reads only values produced before it;
//   - graph outputs are produced by a node; node names are unique; exMetadata keys are unique.
//
// Shape inference (full_check) is left to onnx.checker and ONNX Runtime, which the tests run.
func Check(m *onnxpb.ModelProto) error {
	if m.IrVersion == nil {
		return fmt.Errorf("model: ir_version is not set")
	}
	if v := m.GetIrVersion(); v < 3 || v > IRVersion {
		return fmt.Errorf("model: ir_version %d is outside 3..%d (ONNX 1.12 knows up to %d)", v, IRVersion, IRVersion)
	}
	opset := int64(-1)
	if len(m.OpsetImport) == 0 {
		return fmt.Errorf("model: opset_import is empty")
	}
	for _, o := range m.OpsetImport {
		d := o.GetDomain()
		if d != "" && d != "ai.onnx" {
			return fmt.Errorf("model: opset_import of domain %q: only the default domain is written", d)
		}
		if opset >= 0 {
			return fmt.Errorf("model: the default domain is imported twice")
		}
		opset = o.GetVersion()
	}
	if opset < MinOpset || opset > MaxOpset {
		return fmt.Errorf("model: opset %d is outside %d..%d", opset, MinOpset, MaxOpset)
	}
	keys := map[string]bool{}
	for _, kv := range m.MetadataProps {
		if keys[kv.GetKey()] {
			return fmt.Errorf("model: metadata_props key %q appears twice", kv.GetKey())
		}
		keys[kv.GetKey()] = true
	}
	if m.Graph == nil {
		return fmt.Errorf("model: no graph")
	}
	return chkGraph(m.Graph)
}

func chkGraph(g *onnxpb.GraphProto) error {
	produced := map[string]string{} // value name → what produced it
	define := func(name, by string) error {
		if name == "" {
			return fmt.Errorf("%s: empty value name", by)
		}
		if prev, ok := produced[name]; ok {
			return fmt.Errorf("%s: value %q is already produced by %s (graph is not in SSA form)", by, name, prev)
		}
		produced[name] = by
		return nil
	}
	inits := map[string]bool{}
	for i, t := range g.Initializer {
		by := fmt.Sprintf("initializer %d %q", i, t.GetName())
		if err := chkTensor(t); err != nil {
			return fmt.Errorf("%s: %w", by, err)
		}
		inits[t.GetName()] = true
		if err := define(t.GetName(), by); err != nil {
			return err
		}
	}
	if len(g.SparseInitializer) > 0 {
		return fmt.Errorf("graph: sparse initializers are not written by this exporter")
	}
	for _, in := range g.Input {
		if err := chkValueInfo(in); err != nil {
			return fmt.Errorf("graph input %q: %w", in.GetName(), err)
		}
		// IR ≥ 4 lets an initializer be listed as an input too (a default value).
		if inits[in.GetName()] {
			continue
		}
		if err := define(in.GetName(), "graph input "+in.GetName()); err != nil {
			return err
		}
	}
	names := map[string]bool{}
	for i, n := range g.Node {
		by := fmt.Sprintf("node %d %q (%s)", i, n.GetName(), n.GetOpType())
		if n.GetName() == "" {
			return fmt.Errorf("%s: node has no name", by)
		}
		if names[n.GetName()] {
			return fmt.Errorf("%s: node name is used twice", by)
		}
		names[n.GetName()] = true
		if err := chkNode(n); err != nil {
			return fmt.Errorf("%s: %w", by, err)
		}
		for _, in := range n.Input {
			if in == "" {
				continue // an optional input left out
			}
			if _, ok := produced[in]; !ok {
				return fmt.Errorf("%s: input %q is not produced by a graph input, an initializer or an earlier node (graph is not topologically sorted, or the value does not exist)", by, in)
			}
		}
		for _, out := range n.Output {
			if err := define(out, by); err != nil {
				return err
			}
		}
	}
	if len(g.Output) == 0 {
		return fmt.Errorf("graph: no outputs")
	}
	seen := map[string]bool{}
	for _, out := range g.Output {
		if err := chkValueInfo(out); err != nil {
			return fmt.Errorf("graph output %q: %w", out.GetName(), err)
		}
		if seen[out.GetName()] {
			return fmt.Errorf("graph output %q is listed twice", out.GetName())
		}
		seen[out.GetName()] = true
		by, ok := produced[out.GetName()]
		if !ok || !strings.HasPrefix(by, "node ") {
			return fmt.Errorf("graph output %q is not produced by any node", out.GetName())
		}
	}
	return nil
}

func chkValueInfo(v *onnxpb.ValueInfoProto) error {
	if v.GetName() == "" {
		return fmt.Errorf("empty name")
	}
	tt := v.GetType().GetTensorType()
	if tt == nil {
		return fmt.Errorf("type is not a tensor type")
	}
	if _, ok := chkElemSize[onnxpb.TensorProto_DataType(tt.GetElemType())]; !ok {
		return fmt.Errorf("elem_type %d is not a numeric tensor type", tt.GetElemType())
	}
	for i, d := range tt.GetShape().GetDim() {
		switch d.Value.(type) {
		case *onnxpb.TensorShapeProto_Dimension_DimValue:
			if d.GetDimValue() < 0 {
				return fmt.Errorf("dim %d is %d", i, d.GetDimValue())
			}
		case *onnxpb.TensorShapeProto_Dimension_DimParam:
			if d.GetDimParam() == "" {
				return fmt.Errorf("dim %d has an empty dim_param", i)
			}
		}
	}
	return nil
}

// chkElemSize is the byte width of each data type raw_data may hold, as far as we check.
var chkElemSize = map[onnxpb.TensorProto_DataType]int{
	onnxpb.TensorProto_FLOAT: 4, onnxpb.TensorProto_UINT8: 1, onnxpb.TensorProto_INT8: 1,
	onnxpb.TensorProto_INT32: 4, onnxpb.TensorProto_INT64: 8, onnxpb.TensorProto_FLOAT16: 2,
	onnxpb.TensorProto_DOUBLE: 8, onnxpb.TensorProto_BFLOAT16: 2,
}

// chkTensor: one data field, of the type's kind, with the element count of the dims.
func chkTensor(t *onnxpb.TensorProto) error {
	if t.GetName() == "" {
		return fmt.Errorf("initializer has no name")
	}
	if t.DataType == nil {
		return fmt.Errorf("data_type is not set")
	}
	dt := onnxpb.TensorProto_DataType(t.GetDataType())
	size, ok := chkElemSize[dt]
	if !ok {
		return fmt.Errorf("data_type %d is not a supported numeric type", t.GetDataType())
	}
	if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL || len(t.ExternalData) > 0 {
		return fmt.Errorf("external data is not written by this exporter")
	}
	if t.Segment != nil {
		return fmt.Errorf("segmented tensors are not supported")
	}
	n := int64(1)
	for i, d := range t.Dims {
		if d < 0 {
			return fmt.Errorf("dim %d is %d", i, d)
		}
		n *= d
	}
	type field struct {
		name  string
		count int
		types []onnxpb.TensorProto_DataType
	}
	fields := []field{
		{"raw_data", len(t.RawData), nil},
		{"float_data", len(t.FloatData), []onnxpb.TensorProto_DataType{onnxpb.TensorProto_FLOAT}},
		{"int32_data", len(t.Int32Data), []onnxpb.TensorProto_DataType{onnxpb.TensorProto_INT32, onnxpb.TensorProto_UINT8, onnxpb.TensorProto_INT8, onnxpb.TensorProto_FLOAT16, onnxpb.TensorProto_BFLOAT16}},
		{"int64_data", len(t.Int64Data), []onnxpb.TensorProto_DataType{onnxpb.TensorProto_INT64}},
		{"double_data", len(t.DoubleData), []onnxpb.TensorProto_DataType{onnxpb.TensorProto_DOUBLE}},
		{"uint64_data", len(t.Uint64Data), nil},
		{"string_data", len(t.StringData), nil},
	}
	var used []field
	for _, f := range fields {
		if f.count > 0 {
			used = append(used, f)
		}
	}
	switch {
	case len(used) > 1:
		return fmt.Errorf("has both %s and %s; a tensor holds exactly one data field", used[0].name, used[1].name)
	case len(used) == 0 && n > 0:
		return fmt.Errorf("has no data for its %d elements", n)
	case len(used) == 0:
		return nil
	}
	f := used[0]
	if f.name == "raw_data" {
		if int64(f.count) != n*int64(size) {
			return fmt.Errorf("raw_data has %d bytes, dims %v of %s need %d", f.count, t.Dims, dt, n*int64(size))
		}
		return nil
	}
	okType := false
	for _, ty := range f.types {
		okType = okType || ty == dt
	}
	if !okType {
		return fmt.Errorf("%s does not hold data_type %s", f.name, dt)
	}
	if int64(f.count) != n {
		return fmt.Errorf("%s has %d values, dims %v need %d", f.name, f.count, t.Dims, n)
	}
	return nil
}

// chkSchema is the part of an operator's schema (ONNX docs/Operators.md, opsets 13–17) the
// checker enforces.
type chkSchema struct {
	minIn, maxIn, minOut, maxOut int
	attrs                        map[string]onnxpb.AttributeProto_AttributeType
}

const (
	chkInt    = onnxpb.AttributeProto_INT
	chkInts   = onnxpb.AttributeProto_INTS
	chkFloat  = onnxpb.AttributeProto_FLOAT
	chkString = onnxpb.AttributeProto_STRING
)

var chkSchemas = map[string]chkSchema{
	"Conv": {2, 3, 1, 1, map[string]onnxpb.AttributeProto_AttributeType{
		"auto_pad": chkString, "dilations": chkInts, "group": chkInt, "kernel_shape": chkInts, "pads": chkInts, "strides": chkInts}},
	// Inference form: one output (training_mode 0).
	"BatchNormalization": {5, 5, 1, 1, map[string]onnxpb.AttributeProto_AttributeType{
		"epsilon": chkFloat, "momentum": chkFloat, "training_mode": chkInt}},
	"Relu": {1, 1, 1, 1, nil},
	"Add":  {2, 2, 1, 1, nil},
	"MaxPool": {1, 1, 1, 1, map[string]onnxpb.AttributeProto_AttributeType{
		"auto_pad": chkString, "ceil_mode": chkInt, "dilations": chkInts, "kernel_shape": chkInts, "pads": chkInts, "storage_order": chkInt, "strides": chkInts}},
	"GlobalAveragePool": {1, 1, 1, 1, nil},
	"Flatten":           {1, 1, 1, 1, map[string]onnxpb.AttributeProto_AttributeType{"axis": chkInt}},
	"Gemm": {2, 3, 1, 1, map[string]onnxpb.AttributeProto_AttributeType{
		"alpha": chkFloat, "beta": chkFloat, "transA": chkInt, "transB": chkInt}},
	"Slice":    {3, 5, 1, 1, nil},
	"Pad":      {2, 3, 1, 1, map[string]onnxpb.AttributeProto_AttributeType{"mode": chkString}},
	"Identity": {1, 1, 1, 1, nil},
}

func chkNode(n *onnxpb.NodeProto) error {
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		return fmt.Errorf("domain %q is not imported", d)
	}
	s, ok := chkSchemas[n.GetOpType()]
	if !ok {
		return fmt.Errorf("no schema for op %q (the checker knows the ops the exporter writes)", n.GetOpType())
	}
	if len(n.Input) < s.minIn || len(n.Input) > s.maxIn {
		return fmt.Errorf("has %d inputs, %s takes %d..%d", len(n.Input), n.GetOpType(), s.minIn, s.maxIn)
	}
	if len(n.Output) < s.minOut || len(n.Output) > s.maxOut {
		return fmt.Errorf("has %d outputs, %s gives %d..%d", len(n.Output), n.GetOpType(), s.minOut, s.maxOut)
	}
	for i, in := range n.Input {
		if in == "" && i < s.minIn {
			return fmt.Errorf("required input %d is empty", i)
		}
	}
	seen := map[string]bool{}
	for _, a := range n.Attribute {
		name := a.GetName()
		if name == "" {
			return fmt.Errorf("attribute without a name")
		}
		if seen[name] {
			return fmt.Errorf("attribute %q appears twice", name)
		}
		seen[name] = true
		want, ok := s.attrs[name]
		if !ok {
			return fmt.Errorf("%s has no attribute %q", n.GetOpType(), name)
		}
		if a.Type == nil {
			return fmt.Errorf("attribute %q: type is not set", name)
		}
		if a.GetType() != want {
			return fmt.Errorf("attribute %q is %s, %s wants %s", name, a.GetType(), n.GetOpType(), want)
		}
		if err := chkAttrValue(a); err != nil {
			return fmt.Errorf("attribute %q: %w", name, err)
		}
	}
	return nil
}

// chkAttrValue: the field of the declared type is set and no other value field is.
func chkAttrValue(a *onnxpb.AttributeProto) error {
	set := []struct {
		ty  onnxpb.AttributeProto_AttributeType
		has bool
	}{
		{onnxpb.AttributeProto_FLOAT, a.F != nil}, {onnxpb.AttributeProto_INT, a.I != nil},
		{onnxpb.AttributeProto_STRING, a.S != nil}, {onnxpb.AttributeProto_TENSOR, a.T != nil},
		{onnxpb.AttributeProto_GRAPH, a.G != nil}, {onnxpb.AttributeProto_FLOATS, len(a.Floats) > 0},
		{onnxpb.AttributeProto_INTS, len(a.Ints) > 0}, {onnxpb.AttributeProto_STRINGS, len(a.Strings) > 0},
		{onnxpb.AttributeProto_TENSORS, len(a.Tensors) > 0}, {onnxpb.AttributeProto_GRAPHS, len(a.Graphs) > 0},
	}
	has := false
	for _, f := range set {
		if f.has && f.ty != a.GetType() {
			return fmt.Errorf("declared %s but holds a %s value", a.GetType(), f.ty)
		}
		has = has || f.has
	}
	// An empty list is a valid list value; a scalar must be present.
	switch a.GetType() {
	case onnxpb.AttributeProto_FLOATS, onnxpb.AttributeProto_INTS, onnxpb.AttributeProto_STRINGS,
		onnxpb.AttributeProto_TENSORS, onnxpb.AttributeProto_GRAPHS:
	default:
		if !has {
			return fmt.Errorf("declared %s but holds no value", a.GetType())
		}
	}
	return nil
}
