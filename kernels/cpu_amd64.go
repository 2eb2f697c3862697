//go:build !noasm

package kernels

import "golang.org/x/sys/cpu"

// haveAsm: the generated kernels need AVX2 and FMA (the OS must also save YMM
// state, which cpu.X86.HasAVX2 already checks).
var haveAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA
