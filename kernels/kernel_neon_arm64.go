//go:build !noasm

package kernels

// The NEON micro-kernels (kernel_neon_arm64.s) of the neon path's 8×12
// tile. Advanced SIMD has 32 registers of 4 floats: 24 hold the 8×12
// accumulators, 2 the A step and 3 the B step, and each accumulator gets one
// FMLA by element per k step (5 loads for 24 FMLAs), so the loop is bound by
// the FMA pipes, not by loads, on every arm64 core in use (2–4 FMA pipes of
// latency 3–4: 24 independent chains cover the 16 in flight that four pipes
// need). 8×8 would leave exactly 16 chains and 4 loads per 16 FMLAs, no
// slack, and 12×8 (the 8×12 ratio) would round ResNet's output channels, all
// multiples of 8 but not of 12 (64, 128, …), up to whole panels.

// kernel8x12 computes the 8×12 tile T = Σ_p a[p*8+r]·b[p*12+j] over k steps and
// stores c[r*ldc+j] = epilogue(T) for r < rows, the epilogue chosen by flags
// (see kernelGo); bias and res are read only when their flag is set.
//
//go:noescape
func kernel8x12(k int, a, b, c *float32, ldc, rows, flags int, bias, res *float32, ldr int)

// kernel8x8 stores c[r*ldc+j] = Σ_p a[p*8+r]·b[p*12+j] for r < 8, j < 8: the
// product for a tile whose right border leaves at most 8 columns.
//
//go:noescape
func kernel8x8(k int, a, b, c *float32, ldc int)

// kernel8x4 is kernel8x8 for j < 4.
//
//go:noescape
func kernel8x4(k int, a, b, c *float32, ldc int)
