package onnx

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/imageproc"
	"github.com/resnet-go/resnet/internal/atomicfile"
	"github.com/resnet-go/resnet/model"
	"github.com/resnet-go/resnet/nn"
	"github.com/resnet-go/resnet/onnx/onnxpb"
	"github.com/resnet-go/resnet/tensor"
	"github.com/resnet-go/resnet/weights"
)

// Opsets the exporter writes. 13 is the first opset whose Slice, Pad, Flatten and Gemm
// all take the forms we emit; 17 is the newest that Debian's python3-onnx 1.12 checker
// knows (ONNX 1.12 = IR 8 / opset 17), so an export it cannot check is never written.
const (
	MinOpset     = 13
	MaxOpset     = 17
	DefaultOpset = 17
	// IRVersion is ONNX 1.12's IR_VERSION (the schema of onnxpb).
	IRVersion = 8
)

// Graph input and output names: HF optimum's for ResNetForImageClassification.
const (
	InputName  = "pixel_values"
	LogitsName = "logits"
	PoolerName = "pooler_output"
	// BatchParam is the dim_param of the batch axis with ExportOptions.DynamicBatch.
	BatchParam = "batch_size"
)

// Keys of ModelProto.metadata_props that the importer reads back.
const (
	MetaID2Label     = "id2label"
	MetaConfig       = "config"
	MetaPreprocessor = "preprocessor_config"
	MetaSource       = "source"
)

// ProducerName is ModelProto.producer_name.
const ProducerName = "resnet-go"

// ExportOptions choose the form of the exported graph.
type ExportOptions struct {
	// Opset is the default-domain opset (MinOpset..MaxOpset); 0 means DefaultOpset.
	Opset int
	// FoldBN folds each BatchNormalization into its convolution's weight and a new bias
	// (as torch.onnx.export does in eval mode). Without it BN is kept as its own node with
	// the HF tensors, which is lossless; ONNX Runtime fuses Conv+BN when it loads the model.
	FoldBN bool
	// DynamicBatch writes the batch axis as dim_param BatchParam instead of 1.
	DynamicBatch bool
	// Pooler adds the graph output PoolerName: the pooled features, [N, C].
	Pooler bool
	// ProducerVersion is ModelProto.producer_version (e.g. the module version).
	ProducerVersion string
	// Source is recorded in doc_string and metadata (where the weights came from).
	Source string
}

// Export builds the ONNX model of a ResNet: architecture cfg, preprocessing proc (its
// output size fixes H and W; a processor that does not resize leaves them symbolic) and
// weights with HF names. Every tensor is checked by name and shape (model.Check) and for
// NaN/Inf before anything is built, and the result passes Check.
func Export(cfg *arch.Config, proc *imageproc.Processor, src weights.Source, opt ExportOptions) (*onnxpb.ModelProto, error) {
	if opt.Opset == 0 {
		opt.Opset = DefaultOpset
	}
	if opt.Opset < MinOpset || opt.Opset > MaxOpset {
		return nil, fmt.Errorf("onnx export: opset %d is not supported (want %d..%d; %d is the newest Debian's python3-onnx 1.12 checks)", opt.Opset, MinOpset, MaxOpset, MaxOpset)
	}
	if proc == nil {
		return nil, fmt.Errorf("onnx export: no preprocessing config (it fixes the input size)")
	}
	spec, err := cfg.Spec()
	if err != nil {
		return nil, fmt.Errorf("onnx export: %w", err)
	}
	if err := model.Check(&spec, src); err != nil {
		return nil, fmt.Errorf("onnx export: %w", err)
	}
	b := &exBuilder{src: src, opt: opt, seenInit: map[string]bool{}, seenNode: map[string]bool{}}
	g := &onnxpb.GraphProto{Name: proto.String("resnet")}
	b.g = g

	h, w := proc.OutputSize()
	batch := exDim(1)
	if opt.DynamicBatch {
		batch = exDimParam(BatchParam)
	}
	hd, wd := exDim(int64(h)), exDim(int64(w))
	if h == 0 || w == 0 {
		hd, wd = exDimParam("height"), exDimParam("width")
	}
	g.Input = []*onnxpb.ValueInfoProto{exValueInfo(InputName, batch, exDim(int64(cfg.NumChannels)), hd, wd)}

	x := InputName
	if x, err = b.convBN(spec.Stem, x, true); err != nil {
		return nil, err
	}
	if spec.MaxPool {
		x = b.node("MaxPool", "resnet.embedder.pooler", []string{x},
			exInts("kernel_shape", 3, 3), exInts("strides", 2, 2), exInts("pads", 1, 1, 1, 1), exInt("ceil_mode", 0))
	}
	for _, blk := range spec.Blocks {
		if x, err = b.block(blk, x); err != nil {
			return nil, err
		}
	}
	x = b.node("GlobalAveragePool", "resnet.pooler", []string{x})
	pooled := b.node("Flatten", "classifier.0", []string{x}, exInt("axis", 1))
	outs := []*onnxpb.ValueInfoProto{}
	if opt.Pooler {
		b.rename(pooled, PoolerName)
		pooled = PoolerName
	}
	if cfg.NumLabels > 0 {
		wName, bName := arch.ClassifierWeight, arch.ClassifierBias
		for _, n := range []string{wName, bName} {
			if err := b.initFromSource(n); err != nil {
				return nil, err
			}
		}
		logits := b.node("Gemm", "classifier.1", []string{pooled, wName, bName},
			exFloat("alpha", 1), exFloat("beta", 1), exInt("transB", 1))
		b.rename(logits, LogitsName)
	} else if opt.Pooler {
		// A feature extractor's logits are its pooled features (as model.Output has them).
		b.rename(b.node("Identity", "logits", []string{pooled}), LogitsName)
	} else {
		b.rename(pooled, LogitsName)
	}
	width := cfg.NumLabels
	if width == 0 {
		width = spec.Features
	}
	outs = append(outs, exValueInfo(LogitsName, batch, exDim(int64(width))))
	if opt.Pooler {
		outs = append(outs, exValueInfo(PoolerName, batch, exDim(int64(spec.Features))))
	}
	g.Output = outs

	meta, err := exMetadata(cfg, proc, opt.Source)
	if err != nil {
		return nil, err
	}
	m := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(IRVersion),
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(int64(opt.Opset))}},
		ProducerName:    proto.String(ProducerName),
		ProducerVersion: proto.String(opt.ProducerVersion),
		Graph:           g,
		MetadataProps:   meta,
	}
	if opt.Source != "" {
		m.DocString = proto.String("ResNet exported by resnet-go from " + opt.Source)
	}
	if err := Check(m); err != nil {
		return nil, fmt.Errorf("onnx export: the graph built fails the checker (a bug): %w", err)
	}
	return m, nil
}

// WriteFile checks m and writes it to path atomically (a reader never sees half a model).
func WriteFile(path string, m *onnxpb.ModelProto) error {
	if err := Check(m); err != nil {
		return fmt.Errorf("%s: not written: %w", path, err)
	}
	data, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	// The protobuf limit (onnx.checker's MAXIMUM_PROTOBUF); a ResNet-152 is 240 MB.
	if len(data) > math.MaxInt32 {
		return fmt.Errorf("%s: model is %d bytes, over protobuf's 2 GiB limit", path, len(data))
	}
	return atomicfile.Write(path, data)
}

// exMetadata is what the importer needs to rebuild the checkpoint: labels, the HF config and
// the preprocessing config, as JSON strings.
func exMetadata(cfg *arch.Config, proc *imageproc.Processor, source string) ([]*onnxpb.StringStringEntryProto, error) {
	id2label := make(map[string]string, cfg.NumLabels)
	for i := 0; i < cfg.NumLabels; i++ {
		id2label[strconv.Itoa(i)] = cfg.Label(i)
	}
	labels, err := json.Marshal(id2label)
	if err != nil {
		return nil, err
	}
	cj, err := cfg.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("onnx export: config: %w", err)
	}
	pj, err := proc.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("onnx export: preprocessor config: %w", err)
	}
	kv := func(k, v string) *onnxpb.StringStringEntryProto {
		return &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(v)}
	}
	out := []*onnxpb.StringStringEntryProto{kv(MetaID2Label, string(labels)), kv(MetaConfig, string(cj)), kv(MetaPreprocessor, string(pj))}
	if source != "" {
		out = append(out, kv(MetaSource, source))
	}
	return out, nil
}

// exBuilder appends nodes and initializers in forward (so topological) order.
type exBuilder struct {
	g        *onnxpb.GraphProto
	src      weights.Source
	opt      ExportOptions
	seenInit map[string]bool
	seenNode map[string]bool
}

// node appends one node named after its HF module (dots become slashes, as torch's
// module-scoped names: "/resnet/embedder/pooler/MaxPool") and returns its output, named
// "<node>_output_0" (unique because node names are).
func (b *exBuilder) node(op, module string, inputs []string, attrs ...*onnxpb.AttributeProto) string {
	name := "/" + strings.ReplaceAll(module, ".", "/") + "/" + op
	if b.seenNode[name] {
		panic("onnx export: node name " + name + " used twice") // a bug in the exBuilder
	}
	b.seenNode[name] = true
	out := name + "_output_0"
	b.g.Node = append(b.g.Node, &onnxpb.NodeProto{
		Name: proto.String(name), OpType: proto.String(op), Input: inputs, Output: []string{out}, Attribute: attrs,
	})
	return out
}

// rename gives the last node's output a graph-output name.
func (b *exBuilder) rename(old, name string) {
	n := b.g.Node[len(b.g.Node)-1]
	if n.Output[0] != old {
		panic("onnx export: rename of " + old + " which is not the last output")
	}
	n.Output[0] = name
}

func (b *exBuilder) read(name string) ([]float32, []int, error) {
	shape, ok := b.src.Shape(name)
	if !ok {
		return nil, nil, fmt.Errorf("onnx export: checkpoint has no tensor %q", name)
	}
	data := make([]float32, tensor.Numel(shape))
	if err := b.src.Read(name, data); err != nil {
		return nil, nil, fmt.Errorf("onnx export: %s: %w", name, err)
	}
	if err := weights.CheckFinite("", name, data); err != nil {
		return nil, nil, fmt.Errorf("onnx export: %w", err)
	}
	return data, shape, nil
}

func (b *exBuilder) addInit(name string, shape []int, data []float32) {
	if b.seenInit[name] {
		panic("onnx export: initializer " + name + " added twice")
	}
	b.seenInit[name] = true
	b.g.Initializer = append(b.g.Initializer, exFloatTensor(name, shape, data))
}

func (b *exBuilder) initFromSource(name string) error {
	data, shape, err := b.read(name)
	if err != nil {
		return err
	}
	b.addInit(name, shape, data)
	return nil
}

// convBN emits a convolution and its batch normalisation (kept, or folded into the conv),
// then a ReLU when relu is set; it returns the output.
func (b *exBuilder) convBN(cv arch.Conv, x string, relu bool) (string, error) {
	wName := cv.Name + ".convolution.weight"
	bnName := func(s string) string { return cv.Name + ".normalization." + s }
	attrs := []*onnxpb.AttributeProto{
		exInts("dilations", 1, 1), exInt("group", 1), exInts("kernel_shape", int64(cv.Kernel), int64(cv.Kernel)),
		exInts("pads", int64(cv.Pad), int64(cv.Pad), int64(cv.Pad), int64(cv.Pad)), exInts("strides", int64(cv.Stride), int64(cv.Stride)),
	}
	if b.opt.FoldBN {
		wf, bf, shape, err := b.fold(cv)
		if err != nil {
			return "", err
		}
		fw, fb := cv.Name+".folded.weight", cv.Name+".folded.bias"
		b.addInit(fw, shape, wf)
		b.addInit(fb, []int{cv.Out}, bf)
		x = b.node("Conv", cv.Name+".convolution", []string{x, fw, fb}, attrs...)
	} else {
		if err := b.initFromSource(wName); err != nil {
			return "", err
		}
		x = b.node("Conv", cv.Name+".convolution", []string{x, wName}, attrs...)
		ins := []string{x}
		for _, s := range []string{"weight", "bias", "running_mean", "running_var"} {
			if err := b.initFromSource(bnName(s)); err != nil {
				return "", err
			}
			ins = append(ins, bnName(s))
		}
		x = b.node("BatchNormalization", cv.Name+".normalization", ins, exFloat("epsilon", nn.BNEps))
	}
	if relu {
		x = b.node("Relu", cv.Name+".activation", []string{x})
	}
	return x, nil
}

// fold is the BN folding of torch.onnx's eval peephole pass: per output channel
// k = γ/√(σ²+ε), W' = W·k, b' = β − μ·k, computed in float64 and rounded once.
func (b *exBuilder) fold(cv arch.Conv) (wf, bf []float32, shape []int, err error) {
	w, shape, err := b.read(cv.Name + ".convolution.weight")
	if err != nil {
		return nil, nil, nil, err
	}
	var bn [4][]float32
	for i, s := range []string{"weight", "bias", "running_mean", "running_var"} {
		if bn[i], _, err = b.read(cv.Name + ".normalization." + s); err != nil {
			return nil, nil, nil, err
		}
	}
	per := len(w) / cv.Out
	bf = make([]float32, cv.Out)
	for o := 0; o < cv.Out; o++ {
		v := float64(bn[3][o]) + nn.BNEps
		if !(v > 0) {
			return nil, nil, nil, fmt.Errorf("onnx export: %s.normalization.running_var[%d] = %g makes σ²+ε = %g, not positive", cv.Name, o, bn[3][o], v)
		}
		k := float64(bn[0][o]) / math.Sqrt(v)
		for i := o * per; i < (o+1)*per; i++ {
			w[i] = float32(float64(w[i]) * k)
		}
		bf[o] = float32(float64(bn[1][o]) - float64(bn[2][o])*k)
	}
	return w, bf, shape, nil
}

// block emits one residual (or plain) layer.
func (b *exBuilder) block(blk arch.Block, in string) (string, error) {
	x := in
	var err error
	for i, cv := range blk.Convs {
		// The last branch convolution's ReLU follows the addition (or ends a plain block).
		last := i == len(blk.Convs)-1
		if x, err = b.convBN(cv, x, cv.ReLU && !last); err != nil {
			return "", err
		}
	}
	var short string
	switch blk.Shortcut {
	case arch.ShortcutNone:
		return b.node("Relu", blk.Name+".activation", []string{x}), nil
	case arch.ShortcutIdentity:
		short = in
	case arch.ShortcutProject:
		if short, err = b.convBN(*blk.Proj, in, false); err != nil {
			return "", err
		}
	case arch.ShortcutPad:
		short = b.zeroPad(blk, in)
	default:
		return "", fmt.Errorf("onnx export: %s: shortcut %v has no ONNX form", blk.Name, blk.Shortcut)
	}
	x = b.node("Add", blk.Name, []string{x, short})
	return b.node("Relu", blk.Name+".activation", []string{x}), nil
}

// zeroPad is option A (nn.ZeroPadShortcut) in standard ops: Slice x[:, :, ::s, ::s], then Pad
// with (out−in)/2 zero channels in front and the rest behind.
func (b *exBuilder) zeroPad(blk arch.Block, in string) string {
	mod := blk.Name + ".shortcut"
	x := in
	if s := int64(blk.Stride); s != 1 {
		p := "/" + strings.ReplaceAll(mod, ".", "/") + "/Slice_"
		b.g.Initializer = append(b.g.Initializer,
			exInt64Tensor(p+"starts", 0, 0), exInt64Tensor(p+"ends", math.MaxInt64, math.MaxInt64),
			exInt64Tensor(p+"axes", 2, 3), exInt64Tensor(p+"steps", s, s))
		x = b.node("Slice", mod, []string{x, p + "starts", p + "ends", p + "axes", p + "steps"})
	}
	if extra := int64(blk.Out - blk.In); extra != 0 {
		front := extra / 2
		name := "/" + strings.ReplaceAll(mod, ".", "/") + "/Pad_pads"
		b.g.Initializer = append(b.g.Initializer, exInt64Tensor(name, 0, front, 0, 0, 0, extra-front, 0, 0))
		x = b.node("Pad", mod, []string{x, name}, exString("mode", "constant"))
	}
	return x
}

func exFloatTensor(name string, shape []int, data []float32) *onnxpb.TensorProto {
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	dims := make([]int64, len(shape))
	for i, d := range shape {
		dims[i] = int64(d)
	}
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: dims,
		DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: raw}
}

func exInt64Tensor(name string, vals ...int64) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: []int64{int64(len(vals))},
		DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: vals}
}

func exAttrType(t onnxpb.AttributeProto_AttributeType) *onnxpb.AttributeProto_AttributeType {
	return &t
}

func exInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: exAttrType(onnxpb.AttributeProto_INTS), Ints: v}
}

func exInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: exAttrType(onnxpb.AttributeProto_INT), I: proto.Int64(v)}
}

func exFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: exAttrType(onnxpb.AttributeProto_FLOAT), F: proto.Float32(v)}
}

func exString(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: exAttrType(onnxpb.AttributeProto_STRING), S: []byte(v)}
}

func exDim(v int64) *onnxpb.TensorShapeProto_Dimension {
	return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: v}}
}

func exDimParam(p string) *onnxpb.TensorShapeProto_Dimension {
	return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: p}}
}

func exValueInfo(name string, dims ...*onnxpb.TensorShapeProto_Dimension) *onnxpb.ValueInfoProto {
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{
		Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Shape: &onnxpb.TensorShapeProto{Dim: dims},
		}},
	}}
}
