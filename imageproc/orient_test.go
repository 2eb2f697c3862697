package imageproc

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestOrientationPillow decodes the files of testdata/orientation (every EXIF
// orientation, in JPEG, PNG, WebP and TIFF, as EXIF, XMP and ImageMagick's raw
// profile; tools/fixtures/gen_orientation.py) and compares the upright image
// with Pillow's ImageOps.exif_transpose: exactly for the lossless formats, and
// for JPEG within the IDCT rounding by which Go's decoder may differ from
// libjpeg-turbo (1–3 levels, see doc.go; these small gradients decode
// identically), while a wrong turn moves pixels by 20–240 levels.
// KeepOrientation gives the stored pixels.
func TestOrientationPillow(t *testing.T) {
	dir := filepath.Join("testdata", "orientation")
	var manifest struct {
		Cases []struct {
			Name, File, Want string
			Orientation      Orientation
			Exact            bool
			Size             [2]int
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "orientation.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest.Cases) < 24 {
		t.Fatalf("orientation.json lists %d cases, want 24", len(manifest.Cases))
	}
	for _, c := range manifest.Cases {
		t.Run(c.Name, func(t *testing.T) {
			path := filepath.Join(dir, c.File)
			got, err := DecodeFile(path, 0)
			if err != nil {
				t.Fatal(err)
			}
			want, err := DecodeFile(filepath.Join(dir, c.Want), 0)
			if err != nil {
				t.Fatal(err)
			}
			if got.W != c.Size[0] || got.H != c.Size[1] || want.W != got.W || want.H != got.H {
				t.Fatalf("upright image is %dx%d, Pillow's %dx%d (manifest %v)", got.W, got.H, want.W, want.H, c.Size)
			}
			tol := 0
			if !c.Exact {
				tol = 3
			}
			if d := maxDiff(got.Pix, want.Pix); d > tol {
				t.Errorf("upright pixels differ from Pillow's by up to %d levels (allowed %d)", d, tol)
			}
			stored, err := DecodeFileWith(path, DecodeOptions{KeepOrientation: true})
			if err != nil {
				t.Fatal(err)
			}
			if o := c.Orientation; o >= 5 && o <= 8 {
				if stored.W != got.H || stored.H != got.W {
					t.Errorf("KeepOrientation gave %dx%d, want the stored %dx%d", stored.W, stored.H, got.H, got.W)
				}
			}
			// The upright image is the stored one turned as the file says.
			if up := Orient(stored, c.Orientation); !bytes.Equal(up.Pix, got.Pix) || up.W != got.W {
				t.Errorf("Orient(stored, %d) differs from the decoded upright image", c.Orientation)
			}
		})
	}
}

func maxDiff(a, b []uint8) int {
	if len(a) != len(b) {
		return 256
	}
	d := 0
	for i := range a {
		d = max(d, abs(int(a[i])-int(b[i])))
	}
	return d
}

// TestOrientSpec checks Orient against the definition of each orientation
// (where stored pixel (x, y) of a w×h image lands) on an image whose every
// pixel is distinct, with sizes that catch a swapped width and height.
func TestOrientSpec(t *testing.T) {
	for _, size := range [][2]int{{1, 1}, {3, 2}, {2, 3}, {33, 70}, {70, 33}} {
		w, h := size[0], size[1]
		img := NewRGB(w, h)
		for i := range img.Pix {
			img.Pix[i] = uint8(i*7 + i/251)
		}
		for o := Orientation(0); o <= 9; o++ {
			got := Orient(img, o)
			// dest(x, y) of stored pixel (x, y), after the turn o.
			dest := func(x, y int) (int, int) {
				switch o {
				case 2:
					return w - 1 - x, y
				case 3:
					return w - 1 - x, h - 1 - y
				case 4:
					return x, h - 1 - y
				case 5:
					return y, x
				case 6: // 90° clockwise: the left column becomes the top row
					return h - 1 - y, x
				case 7:
					return h - 1 - y, w - 1 - x
				case 8: // 90° anticlockwise: the top row becomes the left column
					return y, w - 1 - x
				}
				return x, y
			}
			ow, oh := w, h
			if o >= 5 && o <= 8 {
				ow, oh = h, w
			}
			if got.W != ow || got.H != oh {
				t.Fatalf("%dx%d orientation %d: got %dx%d, want %dx%d", w, h, o, got.W, got.H, ow, oh)
			}
			for y := range h {
				for x := range w {
					dx, dy := dest(x, y)
					r, g, b := img.At(x, y)
					if r2, g2, b2 := got.At(dx, dy); r2 != r || g2 != g || b2 != b {
						t.Fatalf("%dx%d orientation %d (%v): stored (%d,%d) not at (%d,%d)", w, h, o, o, x, y, dx, dy)
					}
				}
			}
			if (o < 2 || o > 8) != (got == img) {
				t.Errorf("orientation %d: returned the input %v", o, got == img)
			}
		}
	}
}

// byteOrder is a byte order that also appends.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// exifBlock is a minimal EXIF block: a TIFF header and IFD0 with the given
// entries (tag, type, count, 4 value bytes), in byte order bo.
func exifBlock(bo byteOrder, entries ...[4]uint32) []byte {
	var b []byte
	if bo == byteOrder(binary.LittleEndian) {
		b = []byte("II*\x00")
	} else {
		b = []byte("MM\x00*")
	}
	b = bo.AppendUint32(b, 8)
	b = bo.AppendUint16(b, uint16(len(entries)))
	for _, e := range entries {
		b = bo.AppendUint16(b, uint16(e[0]))
		b = bo.AppendUint16(b, uint16(e[1]))
		b = bo.AppendUint32(b, e[2])
		v := make([]byte, 4)
		switch e[1] {
		case 3, 8:
			bo.PutUint16(v, uint16(e[3]))
		case 1, 6:
			v[0] = byte(e[3])
		default:
			bo.PutUint32(v, e[3])
		}
		b = append(b, v...)
	}
	return bo.AppendUint32(b, 0)
}

// TestOrientationMetadata covers the metadata forms and the damaged ones that
// the Pillow fixtures do not: byte orders, tag types, XMP in JPEG and WebP (as
// Pillow 11 and later read it), and truncated or lying structures, which
// count as no orientation rather than an error or a panic.
func TestOrientationMetadata(t *testing.T) {
	le, be := byteOrder(binary.LittleEndian), byteOrder(binary.BigEndian)
	other := [4]uint32{0x010f, 2, 4, 0x41424300} // Make, ASCII
	jpegWith := func(segs ...[]byte) []byte {
		b := []byte{0xff, 0xd8}
		for _, s := range segs {
			b = append(b, 0xff, 0xe1)
			b = binary.BigEndian.AppendUint16(b, uint16(len(s)+2))
			b = append(b, s...)
		}
		return append(b, 0xff, 0xda, 0, 2, 0xff, 0xd9)
	}
	exif := func(b []byte) []byte { return append([]byte("Exif\x00\x00"), b...) }
	xmp := func(v string) []byte {
		return []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta><rdf:Description tiff:Orientation=\"" + v + "\"/></x:xmpmeta>")
	}
	riff := func(chunks ...string) []byte {
		var body []byte
		for i := 0; i < len(chunks); i += 2 {
			body = append(body, chunks[i]...)
			body = binary.LittleEndian.AppendUint32(body, uint32(len(chunks[i+1])))
			body = append(body, chunks[i+1]...)
			if len(chunks[i+1])%2 == 1 {
				body = append(body, 0)
			}
		}
		return append(binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(4+len(body))), append([]byte("WEBP"), body...)...)
	}
	six := exifBlock(be, other, [4]uint32{274, 3, 1, 6})
	cases := []struct {
		name string
		got  Orientation
		want Orientation
	}{
		{"jpeg exif big-endian", jpegOrientation(jpegWith(exif(six))), 6},
		{"jpeg exif little-endian", jpegOrientation(jpegWith(exif(exifBlock(le, [4]uint32{274, 3, 1, 8})))), 8},
		{"jpeg exif long", jpegOrientation(jpegWith(exif(exifBlock(le, [4]uint32{274, 4, 1, 3})))), 3},
		{"jpeg exif byte", jpegOrientation(jpegWith(exif(exifBlock(be, [4]uint32{274, 1, 1, 5})))), 5},
		{"jpeg exif two values", jpegOrientation(jpegWith(exif(exifBlock(le, [4]uint32{274, 3, 2, 6})))), 0},
		{"jpeg exif ascii", jpegOrientation(jpegWith(exif(exifBlock(le, [4]uint32{274, 2, 1, 6})))), 0},
		{"jpeg exif out of range", jpegOrientation(jpegWith(exif(exifBlock(le, [4]uint32{274, 3, 1, 300})))), 0},
		{"jpeg first exif segment counts", jpegOrientation(jpegWith(exif(six), exif(exifBlock(le, [4]uint32{274, 3, 1, 3})))), 6},
		{"jpeg xmp only", jpegOrientation(jpegWith(xmp("8"))), 8},
		{"jpeg exif beats xmp", jpegOrientation(jpegWith(xmp("8"), exif(six))), 6},
		{"jpeg invalid exif value hides xmp", jpegOrientation(jpegWith(xmp("8"), exif(exifBlock(le, [4]uint32{274, 3, 1, 0})))), 0},
		{"jpeg exif without the tag: xmp", jpegOrientation(jpegWith(exif(exifBlock(le, other)), xmp("5"))), 5},
		{"jpeg after the scan ignored", jpegOrientation(append(jpegWith(), jpegWith(exif(six))[2:]...)), 0},
		{"jpeg bad tiff header", jpegOrientation(jpegWith([]byte("Exif\x00\x00XX*\x00\x08\x00\x00\x00"))), 0},
		{"jpeg ifd offset past the end", jpegOrientation(jpegWith(exif([]byte("II*\x00\xff\xff\xff\xff")))), 0},
		{"jpeg entry count past the end", jpegOrientation(jpegWith(exif(six[:len(six)-16]))), 0},
		{"jpeg segment length past the end", jpegOrientation(jpegWith(exif(six))[:20]), 0},
		{"jpeg nothing", jpegOrientation([]byte{0xff, 0xd8}), 0},
		{"webp exif", webpOrientation(riff("VP8X", "0123456789", "EXIF", string(six))), 6},
		{"webp exif with prefix", webpOrientation(riff("EXIF", string(exif(six)))), 6},
		{"webp xmp", webpOrientation(riff("XMP ", "<tiff:Orientation>7</tiff:Orientation>")), 7},
		{"webp chunk past the end", webpOrientation(riff("EXIF", string(six))[:30]), 0},
		{"tiff file", tiffFileOrientation(exifBlock(le, [4]uint32{274, 3, 1, 2})), 2},
		{"tiff truncated", tiffFileOrientation([]byte("II*\x00\x08\x00")), 0},
		{"png truncated chunk", pngOrientation(append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x01\x00eXIf"), six...)), 0},
		{"raw profile not hex", orientation(rawProfile([]byte("\nexif\n 10\nzz")), nil), 0},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: orientation %d, want %d", c.name, c.got, c.want)
		}
	}
}

// TestDecodeOrientationJPEG checks that DecodeWith turns a JPEG whose EXIF
// says 6 (width and height swapped) unless told to keep it as stored.
func TestDecodeOrientationJPEG(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "orientation", "jpeg_o6.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, keep := range []bool{false, true} {
		img, err := DecodeWith(bytes.NewReader(data), DecodeOptions{KeepOrientation: keep})
		if err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprintf("%dx%d", img.W, img.H)
		want := map[bool]string{false: "5x7", true: "7x5"}[keep]
		if got != want {
			t.Errorf("KeepOrientation %v: %s, want %s", keep, got, want)
		}
	}
}

// BenchmarkOrient turns a 12-megapixel photo (4032×3024) by each kind of move.
func BenchmarkOrient(b *testing.B) {
	img := NewRGB(4032, 3024)
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7) // pages of its own, not the shared zero page
	}
	for _, o := range []Orientation{2, 3, 4, 6, 8} {
		b.Run(fmt.Sprint(o), func(b *testing.B) {
			b.SetBytes(int64(len(img.Pix)))
			for b.Loop() {
				Orient(img, o).Release()
			}
		})
	}
}
