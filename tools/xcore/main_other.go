//go:build !linux

// Command xcore measures how CPU 1's writes reach CPU 0 (Linux only: it pins threads).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "xcore: Linux only (it pins threads to CPUs)")
	os.Exit(1)
}
