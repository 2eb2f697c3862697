package kernels

import "github.com/resnet-go/resnet/internal/isa"

// The instruction-set path (ISA) is chosen once, at start-up, from the CPU and the
// environment (RESNET_ISA=go|avx2|avx512|neon, RESNET_NOASM=1 meaning go; see internal/isa),
// and can be switched with SetISA. Every kernel call reads it once (curISA), so a switch
// never mixes paths inside a call.

// isaImpl is what one path runs.
type isaImpl struct {
	id isa.ID
	// asm: the generated assembly kernels run (on amd64 the AVX2+FMA ones: B
	// packing, Winograd transforms and tile products, pooling, gemv).
	asm bool
	// neon: the arm64 NEON kernels besides the GEMM's run (the F4 Winograd
	// transforms); everything else of the neon path is the go path's.
	neon bool
	// wino16: the AVX-512 Winograd transforms that take 16 tiles a vector
	// run wherever their layouts reach (kernels/winograd_vec.go).
	wino16 bool
	// gemm is the GEMM micro-kernel with its tile and blocking.
	gemm *gemmKernel
}

// impls is indexed by isa.ID. The AVX-512 path has its own GEMM micro-kernel
// and runs the AVX2 kernels elsewhere; the neon path has its GEMM micro-kernel
// and Winograd transforms (the GEMM also computes the Winograd tile
// products) and runs the go path's code elsewhere.
var impls = [...]isaImpl{
	isa.Go:     {id: isa.Go, gemm: gemmGo},
	isa.AVX2:   {id: isa.AVX2, asm: true, gemm: gemmAVX2},
	isa.AVX512: {id: isa.AVX512, asm: true, wino16: true, gemm: gemmAVX512},
	isa.NEON:   {id: isa.NEON, neon: true, gemm: gemmNEON},
}

// curISA is the path in use; callers read it once per call.
func curISA() *isaImpl { return &impls[isa.Active()] }

// ISA names the instruction-set path in use: "go" (portable Go), "avx2" (AVX2+FMA assembly),
// "avx512" (AVX-512 assembly) or "neon" (arm64 NEON assembly), e.g. for benchmark reports.
func ISA() string { return isa.Active().String() }

// SupportedISAs lists the paths this build and CPU can run, "go" first (always present):
// an assembly path needs its architecture, a build without -tags noasm, and a CPU and OS
// with the instructions and register state (golang.org/x/sys/cpu).
func SupportedISAs() []string { return isa.Supported() }

// SetISA makes name the path in use, for tests, benchmarks and programs that choose it
// themselves. It refuses, changing nothing, a name that is unknown or that this build or CPU
// cannot run, with an error that says why ("CPU lacks AVX-512F", "built with -tags noasm",
// "not amd64"). Calls in progress finish on the path they started with. A successful SetISA
// supersedes the environment's choice, so it also clears ISAError.
func SetISA(name string) error { return isa.Set(name) }

// ISAError is the error of the start-up choice: RESNET_ISA naming a path that is unknown or
// that this build or CPU cannot run, or contradicting RESNET_NOASM=1. It is nil otherwise.
// Meanwhile the best available path runs (go if RESNET_NOASM=1); model-loading entry points
// return this error so that a forced path is never silently replaced.
func ISAError() error { return isa.StartupError() }

// Backend is ISA, under its former name.
//
// Deprecated: use ISA.
func Backend() string { return ISA() }
