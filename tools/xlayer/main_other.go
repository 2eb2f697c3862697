//go:build !linux

// Command xlayer measures cross-core costs of ResNet-50's layers (Linux only: it pins threads).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "xlayer: Linux only (it pins threads to CPUs)")
	os.Exit(1)
}
