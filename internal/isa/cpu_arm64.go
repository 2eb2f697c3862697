//go:build !noasm

package isa

import "golang.org/x/sys/cpu"

// cpuLacks says which feature of path id the CPU lacks, "" if none (unavailable has already
// ruled out the amd64 paths). Advanced SIMD is part of the ARMv8-A base that Go requires, and
// its registers are saved by every OS Go runs on; x/sys/cpu is still asked (HWCAP on Linux,
// assumed present elsewhere), so that a CPU reporting otherwise falls back to go.
func cpuLacks(id ID) string {
	if id != NEON {
		return "not amd64"
	}
	if !cpu.ARM64.HasASIMD {
		return "CPU lacks Advanced SIMD"
	}
	return ""
}
