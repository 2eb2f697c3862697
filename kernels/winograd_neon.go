package kernels

import "fmt"

// The F4 Winograd transforms of the neon path: winoIn6N and winoOut6N
// (winograd_neon_arm64.s), 4 tiles per vector, with these wrappers checking
// every extent the kernels touch. F2 (maps of 9×9 and below) keeps the Go
// transforms.

// winoInputNEON is winoInputGo on the NEON kernel, for a tile row of tw
// tiles in groups of 8 (as winoInputAsm; V is written up to the group end).
// Rows narrower than 4 values, which the kernel's 4-column loads do not
// fit, go through winoInputGo.
func winoInputNEON(rows *[6][]float32, inW, padW, tw int, e []float32, ew, groups int, v []float32, stride int) {
	if inW < 4 {
		winoInputGo(rows, padW, tw, v, stride)
		return
	}
	var ptrs [6]*float32
	for i, r := range rows {
		if len(r) < inW {
			panic(fmt.Errorf("kernels: winoInputNEON: row %d has %d values, want %d", i, len(r), inW))
		}
		ptrs[i] = &r[0]
	}
	if padW < 0 || padW > 7 {
		panic(fmt.Errorf("kernels: winoInputNEON: padding %d outside 0…7", padW))
	}
	if groups < 1 || tw > 8*groups {
		panic(fmt.Errorf("kernels: winoInputNEON: %d tiles in %d groups", tw, groups))
	}
	// The vertical pass writes 8⌈(inW+padW)/8⌉ columns of E, the horizontal
	// pass reads 32·groups+2.
	if need := max(ceilDiv(inW+padW, 8)*8, 32*groups+2); ew < need || len(e) < 5*ew+need {
		panic(fmt.Errorf("kernels: winoInputNEON: scratch rows of %d (%d values) for %d columns", ew, len(e), need))
	}
	_ = v[35*stride+8*groups-1]
	winoIn6N(&ptrs[0], inW, padW, &e[0], ew, groups, &v[0], stride)
}

// winoOutputNEON is winoOutputGo on the NEON kernel: the blocks of 4 tiles
// whose 16 columns lie within ow, the tiles past them (a cut block) in Go.
// res rows are nil when there is no residual.
func winoOutputNEON(mt []float32, stride, tw, ow int, out, res *[4][]float32, bias float32, relu bool) {
	if ow > 4*tw {
		panic(fmt.Errorf("kernels: winoOutputNEON: %d columns from %d tiles", ow, tw))
	}
	blocks := ow / 16
	if blocks > 0 {
		var optr, rptr [4]*float32
		flags := 0
		for i := range 4 {
			if len(out[i]) < 16*blocks {
				panic(fmt.Errorf("kernels: winoOutputNEON: output row %d has %d values, want %d", i, len(out[i]), 16*blocks))
			}
			optr[i] = &out[i][0]
			if res[i] != nil {
				if len(res[i]) < 16*blocks {
					panic(fmt.Errorf("kernels: winoOutputNEON: residual row %d has %d values, want %d", i, len(res[i]), 16*blocks))
				}
				rptr[i] = &res[i][0]
				flags |= 1
			}
		}
		if flags&1 != 0 && (res[0] == nil || res[1] == nil || res[2] == nil || res[3] == nil) {
			panic("kernels: winoOutputNEON: residual for some rows only")
		}
		if relu {
			flags |= 2
		}
		_ = mt[35*stride+4*blocks-1]
		winoOut6N(&mt[0], stride, blocks, &optr[0], &rptr[0], flags, bias)
	}
	if t0 := 4 * blocks; t0 < tw {
		var o, r [4][]float32
		for i := range 4 {
			o[i] = out[i][4*t0:]
			if res[i] != nil {
				r[i] = res[i][4*t0:]
			}
		}
		winoOutputGo(mt[t0:], stride, tw-t0, &o, &r, bias, relu)
	}
}
