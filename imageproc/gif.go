package imageproc

import (
	"bytes"
	"errors"
	"image"
	"image/gif"
	"io"
)

// decodeGIF returns the first frame of a GIF the way Pillow 9.4 opens it
// (mode "P" at the logical screen size):
//   - the transparent index keeps its palette colour (Go's decoder would zero
//     that palette entry), so the transparency flag is cleared before decoding;
//   - a first frame smaller than the screen is placed at its offset on a
//     screen filled with the transparent index, or index 0 when there is none.
func decodeGIF(r io.Reader, cfg image.Config) (image.Image, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	trans := -1
	if pos := firstGCE(data); pos >= 0 && data[pos]&1 != 0 {
		trans = int(data[pos+3])
		data = bytes.Clone(data)
		data[pos] &^= 1
	}
	var m image.Image
	err = guard(func() (err error) {
		m, err = gif.Decode(bytes.NewReader(data))
		return err
	})
	if err != nil {
		return nil, err
	}
	frame, ok := m.(*image.Paletted)
	if !ok {
		return nil, errors.New("first frame is not paletted")
	}
	screen := image.Rect(0, 0, cfg.Width, cfg.Height)
	if frame.Bounds() == screen {
		return frame, nil
	}
	canvas := image.NewPaletted(screen, frame.Palette)
	fill := uint8(0)
	if trans >= 0 {
		fill = uint8(trans)
	}
	for i := range canvas.Pix {
		canvas.Pix[i] = fill
	}
	fb := frame.Bounds().Intersect(screen)
	for y := fb.Min.Y; y < fb.Max.Y; y++ {
		copy(canvas.Pix[canvas.PixOffset(fb.Min.X, y):canvas.PixOffset(fb.Max.X, y)],
			frame.Pix[frame.PixOffset(fb.Min.X, y):frame.PixOffset(fb.Max.X, y)])
	}
	return canvas, nil
}

// firstGCE returns the offset of the packed-fields byte of the Graphic Control
// Extension that precedes the first image, or -1. It only walks the block
// structure; anything malformed returns -1 and is left to gif.Decode to report.
func firstGCE(d []byte) int {
	const lsdEnd = 13
	if len(d) < lsdEnd {
		return -1
	}
	p := lsdEnd
	if d[10]&0x80 != 0 {
		p += 3 << (uint(d[10]&7) + 1)
	}
	gce := -1
	for p < len(d) {
		switch d[p] {
		case 0x21: // extension: label, then sub-blocks
			if p+2 >= len(d) {
				return -1
			}
			if d[p+1] == 0xf9 && d[p+2] == 4 && p+7 < len(d) {
				gce = p + 3
			}
			p += 2
			for p < len(d) && d[p] != 0 {
				p += int(d[p]) + 1
			}
			p++ // block terminator
		case 0x2c: // image descriptor: the GCE seen last applies to it
			return gce
		default:
			return -1
		}
	}
	return -1
}
