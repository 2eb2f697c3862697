package onnx

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/onnx/onnxpb"
	"github.com/resnet-go/resnet/weights"
)

// Imported is an ONNX ResNet mapped onto our architecture: an HF ResNetConfig and tensors
// under HF names, so the ordinary model builder (and its fast kernels) runs it.
type Imported struct {
	Config *arch.Config
	// Weights hold every tensor model.New needs, under HF names. Convolutions exported with
	// batch norm folded in get an identity BN carrying their bias (see identityVar).
	Weights weights.StateDict
	// Preprocessor is the preprocessor_config JSON from the model's metadata (our exports
	// write it), nil when absent.
	Preprocessor []byte
	// FoldedBN counts convolutions that had no BatchNormalization of their own.
	FoldedBN int
	Opset    int64
	Producer string
}

// Load reads an .onnx file; external data is read only from files inside its folder.
func Load(path string) (*Imported, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	im, err := Import(data, dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return im, nil
}

// Import parses a serialized ModelProto, validates it against the op table and maps it onto
// a ResNet. dir is the folder external data is read from ("" refuses external data).
// Anything that is not a ResNet v1 of the HF kind (or our CIFAR and plain variants) is
// refused with an error naming the node, its op and the offending attribute.
func Import(data []byte, dir string) (*Imported, error) {
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("not an ONNX model: %w", err)
	}
	if len(m.GetFunctions()) > 0 {
		return nil, fmt.Errorf("model-local functions are not supported")
	}
	g, err := newGraph(&m, dir)
	if err != nil {
		return nil, err
	}
	mt, err := g.matchGraph()
	if err != nil {
		return nil, err
	}
	for i, n := range g.nodes {
		if !g.used[i] {
			return nil, g.nodeError(i, "is not part of a recognised ResNet graph")
		}
		if n.GetOpType() == "Dropout" {
			if len(n.GetOutput()) > 1 && n.GetOutput()[1] != "" && (len(g.users[n.GetOutput()[1]]) > 0 || g.isOutput(n.GetOutput()[1])) {
				return nil, g.nodeError(i, "its mask output is used; only inference-mode Dropout (an identity) is supported")
			}
			if t, err := g.intConst(i, 2, "training_mode"); err != nil || (len(t) == 1 && t[0] != 0) {
				return nil, g.nodeError(i, "training_mode must be a constant false")
			}
			if len(n.GetInput()) > 2 && n.GetInput()[2] != "" {
				if v := g.constant(n.GetInput()[2]); v == nil {
					return nil, g.nodeError(i, "training_mode must be a constant false")
				}
			}
		}
	}
	cfg, err := g.config(mt)
	if err != nil {
		return nil, err
	}
	im := &Imported{Opset: g.opset, Producer: m.GetProducerName()}
	meta := map[string]string{}
	for _, kv := range m.GetMetadataProps() {
		meta[kv.GetKey()] = kv.GetValue()
	}
	if s, ok := meta[MetaPreprocessor]; ok {
		im.Preprocessor = []byte(s)
	}
	if err := applyMetadata(cfg, meta); err != nil {
		return nil, err
	}
	spec, err := cfg.Spec()
	if err != nil {
		return nil, err
	}
	if im.Weights, im.FoldedBN, err = g.weights(mt, &spec); err != nil {
		return nil, err
	}
	im.Config = cfg
	return im, nil
}

// config derives the HF ResNetConfig the matched graph implements and checks every block
// against the spec that config expands to (strides, widths, the projection rule,
// downsample_in_bottleneck), naming the first node that disagrees.
func (g *graph) config(mt *match) (*arch.Config, error) {
	stem := mt.stem
	cfg := arch.Default()
	cfg.NumChannels, cfg.EmbeddingSize = stem.w.dims[1], stem.w.dims[0]
	cfg.Stem = arch.StemCIFAR
	if mt.maxPool {
		cfg.Stem = arch.StemImageNet
	}
	if len(g.inDims) == 4 && g.inDims[1] > 0 && int(g.inDims[1]) != cfg.NumChannels {
		return nil, g.nodeError(stem.node, "weight has %d input channels, the graph input %d", cfg.NumChannels, g.inDims[1])
	}
	if len(mt.blocks) == 0 {
		return nil, fmt.Errorf("the graph has no residual blocks after the stem")
	}
	cfg.LayerType = mt.layerType
	cfg.NumLabels, cfg.ID2Label = mt.numLabels, nil
	cfg.HiddenSizes, cfg.Depths = nil, nil
	plain, residual, padded := 0, 0, 0
	bnStrideSet := false
	for bi, b := range mt.blocks {
		stride := 1
		for _, c := range b.convs {
			stride *= c.stride
		}
		out := b.convs[len(b.convs)-1].w.dims[0]
		switch {
		case bi == 0:
			cfg.DownsampleInFirstStage = stride == 2
			cfg.HiddenSizes, cfg.Depths = []int{out}, []int{1}
		case stride != 1:
			cfg.HiddenSizes, cfg.Depths = append(cfg.HiddenSizes, out), append(cfg.Depths, 1)
		default:
			cfg.Depths[len(cfg.Depths)-1]++
		}
		if mt.layerType == arch.Bottleneck && stride != 1 && !bnStrideSet {
			cfg.DownsampleInBottleneck, bnStrideSet = b.convs[0].stride != 1, true
		}
		switch b.shortcut {
		case arch.ShortcutNone:
			plain++
		case arch.ShortcutPad:
			padded++
			residual++
		default:
			residual++
		}
	}
	if plain > 0 && residual > 0 {
		return nil, fmt.Errorf("the graph mixes %d blocks without shortcuts and %d with: neither a ResNet nor a plain network", plain, residual)
	}
	cfg.Plain = plain > 0
	if padded > 0 {
		cfg.ShortcutType = arch.ShortcutZeroPad
	}
	spec, err := cfg.Spec()
	if err != nil {
		return nil, g.nodeError(mt.blocks[0].convs[0].node, "the blocks imply an invalid configuration: %v", err)
	}
	if len(spec.Blocks) != len(mt.blocks) {
		return nil, fmt.Errorf("internal: %d blocks matched, the spec has %d", len(mt.blocks), len(spec.Blocks))
	}
	for bi, b := range mt.blocks {
		sb := spec.Blocks[bi]
		where := fmt.Sprintf("block %d (stage %d)", bi, sb.Stage)
		for ci, c := range b.convs {
			sc := sb.Convs[ci]
			if c.w.dims[0] != sc.Out || c.w.dims[1] != sc.In || c.kernel != sc.Kernel || c.stride != sc.Stride || c.pad != sc.Pad {
				return nil, g.nodeError(c.node, "%s convolution %d is [%d, %d, %d×%d] stride %d pad %d; the ResNet config the graph implies (%s, depths %v, widths %v, downsample_in_bottleneck %v) has [%d, %d, %d×%d] stride %d pad %d",
					where, ci, c.w.dims[0], c.w.dims[1], c.kernel, c.kernel, c.stride, c.pad, cfg.LayerType, cfg.Depths, cfg.HiddenSizes, cfg.DownsampleInBottleneck, sc.Out, sc.In, sc.Kernel, sc.Kernel, sc.Stride, sc.Pad)
			}
		}
		if b.shortcut != sb.Shortcut {
			return nil, g.nodeError(b.add, "%s has a %s shortcut; HF's rule (a projection when the width or the stride changes, else identity; option A pads instead) wants %s", where, b.shortcut, sb.Shortcut)
		}
		switch b.shortcut {
		case arch.ShortcutProject:
			p, sp := b.proj, sb.Proj
			if p.w.dims[0] != sp.Out || p.w.dims[1] != sp.In || p.kernel != 1 || p.stride != sp.Stride || p.pad != 0 {
				return nil, g.nodeError(p.node, "%s projection is [%d, %d, %d×%d] stride %d pad %d, want [%d, %d, 1×1] stride %d pad 0", where, p.w.dims[0], p.w.dims[1], p.kernel, p.kernel, p.stride, p.pad, sp.Out, sp.In, sp.Stride)
			}
		case arch.ShortcutPad:
			front := (sb.Out - sb.In) / 2
			if b.padStride != sb.Stride || b.padFront != front || b.padBack != sb.Out-sb.In-front {
				return nil, g.nodeError(b.add, "%s zero-pad shortcut subsamples by %d and pads %d+%d channels, want %d and %d+%d", where, b.padStride, b.padFront, b.padBack, sb.Stride, front, sb.Out-sb.In-front)
			}
		}
	}
	return &cfg, nil
}

// applyMetadata takes labels (and out_features) from our exporter's metadata. The config
// stored there replaces the derived one only when it expands to the same layers, so a
// stale or foreign config cannot change what the graph computes.
func applyMetadata(cfg *arch.Config, meta map[string]string) error {
	if s, ok := meta[MetaConfig]; ok {
		mc, err := arch.ParseConfig([]byte(s))
		if err != nil {
			return fmt.Errorf("metadata %q: %w", MetaConfig, err)
		}
		if sameLayers(cfg, mc) && mc.NumLabels == cfg.NumLabels {
			*cfg = *mc
		}
	}
	s, ok := meta[MetaID2Label]
	if !ok {
		return nil
	}
	var raw map[string]string
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return fmt.Errorf("metadata %q: %w", MetaID2Label, err)
	}
	if len(raw) == 0 && cfg.NumLabels == 0 {
		return nil
	}
	if len(raw) != cfg.NumLabels {
		return fmt.Errorf("metadata %q has %d labels, the classifier %d", MetaID2Label, len(raw), cfg.NumLabels)
	}
	labels := make([]string, cfg.NumLabels)
	for k, v := range raw {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || i >= cfg.NumLabels {
			return fmt.Errorf("metadata %q: key %q is not a class index below %d", MetaID2Label, k, cfg.NumLabels)
		}
		labels[i] = v
	}
	cfg.SetLabels(labels)
	return nil
}

// sameLayers reports whether two configs expand to the same network.
func sameLayers(a, b *arch.Config) bool {
	sa, err1 := a.Spec()
	sb, err2 := b.Spec()
	if err1 != nil || err2 != nil || sa.MaxPool != sb.MaxPool || len(sa.Blocks) != len(sb.Blocks) {
		return false
	}
	ca, cb := sa.Convs(), sb.Convs()
	if len(ca) != len(cb) {
		return false
	}
	for i := range ca {
		if ca[i] != cb[i] {
			return false
		}
	}
	for i := range sa.Blocks {
		if sa.Blocks[i].Shortcut != sb.Blocks[i].Shortcut {
			return false
		}
	}
	return true
}

// identityVar is the running variance of the batch norm written for a convolution whose BN
// was folded away: γ = 1, μ = 0, β = the conv's bias, σ² = identityVar. model.New folds BN
// with scale γ/√(σ²+ε) in float64 and ε = 1e-5; identityVar is the float32 that brings
// σ²+ε closest to 1, which leaves |scale−1| ≤ 1.5e-8, under half a float32 ulp (2^-25
// relative), so every weight rounds back to itself and the bias is β exactly: the imported
// model computes with the file's own numbers, bit for bit (TestIdentityBNIsExact).
var identityVar = func() float32 {
	best := float32(1 - bnEps)
	for _, v := range []float32{math.Nextafter32(best, 0), best, math.Nextafter32(best, 2)} {
		if math.Abs(float64(v)+bnEps-1) < math.Abs(float64(best)+bnEps-1) {
			best = v
		}
	}
	return best
}()

// weights writes the matched tensors under the spec's HF names.
func (g *graph) weights(mt *match, spec *arch.Spec) (weights.StateDict, int, error) {
	sd := weights.StateDict{}
	folded := 0
	put := func(name string, dims []int, data []float32) {
		sd[name] = &weights.Tensor{DType: "F32", Shape: dims, Data: data}
	}
	conv := func(cv arch.Conv, c *convMatch) error {
		o := cv.Out
		put(cv.Name+".convolution.weight", c.w.dims, c.w.f32)
		gamma, beta, mean, vr := make([]float32, o), make([]float32, o), make([]float32, o), make([]float32, o)
		if c.bn < 0 {
			folded++
			for k := range o {
				gamma[k], vr[k] = 1, identityVar
				if c.bias != nil {
					beta[k] = c.bias.f32[k]
				}
			}
		} else {
			copy(gamma, c.gamma.f32)
			copy(beta, c.beta.f32)
			copy(mean, c.mean.f32)
			copy(vr, c.vr.f32)
			// A conv bias before BN (Gluon's v1 convolutions) shifts the mean:
			// BN(Wx + b) = γ(Wx − (μ − b))/√(σ²+ε) + β.
			if c.bias != nil {
				for k := range o {
					mean[k] = float32(float64(mean[k]) - float64(c.bias.f32[k]))
				}
			}
			// Our model folds with ε = 1e-5; another ε moves into the variance.
			if c.eps != float32(bnEps) {
				for k := range o {
					v := float64(vr[k]) + float64(c.eps) - bnEps
					if !(v >= 0) {
						return g.nodeError(c.bn, "epsilon %g: running var[%d] = %g cannot be re-expressed with ε = 1e-5", c.eps, k, vr[k])
					}
					vr[k] = float32(v)
				}
			}
		}
		for k, s := range []string{"weight", "bias", "running_mean", "running_var"} {
			put(cv.Name+".normalization."+s, []int{o}, [][]float32{gamma, beta, mean, vr}[k])
		}
		return nil
	}
	if err := conv(spec.Stem, mt.stem); err != nil {
		return nil, 0, err
	}
	for bi, b := range mt.blocks {
		sb := spec.Blocks[bi]
		for ci, c := range b.convs {
			if err := conv(sb.Convs[ci], c); err != nil {
				return nil, 0, err
			}
		}
		if b.proj != nil {
			if err := conv(*sb.Proj, b.proj); err != nil {
				return nil, 0, err
			}
		}
	}
	if mt.numLabels > 0 {
		put(arch.ClassifierWeight, []int{mt.numLabels, spec.Features}, mt.fcW)
		put(arch.ClassifierBias, []int{mt.numLabels}, mt.fcB)
	}
	return sd, folded, nil
}
