package imageproc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"

	"golang.org/x/image/webp"
)

// decodeWebP reads the whole file and checks its RIFF chunk sizes against the bytes that are
// there before x/image/webp sees it: its VP8 decoder allocates a buffer of the size a chunk
// header claims (up to 128 MiB) before reading, so a 230-byte file claiming 5.7 MB made
// Decode allocate 5.8 MB (found by FuzzDecodeWebP; testdata/fuzz/FuzzDecodeWebP).
func decodeWebP(r io.Reader) (image.Image, Orientation, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, 0, err
	}
	if err := checkRIFFSizes(data); err != nil {
		return nil, 0, err
	}
	still, err := firstFrame(data)
	if err == nil && len(still) != len(data) {
		err = checkRIFFSizes(still) // the frame's own chunks
	}
	if err != nil {
		return nil, 0, err
	}
	var m image.Image
	err = guard(func() (err error) {
		m, err = webp.Decode(bytes.NewReader(still))
		return err
	})
	return m, webpOrientation(data), err
}

// firstFrame returns an animated WebP's first frame as a still WebP, which x/image/webp
// decodes (it reads no animations), or data itself when it is not animated. Pillow's
// Image.open shows the first frame; libwebp's animation decoder draws it on a canvas cleared
// to transparent black, so where the frame covers the canvas, which encoders do for the
// first frame, the canvas is the frame as a still image decodes it. A first frame that
// covers less is refused, saying so.
func firstFrame(data []byte) ([]byte, error) {
	u24 := func(b []byte) int { return int(b[0]) | int(b[1])<<8 | int(b[2])<<16 }
	body := data[12 : 8+binary.LittleEndian.Uint32(data[4:])] // checked by checkRIFFSizes
	var cw, ch int
	for len(body) >= 8 {
		n := int(binary.LittleEndian.Uint32(body[4:]))
		payload := body[8 : 8+n]
		switch string(body[:4]) {
		case "VP8X":
			if n < 10 || payload[0]&0x02 == 0 {
				return data, nil // a still image
			}
			cw, ch = 1+u24(payload[4:]), 1+u24(payload[7:])
		case "ANMF":
			if cw == 0 {
				return nil, errors.New("animation frame before the VP8X header")
			}
			if n < 16 {
				return nil, fmt.Errorf("animation frame of %d bytes, want at least 16", n)
			}
			x, y, fw, fh := 2*u24(payload), 2*u24(payload[3:]), 1+u24(payload[6:]), 1+u24(payload[9:])
			if x != 0 || y != 0 || fw != cw || fh != ch {
				return nil, fmt.Errorf("animated WebP whose first frame (%dx%d at %d,%d) does not cover its %dx%d canvas is not supported", fw, fh, x, y, cw, ch)
			}
			return stillWebP(payload[16:], fw, fh), nil
		case "VP8 ", "VP8L":
			return data, nil
		}
		n += n & 1
		body = body[min(len(body), 8+n):]
	}
	if cw > 0 {
		return nil, errors.New("animated WebP without frames")
	}
	return data, nil
}

// stillWebP wraps a frame's chunks (ALPH and VP8, or VP8L) as a still WebP of w×h: an
// ALPH chunk needs the extended header with its alpha flag.
func stillWebP(frame []byte, w, h int) []byte {
	var out []byte
	out = append(out, "RIFF\x00\x00\x00\x00WEBP"...)
	if len(frame) >= 4 && string(frame[:4]) == "ALPH" {
		out = append(out, "VP8X\x0a\x00\x00\x00\x10\x00\x00\x00"...)
		out = append(out, byte(w-1), byte((w-1)>>8), byte((w-1)>>16), byte(h-1), byte((h-1)>>8), byte((h-1)>>16))
	}
	out = append(out, frame...)
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out
}

// checkRIFFSizes refuses a RIFF file whose header or chunks claim more bytes than follow.
func checkRIFFSizes(data []byte) error {
	if len(data) < 12 {
		return fmt.Errorf("RIFF header: %w", io.ErrUnexpectedEOF)
	}
	size := uint64(binary.LittleEndian.Uint32(data[4:]))
	if size > uint64(len(data)-8) {
		return fmt.Errorf("RIFF header claims %d bytes, only %d follow (file truncated?)", size, len(data)-8)
	}
	body := data[12 : 8+size]
	for len(body) >= 8 {
		n := uint64(binary.LittleEndian.Uint32(body[4:]))
		if n > uint64(len(body)-8) {
			return fmt.Errorf("chunk %q claims %d bytes, only %d follow (file truncated?)", body[:4], n, len(body)-8)
		}
		n += n & 1 // chunks are padded to an even size
		body = body[min(uint64(len(body)), 8+n):]
	}
	return nil
}
