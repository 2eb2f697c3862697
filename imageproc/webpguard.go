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
func firstFrame(data []byte) (still []byte, err error) {
	u24 := func(b []byte) int { return int(b[0]) | int(b[1])<<8 | int(b[2])<<16 }
	var cw, ch int // the canvas of an animation
	still = data
	riffChunks(data, func(id string, payload []byte) bool {
		switch id {
		case "VP8X":
			if len(payload) >= 10 && payload[0]&0x02 != 0 {
				cw, ch = 1+u24(payload[4:]), 1+u24(payload[7:])
			}
			return cw > 0 // a still image ends the walk
		case "ANMF":
			switch {
			case cw == 0:
				err = errors.New("animation frame before the VP8X header")
			case len(payload) < 16:
				err = fmt.Errorf("animation frame of %d bytes, want at least 16", len(payload))
			default:
				x, y, fw, fh := 2*u24(payload), 2*u24(payload[3:]), 1+u24(payload[6:]), 1+u24(payload[9:])
				if x != 0 || y != 0 || fw != cw || fh != ch {
					err = fmt.Errorf("animated WebP whose first frame (%dx%d at %d,%d) does not cover its %dx%d canvas is not supported", fw, fh, x, y, cw, ch)
				} else {
					still, cw = stillWebP(payload[16:], fw, fh), 0
				}
			}
			return false
		case "VP8 ", "VP8L":
			return false
		}
		return true
	})
	if err == nil && cw > 0 {
		err = errors.New("animated WebP without frames")
	}
	return still, err
}

// riffChunks calls fn with each top-level chunk of the RIFF file data (its id and payload)
// while fn returns true, stopping at a chunk that claims more bytes than the file has.
func riffChunks(data []byte, fn func(id string, payload []byte) bool) {
	if len(data) < 12 {
		return
	}
	end := min(uint64(len(data)), 8+uint64(binary.LittleEndian.Uint32(data[4:])))
	for p := uint64(12); p+8 <= end; {
		n := uint64(binary.LittleEndian.Uint32(data[p+4:]))
		if p+8+n > end || !fn(string(data[p:p+4]), data[p+8:p+8+n]) {
			return
		}
		p += 8 + n + n&1
	}
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
