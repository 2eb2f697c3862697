package nn

import "fmt"

// GlobalAvgPool is adaptive_avg_pool2d(x, 1) + flatten for a channel-major batch, writing the
// classifier's row-major input.
//
//	x, dx     [C, N, H, W]
//	y, dy     [N, C]
//
// Sums are accumulated in float64 and rounded once.
func GlobalAvgPool(c, n, hw int, x, y []float32) error {
	if err := checkAvgPool(c, n, hw, len(x), len(y)); err != nil {
		return err
	}
	parallelFor(c, func(ch int) {
		for i := 0; i < n; i++ {
			var s float64
			for _, v := range x[(ch*n+i)*hw : (ch*n+i+1)*hw] {
				s += float64(v)
			}
			y[i*c+ch] = float32(s / float64(hw))
		}
	})
	return nil
}

// GlobalAvgPoolBackward spreads dy evenly over each plane: dx[c, i, ·] = dy[i, c]/(H·W).
func GlobalAvgPoolBackward(c, n, hw int, dy, dx []float32) error {
	if err := checkAvgPool(c, n, hw, len(dx), len(dy)); err != nil {
		return err
	}
	parallelFor(c, func(ch int) {
		for i := 0; i < n; i++ {
			g := float32(float64(dy[i*c+ch]) / float64(hw))
			d := dx[(ch*n+i)*hw : (ch*n+i+1)*hw]
			for j := range d {
				d[j] = g
			}
		}
	})
	return nil
}

func checkAvgPool(c, n, hw, lenX, lenY int) error {
	if c < 1 || n < 1 || hw < 1 || lenX < c*n*hw || lenY < n*c {
		return fmt.Errorf("nn: global average pool of %d channels × %d images × %d pixels: input has %d values, output %d", c, n, hw, lenX, lenY)
	}
	return nil
}
