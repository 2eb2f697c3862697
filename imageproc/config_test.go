package imageproc

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readConfig(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "configs", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseProcessorConfigFiles(t *testing.T) {
	old := readConfig(t, "resnet50_old.json")
	if len(old) != 266 {
		t.Errorf("resnet50_old.json is %d bytes; the microsoft/resnet-50 file is 266", len(old))
	}
	tests := []struct {
		file string
		want *Processor
	}{
		{"resnet50_old.json", ImageNetProcessor()},
		{"resnet50_new.json", ImageNetProcessor()},
		{"vit_32.json", CIFARProcessor()},
		{"defaults_only.json", &Processor{
			DoResize: true, ShortestEdge: 384, CropPct: 0.875, Resample: Bilinear,
			DoRescale: true, RescaleFactor: 1.0 / 255, DoNormalize: true,
			Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.5, 0.5},
		}},
	}
	for _, tt := range tests {
		p, err := ParseProcessorConfig(readConfig(t, tt.file))
		if err != nil {
			t.Errorf("%s: %v", tt.file, err)
			continue
		}
		if *p != *tt.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.file, *p, *tt.want)
		}
	}
}

func TestParseProcessorConfigForms(t *testing.T) {
	tests := []struct {
		json  string
		check func(p *Processor) bool
	}{
		{`{}`, func(p *Processor) bool {
			return p.ShortestEdge == 384 && p.Resample == Bilinear && p.CropPct == 224.0/256
		}},
		{`{"size": 256, "crop_pct": null, "image_mean": null}`, func(p *Processor) bool {
			return p.ShortestEdge == 256 && p.CropPct == 0.875 && p.Mean == [3]float32{0.5, 0.5, 0.5}
		}},
		{`{"feature_extractor_type": "ViTFeatureExtractor", "size": 40}`, func(p *Processor) bool { return p.Height == 40 && p.Width == 40 && p.ShortestEdge == 0 }},
		{`{"image_processor_type": "ViTImageProcessor"}`, func(p *Processor) bool { return p.Height == 224 && p.Width == 224 && p.Resample == Bilinear }},
		{`{"size": {"height": 30, "width": 20}}`, func(p *Processor) bool { return p.Height == 30 && p.Width == 20 && p.ShortestEdge == 0 }},
		{`{"size": [30, 20]}`, func(p *Processor) bool { return p.Height == 30 && p.Width == 20 }},
		{`{"image_mean": 0.25, "image_std": [1, 2, 4]}`, func(p *Processor) bool {
			return p.Mean == [3]float32{0.25, 0.25, 0.25} && p.Std == [3]float32{1, 2, 4}
		}},
		{`{"resample": 0, "do_rescale": false, "do_normalize": false, "do_resize": false, "unknown_key": [1, {"x": 2}]}`, func(p *Processor) bool {
			return p.Resample == Nearest && !p.DoRescale && !p.DoNormalize && !p.DoResize
		}},
		{`{"image_processor_type": "ConvNextImageProcessorFast", "rescale_factor": 0.5}`, func(p *Processor) bool { return p.RescaleFactor == 0.5 }},
	}
	for _, tt := range tests {
		p, err := ParseProcessorConfig([]byte(tt.json))
		if err != nil {
			t.Errorf("%s: %v", tt.json, err)
			continue
		}
		if !tt.check(p) {
			t.Errorf("%s: parsed as %+v", tt.json, *p)
		}
	}
}

func TestParseProcessorConfigErrors(t *testing.T) {
	tests := []struct{ json, want string }{
		{`not json`, "preprocessor config"},
		{`{"size": 224} trailing`, "preprocessor config"},
		{`{"image_processor_type": "BitImageProcessor"}`, `"BitImageProcessor" is not supported`},
		{`{"resample": 7}`, "resample 7"},
		{`{"resample": 2.5}`, "resample 2.5"},
		{`{"size": {"longest_edge": 100}}`, "size"},
		{`{"image_processor_type": "ViTImageProcessor", "size": {"shortest_edge": 100}}`, "size"},
		{`{"size": 0}`, "positive"},
		{`{"size": {"height": 10, "width": -1}}`, "positive"},
		{`{"size": [1, 2, 3]}`, "[height, width]"},
		{`{"size": "big"}`, "size"},
		{`{"size": 224, "crop_pct": 0}`, "crop_pct"},
		{`{"size": 224, "crop_pct": -1}`, "crop_pct"},
		{`{"size": 224, "crop_pct": 1e-9}`, "crop_pct"},
		{`{"size": 100000}`, "maximum"},
		{`{"image_mean": [0.5, 0.5]}`, "image_mean"},
		{`{"image_std": [0.5, 0, 0.5]}`, "std must be non-zero"},
		{`{"do_resize": "yes"}`, "preprocessor config"},
	}
	for _, tt := range tests {
		p, err := ParseProcessorConfig([]byte(tt.json))
		if err == nil {
			t.Errorf("%s: accepted as %+v", tt.json, *p)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %q does not mention %q", tt.json, err, tt.want)
		}
	}
}

// Config output parses back to the same Processor, is valid JSON in
// transformers' layout, and uses the class and size form the brief asks for.
func TestProcessorConfigRoundTrip(t *testing.T) {
	odd := &Processor{
		DoResize: true, ShortestEdge: 160, CropPct: 0.95, Resample: Lanczos,
		DoRescale: true, RescaleFactor: 0.1, DoNormalize: false,
		Mean: [3]float32{0.1, 0.2, 0.3}, Std: [3]float32{1, 1e-3, 7},
	}
	for _, p := range []*Processor{ImageNetProcessor(), CIFARProcessor(), odd,
		{DoResize: true, ShortestEdge: 448, CropPct: 1, Resample: Box, Mean: ImageNetMean, Std: ImageNetStd},
	} {
		data := p.Config()
		var generic map[string]any
		if err := json.Unmarshal(data, &generic); err != nil {
			t.Fatalf("Config is not JSON: %v\n%s", err, data)
		}
		q, err := ParseProcessorConfig(data)
		if err != nil {
			t.Fatalf("%v\n%s", err, data)
		}
		if *q != *p {
			t.Errorf("round trip:\n got %+v\nwant %+v\n%s", *q, *p, data)
		}
		m, err := json.Marshal(p)
		if err != nil || string(m) == "" {
			t.Fatalf("MarshalJSON: %v", err)
		}
		var r Processor
		if err := json.Unmarshal(m, &r); err != nil || r != *p {
			t.Errorf("json.Marshal/Unmarshal round trip: %v, %+v", err, r)
		}
		if !strings.HasPrefix(string(data), "{\n  \"") || !strings.HasSuffix(string(data), "}\n") {
			t.Errorf("not in transformers' indent-2 layout:\n%s", data)
		}
	}
	im := string(ImageNetProcessor().Config())
	for _, want := range []string{`"image_processor_type": "ConvNextImageProcessor"`, `"shortest_edge": 224`, `"crop_pct": 0.875`,
		`"resample": 3`, "0.485", "0.225", `"rescale_factor": 0.00392156862745098`} {
		if !strings.Contains(im, want) {
			t.Errorf("ImageNet config lacks %s:\n%s", want, im)
		}
	}
	cf := string(CIFARProcessor().Config())
	for _, want := range []string{`"image_processor_type": "ViTImageProcessor"`, `"height": 32`, `"width": 32`, `"resample": 2`} {
		if !strings.Contains(cf, want) {
			t.Errorf("CIFAR config lacks %s:\n%s", want, cf)
		}
	}
	if _, err := json.Marshal(&Processor{DoResize: true}); err == nil {
		t.Error("MarshalJSON of an invalid Processor succeeded")
	}
}

func TestParseFilter(t *testing.T) {
	for s, want := range map[string]Filter{"BICUBIC": Bicubic, "nearest": Nearest, " Lanczos ": Lanczos, "antialias": Lanczos, "hamming": Hamming, "box": Box, "bilinear": Bilinear} {
		if got, err := ParseFilter(s); err != nil || got != want {
			t.Errorf("ParseFilter(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseFilter("cubic-ish"); err == nil {
		t.Error("bad filter name accepted")
	}
	if Bicubic.String() != "bicubic" || Filter(8).String() != "Filter(8)" {
		t.Error("Filter.String")
	}
}
