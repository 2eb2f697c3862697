//go:build !noasm

package isa

// noasmBuild: built without -tags noasm.
const noasmBuild = false
