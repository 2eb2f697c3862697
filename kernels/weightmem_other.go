//go:build !linux

package kernels

const hugePagesOS = false

func adviseHuge([]float32) bool { return false }
