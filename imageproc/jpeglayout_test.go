package imageproc

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// jpegLayoutCase is one entry of testdata/jpeglayouts/layouts.json, written
// by tools/fixtures/gen_jpeg_layouts.py.
type jpegLayoutCase struct {
	Name      string  `json:"name"`
	W         int     `json:"w"`
	H         int     `json:"h"`
	YSampling [2]int  `json:"y_sampling"`
	CSampling *[2]int `json:"c_sampling"` // nil: greyscale
}

var jpegLayoutDir = filepath.Join("testdata", "jpeglayouts")

func readJPEGLayouts(t *testing.T) []jpegLayoutCase {
	t.Helper()
	var cases []jpegLayoutCase
	readJSON(t, filepath.Join(jpegLayoutDir, "layouts.json"), &cases)
	// Every layout at odd and even widths and heights, so that both of
	// libjpeg's right-edge and bottom-edge cases are compared.
	seen := map[string]int{}
	for _, c := range cases {
		layout := "grey"
		if c.CSampling != nil {
			r, _, _ := c.ratio()
			layout = r.String()
		}
		seen[layout] |= 1<<(c.W%2) | 4<<(c.H%2)
	}
	for _, l := range []string{"grey", "YCbCrSubsampleRatio444", "YCbCrSubsampleRatio422", "YCbCrSubsampleRatio420",
		"YCbCrSubsampleRatio440", "YCbCrSubsampleRatio411", "YCbCrSubsampleRatio410"} {
		if seen[l] != 15 {
			t.Errorf("testdata/jpeglayouts lacks %s at odd and even widths and heights", l)
		}
	}
	return cases
}

// ratio is the layout as Go names it, and the chroma plane size libjpeg
// gives it (downsampled_width/height: ceil(size * factor / max factor)).
func (c jpegLayoutCase) ratio() (r image.YCbCrSubsampleRatio, cw, ch int) {
	hf, vf := c.YSampling[0]/c.CSampling[0], c.YSampling[1]/c.CSampling[1]
	r, ok := map[[2]int]image.YCbCrSubsampleRatio{
		{1, 1}: image.YCbCrSubsampleRatio444, {2, 1}: image.YCbCrSubsampleRatio422,
		{2, 2}: image.YCbCrSubsampleRatio420, {1, 2}: image.YCbCrSubsampleRatio440,
		{4, 1}: image.YCbCrSubsampleRatio411, {4, 2}: image.YCbCrSubsampleRatio410,
	}[[2]int{hf, vf}]
	if !ok {
		panic("jpeglayouts: unexpected sampling factors in " + c.Name)
	}
	return r, (c.W + hf - 1) / hf, (c.H + vf - 1) / vf
}

func readGrayPNG(t *testing.T, path string) *image.Gray {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	g, ok := m.(*image.Gray)
	if !ok {
		t.Fatalf("%s decoded as %T, want *image.Gray", path, m)
	}
	return g
}

// libjpegPlanes is libjpeg's own decode of a fixture before upsampling: its
// Y plane and its cw×ch Cb and Cr planes (see gen_jpeg_layouts.py).
func libjpegPlanes(t *testing.T, c jpegLayoutCase) *image.YCbCr {
	t.Helper()
	r, _, ch := c.ratio()
	g := readGrayPNG(t, filepath.Join(jpegLayoutDir, c.Name+".planes.png"))
	if g.Rect != image.Rect(0, 0, c.W, c.H+2*ch) || g.Stride != c.W {
		t.Fatalf("planes are %v (stride %d), want %dx%d", g.Rect, g.Stride, c.W, c.H+2*ch)
	}
	n := c.W * c.H
	return &image.YCbCr{
		Y: g.Pix[:n], Cb: g.Pix[n : n+ch*c.W], Cr: g.Pix[n+ch*c.W:],
		YStride: c.W, CStride: c.W, SubsampleRatio: r, Rect: image.Rect(0, 0, c.W, c.H),
	}
}

// Upsampling and colour conversion alone, on the very samples libjpeg-turbo
// feeds its upsampler: exact, over every pixel, for every layout it handles
// (h2v1/h2v2 fancy or, on planes at most 2 wide, replicated; h1v2 fancy;
// 4:1:1 and 4:1:0 replicated), odd and even sizes.
func TestJPEGLayoutsUpsampleExact(t *testing.T) {
	for _, c := range readJPEGLayouts(t) {
		if c.CSampling == nil {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			got, ok := libjpegRGB(libjpegPlanes(t, c))
			if !ok {
				t.Fatal("libjpegRGB refused the layout")
			}
			want := mustDecode(t, filepath.Join(jpegLayoutDir, c.Name+".rgb.png"))
			if msg, _ := diffRGB(got, want); msg != "" {
				t.Error(msg)
			}
		})
	}
}

// The whole decoder (Go's IDCT, then libjpegRGB) against Pillow, every pixel
// of every layout. The upsampling and colour conversion are exact (above), so
// what remains is the IDCT: Go's image/jpeg and libjpeg's islow IDCT round
// differently, by at most 1 level per sample (checked here on the planes). A
// ±1 sample error moves a pixel by at most 3 levels: fancy upsampling is a
// weighted mean, so its output moves by at most 1, and R = Y + 1.402(Cr-128),
// G = Y - 0.344(Cb-128) - 0.714(Cr-128), B = Y + 1.772(Cb-128) then add at
// most 1 (Y) + 2 (the tables' steps). Greyscale is the IDCT alone: 1 level.
// A wrong upsampler moves edge pixels by far more: the fixtures' last chroma
// column and row differ from their neighbours by over 120 levels, so
// replicating or averaging there costs 10–70 levels.
func TestJPEGLayoutsDecode(t *testing.T) {
	const (
		planeTol   = 1    // per sample, Go's IDCT against libjpeg's
		rgbTol     = 3    // per byte, what planeTol allows after conversion
		grayTol    = 1    // per byte, greyscale
		planeShare = 0.03 // of all samples, over all fixtures (measured 2.3%)
		rgbShare   = 0.06 // of all colour bytes, over all fixtures (measured 4.3%)
	)
	var planeN, planeAll, rgbN, rgbAll int
	for _, c := range readJPEGLayouts(t) {
		t.Run(c.Name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(jpegLayoutDir, c.Name+".jpg"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(bytes.NewReader(data), DefaultMaxPixels)
			if err != nil {
				t.Fatal(err)
			}
			want := mustDecode(t, filepath.Join(jpegLayoutDir, c.Name+".rgb.png"))
			msg, maxDiff := diffRGB(got, want)
			tol := rgbTol
			if c.CSampling == nil {
				tol = grayTol
			} else {
				for i := range got.Pix {
					if got.Pix[i] != want.Pix[i] {
						rgbN++
					}
				}
				rgbAll += len(got.Pix)
			}
			if maxDiff > tol {
				t.Errorf("%s; %s, over the %d levels IDCT rounding explains", msg, worstRGB(got, want), tol)
			}
			if c.CSampling == nil {
				return
			}
			m, err := jpeg.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			goPlanes, ok := m.(*image.YCbCr)
			if !ok {
				t.Fatalf("Go decodes a %T", m)
			}
			lj := libjpegPlanes(t, c)
			if goPlanes.SubsampleRatio != lj.SubsampleRatio {
				t.Fatalf("Go decodes as %v, want %v", goPlanes.SubsampleRatio, lj.SubsampleRatio)
			}
			_, cw, ch := c.ratio()
			for _, p := range []struct {
				name         string
				a, b         []uint8
				as, bs, w, h int
			}{
				{"Y", goPlanes.Y, lj.Y, goPlanes.YStride, lj.YStride, c.W, c.H},
				{"Cb", goPlanes.Cb, lj.Cb, goPlanes.CStride, lj.CStride, cw, ch},
				{"Cr", goPlanes.Cr, lj.Cr, goPlanes.CStride, lj.CStride, cw, ch},
			} {
				for y := range p.h {
					for x := range p.w {
						d := abs(int(p.a[y*p.as+x]) - int(p.b[y*p.bs+x]))
						if d > planeTol {
							t.Errorf("%s plane at x=%d y=%d: Go %d, libjpeg %d", p.name, x, y, p.a[y*p.as+x], p.b[y*p.bs+x])
						}
						if d != 0 {
							planeN++
						}
					}
				}
				planeAll += p.w * p.h
			}
		})
	}
	t.Logf("IDCT: %d of %d samples differ from libjpeg (%.1f%%); RGB: %d of %d bytes (%.1f%%)",
		planeN, planeAll, 100*float64(planeN)/float64(planeAll), rgbN, rgbAll, 100*float64(rgbN)/float64(rgbAll))
	if float64(planeN) > planeShare*float64(planeAll) || float64(rgbN) > rgbShare*float64(rgbAll) {
		t.Errorf("more differences than IDCT rounding gives: over %.0f%% of samples or %.0f%% of bytes", 100*planeShare, 100*rgbShare)
	}
}

// worstRGB names the byte that differs most between two same-sized images.
func worstRGB(got, want *RGB) string {
	worst := 0
	for i := range got.Pix {
		if abs(int(got.Pix[i])-int(want.Pix[i])) > abs(int(got.Pix[worst])-int(want.Pix[worst])) {
			worst = i
		}
	}
	p := worst / 3
	return "worst at x=" + itoa(p%got.W) + " y=" + itoa(p/got.W) + " channel " + itoa(worst%3) +
		": got " + itoa(int(got.Pix[worst])) + " want " + itoa(int(want.Pix[worst]))
}
