package nn

import (
	"fmt"
	"math"
)

// MaxPool2d is PyTorch's MaxPool2d (ceil_mode off, dilation 1) for training, on channel-major
// batches; ResNet's stem uses kernel 3, stride 2, padding 1.
//
// Shapes, for P = C·N planes of H×W pixels, OH = (H+2·Pad−Kernel)/Stride+1 (OW alike):
//
//	x, dx       [C, N, H, W]
//	y, dy       [C, N, OH, OW]
//	Argmax      [C, N, OH, OW] index into the H×W plane of the value each output took
//
// Like PyTorch's CPU kernel, the first maximum in row-major window order wins and NaN wins
// over everything (the last NaN of a window), so gradients of tied windows go where PyTorch sends them.
type MaxPool2d struct {
	Kernel, Stride, Pad int
	Argmax              []int32
}

// OutSize is the pooled size of an h×w plane.
func (p *MaxPool2d) OutSize(h, w int) (int, int) {
	return (h+2*p.Pad-p.Kernel)/p.Stride + 1, (w+2*p.Pad-p.Kernel)/p.Stride + 1
}

// Check reports whether planes planes of h×w pixels can be pooled into slices of these lengths.
func (p *MaxPool2d) Check(planes, h, w, lenX, lenY int) error {
	if p.Kernel < 1 || p.Stride < 1 || p.Pad < 0 || 2*p.Pad > p.Kernel {
		return fmt.Errorf("nn: max pool kernel %d stride %d pad %d: need pad ≤ kernel/2", p.Kernel, p.Stride, p.Pad)
	}
	if planes < 1 || h+2*p.Pad < p.Kernel || w+2*p.Pad < p.Kernel {
		return fmt.Errorf("nn: max pool kernel %d: input of %d planes of %d×%d is too small", p.Kernel, planes, h, w)
	}
	oh, ow := p.OutSize(h, w)
	if lenX < planes*h*w || lenY < planes*oh*ow {
		return fmt.Errorf("nn: max pool: input has %d values and output %d, want %d and %d", lenX, lenY, planes*h*w, planes*oh*ow)
	}
	return nil
}

// Forward pools planes planes of h×w pixels from x into y and remembers where each maximum was.
func (p *MaxPool2d) Forward(planes, h, w int, x, y []float32) error {
	if err := p.Check(planes, h, w, len(x), len(y)); err != nil {
		return err
	}
	oh, ow := p.OutSize(h, w)
	if cap(p.Argmax) < planes*oh*ow {
		p.Argmax = make([]int32, planes*oh*ow)
	}
	p.Argmax = p.Argmax[:planes*oh*ow]
	parallelFor(planes, func(q int) {
		in := x[q*h*w : (q+1)*h*w]
		out, arg := y[q*oh*ow:(q+1)*oh*ow], p.Argmax[q*oh*ow:(q+1)*oh*ow]
		for oy := 0; oy < oh; oy++ {
			y0, y1 := max(oy*p.Stride-p.Pad, 0), min(oy*p.Stride-p.Pad+p.Kernel, h)
			for ox := 0; ox < ow; ox++ {
				x0, x1 := max(ox*p.Stride-p.Pad, 0), min(ox*p.Stride-p.Pad+p.Kernel, w)
				best, at := float32(math.Inf(-1)), y0*w+x0
				for iy := y0; iy < y1; iy++ {
					for ix := x0; ix < x1; ix++ {
						if v := in[iy*w+ix]; v > best || v != v {
							best, at = v, iy*w+ix
						}
					}
				}
				out[oy*ow+ox], arg[oy*ow+ox] = best, int32(at)
			}
		}
	})
	return nil
}

// Backward writes dx: each dy value goes to the position its output was taken from.
func (p *MaxPool2d) Backward(planes, h, w int, dy, dx []float32) error {
	if err := p.Check(planes, h, w, len(dx), len(dy)); err != nil {
		return err
	}
	oh, ow := p.OutSize(h, w)
	if len(p.Argmax) != planes*oh*ow {
		return fmt.Errorf("nn: max pool backward of %d planes %d×%d without a matching forward", planes, h, w)
	}
	parallelFor(planes, func(q int) {
		d := dx[q*h*w : (q+1)*h*w]
		clear(d)
		for j, g := range dy[q*oh*ow : (q+1)*oh*ow] {
			d[p.Argmax[q*oh*ow+j]] += g
		}
	})
	return nil
}
