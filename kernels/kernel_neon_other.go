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
