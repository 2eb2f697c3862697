//go:build !noasm

package kernels

// winoIn6N is winoIn6 on NEON (see winoInputNEON): the F4 input transform
// of one tile row of one channel, rows the six input rows (inW ≥ 4 values
// each), e 6×ew scratch whose margins are zero; element ξ of tile 8q+k goes
// to v[ξ*stride + 8q+k] for q < groups, k < 8; padW must be below 8.
//
//go:noescape
func winoIn6N(rows **float32, inW, padW int, e *float32, ew, groups int, v *float32, stride int)

// winoOut6N inverts n blocks of 4 F4 tiles of one output channel (see
// winoOutputNEON): tile 4b+k reads m[ξ*stride + 4b+k]; output row i (of
// four) gets columns 16b…16b+15 plus bias, plus res[i] if flags&1, then
// ReLU if flags&2.
//
//go:noescape
func winoOut6N(m *float32, stride, n int, out, res **float32, flags int, bias float32)
