package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestWinoTransformsNEON compares the NEON F4 transforms with the Go ones,
// including the extents they may write: V rows up to the group end, output
// rows exactly up to ow (a cut block of 4 tiles goes through Go).
func TestWinoTransformsNEON(t *testing.T) {
	needNEON(t)
	r := rand.New(rand.NewPCG(5, 7))
	close := func(g, w float32) bool { return math.Abs(float64(g-w)) <= 1e-5*(1+math.Abs(float64(w))) }
	for _, inW := range []int{1, 3, 4, 5, 7, 8, 9, 14, 16, 17, 28, 31, 33, 56, 70} {
		for _, padW := range []int{0, 1, 2, 3, 5, 7} {
			ow := inW + 2*padW - 2
			if ow < 1 {
				continue
			}
			tw := ceilDiv(ow, 4)
			groups := ceilDiv(tw, 8)
			t.Run(fmt.Sprintf("in/w%d/pad%d", inW, padW), func(t *testing.T) {
				var rows [6][]float32
				for i := range rows {
					rows[i] = randSlice(r, inW)
				}
				stride := 8*groups + 3
				want := make([]float32, 36*stride)
				winoInputGo(&rows, padW, tw, want, stride)
				ew := 32*groups + 16 + padW
				e := make([]float32, 6*ew)
				for pass := range 2 { // the second with E left as the first left it
					got := make([]float32, 36*stride)
					winoInputNEON(&rows, inW, padW, tw, e, ew, groups, got, stride)
					for x := range 36 {
						for k := range tw {
							if g, w := got[x*stride+k], want[x*stride+k]; !close(g, w) {
								t.Fatalf("pass %d: element %d of tile %d: %g, want %g", pass, x, k, g, w)
							}
						}
					}
				}
			})
			t.Run(fmt.Sprintf("out/w%d", ow), func(t *testing.T) {
				stride := 8*groups + 5
				mt := randSlice(r, 36*stride)
				for _, hasRes := range []bool{false, true} {
					for _, relu := range []bool{false, true} {
						var want, got, res [4][]float32
						for i := range 4 {
							want[i] = make([]float32, ow)
							got[i] = fill(make([]float32, ow+9), -7)[:ow]
							if hasRes {
								res[i] = randSlice(r, ow)
							}
						}
						winoOutputGo(mt, stride, tw, &want, &res, 0.25, relu)
						winoOutputNEON(mt, stride, tw, ow, &got, &res, 0.25, relu)
						for i := range 4 {
							for j := range ow {
								if g, w := got[i][j], want[i][j]; !close(g, w) {
									t.Fatalf("res=%v relu=%v: row %d column %d: %g, want %g", hasRes, relu, i, j, g, w)
								}
							}
							for j, v := range got[i][ow : ow+9] {
								if v != -7 {
									t.Fatalf("row %d: column %d past ow=%d written", i, ow+j, ow)
								}
							}
						}
					}
				}
			})
		}
	}
}
