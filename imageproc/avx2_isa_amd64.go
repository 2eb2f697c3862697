//go:build !noasm

package imageproc

import "github.com/resnet-go/resnet/internal/isa"

// useAVX2 says whether the AVX2 kernels (resampling, colour conversion) run: the
// instruction-set path in use (chosen from the CPU and RESNET_ISA, see
// internal/isa) is avx2 or avx512.
func useAVX2() bool {
	id := isa.Active()
	return id == isa.AVX2 || id == isa.AVX512
}
