//go:build !amd64 || noasm

package kernels

// haveAsm is false: no assembly kernels exist for this build.
const haveAsm = false

// These stand in for the generated kernels; useAsm is never true here.
func kernel6x16(k int, a, b, c *float32, ldc, rows, flags int, bias, res *float32, ldr int) {
	panic("kernels: assembly kernel called in a build without it")
}

func gemv4(k int, a *float32, lda int, x, y *float32) {
	panic("kernels: assembly kernel called in a build without it")
}

func copyPanels16(n int, src, dst *float32, stride int) {
	panic("kernels: assembly kernel called in a build without it")
}

func kernel6x8(k int, a, b, c *float32, ldc int) {
	panic("kernels: assembly kernel called in a build without it")
}

func gatherEven8(blocks int, src, dst *float32) {
	panic("kernels: assembly kernel called in a build without it")
}
