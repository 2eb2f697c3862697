package onnx

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/imageproc"
	"github.com/resnet-go/resnet/model"
	"github.com/resnet-go/resnet/onnx/onnxpb"
	"github.com/resnet-go/resnet/tensor"
	"github.com/resnet-go/resnet/weights"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/export/*.golden")

// exportCase is a tiny network of one architecture family with random weights and random
// BatchNorm statistics (so that folding is not the identity).
type exportCase struct {
	name string
	cfg  arch.Config
	h, w int // preprocessing output size
}

func exportCases() []exportCase {
	imagenet := func(layer string, hidden, depths []int, labels int) arch.Config {
		c := arch.Default()
		c.EmbeddingSize, c.HiddenSizes, c.Depths, c.LayerType, c.NumLabels = 8, hidden, depths, layer, labels
		return c
	}
	cifar := func(short string, plain bool, hidden, depths []int) arch.Config {
		c := arch.Default()
		c.Stem, c.EmbeddingSize, c.HiddenSizes, c.Depths, c.LayerType = arch.StemCIFAR, 4, hidden, depths, arch.Basic
		c.ShortcutType, c.Plain, c.NumLabels = short, plain, 10
		return c
	}
	v1 := imagenet(arch.Bottleneck, []int{16, 32}, []int{2, 1}, 4)
	v1.DownsampleInBottleneck, v1.DownsampleInFirstStage = true, true
	features := imagenet(arch.Basic, []int{8, 16}, []int{1, 1}, 0)
	features.Plain = true
	return []exportCase{
		{"basic", imagenet(arch.Basic, []int{8, 16}, []int{2, 1}, 5), 40, 56},
		{"bottleneck", imagenet(arch.Bottleneck, []int{16, 32}, []int{2, 1}, 4), 48, 48},
		{"bottleneck-v1", v1, 48, 40},
		// 30×34 makes the strided Slice and the strided conv round an odd side up alike.
		{"cifar-a", cifar(arch.ShortcutZeroPad, false, []int{4, 8, 16}, []int{2, 1, 1}), 30, 34},
		{"cifar-b", cifar(arch.ShortcutProjection, false, []int{4, 8}, []int{1, 2}), 32, 32},
		{"plain", cifar(arch.ShortcutZeroPad, true, []int{4, 8}, []int{2, 1}), 32, 32},
		{"plain-features", features, 48, 48},
	}
}

func (c exportCase) processor() *imageproc.Processor {
	p := imageproc.CIFARProcessor()
	p.Height, p.Width = c.h, c.w
	return p
}

// randomWeights fills every tensor of the spec: convolutions He-normal, BN γ ∈ [0.5, 1.5],
// β and μ normal (σ 0.2), σ² ∈ [0.5, 2], classifier uniform ±1/√in.
func randomWeights(t testing.TB, cfg *arch.Config, seed uint64) weights.StateDict {
	t.Helper()
	spec, err := cfg.Spec()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 7))
	sd := weights.StateDict{}
	for _, p := range spec.Params() {
		data := make([]float32, tensor.Numel(p.Shape))
		for i := range data {
			switch {
			case strings.HasSuffix(p.Name, ".convolution.weight"):
				data[i] = float32(r.NormFloat64() * math.Sqrt(2/float64(p.Shape[1]*p.Shape[2]*p.Shape[3])))
			case strings.HasSuffix(p.Name, ".normalization.weight"):
				data[i] = float32(0.5 + r.Float64())
			case strings.HasSuffix(p.Name, ".normalization.running_var"):
				data[i] = float32(0.5 + 1.5*r.Float64())
			case strings.HasPrefix(p.Name, "classifier."):
				data[i] = float32((2*r.Float64() - 1) / math.Sqrt(float64(spec.Features)))
			default:
				data[i] = float32(0.2 * r.NormFloat64())
			}
		}
		sd[p.Name] = &weights.Tensor{Shape: p.Shape, Data: data}
	}
	return sd
}

// goldenText lists a graph compactly: inputs, initializers with dims, one line per node.
func goldenText(m *onnxpb.ModelProto) string {
	var b strings.Builder
	dims := func(v *onnxpb.ValueInfoProto) string {
		var ds []string
		for _, d := range v.GetType().GetTensorType().GetShape().GetDim() {
			if p := d.GetDimParam(); p != "" {
				ds = append(ds, p)
			} else {
				ds = append(ds, fmt.Sprint(d.GetDimValue()))
			}
		}
		return strings.Join(ds, ",")
	}
	fmt.Fprintf(&b, "ir %d opset %d\n", m.GetIrVersion(), m.OpsetImport[0].GetVersion())
	for _, in := range m.Graph.Input {
		fmt.Fprintf(&b, "input %s [%s]\n", in.GetName(), dims(in))
	}
	for _, t := range m.Graph.Initializer {
		fmt.Fprintf(&b, "init %s %v\n", t.GetName(), t.Dims)
	}
	for _, n := range m.Graph.Node {
		var attrs []string
		for _, a := range n.Attribute {
			switch a.GetType() {
			case onnxpb.AttributeProto_INT:
				attrs = append(attrs, fmt.Sprintf("%s=%d", a.GetName(), a.GetI()))
			case onnxpb.AttributeProto_INTS:
				attrs = append(attrs, fmt.Sprintf("%s=%v", a.GetName(), a.Ints))
			case onnxpb.AttributeProto_FLOAT:
				attrs = append(attrs, fmt.Sprintf("%s=%g", a.GetName(), a.GetF()))
			case onnxpb.AttributeProto_STRING:
				attrs = append(attrs, fmt.Sprintf("%s=%q", a.GetName(), a.S))
			}
		}
		fmt.Fprintf(&b, "%s %s (%s) -> %s %s\n", n.GetOpType(), n.GetName(), strings.Join(n.Input, ", "), strings.Join(n.Output, ", "), strings.Join(attrs, " "))
	}
	for _, out := range m.Graph.Output {
		fmt.Fprintf(&b, "output %s [%s]\n", out.GetName(), dims(out))
	}
	return b.String()
}

// TestExportGolden pins the graph of each architecture family (ops, names, attributes,
// initializer names and shapes); -update rewrites the files after a deliberate change.
func TestExportGolden(t *testing.T) {
	for _, c := range exportCases() {
		for _, fold := range []bool{false, true} {
			name := c.name
			if fold {
				name += "-fold"
			}
			t.Run(name, func(t *testing.T) {
				sd := randomWeights(t, &c.cfg, 1)
				m, err := Export(&c.cfg, c.processor(), sd, ExportOptions{FoldBN: fold, Pooler: true})
				if err != nil {
					t.Fatal(err)
				}
				got := goldenText(m)
				path := filepath.Join("testdata", "export", name+".golden")
				if *updateGolden {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./onnx -run TestExportGolden -update to create it)", err)
				}
				if got != string(want) {
					t.Errorf("graph differs from %s (-update rewrites it):\n%s", path, lineDiff(string(want), got))
				}
			})
		}
	}
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n want %s\n  got %s", i+1, a, b)
		}
	}
	return ""
}

// TestExportOpCounts checks the exported graph against the architecture spec independently
// of the golden files: one Conv per spec convolution, one BN each unless folded, one Add per
// residual block, a Slice+Pad pair per option-A shortcut, the HF tensor names kept.
func TestExportOpCounts(t *testing.T) {
	for _, c := range exportCases() {
		for _, fold := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/fold=%v", c.name, fold), func(t *testing.T) {
				spec, _ := c.cfg.Spec()
				m, err := Export(&c.cfg, c.processor(), randomWeights(t, &c.cfg, 2), ExportOptions{FoldBN: fold})
				if err != nil {
					t.Fatal(err)
				}
				count := map[string]int{}
				for _, n := range m.Graph.Node {
					count[n.GetOpType()]++
				}
				convs := len(spec.Convs())
				adds, pads, relus := 0, 0, 1 // the stem's ReLU
				for _, b := range spec.Blocks {
					relus += len(b.Convs) // every branch conv but the last, and the block's
					if b.Shortcut != arch.ShortcutNone {
						adds++
					}
					if b.Shortcut == arch.ShortcutPad {
						pads++
					}
				}
				bns := convs
				if fold {
					bns = 0
				}
				gemm := 0
				if c.cfg.NumLabels > 0 {
					gemm = 1
				}
				maxpool := 0
				if spec.MaxPool {
					maxpool = 1
				}
				want := map[string]int{"Conv": convs, "BatchNormalization": bns, "Add": adds, "Relu": relus,
					"Pad": pads, "Slice": pads, "MaxPool": maxpool, "GlobalAveragePool": 1, "Flatten": 1, "Gemm": gemm}
				for op, n := range want {
					if count[op] != n {
						t.Errorf("%d %s nodes, want %d", count[op], op, n)
					}
				}
				inits := map[string]bool{}
				for _, in := range m.Graph.Initializer {
					inits[in.GetName()] = true
				}
				for _, p := range spec.Params() {
					hfKept := !fold || strings.HasPrefix(p.Name, "classifier.")
					if inits[p.Name] != hfKept {
						t.Errorf("initializer %s present=%v, want %v", p.Name, inits[p.Name], hfKept)
					}
				}
			})
		}
	}
}

// TestExportFold checks the folded tensors against the formula evaluated independently in
// float64 from the raw tensors, and that the output is rounded once (bit-equal).
func TestExportFold(t *testing.T) {
	c := exportCases()[0]
	sd := randomWeights(t, &c.cfg, 3)
	m, err := Export(&c.cfg, c.processor(), sd, ExportOptions{FoldBN: true})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*onnxpb.TensorProto{}
	for _, in := range m.Graph.Initializer {
		byName[in.GetName()] = in
	}
	spec, _ := c.cfg.Spec()
	for _, cv := range spec.Convs() {
		w, bias := rawFloats(t, byName[cv.Name+".folded.weight"]), rawFloats(t, byName[cv.Name+".folded.bias"])
		raw := sd[cv.Name+".convolution.weight"].Data
		g, be := sd[cv.Name+".normalization.weight"].Data, sd[cv.Name+".normalization.bias"].Data
		mu, v := sd[cv.Name+".normalization.running_mean"].Data, sd[cv.Name+".normalization.running_var"].Data
		per := len(raw) / cv.Out
		for o := 0; o < cv.Out; o++ {
			inv := 1 / math.Sqrt(float64(v[o])+1e-5)
			if want := float32(float64(be[o]) - float64(mu[o])*float64(g[o])*inv); bias[o] != want {
				t.Fatalf("%s bias[%d] = %v, want %v", cv.Name, o, bias[o], want)
			}
			for i := o * per; i < (o+1)*per; i++ {
				want := float32(float64(raw[i]) * float64(g[o]) * inv)
				if d := math.Abs(float64(w[i] - want)); d > 1e-7*math.Abs(float64(want)) {
					t.Fatalf("%s weight[%d] = %v, want %v", cv.Name, i, w[i], want)
				}
			}
		}
	}
}

func rawFloats(t *testing.T, tp *onnxpb.TensorProto) []float32 {
	t.Helper()
	if tp == nil {
		t.Fatal("missing initializer")
	}
	out := make([]float32, len(tp.RawData)/4)
	for i := range out {
		b := tp.RawData[4*i:]
		out[i] = math.Float32frombits(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
	}
	return out
}

// TestExportErrors: bad options and bad weights are refused with an error naming them.
func TestExportErrors(t *testing.T) {
	c := exportCases()[3]
	good := func() weights.StateDict { return randomWeights(t, &c.cfg, 4) }
	nan := good()
	nan["resnet.encoder.stages.1.layers.0.layer.0.convolution.weight"].Data[3] = float32(math.NaN())
	short := good()
	delete(short, "resnet.embedder.embedder.normalization.running_var")
	negVar := good()
	negVar["resnet.embedder.embedder.normalization.running_var"].Data[1] = -1
	cases := []struct {
		name string
		sd   weights.StateDict
		opt  ExportOptions
		want string
	}{
		{"opset 12", good(), ExportOptions{Opset: 12}, "opset 12 is not supported"},
		{"opset 18", good(), ExportOptions{Opset: 18}, "opset 18 is not supported"},
		{"NaN weight", nan, ExportOptions{}, "stages.1.layers.0.layer.0.convolution.weight"},
		{"missing tensor", short, ExportOptions{}, "running_var"},
		{"negative variance folded", negVar, ExportOptions{FoldBN: true}, "running_var[1]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Export(&c.cfg, c.processor(), tc.sd, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// TestWriteFileRoundTrip: the written bytes parse back into an equal model, and a model that
// fails Check leaves no file behind.
func TestWriteFileRoundTrip(t *testing.T) {
	c := exportCases()[0]
	m, err := Export(&c.cfg, c.processor(), randomWeights(t, &c.cfg, 5), ExportOptions{DynamicBatch: true})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.onnx")
	if err := WriteFile(path, m); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back onnxpb.ModelProto
	if err := proto.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&back, m) {
		t.Fatal("model read back differs from the one written")
	}
	meta := map[string]string{}
	for _, kv := range back.MetadataProps {
		meta[kv.GetKey()] = kv.GetValue()
	}
	cfg, err := arch.ParseConfig([]byte(meta[MetaConfig]))
	if err != nil || cfg.NumLabels != c.cfg.NumLabels || cfg.LayerType != c.cfg.LayerType {
		t.Fatalf("metadata config %+v, %v", cfg, err)
	}
	if _, err := imageproc.ParseProcessorConfig([]byte(meta[MetaPreprocessor])); err != nil {
		t.Fatalf("metadata preprocessor_config: %v", err)
	}
	if meta[MetaID2Label] != `{"0":"LABEL_0","1":"LABEL_1","2":"LABEL_2","3":"LABEL_3","4":"LABEL_4"}` {
		t.Fatalf("id2label metadata %s", meta[MetaID2Label])
	}
	bad := proto.Clone(m).(*onnxpb.ModelProto)
	bad.IrVersion = nil
	badPath := filepath.Join(t.TempDir(), "bad.onnx")
	if err := WriteFile(badPath, bad); err == nil || !strings.Contains(err.Error(), "ir_version") {
		t.Fatalf("WriteFile of a broken model: %v", err)
	}
	if _, err := os.Stat(badPath); !os.IsNotExist(err) {
		t.Fatalf("a file was left at %s: %v", badPath, err)
	}
}

// goRun is our own forward pass, the value ONNX Runtime must reproduce.
func goRun(t *testing.T, cfg *arch.Config, sd weights.StateDict, x *tensor.Tensor) *model.Output {
	t.Helper()
	m, err := model.New(cfg, sd)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Run(x, false)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
