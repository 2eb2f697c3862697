package imageproc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// DefaultMaxPixels is Pillow's Image.MAX_IMAGE_PIXELS: images with more pixels
// are refused before any pixel is decoded (a decompression-bomb guard).
const DefaultMaxPixels = 89478485

// format is one supported file format and how to recognise it.
type format struct {
	name   string
	magic  func(head []byte) bool
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

var formats = []format{
	{"JPEG", prefix("\xff\xd8"), jpeg.DecodeConfig, jpeg.Decode},
	{"PNG", prefix("\x89PNG\r\n\x1a\n"), png.DecodeConfig, png.Decode},
	{"GIF", func(h []byte) bool { return hasPrefix(h, "GIF87a") || hasPrefix(h, "GIF89a") }, gif.DecodeConfig, nil}, // decoded by decodeGIF
	{"BMP", prefix("BM"), bmp.DecodeConfig, bmp.Decode},
	{"TIFF", func(h []byte) bool { return hasPrefix(h, "II*\x00") || hasPrefix(h, "MM\x00*") }, tiff.DecodeConfig, tiff.Decode},
	{"WebP", func(h []byte) bool { return len(h) >= 12 && hasPrefix(h, "RIFF") && string(h[8:12]) == "WEBP" }, webp.DecodeConfig, webp.Decode},
}

// Formats recognised only to say clearly that they are not supported.
var unsupported = []struct {
	name  string
	magic func([]byte) bool
}{
	{"HEIF/AVIF", func(h []byte) bool { return len(h) >= 12 && string(h[4:8]) == "ftyp" }},
	{"PNM (PPM/PGM/PBM)", func(h []byte) bool { return len(h) >= 2 && h[0] == 'P' && h[1] >= '1' && h[1] <= '7' }},
	{"ICO", prefix("\x00\x00\x01\x00")},
	{"SVG/XML/HTML text", func(h []byte) bool { t := bytes.TrimLeft(h, " \t\r\n\ufeff"); return len(t) > 0 && t[0] == '<' }},
	{"JPEG 2000", prefix("\x00\x00\x00\x0cjP  ")},
	{"PSD", prefix("8BPS")},
}

const supportedList = "JPEG, PNG, GIF, BMP, TIFF, WebP"

func prefix(p string) func([]byte) bool { return func(h []byte) bool { return hasPrefix(h, p) } }

func hasPrefix(h []byte, p string) bool { return len(h) >= len(p) && string(h[:len(p)]) == p }

// DecodeOptions say how DecodeWith reads an image.
type DecodeOptions struct {
	// MaxPixels refuses images with more pixels, read from the header
	// before any pixel is decoded; <= 0 means no limit.
	MaxPixels int
	// KeepOrientation returns the pixels as stored, as Pillow's Image.open
	// and torchvision's ImageFolder do. By default an image is turned
	// upright as its EXIF orientation says (Orient), as transformers'
	// load_image (and so its pipelines) and the datasets library's Image
	// feature do: a phone's portrait photo, stored sideways, is classified
	// upright.
	KeepOrientation bool
}

// DecodeFile opens and decodes an image file; see Decode. Errors name the file.
func DecodeFile(path string, maxPixels int) (*RGB, error) {
	return DecodeFileWith(path, DecodeOptions{MaxPixels: maxPixels})
}

// DecodeFileWith is DecodeFile with options.
func DecodeFileWith(path string, o DecodeOptions) (*RGB, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := DecodeWith(f, o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// Decode reads a JPEG, PNG, GIF (first frame), BMP, TIFF or WebP image,
// converts it with ToRGB and turns it upright as its EXIF orientation says
// (see DecodeOptions). The header is read first and an image of more than
// maxPixels pixels is refused before its pixels are decoded; maxPixels <= 0
// means no limit. Truncated or corrupt data gives an error naming the format;
// no input makes it panic.
func Decode(r io.Reader, maxPixels int) (*RGB, error) {
	return DecodeWith(r, DecodeOptions{MaxPixels: maxPixels})
}

// DecodeWith is Decode with options.
func DecodeWith(r io.Reader, o DecodeOptions) (*RGB, error) {
	img, orient, err := decode(r, o.MaxPixels)
	if err != nil || o.KeepOrientation || orient < 2 {
		return img, err
	}
	up := Orient(img, orient)
	img.Release()
	return up, nil
}

// decode is Decode without turning the image, returning the orientation its
// metadata gives (0 for formats that carry none here: GIF, BMP).
func decode(r io.Reader, maxPixels int) (*RGB, Orientation, error) {
	br := bufio.NewReader(r)
	head, perr := br.Peek(16)
	if len(head) == 0 {
		if perr != nil && !errors.Is(perr, io.EOF) {
			return nil, 0, fmt.Errorf("reading image: %w", perr)
		}
		return nil, 0, errors.New("empty image data (0 bytes)")
	}
	var f *format
	for i := range formats {
		if formats[i].magic(head) {
			f = &formats[i]
			break
		}
	}
	if f == nil {
		for _, u := range unsupported {
			if u.magic(head) {
				return nil, 0, fmt.Errorf("%s images are not supported (supported: %s)", u.name, supportedList)
			}
		}
		return nil, 0, fmt.Errorf("unrecognised image format (first bytes % x); supported: %s", head[:min(len(head), 8)], supportedList)
	}
	// The header is read through a tee, then decoding replays it before the rest.
	var orient Orientation
	var seen bytes.Buffer
	cfgR := io.Reader(io.TeeReader(br, &seen))
	rest := io.Reader(io.MultiReader(&seen, br))
	if f.name == "TIFF" {
		// A TIFF is read whole first: its directories sit at any offset, and x/image/tiff
		// given a plain reader buffers everything up to the offset a header names
		// (FuzzDecodePNG: the 9 bytes "II*\x000000" made it allocate 10 MB before failing).
		// On an io.ReaderAt it reads only what is there, so memory stays the file's size.
		data, err := io.ReadAll(br)
		if err != nil {
			return nil, 0, fmt.Errorf("reading TIFF: %w", err)
		}
		cfgR, rest = bytes.NewReader(data), bytes.NewReader(data)
		orient = tiffFileOrientation(data)
	}
	var cfg image.Config
	err := guard(func() (err error) {
		cfg, err = f.config(cfgR)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s header: %w", f.name, explain(err))
	}
	if err := checkSize(cfg.Width, cfg.Height, maxPixels); err != nil {
		return nil, 0, fmt.Errorf("%s image: %w", f.name, err)
	}
	var m image.Image
	switch f.name {
	case "GIF":
		m, err = decodeGIF(rest, cfg)
	case "JPEG":
		var planes []byte
		m, planes, orient, err = decodeJPEG(rest)
		// The Y'CbCr planes die with ToRGB below.
		defer planePool.put(planes)
	case "WebP":
		m, orient, err = decodeWebP(rest)
	case "PNG":
		// Read whole: its eXIf chunk may follow the pixels. image/png keeps no
		// reference to the bytes, so they go back to the pool.
		data, rerr := readPooled(rest)
		if err = rerr; err == nil {
			orient = pngOrientation(data)
			err = guard(func() (err error) {
				m, err = png.Decode(bytes.NewReader(data))
				return err
			})
		}
		filePool.put(data)
	default:
		err = guard(func() (err error) {
			m, err = f.decode(rest)
			return err
		})
	}
	if err != nil {
		return nil, 0, fmt.Errorf("decoding %s: %w", f.name, explain(err))
	}
	if b := m.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, 0, fmt.Errorf("decoding %s: header says %dx%d but the decoded image is %dx%d", f.name, cfg.Width, cfg.Height, b.Dx(), b.Dy())
	}
	if f.name == "WebP" {
		// Lossy WebP is Y'CbCr that libwebp converts its own way.
		switch y := m.(type) {
		case *image.YCbCr:
			if out, ok := libwebpRGB(y); ok {
				return out, orient, nil
			}
		case *image.NYCbCrA:
			if out, ok := libwebpRGB(&y.YCbCr); ok {
				return out, orient, nil
			}
		}
	}
	return ToRGB(m), orient, nil
}

// decodeJPEG reads the whole JPEG and decodes it with fastJPEG, or with
// image/jpeg where fastJPEG declines (errors and rare layouts), so that the
// result is always image/jpeg's.
func decodeJPEG(r io.Reader) (m image.Image, planes []byte, o Orientation, err error) {
	data, rerr := readPooled(r)
	defer filePool.put(data) // neither decoder keeps a reference to it
	o = jpegOrientation(data)
	if rerr == nil {
		if m, planes, ok := fastJPEGGuarded(data); ok {
			return m, planes, o, nil
		}
	}
	var src io.Reader = bytes.NewReader(data)
	if rerr != nil {
		// image/jpeg sees the bytes that arrived, then the read error.
		src = io.MultiReader(src, errReader{rerr})
	}
	err = guard(func() (err error) {
		m, err = jpeg.Decode(src)
		return err
	})
	return m, nil, o, err
}

// fastJPEGGuarded is fastJPEG with a panic (a bug on some hostile input)
// turned into a fallback to image/jpeg, whose result the fast decoder only
// ever reproduces. The tests and FuzzFastJPEG call fastJPEG unguarded, so
// that they still see such a bug.
func fastJPEGGuarded(data []byte) (m image.Image, planes []byte, ok bool) {
	defer func() {
		if recover() != nil {
			m, planes, ok = nil, nil, false
		}
	}()
	return fastJPEGPooled(data)
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// guard runs a third-party decoder call, turning a panic on hostile input
// into an error (our own code is not guarded, so fuzzing still sees its bugs).
func guard(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder failed on corrupt data: %v", p)
		}
	}()
	return fn()
}

// checkSize refuses empty images and, like Pillow's decompression-bomb check,
// images over maxPixels.
func checkSize(w, h, maxPixels int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("image is %dx%d: width and height must be at least 1", w, h)
	}
	if maxPixels > 0 && int64(w)*int64(h) > int64(maxPixels) {
		return fmt.Errorf("image is %dx%d = %d pixels, over the limit of %d; raise --max-pixels if the file is trusted",
			w, h, int64(w)*int64(h), maxPixels)
	}
	return nil
}

// explain adds a hint to the decoders' terse end-of-data errors.
func explain(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w (file truncated?)", err)
	}
	return err
}
