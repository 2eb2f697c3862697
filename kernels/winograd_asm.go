package kernels

import "fmt"

// The wrappers of the assembly transforms check every extent the kernels
// touch (the kernels trust their arguments). F4 tiles are 4 columns apart
// and have 6 input rows, F2 tiles 2 columns and 4 rows.

// winoInputAsm is winoInputGo (m = 4) or winoInput2Go (m = 2) on the
// assembly kernel; rows holds the m+2 input rows.
func winoInputAsm(m int, rows [][]float32, inW, padW int, e []float32, ew, groups int, v []float32, stride int) {
	a := m + 2
	var ptrs [6]*float32
	for i, r := range rows[:a] {
		if len(r) < inW || inW < 1 {
			panic(fmt.Errorf("kernels: winoInputAsm: row %d has %d values, want %d", i, len(r), inW))
		}
		ptrs[i] = &r[0]
	}
	if padW < 0 || padW > 7 {
		panic(fmt.Errorf("kernels: winoInputAsm: padding %d outside 0…7", padW))
	}
	// The vertical pass writes ⌈(inW+padW)/8⌉ vectors, the horizontal pass
	// reads 8m·groups+8 columns.
	if need := max(ceilDiv(inW+padW, 8)*8, 8*m*groups+8); ew < need || len(e) < (a-1)*ew+need {
		panic(fmt.Errorf("kernels: winoInputAsm: scratch rows of %d (%d values) for %d columns", ew, len(e), need))
	}
	_ = v[(a*a-1)*stride+8*groups-1]
	if m == 4 {
		winoIn6(&ptrs[0], inW, padW, &e[0], ew, groups, &v[0], stride)
	} else {
		winoIn4(&ptrs[0], inW, padW, &e[0], ew, groups, &v[0], stride)
	}
}

// winoOutputAsm is winoOutputGo (m = 4) or winoOutput2Go (m = 2) on the
// assembly kernel; out and res hold the m output and residual rows.
func winoOutputAsm(m int, mt []float32, stride, groups, ow int, out, res [][]float32, hasRes bool, bias float32, relu bool) {
	var optr, rptr [4]*float32
	for i := range m {
		if len(out[i]) < ow || (hasRes && len(res[i]) < ow) {
			panic(fmt.Errorf("kernels: winoOutputAsm: row %d shorter than %d", i, ow))
		}
		optr[i] = &out[i][0]
		if hasRes {
			rptr[i] = &res[i][0]
		}
	}
	if g := 8 * m; groups < 1 || ow > g*groups || ow <= g*(groups-1) {
		panic(fmt.Errorf("kernels: winoOutputAsm: %d columns in %d groups", ow, groups))
	}
	_ = mt[((m+2)*(m+2)-1)*stride+8*groups-1]
	flags := 0
	if hasRes {
		flags |= 1
	}
	if relu {
		flags |= 2
	}
	if m == 4 {
		winoOut6(&mt[0], stride, groups, ow, &optr[0], &rptr[0], flags, bias)
	} else {
		winoOut4(&mt[0], stride, groups, ow, &optr[0], &rptr[0], flags, bias)
	}
}
