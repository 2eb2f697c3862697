package arch

import "fmt"

// Conv is one convolution followed by batch normalisation, named by its HF prefix
// (the weight is Name+".convolution.weight", the BN Name+".normalization.*").
type Conv struct {
	Name    string
	In, Out int
	Kernel  int
	Stride  int
	Pad     int
	ReLU    bool // ReLU after BN (for the last conv of a block, the ReLU follows the residual add)
}

// ShortcutKind says what a block adds to its branch.
type ShortcutKind int

const (
	ShortcutNone     ShortcutKind = iota // plain networks: no addition at all
	ShortcutIdentity                     // F(x) + x
	ShortcutProject                      // F(x) + BN(W_s x), option B
	ShortcutPad                          // F(x) + zero-padded x[:, :, ::s, ::s], option A
)

func (k ShortcutKind) String() string {
	return [...]string{"none", "identity", "projection", "zero-pad"}[k]
}

// Block is one residual (or plain) layer of a stage.
type Block struct {
	Name     string // resnet.encoder.stages.S.layers.L
	Stage    int
	In, Out  int
	Stride   int
	Convs    []Conv // the residual branch F
	Shortcut ShortcutKind
	Proj     *Conv // for ShortcutProject
}

// Spec is the full layer list of a network built from a Config.
type Spec struct {
	Config  Config
	Stem    Conv
	MaxPool bool // 3×3/2 pad 1 after the stem
	Blocks  []Block
	// Features is the width of the pooled embedding (hidden_sizes[-1]).
	Features int
}

// Param is one learnable (or running-statistics) tensor a checkpoint must provide.
type Param struct {
	Name  string
	Shape []int
	// Trainable is false for BN running statistics.
	Trainable bool
}

// Classifier names HF's head (Sequential(Flatten, Linear)).
const (
	ClassifierWeight = "classifier.1.weight"
	ClassifierBias   = "classifier.1.bias"
)

// Spec expands the configuration into layers, following transformers' modeling_resnet.py
// (and He et al. for the CIFAR stem and option A).
func (c *Config) Spec() (Spec, error) {
	if err := c.Validate(); err != nil {
		return Spec{}, err
	}
	s := Spec{Config: *c, Features: c.HiddenSizes[len(c.HiddenSizes)-1]}
	if c.Stem == StemCIFAR {
		s.Stem = Conv{Name: "resnet.embedder.embedder", In: c.NumChannels, Out: c.EmbeddingSize, Kernel: 3, Stride: 1, Pad: 1, ReLU: true}
	} else {
		s.Stem = Conv{Name: "resnet.embedder.embedder", In: c.NumChannels, Out: c.EmbeddingSize, Kernel: 7, Stride: 2, Pad: 3, ReLU: true}
		s.MaxPool = true
	}
	in := c.EmbeddingSize
	for si, depth := range c.Depths {
		out := c.HiddenSizes[si]
		stride := 2
		if si == 0 && !c.DownsampleInFirstStage {
			stride = 1
		}
		for li := 0; li < depth; li++ {
			b := Block{Name: fmt.Sprintf("resnet.encoder.stages.%d.layers.%d", si, li), Stage: si, In: in, Out: out, Stride: stride}
			b.Convs = c.branch(b)
			switch {
			case c.Plain:
				b.Shortcut = ShortcutNone
			case in == out && stride == 1:
				b.Shortcut = ShortcutIdentity
			case c.ShortcutType == ShortcutZeroPad:
				b.Shortcut = ShortcutPad
			default:
				b.Shortcut = ShortcutProject
				b.Proj = &Conv{Name: b.Name + ".shortcut", In: in, Out: out, Kernel: 1, Stride: stride}
			}
			s.Blocks = append(s.Blocks, b)
			in, stride = out, 1
		}
	}
	return s, nil
}

// branch lists the convolutions of F for a block.
func (c *Config) branch(b Block) []Conv {
	name := func(k int) string { return fmt.Sprintf("%s.layer.%d", b.Name, k) }
	if c.LayerType == Basic {
		return []Conv{
			{Name: name(0), In: b.In, Out: b.Out, Kernel: 3, Stride: b.Stride, Pad: 1, ReLU: true},
			{Name: name(1), In: b.Out, Out: b.Out, Kernel: 3, Stride: 1, Pad: 1},
		}
	}
	mid := b.Out / 4
	s1, s3 := 1, b.Stride // v1.5: stride on the 3×3
	if c.DownsampleInBottleneck {
		s1, s3 = b.Stride, 1 // v1: stride on the first 1×1
	}
	return []Conv{
		{Name: name(0), In: b.In, Out: mid, Kernel: 1, Stride: s1, ReLU: true},
		{Name: name(1), In: mid, Out: mid, Kernel: 3, Stride: s3, Pad: 1, ReLU: true},
		{Name: name(2), In: mid, Out: b.Out, Kernel: 1, Stride: 1},
	}
}

// Convs lists every convolution in forward order (stem, then per block the shortcut and branch).
func (s *Spec) Convs() []Conv {
	out := []Conv{s.Stem}
	for _, b := range s.Blocks {
		if b.Proj != nil {
			out = append(out, *b.Proj)
		}
		out = append(out, b.Convs...)
	}
	return out
}

// Params lists the tensors a checkpoint must hold, with HF names, in registration order.
// num_batches_tracked is not listed: loaders accept and ignore it.
func (s *Spec) Params() []Param {
	var ps []Param
	for _, cv := range s.Convs() {
		ps = append(ps, Param{cv.Name + ".convolution.weight", []int{cv.Out, cv.In, cv.Kernel, cv.Kernel}, true})
		for _, bn := range []string{"weight", "bias", "running_mean", "running_var"} {
			ps = append(ps, Param{cv.Name + ".normalization." + bn, []int{cv.Out}, bn == "weight" || bn == "bias"})
		}
	}
	if n := s.Config.NumLabels; n > 0 {
		ps = append(ps, Param{ClassifierWeight, []int{n, s.Features}, true}, Param{ClassifierBias, []int{n}, true})
	}
	return ps
}

// NumParams counts trainable parameters, as PyTorch's sum(p.numel() for p in parameters()).
func (s *Spec) NumParams() int64 {
	var n int64
	for _, p := range s.Params() {
		if p.Trainable {
			k := int64(1)
			for _, d := range p.Shape {
				k *= int64(d)
			}
			n += k
		}
	}
	return n
}

// convOut is PyTorch's output size for a convolution or pool.
func convOut(n, k, stride, pad int) int { return (n+2*pad-k)/stride + 1 }

// StageShape is the [C, H, W] of an activation named as in HF's hidden_states.
type StageShape struct {
	Name    string
	C, H, W int
}

// Shapes returns the shapes of the stem output (after pooling) and of each stage's output
// for an input of h×w pixels: HF's hidden_states.
func (s *Spec) Shapes(h, w int) []StageShape {
	h, w = convOut(h, s.Stem.Kernel, s.Stem.Stride, s.Stem.Pad), convOut(w, s.Stem.Kernel, s.Stem.Stride, s.Stem.Pad)
	if s.MaxPool {
		h, w = convOut(h, 3, 2, 1), convOut(w, 3, 2, 1)
	}
	out := []StageShape{{"stem", s.Stem.Out, h, w}}
	for _, b := range s.Blocks {
		h, w = convOut(h, 1, b.Stride, 0), convOut(w, 1, b.Stride, 0)
		if b.Stage+1 == len(out) {
			out = append(out, StageShape{fmt.Sprintf("stage%d", b.Stage+1), b.Out, h, w})
		}
	}
	return out
}

// MACs counts multiply-accumulates of convolutions and the classifier for an h×w input, the
// figure torchvision publishes as "GFLOPS".
func (s *Spec) MACs(h, w int) int64 {
	var total int64
	conv := func(cv Conv, h, w int) (int, int) {
		oh, ow := convOut(h, cv.Kernel, cv.Stride, cv.Pad), convOut(w, cv.Kernel, cv.Stride, cv.Pad)
		total += int64(oh*ow) * int64(cv.Out) * int64(cv.In*cv.Kernel*cv.Kernel)
		return oh, ow
	}
	h, w = conv(s.Stem, h, w)
	if s.MaxPool {
		h, w = convOut(h, 3, 2, 1), convOut(w, 3, 2, 1)
	}
	for _, b := range s.Blocks {
		if b.Proj != nil {
			conv(*b.Proj, h, w)
		}
		bh, bw := h, w
		for _, cv := range b.Convs {
			bh, bw = conv(cv, bh, bw)
		}
		h, w = bh, bw
	}
	total += int64(s.Config.NumLabels) * int64(s.Features)
	return total
}

// NominalSize is the input side the architecture is trained at: 224 for the ImageNet stem,
// 32 for the CIFAR stem. Models plan their kernels for it at load time; other sizes still work.
func (s *Spec) NominalSize() int {
	if s.Config.Stem == StemCIFAR {
		return 32
	}
	return 224
}
