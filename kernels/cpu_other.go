//go:build !amd64 || noasm

package kernels

// These stand in for the generated kernels, which this build lacks; no path that calls them
// can be chosen here (internal/isa).
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

func gatherEvenRows(rows, n, blocks int, src *float32, ss int, dst *float32, ds int) {
	panic("kernels: assembly kernel called in a build without it")
}

func winoIn6(rows **float32, inW, padW int, e *float32, ew, groups int, v *float32, stride int) {
	panic("kernels: assembly kernel called in a build without it")
}

func winoOut6(m *float32, stride, groups, ow int, out, res **float32, flags int, bias float32) {
	panic("kernels: assembly kernel called in a build without it")
}

func winoIn4(rows **float32, inW, padW int, e *float32, ew, groups int, v *float32, stride int) {
	panic("kernels: assembly kernel called in a build without it")
}

func winoOut4(m *float32, stride, groups, ow int, out, res **float32, flags int, bias float32) {
	panic("kernels: assembly kernel called in a build without it")
}

func maxPool3s2Row(r0, r1, r2 *float32, w int, out *float32, ow int) {
	panic("kernels: assembly kernel called in a build without it")
}

func addReLU(dst, src, res *float32, n, relu int) {
	panic("kernels: assembly kernel called in a build without it")
}

func lanesIn8(src **float32, w, h int, dst *float32, ds int) {
	panic("kernels: assembly kernel called in a build without it")
}

func lanesOut8(src *float32, w, h, ss int, dst, res **float32, flags int, bias float32) {
	panic("kernels: assembly kernel called in a build without it")
}

func winoInL6(p *float32, rs, th, tw int, e, v *float32, vs int) {
	panic("kernels: assembly kernel called in a build without it")
}

func winoOutL6(m *float32, ms, th, tw int, q *float32, qs int) {
	panic("kernels: assembly kernel called in a build without it")
}

func winoGemm16(k int, a *float32, m int, b *float32, ldb int, c *float32, ldc, n int) {
	panic("kernels: assembly kernel called in a build without it")
}

func winoDyL6(q *float32, qs, th, tw int, d *float32, ds int) {
	panic("kernels: assembly kernel called in a build without it")
}

func winoDW16(k int, d *float32, dgs, no int, v *float32, vgs, ni int, u *float32) {
	panic("kernels: assembly kernel called in a build without it")
}

func kernel8x48(k int, a, b, c *float32, ldc, rows, cols, flags int, bias, res *float32, ldr int, mask uint64) {
	panic("kernels: assembly kernel called in a build without it")
}

func copyPanels48(n int, src, dst *float32, stride int) {
	panic("kernels: assembly kernel called in a build without it")
}

func winoGemm8x48(k int, a *float32, m int, b *float32, ldb int, c *float32, ldc, n int) {
	panic("kernels: assembly kernel called in a build without it")
}

func kernel8x48ip(k int, a, b *float32, off *int, c *float32, ldc, rows, cols, flags int, bias, res *float32, ldr int, mask uint64) {
	panic("kernels: assembly kernel called in a build without it")
}

func kernel8x1ip(k int, a, b *float32, off *int, c *float32, ldc, rows, flags int, bias, res *float32, ldr int) {
	panic("kernels: assembly kernel called in a build without it")
}

func kernel32x1ip(k int, a *float32, astride int, b *float32, off *int, c *float32, ldc, rows, flags int, bias, res *float32, ldr int) {
	panic("kernels: assembly kernel called in a build without it")
}

func kernel8x2ip(k int, a, b *float32, off *int, c *float32, ldc, rows, flags int, bias, res *float32, ldr int) {
	panic("kernels: assembly kernel called in a build without it")
}

func kernel8x3ip(k int, a, b *float32, off *int, c *float32, ldc, rows, flags int, bias, res *float32, ldr int) {
	panic("kernels: assembly kernel called in a build without it")
}

func kernel8x4ip(k int, a, b *float32, off *int, c *float32, ldc, rows, flags int, bias, res *float32, ldr int) {
	panic("kernels: assembly kernel called in a build without it")
}

func epilogueRow(c, t, res *float32, n int, bias float32, flags int) {
	panic("kernels: assembly kernel called in a build without it")
}

func winoInV6(plane *float32, inH, y0 int, d *int32, e *float32, v *float32, stride, store int) {
	panic("kernels: assembly kernel called in a build without it")
}

func winoInV4(plane *float32, inH, y0 int, d *int32, e *float32, v *float32, stride, store int) {
	panic("kernels: assembly kernel called in a build without it")
}

func winoOutV6(mt *float32, stride int, d *int32, e *float32, out, res *float32, oh, yo, lanes, flags int, bias float32) {
	panic("kernels: assembly kernel called in a build without it")
}

func winoOutV4(mt *float32, stride int, d *int32, e *float32, out, res *float32, oh, yo, lanes, flags int, bias float32) {
	panic("kernels: assembly kernel called in a build without it")
}

func prefetchPanel(n int, b *float32, off *int) {
	panic("kernels: assembly kernel called in a build without it")
}

func gatherPanel48(n int, b *float32, off *int, dst *float32) {
	panic("kernels: assembly kernel called in a build without it")
}

// The direct kernels share one stand-in.
var convDirect64x1, convDirect64x2, convDirect64x3, convDirect64x4, convDirect64x5, convDirect64x6 = convDirectMissing,
	convDirectMissing, convDirectMissing, convDirectMissing, convDirectMissing, convDirectMissing

func convDirectMissing(x *float32, w *float32, ic int, nkh int, nkw int, plane int, row int, wic int, wkh int, out *float32, idx *int32, bias, tmp *float32, flags int) {
	panic("kernels: assembly kernel called in a build without it")
}
