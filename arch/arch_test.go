package arch

import (
	"strings"
	"testing"
)

// The published figures: torchvision's docs (parameters, "GFLOPS" = GMACs at 224×224) and He et
// al. Table 6 (CIFAR ResNet-20 0.27M, -56 0.85M, -110 1.7M).
func TestPresetFigures(t *testing.T) {
	cases := []struct {
		preset string
		params int64
		gmacs  float64 // at 224×224 (ImageNet) or 32×32 (CIFAR); 0 = not checked
		tol    float64
	}{
		{"resnet-18", 11689512, 1.81, 0.005},
		{"resnet-34", 21797672, 3.66, 0.005},
		{"resnet-50", 25557032, 4.09, 0.005},
		{"resnet-101", 44549160, 7.80, 0.005},
		{"resnet-152", 60192808, 11.51, 0.01},
		{"cifar-resnet20", 269722, 0.0408, 0.001},
		{"cifar-resnet56", 853018, 0, 0},
		{"cifar-resnet110", 1727962, 0, 0},
	}
	for _, c := range cases {
		cfg, err := Preset(c.preset)
		if err != nil {
			t.Fatal(err)
		}
		s, err := cfg.Spec()
		if err != nil {
			t.Fatal(err)
		}
		if got := s.NumParams(); got != c.params {
			t.Errorf("%s: %d parameters, want %d", c.preset, got, c.params)
		}
		size := 224
		if cfg.Stem == StemCIFAR {
			size = 32
		}
		if c.gmacs > 0 {
			g := float64(s.MACs(size, size)) / 1e9
			if g < c.gmacs-c.tol || g > c.gmacs+c.tol {
				t.Errorf("%s: %.4f GMACs, want %.3f±%.3f", c.preset, g, c.gmacs, c.tol)
			}
		}
	}
}

func TestPlainTwinHasSameLayers(t *testing.T) {
	for _, pair := range [][2]string{{"resnet-50", "plain-50"}, {"cifar-resnet20-b", "cifar-plain20"}, {"resnet-18", "plain-18"}} {
		r, _ := Preset(pair[0])
		p, _ := Preset(pair[1])
		rs, _ := r.Spec()
		ps, _ := p.Spec()
		var nproj int
		for i, b := range ps.Blocks {
			if b.Shortcut != ShortcutNone || b.Proj != nil {
				t.Errorf("%s block %d has a shortcut", pair[1], i)
			}
			if len(b.Convs) != len(rs.Blocks[i].Convs) {
				t.Errorf("%s block %d branch differs", pair[1], i)
			}
			if rs.Blocks[i].Proj != nil {
				nproj++
			}
		}
		if len(ps.Blocks) != len(rs.Blocks) || nproj == 0 {
			t.Errorf("%s vs %s: %d vs %d blocks, %d projections", pair[0], pair[1], len(rs.Blocks), len(ps.Blocks), nproj)
		}
	}
}

func TestShapes(t *testing.T) {
	cfg, _ := Preset("resnet-50")
	s, _ := cfg.Spec()
	want := []StageShape{{"stem", 64, 56, 56}, {"stage1", 256, 56, 56}, {"stage2", 512, 28, 28}, {"stage3", 1024, 14, 14}, {"stage4", 2048, 7, 7}}
	got := s.Shapes(224, 224)
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("shape %d = %v, want %v", i, got[i], want[i])
		}
	}
	cfg, _ = Preset("cifar-resnet20")
	s, _ = cfg.Spec()
	got = s.Shapes(32, 32)
	if got[0] != (StageShape{"stem", 16, 32, 32}) || got[3] != (StageShape{"stage3", 64, 8, 8}) {
		t.Errorf("cifar shapes %v", got)
	}
}

func TestStridePlacement(t *testing.T) {
	v15, _ := Preset("resnet-50")
	v1, _ := Preset("resnet-50-v1")
	a, _ := v15.Spec()
	b, _ := v1.Spec()
	blk := 3 // first block of stage 2
	if a.Blocks[blk].Convs[1].Stride != 2 || a.Blocks[blk].Convs[0].Stride != 1 {
		t.Errorf("v1.5 stride not on the 3×3: %+v", a.Blocks[blk].Convs)
	}
	if b.Blocks[blk].Convs[0].Stride != 2 || b.Blocks[blk].Convs[1].Stride != 1 {
		t.Errorf("v1 stride not on the first 1×1: %+v", b.Blocks[blk].Convs)
	}
}

func TestParseConfig(t *testing.T) {
	cases := []struct {
		name, json string
		ok         bool
		check      func(*Config) bool
	}{
		{"defaults", `{}`, true, func(c *Config) bool { return c.LayerType == Bottleneck && c.NumLabels == 2 && len(c.Depths) == 4 }},
		{"resnet18 with labels", `{"layer_type":"basic","depths":[2,2,2,2],"hidden_sizes":[64,128,256,512],"id2label":{"0":"a","1":"b","2":"c"},"unknown_key":5}`, true,
			func(c *Config) bool { return c.NumLabels == 3 && c.Label(2) == "c" && c.LayerType == Basic }},
		{"features only", `{"num_labels":0}`, true, func(c *Config) bool { return c.NumLabels == 0 }},
		{"bad layer type", `{"layer_type":"wide"}`, false, nil},
		{"bad act", `{"hidden_act":"gelu"}`, false, nil},
		{"depth mismatch", `{"depths":[1,2]}`, false, nil},
		{"not resnet", `{"model_type":"vit"}`, false, nil},
		{"bad json", `{"depths":`, false, nil},
		{"bad id2label key", `{"id2label":{"x":"a"}}`, false, nil},
		{"label count mismatch", `{"num_labels":3,"id2label":{"0":"a"}}`, false, nil},
		{"huge width", `{"hidden_sizes":[256,512,1024,4000000]}`, false, nil},
		{"huge head", `{"num_labels":2000000}`, false, nil},
		{"BiT R152x4 size", `{"depths":[3,8,36,3],"hidden_sizes":[1024,2048,4096,8192],"embedding_size":256,"num_labels":21843}`, true, func(c *Config) bool { return c.NumLabels == 21843 }},
	}
	for _, c := range cases {
		cfg, err := ParseConfig([]byte(c.json))
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok=%v", c.name, err, c.ok)
			continue
		}
		if c.ok && !c.check(cfg) {
			t.Errorf("%s: unexpected config %+v", c.name, cfg)
		}
	}
}

// The parameter cap's estimate bounds the true count from above and is close to it, so the
// cap refuses nothing a real ResNet needs.
func TestParamBound(t *testing.T) {
	for _, name := range Presets() {
		c, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		s, err := c.Spec()
		if err != nil {
			t.Fatal(err)
		}
		n, b := float64(s.NumParams()), c.paramBound()
		if b < n || b > 1.3*n {
			t.Errorf("%s: bound %.0f for %.0f parameters", name, b, n)
		}
	}
}

func TestConfigRoundTrip(t *testing.T) {
	for _, name := range Presets() {
		cfg, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		data, err := cfg.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseConfig(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if strings.Contains(string(data), "NumLabels") || strings.Contains(string(data), "ID2Label") {
			t.Errorf("%s: config.json has Go field names: %s", name, data)
		}
		a, _ := cfg.Spec()
		b, _ := back.Spec()
		if a.NumParams() != b.NumParams() || len(a.Blocks) != len(b.Blocks) || back.Plain != cfg.Plain || back.Stem != cfg.Stem || back.ShortcutType != cfg.ShortcutType || back.Label(1) != cfg.Label(1) {
			t.Errorf("%s does not round-trip", name)
		}
	}
}

func TestUnknownPreset(t *testing.T) {
	for _, n := range []string{"resnet-19", "cifar-resnet21", "cifar-plain20-b", "resnet-18-v1", "vgg16", ""} {
		if _, err := Preset(n); err == nil {
			t.Errorf("Preset(%q) accepted", n)
		}
	}
}
