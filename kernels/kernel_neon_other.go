//go:build !arm64 || noasm

package kernels

// These stand in for the NEON kernels, which this build lacks; the neon path
// cannot be chosen here (internal/isa).

func kernel8x12(k int, a, b, c *float32, ldc, rows, flags int, bias, res *float32, ldr int) {
	panic("kernels: NEON kernel called in a build without it")
}

func kernel8x8(k int, a, b, c *float32, ldc int) {
	panic("kernels: NEON kernel called in a build without it")
}

func kernel8x4(k int, a, b, c *float32, ldc int) {
	panic("kernels: NEON kernel called in a build without it")
}

func winoIn6N(rows **float32, inW, padW int, e *float32, ew, groups int, v *float32, stride int) {
	panic("kernels: NEON kernel called in a build without it")
}

func winoOut6N(m *float32, stride, n int, out, res **float32, flags int, bias float32) {
	panic("kernels: NEON kernel called in a build without it")
}
