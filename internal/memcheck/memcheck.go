// Package memcheck measures how many bytes a call allocates, for the fuzz targets' memory
// bounds: a parser handed n bytes of hostile input must not allocate more than a stated
// multiple of n plus a stated cap (a decompression or shape bomb shows up here long before it
// exhausts the machine).
package memcheck

import (
	"fmt"
	"runtime"
)

// Bytes returns the bytes allocated on the heap while fn ran (runtime.MemStats.TotalAlloc,
// which counts every allocation, freed or not). Allocations by other goroutines running at
// the same time count too, so callers compare against bounds with some slack; ReadMemStats
// stops the world for a few microseconds, cheap next to a fuzz iteration.
func Bytes(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Bound is a memory bound of the form PerByte × input size + Cap.
type Bound struct {
	PerByte uint64 // bytes that may be allocated per input byte
	Cap     uint64 // fixed allowance (buffers, tables, a stated limit such as max pixels)
}

// Limit is the number of bytes an input of n bytes may make the parser allocate.
func (b Bound) Limit(n int) uint64 { return b.PerByte*uint64(n) + b.Cap }

// Check returns an error when allocated exceeds the bound for an n-byte input; what names
// the call.
func (b Bound) Check(what string, n int, allocated uint64) error {
	if lim := b.Limit(n); allocated > lim {
		return fmt.Errorf("%s allocated %d bytes for a %d-byte input, over the bound of %d×%d + %d = %d bytes",
			what, allocated, n, b.PerByte, n, b.Cap, lim)
	}
	return nil
}
