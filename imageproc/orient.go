package imageproc

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/hex"
	"io"
	"regexp"
	"strings"
)

// Orientation is an image's EXIF orientation (TIFF tag 274): how the stored
// pixels are to be turned to show the picture upright. Phone cameras store
// the sensor's rows as they come and record the turn here, so a portrait
// photo is usually stored sideways with orientation 6. 0 means the file says
// nothing; 1 is upright; 2–8 are the seven flips and turns, numbered as EXIF
// and Pillow's ImageOps.exif_transpose number them.
type Orientation uint8

// String names the transposition that turns the image upright, in Pillow's
// words (Image.Transpose).
func (o Orientation) String() string {
	switch o {
	case 0:
		return "none"
	case 1:
		return "upright"
	case 2:
		return "flip left-right"
	case 3:
		return "rotate 180"
	case 4:
		return "flip top-bottom"
	case 5:
		return "transpose"
	case 6:
		return "rotate 270"
	case 7:
		return "transverse"
	case 8:
		return "rotate 90"
	}
	return "invalid"
}

// Orient returns img turned upright as orientation o says, the pixels
// Pillow's ImageOps.exif_transpose gives: 2 flips left-right, 3 turns by
// 180°, 4 flips top-bottom, 5 transposes (mirrors across the main diagonal),
// 6 turns 90° clockwise (Pillow's ROTATE_270), 7 mirrors across the other
// diagonal, 8 turns 90° anticlockwise. For any other o it returns img itself.
// The result is a new image (its memory from the decode pool, see Release);
// img is left as it was.
func Orient(img *RGB, o Orientation) *RGB {
	if o < 2 || o > 8 {
		return img
	}
	w, h := img.W, img.H
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	out := pooledRGB(ow, oh)
	// Source pixel of output pixel (x, y): sx = ax + bx·x + cx·y, sy = ay + by·x + cy·y.
	var ax, bx, cx, ay, by, cy int
	switch o {
	case 2: // (w-1-x, y)
		ax, bx, cy = w-1, -1, 1
	case 3: // (w-1-x, h-1-y)
		ax, bx, ay, cy = w-1, -1, h-1, -1
	case 4: // (x, h-1-y)
		bx, ay, cy = 1, h-1, -1
	case 5: // (y, x)
		cx, by = 1, 1
	case 6: // (y, h-1-x)
		cx, ay, by = 1, h-1, -1
	case 7: // (w-1-y, h-1-x)
		ax, cx, ay, by = w-1, -1, h-1, -1
	case 8: // (w-1-y, x)
		ax, cx, by = w-1, -1, 1
	}
	// Each output row reads the source at a fixed step: a row (4), a row
	// backwards (2, 3) or a column (5–8). A turn by 90° goes in tiles of
	// 64×64 pixels, bands of 64 output rows: a band's output lines stay in
	// cache while its tiles fill them, and each tile reads 192 bytes
	// (3 cache lines) of 64 source rows. Bands run in parallel.
	stepX, stepY := 3*(by*w+bx), 3*(cy*w+cx) // source bytes per output column, row
	origin := 3 * (ay*w + ax)
	tw, th := ow, 64
	if o >= 5 {
		tw = 64
	}
	src, dst := img.Pix, out.Pix
	parallelRows((oh+th-1)/th, th*ow, func(b0, b1 int) {
		for ty := b0 * th; ty < min(b1*th, oh); ty += th {
			for tx := 0; tx < ow; tx += tw {
				n := 3 * min(tw, ow-tx)
				for y := ty; y < min(ty+th, oh); y++ {
					s := origin + y*stepY + tx*stepX
					row := dst[3*(y*ow+tx):][:n]
					if stepX == 3 {
						copy(row, src[s:s+n])
						continue
					}
					orientRow(row, src, s, stepX)
				}
			}
		}
	})
	return out
}

// orientRow fills row with the pixels of src from byte s on, stepX bytes apart.
func orientRow(row, src []uint8, s, stepX int) {
	// Four bytes a pixel, each store's fourth byte overwritten by the next
	// pixel: fewer instructions than three bytes apart.
	n, i := len(row), 0
	for ; i < n-3; i += 3 {
		if s+4 > len(src) {
			break // the image's last pixel: no fourth byte to read
		}
		binary.LittleEndian.PutUint32(row[i:], binary.LittleEndian.Uint32(src[s:]))
		s += stepX
	}
	for ; i < n; i += 3 {
		p := src[s : s+3 : s+3]
		row[i], row[i+1], row[i+2] = p[0], p[1], p[2]
		s += stepX
	}
}

// The metadata that carries an orientation, in the order Pillow (11 and
// later) consults it: the EXIF block's tag 274; without that tag, an XMP
// packet's tiff:Orientation. Pillow 9.4 reads XMP orientation from PNG only;
// the JPEG and WebP XMP cases follow the newer versions, which transformers 5
// users have. Metadata that cannot be parsed (truncated, offsets out of
// range) counts as absent: the image is used as stored.

// tiffOrientation reads tag 274 from the first image directory (IFD0) of the
// TIFF structure t, which is also the form of an EXIF block (JPEG's APP1 and
// some PNG and WebP writers keep its "Exif\0\0" prefix). found is false
// where t has no such tag or is not a readable TIFF header and directory. A
// tag of any integer type with one value counts, as in Pillow; any other form
// gives 0, found (Pillow's value is then a tuple or a string, which
// exif_transpose ignores, and which hides an XMP orientation).
func tiffOrientation(t []byte) (o Orientation, found bool) {
	t = bytes.TrimPrefix(t, []byte("Exif\x00\x00"))
	if len(t) < 8 {
		return 0, false
	}
	var bo binary.ByteOrder
	switch string(t[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 0, false
	}
	ifd := uint64(bo.Uint32(t[4:]))
	if ifd+2 > uint64(len(t)) {
		return 0, false
	}
	n := uint64(bo.Uint16(t[ifd:]))
	for i := range n {
		e := ifd + 2 + 12*i
		if e+12 > uint64(len(t)) {
			break // a truncated directory: the entries that are there count
		}
		if bo.Uint16(t[e:]) != 274 {
			continue
		}
		typ, count := bo.Uint16(t[e+2:]), bo.Uint32(t[e+4:])
		if count != 1 {
			return 0, true
		}
		var v uint32
		switch typ {
		case 1, 6: // BYTE, SBYTE
			v = uint32(t[e+8])
		case 3, 8: // SHORT, SSHORT
			v = uint32(bo.Uint16(t[e+8:]))
		case 4, 9: // LONG, SLONG
			v = bo.Uint32(t[e+8:])
		default:
			return 0, true
		}
		return Orientation(min(v, 255)), true // over 8: invalid, but present
	}
	return 0, false
}

var xmpOrientation = regexp.MustCompile(`tiff:Orientation(="|>)([0-9])`)

// xmpOrient is the first tiff:Orientation value in an XMP packet, as
// Pillow's getexif searches for it, or 0.
func xmpOrient(xmp []byte) Orientation {
	if m := xmpOrientation.FindSubmatch(xmp); m != nil {
		return Orientation(m[2][0] - '0')
	}
	return 0
}

// orientation combines what a file's metadata says: the EXIF tag where the
// EXIF block has one, else the XMP value. Values outside 1–8 come out as 0.
func orientation(exif, xmp []byte) Orientation {
	o, found := tiffOrientation(exif)
	if !found {
		o = xmpOrient(xmp)
	}
	if o > 8 {
		return 0
	}
	return o
}

// jpegOrientation reads the orientation from a JPEG's APP1 segments before
// its first scan: the first "Exif\0" segment (as Pillow takes it) and the
// last XMP one.
func jpegOrientation(data []byte) Orientation {
	const xmpID = "http://ns.adobe.com/xap/1.0/\x00"
	var exif, xmp []byte
	haveExif := false
	p := 2 // after SOI
	for p+4 <= len(data) {
		if data[p] != 0xff {
			break
		}
		marker := data[p+1]
		switch {
		case marker == 0xff: // fill byte
			p++
			continue
		case marker == 0xd8 || marker >= 0xd0 && marker <= 0xd7 || marker == 0x01: // no length
			p += 2
			continue
		case marker == 0xda || marker == 0xd9: // start of scan, end of image
			return orientation(exif, xmp)
		}
		n := int(binary.BigEndian.Uint16(data[p+2:]))
		if n < 2 || p+2+n > len(data) {
			break
		}
		seg := data[p+4 : p+2+n]
		if marker == 0xe1 {
			switch {
			case !haveExif && bytes.HasPrefix(seg, []byte("Exif\x00")):
				exif, haveExif = seg, true
			case bytes.HasPrefix(seg, []byte(xmpID)):
				xmp = seg[len(xmpID):]
			}
		}
		p += 2 + n
	}
	return orientation(exif, xmp)
}

// pngOrientation reads the orientation from a PNG's chunks, before or after
// the image data as Pillow's load does: the last eXIf chunk, else an
// ImageMagick "Raw profile type exif" text chunk (hex), else the XMP packet
// of an "XML:com.adobe.xmp" text chunk.
func pngOrientation(data []byte) Orientation {
	var exif, raw, xmp []byte
	p := 8
	for p+12 <= len(data) {
		n := uint64(binary.BigEndian.Uint32(data[p:]))
		typ := string(data[p+4 : p+8])
		if uint64(p)+12+n > uint64(len(data)) {
			break
		}
		body := data[p+8 : p+8+int(n)]
		switch typ {
		case "eXIf":
			exif = body
		case "tEXt", "zTXt", "iTXt":
			key, text, ok := pngText(typ, body)
			if ok && key == "Raw profile type exif" {
				raw = text
			} else if ok && key == "XML:com.adobe.xmp" {
				xmp = text
			}
		case "IEND":
			p = len(data)
			continue
		}
		p += 12 + int(n)
	}
	if exif == nil && raw != nil {
		exif = rawProfile(raw)
	}
	return orientation(exif, xmp)
}

// pngText splits a text chunk into its keyword and its (inflated) text.
func pngText(typ string, body []byte) (key string, text []byte, ok bool) {
	k, rest, found := bytes.Cut(body, []byte{0})
	if !found {
		return "", nil, false
	}
	key = string(k)
	if key != "Raw profile type exif" && key != "XML:com.adobe.xmp" {
		return key, nil, false
	}
	compressed := false
	switch typ {
	case "zTXt":
		if len(rest) < 1 {
			return "", nil, false
		}
		rest, compressed = rest[1:], true
	case "iTXt":
		// compression flag, method, language tag\0, translated keyword\0
		if len(rest) < 2 {
			return "", nil, false
		}
		compressed = rest[0] == 1
		rest = rest[2:]
		for range 2 {
			if _, rest, found = bytes.Cut(rest, []byte{0}); !found {
				return "", nil, false
			}
		}
	}
	if compressed {
		zr, err := zlib.NewReader(bytes.NewReader(rest))
		if err != nil {
			return "", nil, false
		}
		// Metadata, not pixels: the first 256 KiB are searched (an EXIF block
		// is at most 64 KiB, 128 in hex; the XMP tag sits near a packet's start).
		rest, err = io.ReadAll(io.LimitReader(zr, 256<<10))
		if err != nil {
			return "", nil, false
		}
	}
	return key, rest, true
}

// rawProfile decodes ImageMagick's "Raw profile type exif" text: a blank
// line, the profile name, the length, then the bytes in hex over many lines
// (Pillow joins the lines after the third and reads them as hex).
func rawProfile(text []byte) []byte {
	lines := strings.Split(string(text), "\n")
	if len(lines) < 4 {
		return nil
	}
	h := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\v' || r == '\f' {
			return -1
		}
		return r
	}, strings.Join(lines[3:], ""))
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil
	}
	return b
}

// webpOrientation reads the orientation from a WebP's RIFF chunks: the first
// "EXIF", else the first "XMP ".
func webpOrientation(data []byte) Orientation {
	var exif, xmp []byte
	riffChunks(data, func(id string, payload []byte) bool {
		switch {
		case id == "EXIF" && exif == nil:
			exif = payload
		case id == "XMP " && xmp == nil:
			xmp = payload
		}
		return true
	})
	return orientation(exif, xmp)
}

// tiffFileOrientation is a TIFF file's own tag 274 (Pillow reads a TIFF's
// EXIF from its first directory).
func tiffFileOrientation(data []byte) Orientation { return orientation(data, nil) }
