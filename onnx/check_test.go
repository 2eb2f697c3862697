package onnx

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/resnet-go/resnet/onnx/onnxpb"
)

// TestCheckRejects breaks a valid export one rule at a time; each break must be refused with
// an error that names the rule and the node, tensor or field.
func TestCheckRejects(t *testing.T) {
	c := exportCases()[3] // CIFAR option A: Slice, Pad and int64 initializers too
	good, err := Export(&c.cfg, c.processor(), randomWeights(t, &c.cfg, 9), ExportOptions{Pooler: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(good); err != nil {
		t.Fatalf("valid export: %v", err)
	}
	node := func(m *onnxpb.ModelProto, op string, k int) *onnxpb.NodeProto {
		for _, n := range m.Graph.Node {
			if n.GetOpType() == op {
				if k == 0 {
					return n
				}
				k--
			}
		}
		t.Fatalf("no %s node", op)
		return nil
	}
	attr := func(n *onnxpb.NodeProto, name string) *onnxpb.AttributeProto {
		for _, a := range n.Attribute {
			if a.GetName() == name {
				return a
			}
		}
		t.Fatalf("%s has no attribute %s", n.GetName(), name)
		return nil
	}
	init := func(m *onnxpb.ModelProto, suffix string) *onnxpb.TensorProto {
		for _, in := range m.Graph.Initializer {
			if strings.HasSuffix(in.GetName(), suffix) {
				return in
			}
		}
		t.Fatalf("no initializer *%s", suffix)
		return nil
	}
	cases := []struct {
		name   string
		mutate func(m *onnxpb.ModelProto)
		want   string
	}{
		{"no ir_version", func(m *onnxpb.ModelProto) { m.IrVersion = nil }, "ir_version is not set"},
		{"ir_version 9", func(m *onnxpb.ModelProto) { m.IrVersion = proto.Int64(9) }, "ir_version 9"},
		{"no opset", func(m *onnxpb.ModelProto) { m.OpsetImport = nil }, "opset_import is empty"},
		{"opset 18", func(m *onnxpb.ModelProto) { m.OpsetImport[0].Version = proto.Int64(18) }, "opset 18 is outside 13..17"},
		{"opset 12", func(m *onnxpb.ModelProto) { m.OpsetImport[0].Version = proto.Int64(12) }, "opset 12 is outside"},
		{"two default opsets", func(m *onnxpb.ModelProto) {
			m.OpsetImport = append(m.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String("ai.onnx"), Version: proto.Int64(17)})
		}, "imported twice"},
		{"custom domain", func(m *onnxpb.ModelProto) {
			m.OpsetImport = append(m.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String("com.example"), Version: proto.Int64(1)})
		}, `domain "com.example"`},
		{"node in other domain", func(m *onnxpb.ModelProto) { node(m, "Relu", 0).Domain = proto.String("com.microsoft") }, `domain "com.microsoft" is not imported`},
		{"duplicate metadata key", func(m *onnxpb.ModelProto) { m.MetadataProps = append(m.MetadataProps, m.MetadataProps[0]) }, `key "id2label" appears twice`},
		{"not SSA", func(m *onnxpb.ModelProto) { node(m, "Relu", 1).Output[0] = node(m, "Relu", 0).Output[0] }, "already produced by"},
		{"output shadows initializer", func(m *onnxpb.ModelProto) {
			node(m, "Relu", 0).Output[0] = "resnet.embedder.embedder.convolution.weight"
		}, "not in SSA form"},
		{"not topological", func(m *onnxpb.ModelProto) {
			g := m.Graph.Node
			g[0], g[1] = g[1], g[0]
		}, "not topologically sorted"},
		{"dangling input", func(m *onnxpb.ModelProto) { node(m, "Add", 0).Input[1] = "nowhere" }, `input "nowhere" is not produced`},
		{"output not produced", func(m *onnxpb.ModelProto) { m.Graph.Output[0].Name = proto.String("nothing") }, `"nothing" is not produced by any node`},
		{"output is the input", func(m *onnxpb.ModelProto) { m.Graph.Output[0].Name = proto.String(InputName) }, "not produced by any node"},
		{"duplicate node name", func(m *onnxpb.ModelProto) { node(m, "Relu", 1).Name = node(m, "Relu", 0).Name }, "node name is used twice"},
		{"unnamed node", func(m *onnxpb.ModelProto) { node(m, "Add", 0).Name = nil }, "node has no name"},
		{"unknown op", func(m *onnxpb.ModelProto) { node(m, "Relu", 0).OpType = proto.String("Swish") }, `no schema for op "Swish"`},
		{"too many inputs", func(m *onnxpb.ModelProto) { n := node(m, "Relu", 0); n.Input = append(n.Input, n.Input[0]) }, "has 2 inputs, Relu takes 1..1"},
		{"duplicate initializer", func(m *onnxpb.ModelProto) {
			m.Graph.Initializer = append(m.Graph.Initializer, m.Graph.Initializer[0])
		}, "already produced by initializer"},
		{"unnamed initializer", func(m *onnxpb.ModelProto) { m.Graph.Initializer[2].Name = proto.String("") }, "initializer has no name"},
		{"raw and float data", func(m *onnxpb.ModelProto) {
			in := init(m, "embedder.normalization.bias")
			in.FloatData = make([]float32, 4)
		}, "has both raw_data and float_data"},
		{"no data", func(m *onnxpb.ModelProto) { init(m, "embedder.normalization.bias").RawData = nil }, "has no data for its 4 elements"},
		{"raw size", func(m *onnxpb.ModelProto) {
			in := init(m, "embedder.normalization.bias")
			in.RawData = in.RawData[:12]
		}, "raw_data has 12 bytes, dims [4] of FLOAT need 16"},
		{"int64 count", func(m *onnxpb.ModelProto) { init(m, "Slice_steps").Int64Data = []int64{2} }, "int64_data has 1 values, dims [2] need 2"},
		{"int64 data in float tensor", func(m *onnxpb.ModelProto) { init(m, "Slice_steps").DataType = proto.Int32(1) }, "int64_data does not hold data_type FLOAT"},
		{"no data type", func(m *onnxpb.ModelProto) { init(m, "Pad_pads").DataType = nil }, "data_type is not set"},
		{"external data", func(m *onnxpb.ModelProto) {
			in := init(m, "embedder.normalization.bias")
			in.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
		}, "external data"},
		{"attribute type vs schema", func(m *onnxpb.ModelProto) {
			a := attr(node(m, "Conv", 0), "group")
			a.Type, a.I, a.F = onnxpb.AttributeProto_FLOAT.Enum(), nil, proto.Float32(1)
		}, `attribute "group" is FLOAT, Conv wants INT`},
		{"attribute value vs declared type", func(m *onnxpb.ModelProto) {
			attr(node(m, "Conv", 0), "strides").I = proto.Int64(1)
		}, "declared INTS but holds a INT value"},
		{"attribute without value", func(m *onnxpb.ModelProto) { attr(node(m, "Flatten", 0), "axis").I = nil }, "declared INT but holds no value"},
		{"attribute without type", func(m *onnxpb.ModelProto) { attr(node(m, "Flatten", 0), "axis").Type = nil }, "type is not set"},
		{"attribute twice", func(m *onnxpb.ModelProto) {
			n := node(m, "Conv", 1)
			n.Attribute = append(n.Attribute, attr(n, "pads"))
		}, `attribute "pads" appears twice`},
		{"unknown attribute", func(m *onnxpb.ModelProto) {
			n := node(m, "BatchNormalization", 0)
			n.Attribute = append(n.Attribute, exInt("spatial", 1))
		}, `BatchNormalization has no attribute "spatial"`},
		{"input without type", func(m *onnxpb.ModelProto) { m.Graph.Input[0].Type = nil }, "not a tensor type"},
		{"no graph", func(m *onnxpb.ModelProto) { m.Graph = nil }, "no graph"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := proto.Clone(good).(*onnxpb.ModelProto)
			tc.mutate(m)
			err := Check(m)
			if err == nil {
				t.Fatal("Check accepted the broken model")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}
