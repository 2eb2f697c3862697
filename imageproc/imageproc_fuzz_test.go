package imageproc

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/internal/memcheck"
)

// Fuzz targets per decoder path (FuzzDecode in decode_test.go and FuzzFastJPEG in
// jpegfast_test.go are the other two). Run with tools/fuzz.sh, or e.g.
// `go test -run '^$' -fuzz '^FuzzDecodeJPEG$' -fuzztime 60s ./imageproc`.

// fuzzMaxPixels is the pixel limit the fuzz targets decode under: large enough for every
// seed, small enough that a header announcing a bomb is refused before decoding.
const fuzzMaxPixels = 1 << 16

// decodeBound: Decode allocates at most 64 bytes per input byte (the reads and the copy
// handed to the decoder) plus 64 bytes per allowed pixel (the decoded image, ≤ 8 bytes a
// pixel for 16-bit RGBA; progressive JPEG coefficients, 3×128 bytes per 8×8 block; the
// RGB result) plus 1 MiB of tables and buffers. A header over maxPixels is refused before
// any pixel buffer exists, so the pixel term is the limit's, whatever the header says.
var decodeBound = memcheck.Bound{PerByte: 64, Cap: 64*fuzzMaxPixels + 1<<20}

// decodeWithin runs Decode under fuzzMaxPixels and checks the memory bound and the basic
// contract (an image or an error, never both; a returned image within the limit).
func decodeWithin(t *testing.T, data []byte) (*RGB, error) {
	t.Helper()
	var img *RGB
	var err error
	n := memcheck.Bytes(func() { img, err = Decode(bytes.NewReader(data), fuzzMaxPixels) })
	if e := decodeBound.Check("Decode", len(data), n); e != nil {
		t.Fatal(e)
	}
	if err != nil {
		if img != nil {
			t.Fatal("image returned with an error")
		}
		return nil, err
	}
	if img.W < 1 || img.H < 1 || img.W*img.H > fuzzMaxPixels || img.Check() != nil {
		t.Fatalf("bad image %dx%d with %d bytes", img.W, img.H, len(img.Pix))
	}
	return img, nil
}

func addFiles(f *testing.F, pattern string) {
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files %s", pattern)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) <= 8<<10 {
			f.Add(b)
		}
	}
}

// FuzzDecodeJPEG: Decode's JPEG path (the fast decoder, its image/jpeg fallback, the
// libjpeg-style colour conversion) gives exactly ToRGB of image/jpeg's decode, and fails
// exactly where image/jpeg fails, but for the restart intervals image/jpeg miscounts.
func FuzzDecodeJPEG(f *testing.F) {
	addFiles(f, "testdata/convert/*.jpg")
	addFiles(f, "testdata/jpegvariants/*_17x9*.jpg")
	addFiles(f, "testdata/jpeglayouts/*_5x6.jpg")
	addFiles(f, "testdata/orientation/jpeg_o[56].jpg")
	f.Add(jpegHeader(8, 8))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeWithin(t, data)
		c, cerr := jpeg.DecodeConfig(bytes.NewReader(data))
		if cerr != nil || c.Width*c.Height > fuzzMaxPixels || c.Width < 1 || c.Height < 1 {
			if err == nil {
				t.Fatalf("decoded a JPEG whose header image/jpeg refuses (%v) or is over the limit", cerr)
			}
			return
		}
		var want image.Image
		werr := guard(func() (err error) { want, err = jpeg.Decode(bytes.NewReader(data)); return err })
		if err == nil && werr != nil {
			// Restart intervals counted in blocks, which image/jpeg miscounts
			// (TestFastJPEGRestartsPerBlock): the one kind of data decoded here
			// that image/jpeg rejects.
			if d := (&jpegDecoder{data: data}); func() bool { _, ok := d.decode(); return ok }() && d.restartsPerBlock {
				return
			}
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("Decode error %v, image/jpeg error %v", err, werr)
		}
		if err != nil {
			return
		}
		if msg, _ := diffRGB(got, Orient(ToRGB(want), jpegOrientation(data))); msg != "" {
			t.Fatalf("Decode differs from ToRGB(image/jpeg), turned as its EXIF says: %s", msg)
		}
	})
}

// FuzzDecodeGIF: the first-frame GIF path (transparency kept, sub-frames placed on the
// screen) within the memory bound; a decoded GIF has the logical screen's size.
func FuzzDecodeGIF(f *testing.F) {
	addFiles(f, "testdata/convert/*.gif")
	f.Add(gifHeader(3, 3))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := decodeWithin(t, data)
		if err != nil {
			return
		}
		if len(data) < 10 || img.W != int(data[6])|int(data[7])<<8 || img.H != int(data[8])|int(data[9])<<8 {
			t.Fatalf("decoded %dx%d, not the logical screen's size", img.W, img.H)
		}
	})
}

// FuzzDecodeWebP: the WebP wrapper (x/image/webp, then libwebp's conversion for lossy
// Y'CbCr) within the memory bound.
func FuzzDecodeWebP(f *testing.F) {
	addFiles(f, "testdata/convert/*.webp")
	addFiles(f, "testdata/orientation/*.webp")
	f.Fuzz(func(t *testing.T, data []byte) { decodeWithin(t, data) })
}

// FuzzDecodePNG: PNG (and BMP, TIFF, which share the path) through the size guard: the
// memory bound holds whatever size the header claims, pngHeader(30000, 30000) included.
func FuzzDecodePNG(f *testing.F) {
	addFiles(f, "testdata/convert/*.png")
	addFiles(f, "testdata/convert/*.bmp")
	addFiles(f, "testdata/convert/*.tiff")
	addFiles(f, "testdata/orientation/png_[erx]*.png")
	addFiles(f, "testdata/orientation/tiff_o6.tif")
	f.Add(pngHeader(30000, 30000))
	f.Fuzz(func(t *testing.T, data []byte) { decodeWithin(t, data) })
}

// FuzzJPEGColour: the AVX2 chroma upsampling and colour conversion give the Go loops'
// result (which TestJPEGLayoutsUpsampleExact checks against libjpeg-turbo) for every
// subsampling ratio, size and plane content. On CPUs without AVX2 both sides are Go.
func FuzzJPEGColour(f *testing.F) {
	f.Add(uint8(2), uint8(37), uint8(19), []byte("seed planes"))
	f.Add(uint8(1), uint8(64), uint8(3), []byte{0, 255, 128, 1})
	f.Add(uint8(0), uint8(1), uint8(1), []byte{})
	ratios := []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410}
	f.Fuzz(func(t *testing.T, r, w8, h8 uint8, fill []byte) {
		w, h := 1+int(w8)%96, 1+int(h8)%24
		m := image.NewYCbCr(image.Rect(0, 0, w, h), ratios[int(r)%len(ratios)])
		if len(fill) > 0 {
			for _, p := range [][]uint8{m.Y, m.Cb, m.Cr} {
				for i := range p {
					p[i] = fill[i%len(fill)] + uint8(i/len(fill))
				}
			}
		}
		want, ok := libjpegRGBWith(m, false)
		got, ok2 := libjpegRGBWith(m, useAVX2())
		if !ok || !ok2 {
			t.Fatalf("%v %dx%d: not converted", m.SubsampleRatio, w, h)
		}
		if msg, _ := diffRGB(got, want); msg != "" {
			t.Fatalf("%v %dx%d: AVX2 vs Go: %s", m.SubsampleRatio, w, h, msg)
		}
	})
}

// libjpegRGBWith is libjpegRGB's loop with the AVX2 kernels on or off.
func libjpegRGBWith(m *image.YCbCr, avx bool) (*RGB, bool) {
	hf, vf, ok := subsampling(m.SubsampleRatio)
	if !ok {
		return nil, false
	}
	w, h := m.Rect.Dx(), m.Rect.Dy()
	cw, ch := (w+hf-1)/hf, (h+vf-1)/vf
	out := NewRGB(w, h)
	cbUp := newRowUpsampler(m.Cb, m.CStride, cw, ch, w, hf, vf, avx)
	crUp := newRowUpsampler(m.Cr, m.CStride, cw, ch, w, hf, vf, avx)
	for y := 0; y < h; y++ {
		ycbcrRow(out.Pix[3*y*w:], m.Y[y*m.YStride:y*m.YStride+w], cbUp.row(y), crUp.row(y), avx)
	}
	if avx == useAVX2() {
		// The copy above must stay libjpegRGB's loop.
		if ref, ok := libjpegRGB(m); !ok || !bytes.Equal(ref.Pix, out.Pix) {
			return nil, false
		}
	}
	return out, true
}

// checkRIFFSizes passes every WebP fixture and refuses a header or chunk that claims more
// bytes than follow, with the chunk named.
func TestCheckRIFFSizes(t *testing.T) {
	files, _ := filepath.Glob("testdata/convert/*.webp")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkRIFFSizes(b); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	riff := func(size uint32, chunks ...[]byte) []byte {
		b := []byte("RIFF\x00\x00\x00\x00WEBP")
		binary.LittleEndian.PutUint32(b[4:], size)
		for _, c := range chunks {
			b = append(b, c...)
		}
		return b
	}
	chunk := func(tag string, claim uint32, n int) []byte {
		return append(binary.LittleEndian.AppendUint32([]byte(tag), claim), make([]byte, n)...)
	}
	for _, c := range []struct {
		name string
		data []byte
		err  string // "" for none
	}{
		{"exact", riff(4+8+3+1, chunk("VP8 ", 3, 4)), ""}, // odd chunk, padded
		{"trailing bytes", append(riff(4+8+4, chunk("VP8L", 4, 4)), 1, 2, 3), ""},
		{"short file", []byte("RIFF\x00\x00"), "unexpected EOF"},
		{"RIFF size past the end", riff(1000, chunk("VP8 ", 4, 4)), "RIFF header claims 1000 bytes, only 16 follow"},
		{"chunk past the end", riff(4+8+4, chunk("VP8 ", 5_700_000, 4)), `chunk "VP8 " claims 5700000 bytes, only 4 follow`},
	} {
		err := checkRIFFSizes(c.data)
		if (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.err)
		}
	}
}
