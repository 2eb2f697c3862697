package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/resnet-go/resnet/onnx"
	"github.com/resnet-go/resnet/onnx/onnxpb"
)

func readONNX(t *testing.T, path string) *onnxpb.ModelProto {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := onnx.Check(&m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &m
}

// TestExportCLI: the flags reach the file (opset, batch axis, outputs, BN kept or folded,
// input size from the preprocessing and its overrides, labels in the metadata), MODEL is
// optional (the built-in model), and bad flags are refused before anything is written.
func TestExportCLI(t *testing.T) {
	dir := t.TempDir()
	cifarA := filepath.Join("..", "..", "model", "testdata", "cifar-a")
	cases := []struct {
		name    string
		args    []string
		opset   int64
		dims    string // pixel_values dims
		outputs string
		bn      bool
		label0  string
	}{
		{"built-in model", []string{"--format", "onnx"}, 17, "1,3,32,32", "logits", true, `"0":"airplane"`},
		{"folded, dynamic, pooler", []string{"--opset", "13", "--fold-bn", "--dynamic-batch", "--pooler", cifarA}, 13, "batch_size,3,32,32", "logits,pooler_output", false, `"0":"class_0"`},
		{"size override", []string{"--size", "24", "--labels", filepath.Join(dir, "labels.txt"), cifarA}, 17, "1,3,24,24", "logits", true, `"0":"zero"`},
	}
	if err := os.WriteFile(filepath.Join(dir, "labels.txt"), []byte("zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".onnx")
			stdout, stderr, code := run(t, append(append([]string{"export"}, tc.args...), out)...)
			if code != 0 {
				t.Fatalf("export (case %d): %s", i, stderr)
			}
			if !strings.Contains(stdout, "wrote "+out) {
				t.Errorf("stdout %q", stdout)
			}
			m := readONNX(t, out)
			if v := m.OpsetImport[0].GetVersion(); v != tc.opset || m.GetIrVersion() != 8 {
				t.Errorf("opset %d, ir_version %d", v, m.GetIrVersion())
			}
			var dims []string
			for _, d := range m.Graph.Input[0].GetType().GetTensorType().GetShape().GetDim() {
				if p := d.GetDimParam(); p != "" {
					dims = append(dims, p)
				} else {
					dims = append(dims, strconv.FormatInt(d.GetDimValue(), 10))
				}
			}
			if got := strings.Join(dims, ","); m.Graph.Input[0].GetName() != "pixel_values" || got != tc.dims {
				t.Errorf("input %s [%s], want pixel_values [%s]", m.Graph.Input[0].GetName(), got, tc.dims)
			}
			var outs []string
			for _, o := range m.Graph.Output {
				outs = append(outs, o.GetName())
			}
			if strings.Join(outs, ",") != tc.outputs {
				t.Errorf("outputs %v, want %s", outs, tc.outputs)
			}
			hasBN := false
			for _, n := range m.Graph.Node {
				hasBN = hasBN || n.GetOpType() == "BatchNormalization"
			}
			if hasBN != tc.bn {
				t.Errorf("BatchNormalization present %v, want %v", hasBN, tc.bn)
			}
			meta := map[string]string{}
			for _, kv := range m.MetadataProps {
				meta[kv.GetKey()] = kv.GetValue()
			}
			if !strings.Contains(meta["id2label"], tc.label0) || meta["config"] == "" || meta["preprocessor_config"] == "" {
				t.Errorf("metadata %v", meta)
			}
		})
	}

	x := filepath.Join(dir, "x.onnx")
	bad := []struct {
		args []string
		want string
	}{
		{[]string{"--format", "tflite", x}, `--format "tflite" is not supported`},
		{[]string{"--opset", "18", x}, "--opset 18 is not supported: want 13..17"},
		{[]string{"--opset", "11", x}, "--opset 11 is not supported"},
		{[]string{"a", "b", "c"}, "accepts between 1 and 2 arg(s)"},
		{[]string{filepath.Join(dir, "missing"), x}, "no such file or directory"},
	}
	for _, tc := range bad {
		_, stderr, code := run(t, append([]string{"export"}, tc.args...)...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("export %v: exit %d, stderr %q; want an error saying %q", tc.args, code, stderr, tc.want)
		}
		if _, err := os.Stat(x); err == nil {
			t.Errorf("export %v left %s behind", tc.args, x)
		}
	}
}
