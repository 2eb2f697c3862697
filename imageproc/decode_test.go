package imageproc

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pngHeader is a PNG signature and IHDR claiming w×h, with no pixel data.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk := append([]byte("IHDR"), ihdr...)
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// jpegHeader is SOI, a baseline SOF0 claiming w×h (one component) and the
// start of a scan, with no entropy-coded data.
func jpegHeader(w, h uint16) []byte {
	sof := []byte{0xff, 0xd8, 0xff, 0xc0, 0, 11, 8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 1, 1, 0x11, 0}
	return append(sof, 0xff, 0xda, 0, 8, 1, 1, 0, 0, 0x3f, 0)
}

// gifHeader is a GIF89a logical screen of w×h with nothing after it.
func gifHeader(w, h uint16) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	return append(b, 0, 0, 0)
}

// bmpHeader is a 24-bit BMP header (BITMAPINFOHEADER) claiming w×h.
func bmpHeader(w, h int32) []byte {
	b := make([]byte, 54)
	copy(b, "BM")
	binary.LittleEndian.PutUint32(b[2:], 54)
	binary.LittleEndian.PutUint32(b[10:], 54)
	binary.LittleEndian.PutUint32(b[14:], 40)
	binary.LittleEndian.PutUint32(b[18:], uint32(w))
	binary.LittleEndian.PutUint32(b[22:], uint32(h))
	binary.LittleEndian.PutUint16(b[26:], 1)
	binary.LittleEndian.PutUint16(b[28:], 24)
	return b
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "convert", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeBadInput(t *testing.T) {
	pngOK := fixture(t, "rgb8.png")
	corrupt := bytes.Clone(pngOK)
	corrupt[len(corrupt)-30] ^= 0xff // inside IDAT: checksum or zlib error
	tests := []struct {
		name      string
		data      []byte
		maxPixels int
		want      []string // substrings of the error
	}{
		{"empty", nil, DefaultMaxPixels, []string{"empty"}},
		{"random bytes", []byte("\x13\x37 this is not an image at all"), DefaultMaxPixels, []string{"unrecognised image format", "PNG"}},
		{"svg", []byte(`<?xml version="1.0"?><svg/>`), DefaultMaxPixels, []string{"SVG", "not supported"}},
		{"ppm", []byte("P6\n2 2\n255\n............"), DefaultMaxPixels, []string{"PNM", "not supported"}},
		{"huge PNG header", pngHeader(30000, 30000), DefaultMaxPixels,
			[]string{"PNG", "30000x30000 = 900000000 pixels, over the limit of 89478485", "--max-pixels"}},
		{"huge JPEG header", jpegHeader(65000, 65000), DefaultMaxPixels, []string{"JPEG", "65000x65000", "over the limit"}},
		{"huge GIF header", gifHeader(65535, 65535), DefaultMaxPixels, []string{"GIF", "65535x65535", "over the limit"}},
		{"huge BMP header", bmpHeader(100000, 100000), DefaultMaxPixels, []string{"BMP", "100000x100000", "over the limit"}},
		{"one pixel over a small limit", pngOK, 13*9 - 1, []string{"13x9 = 117 pixels, over the limit of 116"}},
		{"zero-size PNG", pngHeader(0, 5), DefaultMaxPixels, []string{"PNG"}},
		{"zero-size GIF", gifHeader(0, 0), DefaultMaxPixels, []string{"GIF", "0x0", "at least 1"}},
		{"truncated PNG", pngOK[:len(pngOK)/2], DefaultMaxPixels, []string{"decoding PNG"}},
		{"PNG header only", pngHeader(4, 4), DefaultMaxPixels, []string{"decoding PNG", "truncated"}},
		{"corrupt PNG", corrupt, DefaultMaxPixels, []string{"decoding PNG"}},
		{"truncated JPEG", fixture(t, "jpeg444.jpg")[:300], DefaultMaxPixels, []string{"JPEG"}},
		{"truncated GIF", fixture(t, "palette_trns_gif.gif")[:40], DefaultMaxPixels, []string{"GIF"}},
		{"truncated BMP", fixture(t, "bmp24.bmp")[:100], DefaultMaxPixels, []string{"BMP"}},
		{"truncated TIFF", fixture(t, "tiff_rgb.tiff")[:60], DefaultMaxPixels, []string{"TIFF"}},
		{"truncated WebP", fixture(t, "webp_lossless.webp")[:30], DefaultMaxPixels, []string{"WebP"}},
		{"signature only", []byte("\x89PNG\r\n\x1a\n"), DefaultMaxPixels, []string{"PNG header", "truncated"}},
	}
	for _, tt := range tests {
		img, err := Decode(bytes.NewReader(tt.data), tt.maxPixels)
		if err == nil {
			t.Errorf("%s: decoded a %dx%d image, want an error", tt.name, img.W, img.H)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", tt.name, err, w)
			}
		}
	}
}

func TestDecodeLimits(t *testing.T) {
	data := fixture(t, "rgb8.png") // 13x9
	for _, limit := range []int{13 * 9, 0, -1, DefaultMaxPixels} {
		img, err := Decode(bytes.NewReader(data), limit)
		if err != nil || img.W != 13 || img.H != 9 || len(img.Pix) != 3*13*9 {
			t.Errorf("limit %d: %v", limit, err)
		}
	}
	if _, err := DecodeFile(filepath.Join("testdata", "no-such-file.png"), DefaultMaxPixels); err == nil ||
		!strings.Contains(err.Error(), "no-such-file.png") {
		t.Errorf("missing file: error %v should name the file", err)
	}
	// Errors from DecodeFile name the file.
	dir := t.TempDir()
	if _, err := DecodeFile(dir, DefaultMaxPixels); err == nil || strings.Contains(err.Error(), "empty") {
		t.Errorf("directory: error %v should be the read error", err)
	}
	p := filepath.Join(dir, "cut.png")
	if err := os.WriteFile(p, data[:50], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeFile(p, DefaultMaxPixels); err == nil || !strings.Contains(err.Error(), "cut.png") {
		t.Errorf("truncated file: error %v should name the file", err)
	}
}

// Decoding an image we encode round-trips (a self-check independent of Pillow).
func TestDecodeRoundTrip(t *testing.T) {
	src := randRGB(31, 17, 3)
	var b bytes.Buffer
	if err := png.Encode(&b, src.Image()); err != nil {
		t.Fatal(err)
	}
	got, err := Decode(&b, DefaultMaxPixels)
	if err != nil {
		t.Fatal(err)
	}
	if msg, _ := diffRGB(got, src); msg != "" {
		t.Error(msg)
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"rgb8.png", "palette_trns_gif.gif", "gif_subframe_trns.gif", "bmp24.bmp",
		"tiff_rgb.tiff", "webp_lossless.webp", "jpeg_gray.jpg", "gray16.png"} {
		b, err := os.ReadFile(filepath.Join("testdata", "convert", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(pngHeader(30000, 30000))
	f.Add(gifHeader(3, 3))
	f.Add(jpegHeader(8, 8))
	const limit = 1 << 16
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Decode(bytes.NewReader(data), limit)
		if err != nil {
			if img != nil {
				t.Fatal("image returned with an error")
			}
			return
		}
		if img.W < 1 || img.H < 1 || img.W*img.H > limit || img.Check() != nil {
			t.Fatalf("bad image %dx%d with %d bytes", img.W, img.H, len(img.Pix))
		}
		_ = image.Rect(0, 0, img.W, img.H)
	})
}
