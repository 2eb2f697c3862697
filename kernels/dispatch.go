package kernels

import (
	"os"
	"sync/atomic"
)

// useAsm selects the assembly micro-kernels. It starts true when the CPU
// supports them (haveAsm), unless RESNET_NOASM=1; tests flip it to run both
// paths. Each call reads it once, so a flip never mixes paths inside a call.
var useAsm atomic.Bool

func init() {
	useAsm.Store(asmDefault(os.Getenv))
}

// asmDefault is the start-up choice: assembly if available and not disabled
// by RESNET_NOASM=1.
func asmDefault(getenv func(string) string) bool {
	return haveAsm && getenv("RESNET_NOASM") != "1"
}

// Backend names the micro-kernels in use: "avx2-fma" (generated assembly)
// or "go" (the portable fallback), e.g. for benchmark reports.
func Backend() string {
	if useAsm.Load() {
		return "avx2-fma"
	}
	return "go"
}

// setAsm switches between assembly and fallback kernels (only where the
// assembly is available) and returns the previous setting.
func setAsm(on bool) bool {
	return useAsm.Swap(on && haveAsm)
}
