package imageproc

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

type convertCase struct {
	Input     string `json:"input"`
	Expected  string `json:"expected"`
	PILMode   string `json:"pil_mode"`
	Exact     bool   `json:"exact"`
	Tolerance int    `json:"tolerance"`
	Note      string `json:"note"`
}

// Decode + ToRGB against Pillow's Image.open(f).convert("RGB"), saved as PNG.
func TestConvertMatchesPillow(t *testing.T) {
	dir := filepath.Join("testdata", "convert")
	var cases []convertCase
	readJSON(t, filepath.Join(dir, "convert.json"), &cases)
	if len(cases) < 20 {
		t.Fatalf("only %d convert cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Input, func(t *testing.T) {
			got, err := DecodeFile(filepath.Join(dir, c.Input), DefaultMaxPixels)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			want := mustDecode(t, filepath.Join(dir, c.Expected))
			msg, maxDiff := diffRGB(got, want)
			switch {
			case msg == "":
			case c.Exact:
				t.Errorf("Pillow mode %s: %s (%s)", c.PILMode, msg, c.Note)
			case maxDiff > c.Tolerance:
				t.Errorf("Pillow mode %s: %s, over tolerance %d (%s)", c.PILMode, msg, c.Tolerance, c.Note)
			default:
				t.Logf("within tolerance %d: %s (%s)", c.Tolerance, msg, c.Note)
			}
		})
	}
}

// The CMYK formula alone, on Pillow's own decoded CMYK samples: exact.
func TestCMYKFormulaMatchesPillow(t *testing.T) {
	dir := filepath.Join("testdata", "convert")
	for _, tc := range []struct{ cmyk, rgb string }{
		{"cmyk_synthetic.cmyk-as-rgba.png", "cmyk_synthetic.rgb.png"},
		{"jpeg_cmyk.cmyk-as-rgba.png", "jpeg_cmyk.rgb.png"},
	} {
		f, err := os.Open(filepath.Join(dir, tc.cmyk))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		nrgba, ok := raw.(*image.NRGBA)
		if !ok {
			t.Fatalf("%s decoded as %T, want *image.NRGBA", tc.cmyk, raw)
		}
		cm := &image.CMYK{Pix: nrgba.Pix, Stride: nrgba.Stride, Rect: nrgba.Rect}
		got := ToRGB(cm)
		if msg, _ := diffRGB(got, mustDecode(t, filepath.Join(dir, tc.rgb))); msg != "" {
			t.Errorf("%s: %s", tc.cmyk, msg)
		}
	}
	// Hand-checked values (Pillow: CMYK (100,50,20,10) -> (149,197,226)).
	for _, tc := range []struct{ c, m, y, k, r, g, b uint8 }{
		{0, 0, 0, 0, 255, 255, 255},
		{255, 0, 0, 0, 0, 255, 255},
		{100, 50, 20, 10, 149, 197, 226},
		{200, 200, 200, 200, 12, 12, 12},
		{0, 0, 0, 255, 0, 0, 0},
	} {
		if r, g, b := cmykToRGB(tc.c, tc.m, tc.y, tc.k); r != tc.r || g != tc.g || b != tc.b {
			t.Errorf("cmyk(%d,%d,%d,%d) = (%d,%d,%d), want (%d,%d,%d)", tc.c, tc.m, tc.y, tc.k, r, g, b, tc.r, tc.g, tc.b)
		}
	}
}

// Go types no fixture produces: premultiplied alpha, offsets, generic fallback.
func TestToRGBGoTypes(t *testing.T) {
	rect := image.Rect(5, 7, 7, 8) // non-zero Min: output must start at (0,0)
	rgba := image.NewRGBA(rect)
	rgba.SetRGBA(5, 7, color.RGBA{100, 50, 0, 200}) // premultiplied
	rgba.SetRGBA(6, 7, color.RGBA{10, 20, 30, 0})   // invalid premultiplied, alpha 0
	nrgba := image.NewNRGBA(rect)
	nrgba.SetNRGBA(5, 7, color.NRGBA{100, 50, 0, 0})
	nrgba.SetNRGBA(6, 7, color.NRGBA{1, 2, 3, 255})
	rgba64 := image.NewRGBA64(rect)
	rgba64.SetRGBA64(5, 7, color.RGBA64{0x8000, 0x4000, 0, 0x8000})
	rgba64.SetRGBA64(6, 7, color.RGBA64{0x1234, 0xffff, 0xff00, 0xffff})
	gray16 := image.NewGray16(rect)
	gray16.SetGray16(5, 7, color.Gray16{254})
	gray16.SetGray16(6, 7, color.Gray16{300})
	pal := image.NewPaletted(rect, color.Palette{color.NRGBA{9, 8, 7, 0}, color.RGBA{200, 100, 50, 255}})
	pal.SetColorIndex(6, 7, 1)
	alpha := image.NewAlpha(rect)
	alpha.SetAlpha(5, 7, color.Alpha{128})
	alpha.SetAlpha(6, 7, color.Alpha{0})
	ycc := image.NewYCbCr(rect, image.YCbCrSubsampleRatio444)
	for i := range ycc.Y {
		ycc.Y[i], ycc.Cb[i], ycc.Cr[i] = 81, 90, 240 // ~ (255, 0, 0)
	}
	r, g, b := color.YCbCrToRGB(81, 90, 240)

	tests := []struct {
		name string
		img  image.Image
		want []uint8
	}{
		{"RGBA unpremultiplied as Pillow RGBa", rgba, []uint8{127, 63, 0, 0, 0, 0}},
		{"NRGBA keeps colour under alpha 0", nrgba, []uint8{100, 50, 0, 1, 2, 3}},
		{"RGBA64", rgba64, []uint8{0xff, 0x7f, 0, 0x12, 0xff, 0xff}},
		{"Gray16 clipped like Pillow mode I", gray16, []uint8{254, 254, 254, 255, 255, 255}},
		{"Paletted straight colours", pal, []uint8{9, 8, 7, 200, 100, 50}},
		{"Alpha via generic path", alpha, []uint8{255, 255, 255, 0, 0, 0}},
		{"YCbCr", ycc, []uint8{r, g, b, r, g, b}},
	}
	for _, tt := range tests {
		got := ToRGB(tt.img)
		if got.W != 2 || got.H != 1 || string(got.Pix) != string(tt.want) {
			t.Errorf("%s: got %dx%d %v, want 2x1 %v", tt.name, got.W, got.H, got.Pix, tt.want)
		}
	}
}

// Go's JPEG decoder plus libjpegRGB against libjpeg-turbo (via Pillow) on
// real photos, two of them 4:2:0: not exact (the IDCTs differ), so bound the
// difference (Go's own colour conversion is off by up to ~60 levels here).
func TestJPEGCloseToLibjpeg(t *testing.T) {
	var stats []struct {
		File        string     `json:"file"`
		W           int        `json:"w"`
		H           int        `json:"h"`
		ChannelMean [3]float64 `json:"channel_mean"`
		Samples     [][5]int   `json:"samples"`
	}
	readJSON(t, filepath.Join("testdata", "coco", "jpeg_stats.json"), &stats)
	shared := sharedDir(t)
	for _, s := range stats {
		img := mustDecode(t, filepath.Join(shared, "data", "images", s.File))
		if img.W != s.W || img.H != s.H {
			t.Fatalf("%s: %dx%d, Pillow says %dx%d", s.File, img.W, img.H, s.W, s.H)
		}
		var mean [3]float64
		for i, v := range img.Pix {
			mean[i%3] += float64(v)
		}
		for c := range 3 {
			mean[c] /= float64(img.W * img.H)
			if d := mean[c] - s.ChannelMean[c]; d > 0.05 || d < -0.05 {
				t.Errorf("%s: channel %d mean %.3f, libjpeg %.3f", s.File, c, mean[c], s.ChannelMean[c])
			}
		}
		maxDiff := 0
		for _, p := range s.Samples {
			r, g, b := img.At(p[0], p[1])
			for c, v := range []uint8{r, g, b} {
				maxDiff = max(maxDiff, abs(int(v)-p[2+c]))
			}
		}
		if maxDiff > 3 {
			t.Errorf("%s: a sampled pixel differs from libjpeg by %d levels", s.File, maxDiff)
		}
		t.Logf("%s: %dx%d, max sampled difference from libjpeg %d levels", s.File, img.W, img.H, maxDiff)
	}
}

func abs(v int) int { return max(v, -v) }
