//go:build !(amd64 || arm64) || noasm

package isa

// cpuLacks: builds for other architectures, and noasm builds, have no assembly kernels
// (unavailable rules them out before asking).
func cpuLacks(ID) string { return "no assembly kernels in this build" }
