//go:build noasm

package isa

// noasmBuild: built with -tags noasm, which leaves out every assembly kernel.
const noasmBuild = true
