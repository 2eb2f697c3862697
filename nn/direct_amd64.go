//go:build !noasm

package nn

import "github.com/resnet-go/resnet/internal/isa"

// useAVX2 says whether this package's AVX2/FMA kernels (direct convolutions, batch-norm
// loops) run: the instruction-set path in use (kernels.ISA, chosen from the CPU and
// RESNET_ISA) is avx2 or avx512, which runs them too until they have AVX-512 versions.
func useAVX2() bool {
	id := isa.Active()
	return id == isa.AVX2 || id == isa.AVX512
}

// convTile4x3 computes four output rows of three 8-pixel vectors of a 3×3 stride-1
// convolution over c zero-padded input channels: for o < 4 and v < 3,
//
//	y_v[o·ys + j] (+)= Σ_ch Σ_ky,kx w[(ch·9 + ky·3 + kx)·4 + o] · x_v[ch·cs + ky·rs + kx + j],  j < 8,
//
// adding to y when acc is set (all three vectors are loaded before any is stored, so two may
// alias).
//
//go:noescape
func convTile4x3(c int, x0, x1, x2 *float32, cs, rs int, w *float32, y0, y1, y2 *float32, ys int, acc bool)

// dwTile4x3 adds to out[o·os + kx] (o < 4, kx < 3) the sum over nimg images of h rows of
// vecs 8-pixel vectors of dy[o·ds + p] · x[q + kx], where q runs over the rows of a padded
// plane (8·vecs+2 wide, images separated by xskip more values) and p over those of dy, whose
// rows and images are separated by drow and dimg more values (0 for a plain tensor).
//
//go:noescape
func dwTile4x3(nimg, h, vecs int, dy *float32, ds, drow, dimg int, x *float32, xskip int, out *float32, os int)
