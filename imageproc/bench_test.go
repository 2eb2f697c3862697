package imageproc

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/resnet-go/resnet/internal/isatest"
)

// imagenetJPEGs reads the 20 ImageNet validation JPEGs (about 500×375) that
// issue 10's end-to-end measurement uses.
func imagenetJPEGs(b *testing.B) [][]byte {
	b.Helper()
	paths, _ := filepath.Glob(filepath.Join(sharedDir(b), "data", "images", "imagenet-val-samples", "*.jpg"))
	if len(paths) == 0 {
		b.Skip("no ImageNet samples under ../shared/data/images/imagenet-val-samples")
	}
	var files [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, data)
	}
	return files
}

// BenchmarkPreprocessImageNetJPEG is the per-image work of `resnet classify`
// with an ImageNet model: decode, resize the short side to 256 (bicubic),
// centre-crop 224², rescale and normalise. One op is one image (the 20 files
// in turn), single-threaded. On one Zen 4 core (-cpu 1), ms per image:
//
//	                     all   decode (JPEG + colour)   resize   tensor
//	before (e707abf)    11.6   7.8 (5.8 + 2.0)          3.3      0.08
//	now, avx2/avx512     3.25  2.9 (2.5 + 0.27)         0.46     0.08
//	now, RESNET_ISA=go   7.3   4.9 (3.8 + 1.3)          2.06     0.08
//
// Pillow 9.4 (libjpeg-turbo with SIMD) takes 2.9 ms to decode these files to
// RGB and 5.3 ms to decode and resize them (the whole image, no crop).
func BenchmarkPreprocessImageNetJPEG(b *testing.B) {
	files := imagenetJPEGs(b)
	p := ImageNetProcessor()
	var dst []float32
	b.Run("all", func(b *testing.B) {
		i := 0
		for b.Loop() {
			img, err := Decode(bytes.NewReader(files[i%len(files)]), DefaultMaxPixels)
			if err != nil {
				b.Fatal(err)
			}
			dst = p.Apply(img, dst)
			i++
		}
	})
	b.Run("decode", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := Decode(bytes.NewReader(files[i%len(files)]), DefaultMaxPixels); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("jpeg", func(b *testing.B) { // Go's image/jpeg alone: entropy decoding and IDCT
		i := 0
		for b.Loop() {
			if _, err := jpeg.Decode(bytes.NewReader(files[i%len(files)])); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("jpeg-fast", func(b *testing.B) { // fastJPEG: the same planes, on each path
		isatest.Bench(b, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, ok := fastJPEG(files[i%len(files)]); !ok {
					b.Fatal("declined")
				}
				i++
			}
		})
	})
	var ycc []*image.YCbCr
	var rgbs []*RGB
	for _, f := range files {
		m, err := jpeg.Decode(bytes.NewReader(f))
		if err != nil {
			b.Fatal(err)
		}
		ycc = append(ycc, m.(*image.YCbCr))
		rgbs = append(rgbs, ToRGB(m))
	}
	b.Run("torgb", func(b *testing.B) { // chroma upsampling and colour conversion, on each path
		isatest.Bench(b, func(b *testing.B) {
			i := 0
			for b.Loop() {
				ToRGB(ycc[i%len(ycc)])
				i++
			}
		})
	})
	b.Run("torgb-ref", func(b *testing.B) { // the frozen plane-at-a-time conversion
		i := 0
		for b.Loop() {
			refLibjpegRGB(ycc[i%len(ycc)])
			i++
		}
	})
	b.Run("resize", func(b *testing.B) { // resize and crop, on each instruction-set path
		isatest.Bench(b, func(b *testing.B) {
			i := 0
			for b.Loop() {
				p.Resized(rgbs[i%len(rgbs)])
				i++
			}
		})
	})
	b.Run("resize-ref", func(b *testing.B) { // the frozen two-pass resampler, for comparison
		i := 0
		for b.Loop() {
			img := rgbs[i%len(rgbs)]
			pl, _ := p.plan(img.W, img.H)
			refResizeRegion(img, pl.rw, pl.rh, p.Resample, image.Rect(pl.left, pl.top, pl.left+pl.outW, pl.top+pl.outH))
			i++
		}
	})
	r := p.Resized(rgbs[0])
	b.Run("tensor", func(b *testing.B) { // rescale and normalise
		for b.Loop() {
			dst = p.ToTensor(r, dst)
		}
	})
}
