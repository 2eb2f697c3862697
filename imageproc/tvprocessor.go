package imageproc

import (
	"fmt"
	"image"
)

// validateBackend reports a Backend value that is not one of ours, and for
// the torchvision backend a resample filter it has no tensor kernel for.
func (p *Processor) validateBackend() error {
	switch p.Backend {
	case PIL:
		return nil
	case Torchvision:
		if p.DoResize {
			_, err := tvFilter(p.Resample)
			return err
		}
		return nil
	}
	return fmt.Errorf("image processor: unknown backend %d (want imageproc.PIL or imageproc.Torchvision)", int(p.Backend))
}

// tvPlan adjusts the PIL plan's crop window to transformers 5's
// TorchvisionBackend.center_crop: where the crop is larger than the resized
// image it pads (crop-size)//2 on the left/top, floor rather than the
// PIL path's ceil; elsewhere both take the window at floor((size-crop)/2).
func tvPlan(pl plan) plan {
	if pl.outW > pl.rw {
		pl.left = -((pl.outW - pl.rw) / 2)
	}
	if pl.outH > pl.rh {
		pl.top = -((pl.outH - pl.rh) / 2)
	}
	return pl
}

// tvResized is Resized for the torchvision backend: TVResizeRegion over the
// crop window, zero padding where the window overhangs.
func (p *Processor) tvResized(img *RGB, pl plan) *RGB {
	f, _ := tvFilter(p.Resample) // Validate (through plan) accepted it
	pl = tvPlan(pl)
	win := image.Rect(pl.left, pl.top, pl.left+pl.outW, pl.top+pl.outH)
	inside := win.Intersect(image.Rect(0, 0, pl.rw, pl.rh))
	if inside == win {
		return TVResizeRegion(img, pl.rw, pl.rh, f, win)
	}
	out := NewRGB(pl.outW, pl.outH)
	if inside.Empty() {
		return out
	}
	part := TVResizeRegion(img, pl.rw, pl.rh, f, inside)
	ox, oy := inside.Min.X-pl.left, inside.Min.Y-pl.top
	for y := 0; y < part.H; y++ {
		copy(out.Pix[3*((y+oy)*out.W+ox):], part.Pix[3*y*part.W:3*(y+1)*part.W])
	}
	return out
}

// tvLUT is the torchvision backend's float step for each channel and uint8
// level, as transformers 5's TorchvisionBackend._rescale_and_normalize
// computes it in float32: with both rescale and normalize, the factor is
// fused into mean and std (mean·(1/factor) and std·(1/factor), each rounded
// to float32) and x is (float32(v) - mean') / std'; rescale alone is
// float32(v)·float32(factor); normalize alone is (float32(v) - mean) / std.
func (p *Processor) tvLUT() (lut [3][256]float32) {
	for c := range 3 {
		mean, std := p.Mean[c], p.Std[c]
		if p.DoRescale && p.DoNormalize {
			inv := float32(1 / p.RescaleFactor)
			mean, std = mean*inv, std*inv
		}
		for v := range 256 {
			x := float32(v)
			switch {
			case p.DoNormalize:
				x = (x - mean) / std
			case p.DoRescale:
				x = x * float32(p.RescaleFactor)
			}
			lut[c][v] = x
		}
	}
	return lut
}
