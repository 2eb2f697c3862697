package imageproc

import "testing"

// centerCropReference is transformers' center_crop transcribed literally:
// pad with zeros to max(size), then slice.
func centerCropReference(src *RGB, cw, ch int) *RGB {
	oh, ow := src.H, src.W
	top := floorDiv(oh-ch, 2)
	left := floorDiv(ow-cw, 2)
	if top >= 0 && top+ch <= oh && left >= 0 && left+cw <= ow {
		out := NewRGB(cw, ch)
		for y := 0; y < ch; y++ {
			for x := 0; x < cw; x++ {
				copy(out.Pix[3*(y*cw+x):3*(y*cw+x)+3], src.Pix[3*((y+top)*ow+x+left):])
			}
		}
		return out
	}
	nh, nw := max(ch, oh), max(cw, ow)
	padded := NewRGB(nw, nh)
	tp, lp := (nh-oh+1)/2, (nw-ow+1)/2 // ceil of a non-negative half
	for y := 0; y < oh; y++ {
		copy(padded.Pix[3*((y+tp)*nw+lp):], src.Pix[3*y*ow:3*(y+1)*ow])
	}
	top, left = top+tp, left+lp
	y0, y1 := max(0, top), min(nh, top+ch)
	x0, x1 := max(0, left), min(nw, left+cw)
	out := NewRGB(x1-x0, y1-y0)
	for y := y0; y < y1; y++ {
		copy(out.Pix[3*(y-y0)*out.W:], padded.Pix[3*(y*nw+x0):3*(y*nw+x1)])
	}
	return out
}

func TestCenterCrop(t *testing.T) {
	// Hand-checked: 5x4 image, 3x2 crop -> left 1, top 1.
	src := NewRGB(5, 4)
	for i := range src.Pix {
		src.Pix[i] = uint8(i / 3)
	}
	got := CenterCrop(src, 3, 2)
	if want := []uint8{6, 6, 6, 7, 7, 7, 8, 8, 8, 11, 11, 11, 12, 12, 12, 13, 13, 13}; string(got.Pix) != string(want) {
		t.Errorf("5x4 -> 3x2: %v, want %v", got.Pix, want)
	}
	for _, sz := range [][4]int{
		{5, 4, 3, 2}, {4, 5, 4, 5}, {6, 6, 3, 3}, {7, 7, 4, 4},
		{3, 3, 6, 6}, {3, 3, 7, 8}, {2, 9, 5, 4}, {9, 2, 4, 5}, {1, 1, 4, 3}, {8, 3, 8, 8},
	} {
		img := randRGB(sz[0], sz[1], uint32(sz[0]*10+sz[1]))
		got := CenterCrop(img, sz[2], sz[3])
		want := centerCropReference(img, sz[2], sz[3])
		if msg, _ := diffRGB(got, want); msg != "" {
			t.Errorf("%dx%d -> %dx%d: %s", sz[0], sz[1], sz[2], sz[3], msg)
		}
	}
}

func TestFloorDiv(t *testing.T) {
	for _, tc := range [][3]int{{7, 2, 3}, {-7, 2, -4}, {-6, 2, -3}, {0, 2, 0}, {-1, 2, -1}} {
		if got := floorDiv(tc[0], tc[1]); got != tc[2] {
			t.Errorf("floorDiv(%d, %d) = %d, want %d", tc[0], tc[1], got, tc[2])
		}
	}
}
