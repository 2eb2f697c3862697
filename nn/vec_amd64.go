//go:build !noasm

package nn

// The AVX2 loops of vec_amd64.s; n is a positive multiple of 8. See reduce.go and
// batchnorm.go.

//go:noescape
func sumVec(x *float32, n int) float32

//go:noescape
func sqDevVec(x *float32, n int, m float32) float32

//go:noescape
func gradSumsVec(gr, x, y *float32, n int, m float32, out *float32)

//go:noescape
func applyVec(x, res, y *float32, n int, a, s, floor float32)

//go:noescape
func coefVec(gr, x, dx *float32, n int, md, mu, k, scale float32)

// addVec sets dst[i] += src[i] for i < n.
//
//go:noescape
func addVec(dst, src *float32, n int)

// padRows copies h rows of w values (w a multiple of 8) from src, where they are contiguous,
// to dst, where they start pw values apart, and zeroes the value before and after each.
//
//go:noescape
func padRows(src, dst *float32, h, w, pw int)
