//go:build !amd64 || noasm

package imageproc

// useAVX2 is false: the AVX2 kernels exist only as amd64
// assembly, which this build lacks.
func useAVX2() bool { return false }

func hResampleAVX2(dst *uint8, src *int32, start *int32, w *int32, n, pairs int) {
	panic("imageproc: no AVX2 kernels in this build")
}

func vResampleAVX2(dst *uint8, base *uint8, offs *int, w *int32, taps, n int) {
	panic("imageproc: no AVX2 kernels in this build")
}

func widenAVX2(dst *int32, src *uint8, groups int) { panic("imageproc: no AVX2 kernels in this build") }

func yccToRGBAVX2(out *uint8, y, cb, cr *uint8, groups int) {
	panic("imageproc: no AVX2 kernels in this build")
}

func fancy420AVX2(line *uint8, in0, in1 *uint8, groups int) {
	panic("imageproc: no AVX2 kernels in this build")
}

func idctAVX2(b *int32, q *int32, dst *uint8, stride int) {
	panic("imageproc: no AVX2 kernels in this build")
}

func fancy422AVX2(line *uint8, in *uint8, groups int) {
	panic("imageproc: no AVX2 kernels in this build")
}
