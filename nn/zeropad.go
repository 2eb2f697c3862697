package nn

import "fmt"

// ZeroPad is the option-A shortcut on channel-major batches: x[:, :, ::s, ::s] with zero
// channels added, (out−in)/2 before and the rest after, as ZeroPadShortcut does per image.
//
//	x, dx     [In, N, H, W]
//	y, dy     [Out, N, ⌈H/s⌉, ⌈W/s⌉]
type ZeroPad struct{ In, Out, Stride int }

// OutSize is the subsampled size ⌈h/s⌉×⌈w/s⌉.
func (z ZeroPad) OutSize(h, w int) (int, int) {
	return (h + z.Stride - 1) / z.Stride, (w + z.Stride - 1) / z.Stride
}

func (z ZeroPad) check(n, h, w, lenX, lenY int) error {
	oh, ow := z.OutSize(h, w)
	if z.In < 1 || z.Out < z.In || z.Stride < 1 || n < 1 || h < 1 || w < 1 || lenX < z.In*n*h*w || lenY < z.Out*n*oh*ow {
		return fmt.Errorf("nn: zero-pad shortcut %d→%d stride %d on %d images %d×%d: input has %d values, output %d", z.In, z.Out, z.Stride, n, h, w, lenX, lenY)
	}
	return nil
}

// Forward writes y.
func (z ZeroPad) Forward(n, h, w int, x, y []float32) error {
	if err := z.check(n, h, w, len(x), len(y)); err != nil {
		return err
	}
	oh, ow := z.OutSize(h, w)
	front, plane := (z.Out-z.In)/2, n*oh*ow
	clear(y[:front*plane])
	clear(y[(front+z.In)*plane : z.Out*plane])
	parallelFor(z.In, func(c int) {
		for i := 0; i < n; i++ {
			src := x[(c*n+i)*h*w:]
			dst := y[(front+c)*plane+i*oh*ow:]
			for oy := 0; oy < oh; oy++ {
				row := src[oy*z.Stride*w:]
				for ox := 0; ox < ow; ox++ {
					dst[oy*ow+ox] = row[ox*z.Stride]
				}
			}
		}
	})
	return nil
}

// Backward adds the shortcut's share of ∂L/∂x to dx: dy of the kept channels goes back to the
// subsampled positions; the padded channels have no input.
func (z ZeroPad) Backward(n, h, w int, dy, dx []float32) error {
	if err := z.check(n, h, w, len(dx), len(dy)); err != nil {
		return err
	}
	oh, ow := z.OutSize(h, w)
	front, plane := (z.Out-z.In)/2, n*oh*ow
	parallelFor(z.In, func(c int) {
		for i := 0; i < n; i++ {
			dst := dx[(c*n+i)*h*w:]
			src := dy[(front+c)*plane+i*oh*ow:]
			for oy := 0; oy < oh; oy++ {
				row := dst[oy*z.Stride*w:]
				for ox := 0; ox < ow; ox++ {
					row[ox*z.Stride] += src[oy*ow+ox]
				}
			}
		}
	})
	return nil
}
