//go:build !noasm

package isa

import "golang.org/x/sys/cpu"

// cpuLacks says which feature of path id the CPU (with its OS) lacks, "" if none. The
// x/sys/cpu AVX flags are set only when XGETBV shows that the OS saves the register state
// (YMM for AVX2; opmask and ZMM for AVX-512). The AVX-512 path uses AVX-512F and VL (ymm
// operations on registers 16–31) instructions and the AVX2+FMA kernels where it has no
// AVX-512 version.
func cpuLacks(id ID) string {
	x := cpu.X86
	var miss []string
	switch id {
	case AVX2:
		if !x.HasAVX2 {
			miss = append(miss, "AVX2")
		}
		if !x.HasFMA {
			miss = append(miss, "FMA")
		}
	case AVX512:
		if !x.HasAVX512F {
			miss = append(miss, "AVX-512F")
		} else if !x.HasAVX512VL {
			miss = append(miss, "AVX-512VL")
		}
		if !x.HasAVX2 {
			miss = append(miss, "AVX2")
		}
		if !x.HasFMA {
			miss = append(miss, "FMA")
		}
	case NEON:
		return "not arm64"
	}
	if len(miss) == 0 {
		return ""
	}
	s := "CPU lacks " + miss[0]
	for _, m := range miss[1:] {
		s += " and " + m
	}
	return s
}
