//go:build !amd64 || noasm

package isa

// cpuLacks: no build here has assembly for its CPU yet (unavailable rules out the other
// architectures and noasm builds before asking).
func cpuLacks(id ID) string {
	if id == NEON {
		return "no NEON kernels in this build yet"
	}
	return "no assembly kernels in this build"
}
