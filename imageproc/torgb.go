package imageproc

import (
	"image"
	"image/color"
)

// ToRGB converts any decoded image the way PIL's convert("RGB") converts the
// image Pillow would have opened from the same file:
//
//   - gray: (l, l, l); 16-bit gray is clipped to 0..255, not scaled (Pillow
//     opens it as mode "I"/"I;16" and clips on conversion);
//   - paletted: the palette colour, also for transparent entries;
//   - alpha (RGBA, LA, palette alpha): alpha is dropped, never composited;
//     premultiplied Go types are un-premultiplied first, as Pillow does when it
//     reads associated alpha, to recover the stored straight colour;
//   - 16-bit colour: the high byte of each sample;
//   - CMYK: Pillow's cmyk2rgb, r = 255-k - round((255-k)·c/255);
//   - YCbCr (JPEG): libjpeg-turbo's default conversion, fancy chroma
//     upsampling and jdcolor.c's tables (see libjpegRGB); the pixels then
//     differ from Pillow's only where Go's IDCT differs from libjpeg's
//     (typically ±1, rarely 3, on a few percent of pixels). Lossy WebP also
//     decodes to YCbCr and gets the same treatment, which is close to but not
//     libwebp's conversion.
//
// The result always starts at (0, 0) whatever img.Bounds().Min is.
func ToRGB(img image.Image) *RGB {
	if m, ok := img.(*image.YCbCr); ok {
		if out, ok := libjpegRGB(m); ok {
			return out
		}
	}
	b := img.Bounds()
	out := pooledRGB(b.Dx(), b.Dy())
	w := b.Dx()
	set := func(x, y int, r, g, bl uint8) {
		i := 3 * ((y-b.Min.Y)*w + (x - b.Min.X))
		out.Pix[i], out.Pix[i+1], out.Pix[i+2] = r, g, bl
	}
	switch m := img.(type) {
	case *image.RGBA:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				p := m.Pix[m.PixOffset(x, y):]
				r, g, bl := unpremul8(p[0], p[1], p[2], p[3])
				set(x, y, r, g, bl)
			}
		}
	case *image.NRGBA:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				p := m.Pix[m.PixOffset(x, y):]
				set(x, y, p[0], p[1], p[2])
			}
		}
	case *image.NRGBA64:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				p := m.Pix[m.PixOffset(x, y):] // big-endian 16-bit: high bytes at 0, 2, 4
				set(x, y, p[0], p[2], p[4])
			}
		}
	case *image.RGBA64:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := m.RGBA64At(x, y)
				set(x, y, unpremul16(c.R, c.A), unpremul16(c.G, c.A), unpremul16(c.B, c.A))
			}
		}
	case *image.Gray:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				l := m.Pix[m.PixOffset(x, y)]
				set(x, y, l, l, l)
			}
		}
	case *image.Gray16:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				l := uint8(min(m.Gray16At(x, y).Y, 255))
				set(x, y, l, l, l)
			}
		}
	case *image.Paletted:
		pal := make([][3]uint8, 256)
		for i, c := range m.Palette {
			if i < len(pal) {
				pal[i] = straightRGB(c)
			}
		}
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := pal[m.Pix[m.PixOffset(x, y)]]
				set(x, y, c[0], c[1], c[2])
			}
		}
	case *image.CMYK:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				p := m.Pix[m.PixOffset(x, y):]
				r, g, bl := cmykToRGB(p[0], p[1], p[2], p[3])
				set(x, y, r, g, bl)
			}
		}
	case *image.YCbCr: // one libjpegRGB declined
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := m.YCbCrAt(x, y)
				r, g, bl := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
				set(x, y, r, g, bl)
			}
		}
	case *image.NYCbCrA:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := m.YCbCrAt(x, y) // the colour without its alpha
				r, g, bl := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
				set(x, y, r, g, bl)
			}
		}
	default:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := straightRGB(img.At(x, y))
				set(x, y, c[0], c[1], c[2])
			}
		}
	}
	return out
}

// straightRGB returns the stored (not premultiplied) 8-bit colour of c,
// ignoring alpha.
func straightRGB(c color.Color) [3]uint8 {
	switch v := c.(type) {
	case color.NRGBA:
		return [3]uint8{v.R, v.G, v.B}
	case color.RGBA:
		r, g, b := unpremul8(v.R, v.G, v.B, v.A)
		return [3]uint8{r, g, b}
	case color.NRGBA64:
		return [3]uint8{uint8(v.R >> 8), uint8(v.G >> 8), uint8(v.B >> 8)}
	case color.Gray:
		return [3]uint8{v.Y, v.Y, v.Y}
	case color.CMYK:
		r, g, b := cmykToRGB(v.C, v.M, v.Y, v.K)
		return [3]uint8{r, g, b}
	case color.YCbCr:
		r, g, b := color.YCbCrToRGB(v.Y, v.Cb, v.Cr)
		return [3]uint8{r, g, b}
	}
	n := color.NRGBA64Model.Convert(c).(color.NRGBA64)
	return [3]uint8{uint8(n.R >> 8), uint8(n.G >> 8), uint8(n.B >> 8)}
}

// unpremul8 is Pillow's unpackRGBa: v*255/a in integers, clipped; fully
// transparent pixels become black (their colour is lost when premultiplied).
func unpremul8(r, g, b, a uint8) (uint8, uint8, uint8) {
	switch a {
	case 255:
		return r, g, b
	case 0:
		return 0, 0, 0
	}
	f := func(v uint8) uint8 { return uint8(min(int(v)*255/int(a), 255)) }
	return f(r), f(g), f(b)
}

// unpremul16 un-premultiplies one 16-bit sample and keeps the high byte.
func unpremul16(v, a uint16) uint8 {
	switch a {
	case 0xffff:
		return uint8(v >> 8)
	case 0:
		return 0
	}
	return uint8(min(uint32(v)*0xffff/uint32(a), 0xffff) >> 8)
}

// cmykToRGB is Pillow's cmyk2rgb (Convert.c): with nk = 255-k,
// out = nk - MULDIV255(in, nk), MULDIV255 being a rounded a*b/255.
func cmykToRGB(c, m, y, k uint8) (uint8, uint8, uint8) {
	nk := 255 - int(k)
	f := func(v uint8) uint8 {
		t := int(v)*nk + 128
		return uint8(clampInt(nk-(((t>>8)+t)>>8), 0, 255))
	}
	return f(c), f(m), f(y)
}

func clampInt(v, lo, hi int) int {
	return max(lo, min(v, hi))
}
