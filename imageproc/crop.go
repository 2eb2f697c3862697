package imageproc

// CenterCrop returns the w×h centre of src with transformers'
// image_transforms.center_crop semantics: top = (H-h)//2 and left = (W-w)//2
// with floor division; where src is smaller than the crop it is first
// zero-padded, placed at offsets ceil((h-H)/2) and ceil((w-W)/2).
func CenterCrop(src *RGB, w, h int) *RGB {
	if err := src.Check(); err != nil {
		panic(err)
	}
	out := NewRGB(w, h)
	// Position of src's (0,0) inside the crop, as the pad-then-slice in
	// transformers works out: -floor((H-h)/2) in both the crop and pad cases.
	oy := -floorDiv(src.H-h, 2)
	ox := -floorDiv(src.W-w, 2)
	for y := 0; y < h; y++ {
		sy := y - oy
		if sy < 0 || sy >= src.H {
			continue
		}
		x0, x1 := max(0, ox), min(w, ox+src.W)
		if x0 >= x1 {
			continue
		}
		copy(out.Pix[3*(y*w+x0):3*(y*w+x1)], src.Pix[3*(sy*src.W+x0-ox):3*(sy*src.W+x1-ox)])
	}
	return out
}

// floorDiv is Python's // for a positive divisor.
func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
