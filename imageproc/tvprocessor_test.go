package imageproc

import (
	"image"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// TestTVCoeffsFixtures: the per-axis weights equal torch's float32 weights
// bit for bit (read off by interpolating one-hot rows; a zero weight's sign
// is not observable that way, so zeros compare as values).
func TestTVCoeffsFixtures(t *testing.T) {
	var sets []struct {
		In, Out int
		Filter  Filter
		First   []int
		Bits    [][]uint32
	}
	readTVJSON(t, "coeffs.json", &sets)
	if len(sets) < 10 {
		t.Fatalf("coeffs.json has %d sets", len(sets))
	}
	for _, s := range sets {
		c := tvCoeffsFor(s.In, s.Out, 0, s.Out, s.Filter)
		bad := 0
		for i := range s.Out {
			// The fixture lists first..last non-zero weight; ours may have
			// zero taps at either end (a tap exactly at the kernel's edge).
			for x := range s.In {
				var got, want float32
				if j := x - c.first[i]; j >= 0 && j < c.count[i] {
					got = c.w[i*c.ksize+j]
				}
				if j := x - s.First[i]; j >= 0 && j < len(s.Bits[i]) {
					want = math.Float32frombits(s.Bits[i][j])
				}
				if got != want || (got != 0 && math.Float32bits(got) != math.Float32bits(want)) {
					if bad == 0 {
						t.Errorf("%d->%d %v: output %d input %d: weight %v, want %v", s.In, s.Out, s.Filter, i, x, got, want)
					}
					bad++
				}
			}
		}
		if bad > 1 {
			t.Errorf("%d->%d %v: %d weights differ", s.In, s.Out, s.Filter, bad)
		}
	}
}

// TestTVLUTFixtures: the fused rescale+normalize of transformers 5's
// TorchvisionBackend, every level and channel, bit for bit.
func TestTVLUTFixtures(t *testing.T) {
	var sets []struct {
		Name          string
		DoRescale     bool    `json:"do_rescale"`
		RescaleFactor float64 `json:"rescale_factor"`
		DoNormalize   bool    `json:"do_normalize"`
		Mean, Std     []float64
		Bits          [3][256]uint32
	}
	readTVJSON(t, "norm.json", &sets)
	if len(sets) != 4 {
		t.Fatalf("norm.json has %d settings, want 4", len(sets))
	}
	for _, s := range sets {
		p := &Processor{DoRescale: s.DoRescale, RescaleFactor: s.RescaleFactor, DoNormalize: s.DoNormalize, Backend: Torchvision}
		for c := range 3 {
			p.Mean[c], p.Std[c] = float32(s.Mean[c]), float32(s.Std[c])
		}
		img := NewRGB(256, 1)
		for v := range 256 {
			img.Pix[3*v], img.Pix[3*v+1], img.Pix[3*v+2] = uint8(v), uint8(v), uint8(v)
		}
		x := p.ToTensor(img, nil)
		bad := 0
		for c := range 3 {
			for v := range 256 {
				if got := math.Float32bits(x[c*256+v]); got != s.Bits[c][v] {
					if bad == 0 {
						t.Errorf("%s: channel %d level %d: %v, want %v", s.Name, c, v, x[c*256+v], math.Float32frombits(s.Bits[c][v]))
					}
					bad++
				}
			}
		}
		if bad > 1 {
			t.Errorf("%s: %d values differ", s.Name, bad)
		}
	}
}

type tvPipelineCase struct {
	Name   string
	Config struct {
		ShortestEdge int     `json:"shortest_edge"`
		Height       int     `json:"height"`
		Width        int     `json:"width"`
		CropPct      float64 `json:"crop_pct"`
		Resample     Filter  `json:"resample"`
	}
	CropH          int     `json:"crop_h"`
	CropW          int     `json:"crop_w"`
	CropSHA256     string  `json:"crop_sha256"`
	TensorSHA256   string  `json:"tensor_sha256"`
	PILvsTVMaxAbs  float64 `json:"pil_vs_tv_max_abs"`
	PILvsTVDiffers float64 `json:"pil_vs_tv_frac_differ"`
}

func (c tvPipelineCase) processor(mean, std [3]float32) *Processor {
	return &Processor{
		DoResize: true, ShortestEdge: c.Config.ShortestEdge, Height: c.Config.Height, Width: c.Config.Width,
		CropPct: c.Config.CropPct, Resample: c.Config.Resample,
		DoRescale: true, RescaleFactor: 1.0 / 255, DoNormalize: true, Mean: mean, Std: std,
		Backend: Torchvision,
	}
}

func checkTVPipeline(t *testing.T, img *RGB, c tvPipelineCase, mean, std [3]float32) (*RGB, []float32) {
	t.Helper()
	p := c.processor(mean, std)
	if err := p.CheckInput(img.W, img.H); err != nil {
		t.Fatalf("%s: %v", c.Name, err)
	}
	crop := p.Resized(img)
	if crop.W != c.CropW || crop.H != c.CropH {
		t.Fatalf("%s: crop %dx%d, want %dx%d", c.Name, crop.W, crop.H, c.CropW, c.CropH)
	}
	if h := sha256Hex(crop.Pix); h != c.CropSHA256 {
		t.Errorf("%s: uint8 crop sha256 %s, want %s", c.Name, h[:12], c.CropSHA256[:12])
	}
	x := p.Apply(img, nil)
	if h := sha256Hex(float32LE(x)); h != c.TensorSHA256 {
		t.Errorf("%s: tensor sha256 %s, want %s", c.Name, h[:12], c.TensorSHA256[:12])
	}
	return crop, x
}

// TestTVProcessorPadded: crop_pct > 1 makes transformers 5's center_crop pad
// the resized image, (crop-size)//2 on the left and top.
func TestTVProcessorPadded(t *testing.T) {
	var cases []tvPipelineCase
	readTVJSON(t, "padded.json", &cases)
	img := mustDecode(t, filepath.Join(tvDir, "in_noise_17x23.png"))
	half := [3]float32{0.5, 0.5, 0.5}
	for _, c := range cases {
		crop, _ := checkTVPipeline(t, img, c, half, half)
		// The PIL backend pads the other way round on an odd difference,
		// so the same settings must give a different crop there.
		p := c.processor(half, half)
		p.Backend = PIL
		if msg, _ := diffRGB(p.Resized(img), crop); msg == "" {
			t.Errorf("%s: the PIL backend gave the torchvision crop; the padding case no longer tells them apart", c.Name)
		}
	}
}

// TestTVProcessorCOCO: transformers 5's torchvision backend on the COCO cats
// photo, three configs (microsoft/resnet-50's scale-and-crop, a 32×32
// bilinear warp, a 384 bicubic warp): the uint8 crop byte for byte and the
// float32 tensor bit for bit; and how far the Pillow backend is from it,
// also exactly as the generator measured it.
func TestTVProcessorCOCO(t *testing.T) {
	img, _ := loadCOCO(t)
	var fix struct{ Cases []tvPipelineCase }
	readTVJSON(t, "pipeline.json", &fix)
	if len(fix.Cases) != 3 {
		t.Fatalf("pipeline.json has %d cases, want 3", len(fix.Cases))
	}
	for _, c := range fix.Cases {
		crop, x := checkTVPipeline(t, img, c, ImageNetMean, ImageNetStd)
		if c.Name == "resnet50" {
			want := mustDecode(t, filepath.Join(tvDir, "coco_tv_crop.png"))
			if msg, _ := diffRGB(crop, want); msg != "" {
				t.Errorf("crop vs coco_tv_crop.png: %s", msg)
			}
		}
		p := c.processor(ImageNetMean, ImageNetStd)
		p.Backend = PIL
		y := p.Apply(img, nil)
		maxAbs, differ := 0.0, 0
		for i := range x {
			d := math.Abs(float64(x[i]) - float64(y[i]))
			maxAbs = max(maxAbs, d)
			if d > 0 {
				differ++
			}
		}
		if maxAbs != c.PILvsTVMaxAbs || float64(differ)/float64(len(x)) != c.PILvsTVDiffers {
			t.Errorf("%s: PIL vs torchvision: max |diff| %v, %d of %d differ; generator measured %v, fraction %v",
				c.Name, maxAbs, differ, len(x), c.PILvsTVMaxAbs, c.PILvsTVDiffers)
		}
	}
}

func TestParseBackend(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Backend
		err  string
	}{
		{"pil", PIL, ""}, {"PIL", PIL, ""}, {" torchvision ", Torchvision, ""}, {"Torchvision", Torchvision, ""},
		{"tv", 0, `unknown preprocessing backend "tv" (want pil or torchvision)`},
		{"", 0, "unknown preprocessing backend"},
	} {
		got, err := ParseBackend(c.in)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ParseBackend(%q): error %v, want one containing %q", c.in, err, c.err)
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("ParseBackend(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		if err == nil && got.String() != strings.ToLower(strings.TrimSpace(c.in)) {
			t.Errorf("%v.String() = %q", got, got.String())
		}
	}
}

// The torchvision backend refuses filters it has no tensor kernel for, runs
// lanczos as bicubic (as transformers does), and rejects unknown backends.
func TestTVValidate(t *testing.T) {
	for _, c := range []struct {
		f   Filter
		b   Backend
		err string
	}{
		{Bilinear, Torchvision, ""}, {Bicubic, Torchvision, ""}, {Lanczos, Torchvision, ""},
		{Nearest, Torchvision, "resample nearest is not supported by the torchvision backend"},
		{Box, Torchvision, "resample box is not supported"},
		{Hamming, Torchvision, "resample hamming is not supported"},
		{Nearest, PIL, ""},
		{Bicubic, Backend(7), "unknown backend 7"},
	} {
		p := ImageNetProcessor()
		p.Resample, p.Backend = c.f, c.b
		if c.b == PIL || c.b == Torchvision {
			if err := c.b.CheckFilter(c.f); (err == nil) != (c.err == "") {
				t.Errorf("%v.CheckFilter(%v) = %v", c.b, c.f, err)
			}
		}
		err := p.Validate()
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%v/%v: Validate() = %v, want %q", c.f, c.b, err, c.err)
		}
		if err != nil {
			if cerr := p.CheckInput(64, 48); cerr == nil {
				t.Errorf("%v/%v: CheckInput accepted what Validate refused", c.f, c.b)
			}
		}
	}
	img := randRGB(37, 29, 5)
	p := ImageNetProcessor()
	p.ShortestEdge, p.Backend = 20, Torchvision
	bicubic := p.Apply(img, nil)
	p.Resample = Lanczos
	if h1, h2 := sha256Hex(float32LE(bicubic)), sha256Hex(float32LE(p.Apply(img, nil))); h1 != h2 {
		t.Error("lanczos on the torchvision backend is not bicubic")
	}
}

// TVResizeRegion gives the bytes of the full resize for any window, and the
// parallel split does not change them (a large image takes several bands).
func TestTVResizeRegionRandom(t *testing.T) {
	for i, c := range []struct{ sw, sh, w, h int }{
		{640, 480, 341, 256}, {97, 61, 300, 190}, {300, 200, 45, 500}, {5, 400, 3, 17},
	} {
		src := randRGB(c.sw, c.sh, uint32(i+1))
		for _, f := range []Filter{Bilinear, Bicubic} {
			full := TVResize(src, c.w, c.h, f)
			r := image.Rect(c.w/5, c.h/3, c.w-c.w/7, c.h-1)
			if msg, _ := diffRGB(TVResizeRegion(src, c.w, c.h, f, r), subImage(full, r)); msg != "" {
				t.Errorf("%dx%d->%dx%d %v region %v: %s", c.sw, c.sh, c.w, c.h, f, r, msg)
			}
		}
	}
}
