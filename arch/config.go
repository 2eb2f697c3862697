// Package arch describes ResNet architectures: the Hugging Face ResNetConfig fields, our
// extensions for the CIFAR networks and plain twins, the named presets, and the layer-by-layer
// specification (names, shapes, strides) that the model builder and `resnet info` share.
package arch

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Layer types, as in HF's ResNetConfig.layer_types.
const (
	Basic      = "basic"
	Bottleneck = "bottleneck"
)

// Stem kinds. The ImageNet stem is HF's embedder (7×7/2 conv, BN, ReLU, 3×3/2 max-pool); the
// CIFAR stem of He et al. §4.2 is a 3×3/1 conv, BN, ReLU and no pool.
const (
	StemImageNet = "imagenet"
	StemCIFAR    = "cifar"
)

// Shortcut options of He et al. §3.3 for blocks whose shape changes.
const (
	ShortcutProjection = "B" // 1×1 convolution + BN (HF's ResNetShortCut)
	ShortcutZeroPad    = "A" // stride-2 subsample and zero-padded channels, no parameters
)

// Config mirrors transformers' ResNetConfig (unknown keys are ignored, missing keys take HF's
// defaults) plus three keys of ours that transformers ignores: stem, shortcut_type and plain.
type Config struct {
	NumChannels            int      `json:"num_channels"`
	EmbeddingSize          int      `json:"embedding_size"`
	HiddenSizes            []int    `json:"hidden_sizes"`
	Depths                 []int    `json:"depths"`
	LayerType              string   `json:"layer_type"`
	HiddenAct              string   `json:"hidden_act"`
	DownsampleInFirstStage bool     `json:"downsample_in_first_stage"`
	DownsampleInBottleneck bool     `json:"downsample_in_bottleneck"`
	OutFeatures            []string `json:"out_features,omitempty"`

	// NumLabels is the classifier width; 0 makes the model a feature extractor whose
	// "logits" are the pooled features, as in HF.
	NumLabels int `json:"-"`
	// ID2Label names the classes; missing entries print as LABEL_i.
	ID2Label map[int]string `json:"-"`

	Stem         string `json:"stem,omitempty"`
	ShortcutType string `json:"shortcut_type,omitempty"`
	Plain        bool   `json:"plain,omitempty"`

	// ProblemType is transformers' problem_type: "" (unset), "single_label_classification",
	// "multi_label_classification" or "regression". It decides how logits become scores
	// (Config.Sigmoid), not the network.
	ProblemType string `json:"problem_type,omitempty"`
}

// transformers' problem types (PretrainedConfig.problem_type).
const (
	SingleLabelClassification = "single_label_classification"
	MultiLabelClassification  = "multi_label_classification"
	Regression                = "regression"
)

// Sigmoid says whether a class's score is the sigmoid of its logit rather than the softmax
// of the row: for multi-label classifiers and single-logit heads, as transformers'
// image-classification pipeline decides its default function_to_apply.
func (c *Config) Sigmoid() bool {
	return c.ProblemType == MultiLabelClassification || c.NumLabels == 1
}

// Default returns HF's ResNetConfig defaults (a ResNet-50 shape with 2 labels).
func Default() Config {
	return Config{
		NumChannels:   3,
		EmbeddingSize: 64,
		HiddenSizes:   []int{256, 512, 1024, 2048},
		Depths:        []int{3, 4, 6, 3},
		LayerType:     Bottleneck,
		HiddenAct:     "relu",
		NumLabels:     2,
		Stem:          StemImageNet,
		ShortcutType:  ShortcutProjection,
	}
}

// rawConfig is the JSON form: id2label keys are strings and num_labels is optional.
type rawConfig struct {
	ModelType     string            `json:"model_type,omitempty"`
	Architectures []string          `json:"architectures,omitempty"`
	NumLabels     *int              `json:"num_labels,omitempty"`
	ID2Label      map[string]string `json:"id2label,omitempty"`
	Label2ID      map[string]int    `json:"label2id,omitempty"`
}

// ParseConfig reads a config.json. Unknown keys are ignored and missing keys take HF's defaults.
func ParseConfig(data []byte) (*Config, error) {
	c := Default()
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	var raw rawConfig
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	if raw.ModelType != "" && raw.ModelType != "resnet" {
		return nil, fmt.Errorf("config.json: model_type %q is not a ResNet", raw.ModelType)
	}
	switch {
	case raw.ID2Label != nil:
		c.ID2Label = make(map[int]string, len(raw.ID2Label))
		for k, v := range raw.ID2Label {
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 {
				return nil, fmt.Errorf("config.json: id2label key %q is not a class index", k)
			}
			c.ID2Label[i] = v
		}
		c.NumLabels = len(c.ID2Label)
		if raw.NumLabels != nil && *raw.NumLabels != c.NumLabels {
			return nil, fmt.Errorf("config.json: num_labels %d disagrees with %d id2label entries", *raw.NumLabels, c.NumLabels)
		}
		// Keys run 0..n-1 (as the classifier's rows): a 1-based id2label lost its last
		// class and printed class 0 as LABEL_0, with every other name on its own index.
		for i := range c.ID2Label {
			if i >= c.NumLabels {
				return nil, fmt.Errorf("config.json: id2label key %d is out of range for %d labels (keys run from 0 to %d)", i, c.NumLabels, c.NumLabels-1)
			}
		}
	case raw.NumLabels != nil:
		c.NumLabels = *raw.NumLabels
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	return &c, nil
}

// maxStages and maxBlocks bound a config.json's depths, so that a few bytes cannot make
// Spec list billions of layers ("depths":[200000] took 149 MB; FuzzParseConfig replays it from
// testdata/fuzz against its memory bound).
// The deepest published ResNets have 4 stages and 600 blocks (ResNet-1202 for CIFAR).
// maxParams bounds the parameter count the same way for widths and num_labels, which
// the builder allocates in full ("hidden_sizes":[4000000] in 40 bytes would ask for
// terabytes). The largest published ResNet classifiers, BiT-M R152x4, have 0.94 billion.
const (
	maxStages = 16
	maxBlocks = 1024
	maxParams = 2e9
)

// paramBound is an upper bound of the parameter count, in float64 so no width overflows.
func (c *Config) paramBound() float64 {
	prev := float64(c.EmbeddingSize)
	n := float64(c.NumChannels) * prev * 49
	for i, d := range c.Depths {
		h := float64(c.HiddenSizes[i])
		for b := 0; b < d; b++ {
			in, proj := h, 0.0
			if b == 0 {
				in, proj = prev, prev*h+4*h // a projection shortcut at most in the first block
			}
			if c.LayerType == Bottleneck {
				mid := h / 4
				n += in*mid + mid*mid*9 + mid*h + proj + 4*(mid+mid+h)
			} else {
				n += in*h*9 + h*h*9 + proj + 4*(h+h)
			}
		}
		prev = h
	}
	return n + prev*float64(c.NumLabels) + float64(c.NumLabels)
}

// Validate checks what the builder relies on.
func (c *Config) Validate() error {
	if c.Stem == "" {
		c.Stem = StemImageNet
	}
	if c.ShortcutType == "" {
		c.ShortcutType = ShortcutProjection
	}
	switch c.ProblemType {
	case "", SingleLabelClassification, MultiLabelClassification, Regression:
	default:
		return fmt.Errorf("problem_type %q is not %q, %q or %q", c.ProblemType, SingleLabelClassification, MultiLabelClassification, Regression)
	}
	switch {
	case c.LayerType != Basic && c.LayerType != Bottleneck:
		return fmt.Errorf("layer_type %q is not %q or %q", c.LayerType, Basic, Bottleneck)
	case c.HiddenAct != "relu":
		return fmt.Errorf("hidden_act %q is not supported (only relu)", c.HiddenAct)
	case c.NumChannels < 1 || c.EmbeddingSize < 1:
		return fmt.Errorf("num_channels %d and embedding_size %d must be positive", c.NumChannels, c.EmbeddingSize)
	case len(c.HiddenSizes) == 0 || len(c.HiddenSizes) != len(c.Depths):
		return fmt.Errorf("hidden_sizes %v and depths %v must be non-empty and of equal length", c.HiddenSizes, c.Depths)
	case c.NumLabels < 0:
		return fmt.Errorf("num_labels %d is negative", c.NumLabels)
	case c.Stem != StemImageNet && c.Stem != StemCIFAR:
		return fmt.Errorf("stem %q is not %q or %q", c.Stem, StemImageNet, StemCIFAR)
	case c.ShortcutType != ShortcutProjection && c.ShortcutType != ShortcutZeroPad:
		return fmt.Errorf("shortcut_type %q is not %q or %q", c.ShortcutType, ShortcutProjection, ShortcutZeroPad)
	}
	if len(c.Depths) > maxStages {
		return fmt.Errorf("%d stages; at most %d are supported", len(c.Depths), maxStages)
	}
	blocks := 0
	for i, d := range c.Depths {
		if d < 1 || c.HiddenSizes[i] < 1 {
			return fmt.Errorf("stage %d: depth %d and hidden size %d must be positive", i, d, c.HiddenSizes[i])
		}
		if blocks += d; blocks > maxBlocks {
			return fmt.Errorf("depths %v: more than %d blocks in all", c.Depths, maxBlocks)
		}
		if c.LayerType == Bottleneck && c.HiddenSizes[i]%4 != 0 {
			return fmt.Errorf("stage %d: bottleneck hidden size %d is not a multiple of 4", i, c.HiddenSizes[i])
		}
	}
	if p := c.paramBound(); p > maxParams {
		return fmt.Errorf("hidden_sizes %v, embedding_size %d and num_labels %d make about %.3g parameters; at most %.0e are supported", c.HiddenSizes, c.EmbeddingSize, c.NumLabels, p, float64(maxParams))
	}
	return nil
}

// Label returns the name of class i, or LABEL_i as transformers does when none is given.
func (c *Config) Label(i int) string {
	if l, ok := c.ID2Label[i]; ok {
		return l
	}
	return fmt.Sprintf("LABEL_%d", i)
}

// MarshalJSON writes a config.json that transformers loads (for ImageNet-style stems) and
// that ParseConfig reads back unchanged.
func (c Config) MarshalJSON() ([]byte, error) {
	id2label := make(map[string]string, c.NumLabels)
	label2id := make(map[string]int, c.NumLabels)
	for i := 0; i < c.NumLabels; i++ {
		id2label[strconv.Itoa(i)] = c.Label(i)
		label2id[c.Label(i)] = i
	}
	type plain Config // drops this method
	out := struct {
		Architectures []string `json:"architectures"`
		ModelType     string   `json:"model_type"`
		plain
		NumLabels int               `json:"num_labels"`
		ID2Label  map[string]string `json:"id2label"`
		Label2ID  map[string]int    `json:"label2id"`
	}{[]string{"ResNetForImageClassification"}, "resnet", plain(c), c.NumLabels, id2label, label2id}
	if c.NumLabels == 0 {
		out.Architectures = []string{"ResNetModel"}
	}
	return json.MarshalIndent(out, "", "  ")
}

// Labels returns the class names in index order.
func (c *Config) Labels() []string {
	out := make([]string, c.NumLabels)
	for i := range out {
		out[i] = c.Label(i)
	}
	return out
}

// SetLabels replaces the classifier labels (and so num_labels).
func (c *Config) SetLabels(names []string) {
	c.NumLabels = len(names)
	c.ID2Label = make(map[int]string, len(names))
	for i, n := range names {
		c.ID2Label[i] = n
	}
}

// Diff lists the architecture settings (config.json keys) in which have differs from want,
// each as "depths [1 1 1] HAVE, [3 3 3] WANT" with the two names given; the classes
// (num_labels, id2label, problem_type) and out_features are not compared: they leave the
// network's body as it is. An empty list means the same network.
func Diff(have, want *Config, haveName, wantName string) []string {
	var diffs []string
	hv, wv := reflect.ValueOf(*have), reflect.ValueOf(*want)
	for i := 0; i < hv.NumField(); i++ {
		key, _, _ := strings.Cut(hv.Type().Field(i).Tag.Get("json"), ",")
		if key == "-" || key == "" || key == "out_features" || key == "problem_type" {
			continue
		}
		a, b := hv.Field(i).Interface(), wv.Field(i).Interface()
		if !reflect.DeepEqual(a, b) {
			diffs = append(diffs, fmt.Sprintf("%s %v %s, %v %s", key, a, haveName, b, wantName))
		}
	}
	return diffs
}
