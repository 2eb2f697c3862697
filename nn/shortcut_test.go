package nn

import "testing"

// Option A against the definition: out[c] = 0 outside [front, front+inC), else x[c-front, ::s, ::s].
func TestZeroPadShortcut(t *testing.T) {
	cases := []struct{ inC, h, w, outC, stride int }{
		{2, 4, 4, 4, 2}, {3, 5, 7, 6, 2}, {4, 3, 3, 4, 1}, {2, 6, 6, 5, 2},
	}
	for _, c := range cases {
		in := make([]float32, c.inC*c.h*c.w)
		for i := range in {
			in[i] = float32(i + 1)
		}
		oh, ow := (c.h+c.stride-1)/c.stride, (c.w+c.stride-1)/c.stride
		out := make([]float32, c.outC*oh*ow)
		for i := range out {
			out[i] = -7 // must be overwritten
		}
		ZeroPadShortcut(in, c.inC, c.h, c.w, c.outC, c.stride, out)
		front := (c.outC - c.inC) / 2
		for oc := 0; oc < c.outC; oc++ {
			for y := 0; y < oh; y++ {
				for x := 0; x < ow; x++ {
					want := float32(0)
					if ic := oc - front; ic >= 0 && ic < c.inC {
						want = in[ic*c.h*c.w+y*c.stride*c.w+x*c.stride]
					}
					if got := out[(oc*oh+y)*ow+x]; got != want {
						t.Fatalf("%+v: out[%d,%d,%d] = %v, want %v", c, oc, y, x, got, want)
					}
				}
			}
		}
	}
}
