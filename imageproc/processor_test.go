package imageproc

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strconv"
	"testing"
)

type processorCase struct {
	Name         string          `json:"name"`
	Config       json.RawMessage `json:"config"`
	Input        string          `json:"input"`
	OutH         int             `json:"out_h"`
	OutW         int             `json:"out_w"`
	Uint8SHA256  string          `json:"uint8_sha256"`
	TensorSHA256 string          `json:"tensor_sha256"`
	TensorFirst  []float64       `json:"tensor_first"`
}

// Synthetic inputs through configs covering both size forms, crop_pct > 1
// (zero padding), warp at 384, defaults, no resize, no rescale, every filter
// family; expected values from the generator's numpy transcription of the
// transformers pipeline over Pillow.
func TestProcessorMatchesTransformers(t *testing.T) {
	var cases []processorCase
	readJSON(t, filepath.Join("testdata", "processor.json"), &cases)
	if len(cases) < 20 {
		t.Fatalf("only %d processor cases", len(cases))
	}
	for _, c := range cases {
		p, err := ParseProcessorConfig(c.Config)
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		img := mustDecode(t, filepath.Join("testdata", "resize", c.Input))
		if err := p.CheckInput(img.W, img.H); err != nil {
			t.Errorf("%s: CheckInput: %v", c.Name, err)
			continue
		}
		res := p.Resized(img)
		if res.W != c.OutW || res.H != c.OutH {
			t.Errorf("%s: resized to %dx%d, want %dx%d", c.Name, res.W, res.H, c.OutW, c.OutH)
			continue
		}
		if oh, ow := p.OutputSize(); p.DoResize && (oh != c.OutH || ow != c.OutW) {
			t.Errorf("%s: OutputSize %dx%d, want %dx%d", c.Name, ow, oh, c.OutW, c.OutH)
		}
		if h := sha256Hex(res.Pix); h != c.Uint8SHA256 {
			t.Errorf("%s: uint8 image sha256 %s, want %s", c.Name, h[:12], c.Uint8SHA256[:12])
		}
		x := p.Apply(img, nil)
		if h := sha256Hex(float32LE(x)); h != c.TensorSHA256 {
			t.Errorf("%s: tensor sha256 %s, want %s (first %v, want %v)", c.Name, h[:12], c.TensorSHA256[:12], x[:4], c.TensorFirst)
		}
		for i, w := range c.TensorFirst {
			if float64(x[i]) != w {
				t.Errorf("%s: tensor[%d] = %v, want %v", c.Name, i, x[i], w)
			}
		}
	}
}

// The resnet-50 pipeline on the COCO cats image: the uint8 crop byte for
// byte, the tensor bit for bit (and within 1e-6 at the sampled points, sum).
func TestProcessorCOCO(t *testing.T) {
	img, info := loadCOCO(t)
	p := ImageNetProcessor()
	res := p.Resized(img)
	want := mustDecode(t, filepath.Join("testdata", "coco", info.CropPNG))
	if msg, _ := diffRGB(res, want); msg != "" {
		t.Fatalf("224x224 crop differs from Pillow/transformers: %s", msg)
	}
	// Same bytes the long way: full 341x256 resize, then the HF crop.
	full := Resize(img, info.ResizedW, info.ResizedH, Bicubic)
	if msg, _ := diffRGB(CenterCrop(full, 224, 224), want); msg != "" {
		t.Errorf("Resize+CenterCrop: %s", msg)
	}
	x := p.Apply(img, make([]float32, 10)) // too small: must be replaced
	if len(x) != 3*224*224 || len(info.TensorShape) != 3 || info.TensorShape[0]*info.TensorShape[1]*info.TensorShape[2] != len(x) {
		t.Fatalf("tensor length %d, shape %v", len(x), info.TensorShape)
	}
	for k, w := range info.TensorSamples {
		i, _ := strconv.Atoi(k)
		if math.Abs(float64(x[i])-w) > 1e-6 {
			t.Errorf("tensor[%d] = %v, want %v", i, x[i], w)
		}
	}
	sum := 0.0
	for _, v := range x {
		sum += float64(v)
	}
	if math.Abs(sum-info.TensorSum) > 1e-6*float64(len(x)) {
		t.Errorf("tensor sum %v, want %v", sum, info.TensorSum)
	}
	if h := sha256Hex(float32LE(x)); h != info.TensorSHA256 {
		t.Errorf("tensor sha256 %s, want %s", h[:12], info.TensorSHA256[:12])
	}
	// dst reuse
	y := p.Apply(img, x[:0])
	if &y[0] != &x[0] {
		t.Error("Apply did not reuse a large enough dst")
	}

	// Portrait orientation: the transposed image through the same pipeline.
	tr := NewRGB(img.H, img.W)
	for y := 0; y < img.H; y++ {
		for x := 0; x < img.W; x++ {
			copy(tr.Pix[3*(x*tr.W+y):3*(x*tr.W+y)+3], img.Pix[3*(y*img.W+x):3*(y*img.W+x)+3])
		}
	}
	if h := sha256Hex(p.Resized(tr).Pix); h != info.Portrait.CropSHA256 {
		t.Errorf("portrait crop sha256 %s, want %s", h[:12], info.Portrait.CropSHA256[:12])
	}
	if h := sha256Hex(float32LE(p.Apply(tr, nil))); h != info.Portrait.TensorSHA256 {
		t.Errorf("portrait tensor sha256 %s, want %s", h[:12], info.Portrait.TensorSHA256[:12])
	}
}

// Resized (which resamples only the crop window) equals Resize then
// CenterCrop, for shapes that crop, pad on one axis, or pad on both.
func TestResizedEqualsResizeThenCrop(t *testing.T) {
	for i, sz := range [][2]int{{50, 40}, {40, 50}, {9, 100}, {100, 9}, {1, 1}, {23, 23}} {
		img := randRGB(sz[0], sz[1], uint32(10+i))
		for _, tc := range []struct {
			edge int
			pct  float64
		}{{16, 0.875}, {16, 1.3}, {7, 2.9}, {20, 0.5}} {
			for f := Nearest; f <= Hamming; f++ {
				p := &Processor{DoResize: true, ShortestEdge: tc.edge, CropPct: tc.pct, Resample: f}
				pl, err := p.plan(img.W, img.H)
				if err != nil {
					t.Fatal(err)
				}
				want := CenterCrop(Resize(img, pl.rw, pl.rh, f), tc.edge, tc.edge)
				if msg, _ := diffRGB(p.Resized(img), want); msg != "" {
					t.Errorf("%dx%d edge %d crop_pct %v %v: %s", img.W, img.H, tc.edge, tc.pct, f, msg)
				}
			}
		}
	}
}

func TestProcessorSizes(t *testing.T) {
	tests := []struct {
		name       string
		p          *Processor
		w, h       int
		rw, rh     int // resize target
		outW, outH int
		left, top  int
	}{
		{"resnet-50 landscape", ImageNetProcessor(), 640, 480, 341, 256, 224, 224, 58, 16},
		{"resnet-50 portrait", ImageNetProcessor(), 480, 640, 256, 341, 224, 224, 16, 58},
		{"resnet-50 square", ImageNetProcessor(), 500, 500, 256, 256, 224, 224, 16, 16},
		{"resnet-50 tiny", ImageNetProcessor(), 3, 2, 384, 256, 224, 224, 80, 16},
		{"truncation not rounding", ImageNetProcessor(), 299, 200, 382, 256, 224, 224, 79, 16},
		{"warp at 384", &Processor{DoResize: true, ShortestEdge: 384, Resample: Bicubic}, 640, 480, 384, 384, 384, 384, 0, 0},
		{"cifar", CIFARProcessor(), 100, 60, 32, 32, 32, 32, 0, 0},
		{"no resize", &Processor{}, 7, 5, 7, 5, 7, 5, 0, 0},
	}
	for _, tt := range tests {
		pl, err := tt.p.plan(tt.w, tt.h)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		got := [6]int{pl.rw, pl.rh, pl.outW, pl.outH, pl.left, pl.top}
		if want := [6]int{tt.rw, tt.rh, tt.outW, tt.outH, tt.left, tt.top}; got != want {
			t.Errorf("%s: plan %v, want %v", tt.name, got, want)
		}
	}
	if h, w := CIFARProcessor().OutputSize(); h != 32 || w != 32 {
		t.Errorf("CIFAR OutputSize %dx%d", w, h)
	}
	if h, w := (&Processor{}).OutputSize(); h != 0 || w != 0 {
		t.Errorf("no-resize OutputSize %dx%d, want 0x0", w, h)
	}
}

func TestProcessorCheckInput(t *testing.T) {
	p := ImageNetProcessor()
	for _, tc := range []struct {
		w, h int
		ok   bool
	}{{640, 480, true}, {1, 1, true}, {0, 5, false}, {5, -1, false}, {1 << 20, 1, false}, {65536, 1, true}} {
		if err := p.CheckInput(tc.w, tc.h); (err == nil) != tc.ok {
			t.Errorf("%dx%d: CheckInput = %v, want ok=%v", tc.w, tc.h, err, tc.ok)
		}
	}
	bad := &Processor{DoResize: true, ShortestEdge: 224, CropPct: 0, Resample: Bicubic}
	if err := bad.CheckInput(10, 10); err == nil {
		t.Error("crop_pct 0 accepted")
	}
	defer func() {
		if recover() == nil {
			t.Error("Resized of a rejected input did not panic")
		}
	}()
	p.Resized(NewRGB(1<<20, 1))
}

// CIFAR: a 32×32 image is unchanged by the resize and the tensor is
// ToTensor+Normalize, i.e. (v/255 - mean)/std in float32.
func TestCIFARProcessorIdentity(t *testing.T) {
	img := randRGB(32, 32, 99)
	p := CIFARProcessor()
	if msg, _ := diffRGB(p.Resized(img), img); msg != "" {
		t.Fatalf("32x32 input changed by resize: %s", msg)
	}
	x := p.Apply(img, nil)
	for c := range 3 {
		for i := 0; i < 32*32; i += 97 {
			v := img.Pix[3*i+c]
			want := (float32(float64(v)*(1.0/255)) - ImageNetMean[c]) / ImageNetStd[c]
			if x[c*1024+i] != want {
				t.Fatalf("channel %d pixel %d: %v, want %v", c, i, x[c*1024+i], want)
			}
		}
	}
}

func BenchmarkImageNetProcessor640x480(b *testing.B) {
	img := randRGB(640, 480, 5)
	p := ImageNetProcessor()
	var dst []float32
	for b.Loop() {
		dst = p.Apply(img, dst)
	}
}
