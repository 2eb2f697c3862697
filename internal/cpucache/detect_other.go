//go:build !linux && !darwin

package cpucache

func detect() Sizes { return Sizes{L2Sharers: 1, L3Sharers: 1, Source: "not read on this OS"} }
