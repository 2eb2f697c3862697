package imageproc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// processorKind says which transformers class a config selects.
type processorKind int

const (
	kindConvNext processorKind = iota
	kindViT
)

// classKinds are the image_processor_type / feature_extractor_type values we
// reproduce. A missing type means ConvNext, which is what transformers' auto
// class picks for model_type "resnet".
var classKinds = map[string]processorKind{
	"ConvNextImageProcessor":     kindConvNext,
	"ConvNextImageProcessorFast": kindConvNext,
	"ConvNextImageProcessorPil":  kindConvNext,
	"ConvNextFeatureExtractor":   kindConvNext,
	"ViTImageProcessor":          kindViT,
	"ViTImageProcessorFast":      kindViT,
	"ViTImageProcessorPil":       kindViT,
	"ViTFeatureExtractor":        kindViT,
}

// rawConfig holds the keys we read; a nil field is a missing key or JSON
// null, both of which mean the class default in transformers.
type rawConfig struct {
	ImageProcessorType   *string         `json:"image_processor_type"`
	FeatureExtractorType *string         `json:"feature_extractor_type"`
	DoResize             *bool           `json:"do_resize"`
	Size                 json.RawMessage `json:"size"`
	CropPct              *float64        `json:"crop_pct"`
	Resample             *float64        `json:"resample"`
	DoRescale            *bool           `json:"do_rescale"`
	RescaleFactor        *float64        `json:"rescale_factor"`
	DoNormalize          *bool           `json:"do_normalize"`
	ImageMean            json.RawMessage `json:"image_mean"`
	ImageStd             json.RawMessage `json:"image_std"`
}

// ParseProcessorConfig reads a preprocessor_config.json in either the old form
// (feature_extractor_type, "size": 224) or the new one (image_processor_type,
// "size": {"shortest_edge": 224} or {"height": H, "width": W}). Missing keys
// take the class defaults of ConvNextImageProcessor (shortest_edge 384,
// crop_pct 224/256, BILINEAR, mean/std 0.5) or ViTImageProcessor (224×224,
// BILINEAR, mean/std 0.5); a size given as height/width always means warp to
// that size with no crop. Unknown keys are ignored; an unknown processor class
// is an error, since applying another class's rules would be silently wrong.
func ParseProcessorConfig(data []byte) (*Processor, error) {
	var raw rawConfig
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("preprocessor config: %w", err)
	}
	typ := ""
	if raw.ImageProcessorType != nil {
		typ = *raw.ImageProcessorType
	} else if raw.FeatureExtractorType != nil {
		typ = *raw.FeatureExtractorType
	}
	kind := kindConvNext
	if typ != "" {
		k, ok := classKinds[typ]
		if !ok {
			return nil, fmt.Errorf("preprocessor config: image processor class %q is not supported (supported: %s)", typ, strings.Join(supportedClasses(), ", "))
		}
		kind = k
	}

	p := &Processor{
		DoResize: true, Resample: Bilinear,
		DoRescale: true, RescaleFactor: 1.0 / 255, DoNormalize: true,
		Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.5, 0.5},
	}
	if kind == kindConvNext {
		p.ShortestEdge, p.CropPct = 384, 224.0/256
	} else {
		p.Height, p.Width = 224, 224
	}
	if err := parseSize(raw.Size, kind, p); err != nil {
		return nil, err
	}
	if raw.DoResize != nil {
		p.DoResize = *raw.DoResize
	}
	if raw.CropPct != nil {
		p.CropPct = *raw.CropPct
	}
	if raw.Resample != nil {
		r := *raw.Resample
		if r != math.Trunc(r) || !Filter(r).Valid() {
			return nil, fmt.Errorf("preprocessor config: resample %v is not a PIL filter number (0..5)", r)
		}
		p.Resample = Filter(r)
	}
	if raw.DoRescale != nil {
		p.DoRescale = *raw.DoRescale
	}
	if raw.RescaleFactor != nil {
		p.RescaleFactor = *raw.RescaleFactor
	}
	if raw.DoNormalize != nil {
		p.DoNormalize = *raw.DoNormalize
	}
	var err error
	if p.Mean, err = parseTriple("image_mean", raw.ImageMean, p.Mean); err != nil {
		return nil, err
	}
	if p.Std, err = parseTriple("image_std", raw.ImageStd, p.Std); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("preprocessor config: %w", err)
	}
	return p, nil
}

func supportedClasses() []string {
	var s []string
	for k := range classKinds {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// parseSize applies transformers' get_size_dict: an int is the shortest edge
// for ConvNext (default_to_square=False) and a square for ViT; a [h, w] list
// is height/width.
func parseSize(msg json.RawMessage, kind processorKind, p *Processor) error {
	if len(msg) == 0 || string(msg) == "null" {
		return nil
	}
	var n int
	if err := json.Unmarshal(msg, &n); err == nil {
		if kind == kindConvNext {
			p.ShortestEdge, p.Height, p.Width = n, 0, 0
		} else {
			p.ShortestEdge, p.Height, p.Width = 0, n, n
		}
		return checkEdges(p)
	}
	var hw []int
	if err := json.Unmarshal(msg, &hw); err == nil {
		if len(hw) != 2 {
			return fmt.Errorf("preprocessor config: size list %s must be [height, width]", msg)
		}
		p.ShortestEdge, p.Height, p.Width = 0, hw[0], hw[1]
		return checkEdges(p)
	}
	var m map[string]*int
	if err := json.Unmarshal(msg, &m); err != nil {
		return fmt.Errorf("preprocessor config: size %s is not an integer, [height, width] or an object of integers", msg)
	}
	se, hasSE := m["shortest_edge"]
	h, hasH := m["height"]
	w, hasW := m["width"]
	switch {
	case hasH && hasW && h != nil && w != nil:
		p.ShortestEdge, p.Height, p.Width = 0, *h, *w
	case hasSE && se != nil && kind == kindConvNext:
		p.ShortestEdge, p.Height, p.Width = *se, 0, 0
	default:
		return fmt.Errorf("preprocessor config: size %s not supported: want {\"height\", \"width\"} or, for ConvNext, {\"shortest_edge\"}", msg)
	}
	return checkEdges(p)
}

func checkEdges(p *Processor) error {
	if p.ShortestEdge < 0 || p.Height < 0 || p.Width < 0 || (p.ShortestEdge == 0 && (p.Height == 0 || p.Width == 0)) {
		return fmt.Errorf("preprocessor config: size must be positive (shortest_edge %d, height %d, width %d)", p.ShortestEdge, p.Height, p.Width)
	}
	return nil
}

// parseTriple reads image_mean/image_std: three numbers, or one number used
// for every channel (transformers accepts both).
func parseTriple(key string, msg json.RawMessage, def [3]float32) ([3]float32, error) {
	if len(msg) == 0 || string(msg) == "null" {
		return def, nil
	}
	var one float64
	if err := json.Unmarshal(msg, &one); err == nil {
		return [3]float32{float32(one), float32(one), float32(one)}, nil
	}
	var v []float64
	if err := json.Unmarshal(msg, &v); err != nil || len(v) != 3 {
		return def, fmt.Errorf("preprocessor config: %s %s must be a number or a list of 3 numbers (one per RGB channel)", key, msg)
	}
	return [3]float32{float32(v[0]), float32(v[1]), float32(v[2])}, nil
}

// Config returns a preprocessor_config.json for p as transformers writes one
// (indent 2, sorted keys, final newline): ConvNextImageProcessor with
// {"shortest_edge"} size, or ViTImageProcessor with {"height", "width"} for a
// warp, every setting explicit so that transformers and ParseProcessorConfig
// both read back the same processor.
func (p *Processor) Config() []byte {
	type kv struct {
		k string
		v string
	}
	var fields []kv
	add := func(k, v string) { fields = append(fields, kv{k, v}) }
	switch {
	case p.ShortestEdge > 0:
		add("image_processor_type", `"ConvNextImageProcessor"`)
		add("size", fmt.Sprintf("{\n    \"shortest_edge\": %d\n  }", p.ShortestEdge))
		add("crop_pct", jsonFloat(p.CropPct))
	case p.Height > 0 && p.Width > 0:
		add("image_processor_type", `"ViTImageProcessor"`)
		add("size", fmt.Sprintf("{\n    \"height\": %d,\n    \"width\": %d\n  }", p.Height, p.Width))
	default: // no size: only meaningful with do_resize false
		add("image_processor_type", `"ViTImageProcessor"`)
	}
	add("do_resize", strconv.FormatBool(p.DoResize))
	add("resample", strconv.Itoa(int(p.Resample)))
	add("do_rescale", strconv.FormatBool(p.DoRescale))
	add("rescale_factor", jsonFloat(p.RescaleFactor))
	add("do_normalize", strconv.FormatBool(p.DoNormalize))
	add("image_mean", jsonTriple(p.Mean))
	add("image_std", jsonTriple(p.Std))
	sort.Slice(fields, func(i, j int) bool { return fields[i].k < fields[j].k })
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, f := range fields {
		fmt.Fprintf(&b, "  %q: %s", f.k, f.v)
		if i < len(fields)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	return b.Bytes()
}

// MarshalJSON writes the same object as Config.
func (p Processor) MarshalJSON() ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p.Config(), nil
}

// UnmarshalJSON reads a config with ParseProcessorConfig.
func (p *Processor) UnmarshalJSON(data []byte) error {
	q, err := ParseProcessorConfig(data)
	if err != nil {
		return err
	}
	*p = *q
	return nil
}

// jsonFloat prints the shortest decimal that reads back as the same float64.
func jsonFloat(v float64) string {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") { // keep it a float for Python: 1 -> 1.0
		s += ".0"
	}
	return s
}

// jsonTriple prints float32 values by their shortest float32 decimal (0.485,
// not 0.48500001430511475), which Python reads back to the same float32.
func jsonTriple(v [3]float32) string {
	var parts []string
	for _, x := range v {
		s := strconv.FormatFloat(float64(x), 'g', -1, 32)
		if !strings.ContainsAny(s, ".eEn") {
			s += ".0"
		}
		parts = append(parts, "    "+s)
	}
	return "[\n" + strings.Join(parts, ",\n") + "\n  ]"
}
