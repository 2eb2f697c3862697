//go:build !amd64 || noasm

package nn

// useAVX2 is false: the direct-convolution and batch-norm kernels exist only as AVX2
// assembly, which this build lacks.
func useAVX2() bool { return false }

func convTile4x3(c int, x0, x1, x2 *float32, cs, rs int, w *float32, y0, y1, y2 *float32, ys int, acc bool) {
	panic("nn: no direct convolution kernels in this build")
}

func dwTile4x3(nimg, h, vecs int, dy *float32, ds, drow, dimg int, x *float32, xskip int, out *float32, os int) {
	panic("nn: no direct convolution kernels in this build")
}

func sumVec(x *float32, n int) float32 { panic("nn: no vector kernels in this build") }

func sqDevVec(x *float32, n int, m float32) float32 { panic("nn: no vector kernels in this build") }

func gradSumsVec(gr, x, y *float32, n int, m float32, out *float32) {
	panic("nn: no vector kernels in this build")
}

func applyVec(x, res, y *float32, n int, a, s, floor float32) {
	panic("nn: no vector kernels in this build")
}

func coefVec(gr, x, dx *float32, n int, md, mu, k, scale float32) {
	panic("nn: no vector kernels in this build")
}

func padRows(src, dst *float32, h, w, pw int) { panic("nn: no vector kernels in this build") }

func addVec(dst, src *float32, n int) { panic("nn: no vector kernels in this build") }
