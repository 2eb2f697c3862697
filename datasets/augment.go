package datasets

import (
	"fmt"
	"math"
)

// Augment is the training-time augmentation of He et al. (2016) for CIFAR: zero-pad Pad
// pixels on each side, take a random H×W crop of the padded image, then mirror it left-right
// with probability 1/2. Padding is in pixel space (value 0, black) before normalisation, as
// torchvision's RandomCrop(32, padding=4) does, so padded pixels become -mean/std. The zero
// value does nothing.
type Augment struct {
	Pad  int  // 4 for CIFAR; 0 for no random crop
	Flip bool // random horizontal flip
}

// CIFARAugment is the standard CIFAR-10 augmentation: pad 4, random 32×32 crop, random flip.
var CIFARAugment = Augment{Pad: 4, Flip: true}

// Normalize maps a byte v of channel c to (v/255 - Mean[c]) / Std[c] in float32, the numerics
// of torchvision's ToTensor and Normalize. Empty Mean and Std give v/255.
type Normalize struct {
	Mean, Std []float32
}

// placement is the augmentation drawn for one example: output pixel (y, x) is source pixel
// (y+dy, x'+dx) with x' = W-1-x when flipped, else x; outside the source it is padding.
type placement struct {
	dy, dx int
	flip   bool
}

// draw picks one example's placement from its own generator: crop top, crop left (each
// uniform in 0..2·Pad of the padded image), then the flip.
func (a Augment) draw(seed uint64, epoch, index int) placement {
	if a.Pad == 0 && !a.Flip {
		return placement{}
	}
	r := augmentRNG(seed, epoch, index)
	var p placement
	if a.Pad > 0 {
		p.dy = int(below(r, uint64(2*a.Pad+1))) - a.Pad
		p.dx = int(below(r, uint64(2*a.Pad+1))) - a.Pad
	}
	if a.Flip {
		p.flip = r.Uint64()>>63 == 1
	}
	return p
}

// table returns the byte → float32 map of each channel.
func (n Normalize) table(c int) ([][256]float32, error) {
	if len(n.Mean) != len(n.Std) || (len(n.Mean) != 0 && len(n.Mean) != c) {
		return nil, fmt.Errorf("datasets: normalisation has %d means and %d stds for %d channels", len(n.Mean), len(n.Std), c)
	}
	lut := make([][256]float32, c)
	for k := range c {
		mean, std := float32(0), float32(1)
		if len(n.Mean) > 0 {
			mean, std = n.Mean[k], n.Std[k]
		}
		if std == 0 || math.IsNaN(float64(std)) || math.IsNaN(float64(mean)) || math.IsInf(float64(std)+float64(mean), 0) {
			return nil, fmt.Errorf("datasets: channel %d normalisation mean %v std %v is unusable", k, mean, std)
		}
		for v := range 256 {
			lut[k][v] = (float32(v)/255 - mean) / std
		}
	}
	return lut, nil
}

// fill writes one augmented, normalised C×H×W image into dst.
func fill(dst []float32, src []uint8, c, h, w int, p placement, lut [][256]float32) {
	plane := h * w
	for k := range c {
		t := &lut[k]
		pad := t[0]
		in := src[k*plane : (k+1)*plane]
		out := dst[k*plane : (k+1)*plane]
		for y := range h {
			row := out[y*w : (y+1)*w]
			sy := y + p.dy
			if sy < 0 || sy >= h {
				for x := range row {
					row[x] = pad
				}
				continue
			}
			srow := in[sy*w : (sy+1)*w]
			if p.dx == 0 && !p.flip {
				for x, v := range srow {
					row[x] = t[v]
				}
				continue
			}
			for x := range row {
				sx := x
				if p.flip {
					sx = w - 1 - x
				}
				sx += p.dx
				if sx < 0 || sx >= w {
					row[x] = pad
				} else {
					row[x] = t[srow[sx]]
				}
			}
		}
	}
}
