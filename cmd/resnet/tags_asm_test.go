//go:build !noasm

package main

// buildTags are the tags TestMain builds the binary with.
const buildTags = ""
