package imageproc

import (
	"bytes"
	"encoding/binary"
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
	var m image.Image
	err = guard(func() (err error) {
		m, err = webp.Decode(bytes.NewReader(data))
		return err
	})
	return m, webpOrientation(data), err
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
