package imageproc

import (
	"fmt"
	"image"
	"path/filepath"
	"testing"
)

type resizeCase struct {
	Input  string `json:"input"`
	W      int    `json:"w"`
	H      int    `json:"h"`
	Filter Filter `json:"filter"`
	Output string `json:"output"`
}

// Every filter, up and down, odd sizes, one axis unchanged: byte-exact
// against Pillow's Image.resize.
func TestResizeMatchesPillow(t *testing.T) {
	dir := filepath.Join("testdata", "resize")
	var cases []resizeCase
	readJSON(t, filepath.Join(dir, "resize.json"), &cases)
	if len(cases) < 100 {
		t.Fatalf("only %d resize cases in the manifest", len(cases))
	}
	inputs := map[string]*RGB{}
	seen := map[Filter]int{}
	for _, c := range cases {
		src, ok := inputs[c.Input]
		if !ok {
			src = mustDecode(t, filepath.Join(dir, c.Input))
			inputs[c.Input] = src
		}
		want := mustDecode(t, filepath.Join(dir, c.Output))
		got := Resize(src, c.W, c.H, c.Filter)
		if msg, _ := diffRGB(got, want); msg != "" {
			t.Errorf("%s %dx%d -> %dx%d %v: %s", c.Input, src.W, src.H, c.W, c.H, c.Filter, msg)
		}
		seen[c.Filter]++
	}
	for f := Nearest; f <= Hamming; f++ {
		if seen[f] == 0 {
			t.Errorf("no fixture for filter %v", f)
		}
	}
}

// The integer weights of the first output pixel for the resnet-50 resize of a
// 640×480 image (spec §3).
func TestBicubicCoefficientAnchors(t *testing.T) {
	tests := []struct {
		in, out int
		want    []int32
	}{
		{640, 341, []int32{2110711, 1952057, 318752, -175975, -11241}},
		{480, 256, []int32{2113353, 1951922, 315813, -176013, -10771}},
	}
	kn, _ := kernelFor(Bicubic)
	for _, tt := range tests {
		c := precomputeCoeffs(tt.in, tt.out, 0, tt.out, kn)
		if c.ksize != 9 {
			t.Errorf("%d->%d: ksize %d, want 9", tt.in, tt.out, c.ksize)
		}
		if c.first[0] != 0 || c.count[0] != len(tt.want) {
			t.Fatalf("%d->%d: first pixel reads %d..+%d, want 0..+%d", tt.in, tt.out, c.first[0], c.count[0], len(tt.want))
		}
		if got := c.k[:len(tt.want)]; fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%d->%d: weights %v, want %v", tt.in, tt.out, got, tt.want)
		}
		// A sub-range computes the same taps as the full axis.
		part := precomputeCoeffs(tt.in, tt.out, 100, 120, kn)
		for i := range 20 {
			if part.first[i] != c.first[100+i] || fmt.Sprint(part.k[i*9:i*9+9]) != fmt.Sprint(c.k[(100+i)*9:(100+i)*9+9]) {
				t.Fatalf("%d->%d: sub-range taps for pixel %d differ", tt.in, tt.out, 100+i)
			}
		}
	}
}

// Weights of each output pixel sum to one before rounding.
func TestCoefficientsNormalized(t *testing.T) {
	for f := Lanczos; f <= Hamming; f++ {
		kn, _ := kernelFor(f)
		for _, sz := range [][2]int{{640, 341}, {5, 300}, {300, 5}, {17, 17 * 3}, {1, 9}} {
			c := precomputeCoeffs(sz[0], sz[1], 0, sz[1], kn)
			for i := range sz[1] {
				s := 0.0
				for _, w := range c.kFloat[i*c.ksize : (i+1)*c.ksize] {
					s += w
				}
				if s < 1-1e-9 || s > 1+1e-9 {
					t.Fatalf("%v %d->%d pixel %d: weights sum to %v", f, sz[0], sz[1], i, s)
				}
			}
		}
	}
}

// ResizeRegion must give the same bytes as cutting the full resize.
func TestResizeRegionMatchesFull(t *testing.T) {
	sizes := [][4]int{{37, 29, 11, 50}, {37, 29, 37, 13}, {37, 29, 80, 29}, {5, 64, 9, 9}, {64, 5, 3, 40}}
	for i, s := range sizes {
		src := randRGB(s[0], s[1], uint32(i))
		for f := Nearest; f <= Hamming; f++ {
			full := Resize(src, s[2], s[3], f)
			for _, r := range []image.Rectangle{
				image.Rect(0, 0, s[2], s[3]),
				image.Rect(1, 2, s[2], s[3]),
				image.Rect(s[2]/3, s[3]/4, s[2]/3+1, s[3]/4+1),
				image.Rect(0, s[3]-1, s[2], s[3]),
			} {
				got := ResizeRegion(src, s[2], s[3], f, r)
				if msg, _ := diffRGB(got, subImage(full, r)); msg != "" {
					t.Errorf("%dx%d->%dx%d %v region %v: %s", s[0], s[1], s[2], s[3], f, r, msg)
				}
			}
		}
	}
}

func TestResizeBadArgumentsPanic(t *testing.T) {
	src := randRGB(4, 4, 1)
	for _, tc := range []struct {
		name string
		fn   func()
	}{
		{"zero width", func() { Resize(src, 0, 3, Bilinear) }},
		{"negative height", func() { Resize(src, 3, -1, Bicubic) }},
		{"unknown filter", func() { Resize(src, 3, 3, Filter(9)) }},
		{"short Pix", func() { Resize(&RGB{W: 4, H: 4, Pix: make([]uint8, 5)}, 3, 3, Box) }},
		{"region outside", func() { ResizeRegion(src, 3, 3, Box, image.Rect(0, 0, 4, 3)) }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			tc.fn()
		}()
	}
}

type cocoInfo struct {
	Source        string             `json:"source"`
	ResizedW      int                `json:"resized_w"`
	ResizedH      int                `json:"resized_h"`
	CropPNG       string             `json:"crop_png"`
	CropSHA256    string             `json:"crop_sha256"`
	TensorShape   []int              `json:"tensor_shape"`
	TensorSHA256  string             `json:"tensor_sha256"`
	TensorSum     float64            `json:"tensor_sum"`
	TensorSamples map[string]float64 `json:"tensor_samples"`
	Resizes       []cocoResize       `json:"resizes"`
	Portrait      struct {
		CropSHA256   string `json:"crop_sha256"`
		TensorSHA256 string `json:"tensor_sha256"`
	} `json:"portrait"`
}

type cocoResize struct {
	W, H   int
	Filter Filter
	SHA256 string
}

func loadCOCO(t *testing.T) (*RGB, cocoInfo) {
	t.Helper()
	var info cocoInfo
	readJSON(t, filepath.Join("testdata", "coco", "coco.json"), &info)
	img := mustDecode(t, filepath.Join(sharedDir(t), "data", "images", "000000039769.png"))
	if img.W != 640 || img.H != 480 {
		t.Fatalf("COCO image is %dx%d, want 640x480", img.W, img.H)
	}
	return img, info
}

// A real photo at full size, every filter, several targets (sha256 of
// Pillow's bytes).
func TestResizeCOCOMatchesPillow(t *testing.T) {
	img, info := loadCOCO(t)
	if len(info.Resizes) == 0 {
		t.Fatal("no resizes in coco.json")
	}
	for _, r := range info.Resizes {
		got := Resize(img, r.W, r.H, r.Filter)
		if h := sha256Hex(got.Pix); h != r.SHA256 {
			t.Errorf("640x480 -> %dx%d %v: sha256 %s, want %s", r.W, r.H, r.Filter, h[:12], r.SHA256[:12])
		}
	}
}

func BenchmarkResize640x480To341x256Bicubic(b *testing.B) {
	src := randRGB(640, 480, 7)
	for b.Loop() {
		Resize(src, 341, 256, Bicubic)
	}
}
