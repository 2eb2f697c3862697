package kernels

import "fmt"

// Gemm computes C = A·B (accumulate false) or C += A·B (accumulate true) for
// row-major A (m×k, row stride lda), B (k×n, ldb) and C (m×n, ldc), using up
// to Threads() goroutines. C must not overlap A or B. It panics with a
// descriptive message if a size or stride is inconsistent (see CheckGemm).
func Gemm(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	if err := CheckGemm(m, n, k, len(a), lda, len(b), ldb, len(c), ldc); err != nil {
		panic(err)
	}
	g := gemmArgs{m: m, n: n, k: k, a: a, lda: lda, b: denseB{b, ldb}, c: c, ldc: ldc, accumulate: accumulate}
	g.run()
}

// CheckGemm reports whether Gemm accepts these sizes: non-negative m, n, k,
// strides at least the row widths, and slices long enough for every row.
func CheckGemm(m, n, k, lenA, lda, lenB, ldb, lenC, ldc int) error {
	if m < 0 || n < 0 || k < 0 {
		return fmt.Errorf("kernels: Gemm: negative size m=%d n=%d k=%d", m, n, k)
	}
	if err := checkMatrix("A", m, k, lenA, lda); err != nil {
		return err
	}
	if err := checkMatrix("B", k, n, lenB, ldb); err != nil {
		return err
	}
	return checkMatrix("C", m, n, lenC, ldc)
}

// checkMatrix checks a rows×cols row-major matrix with stride ld stored in a
// slice of length n.
func checkMatrix(name string, rows, cols, n, ld int) error {
	if rows == 0 || cols == 0 {
		return nil
	}
	if ld < cols {
		return fmt.Errorf("kernels: matrix %s (%d×%d): row stride %d is less than its width %d", name, rows, cols, ld, cols)
	}
	if need := (rows-1)*ld + cols; n < need {
		return fmt.Errorf("kernels: matrix %s (%d×%d, stride %d): need %d values, got %d", name, rows, cols, ld, need, n)
	}
	return nil
}
