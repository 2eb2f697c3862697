package memcheck

import "testing"

var sink []byte

// Bytes sees an allocation of a known size, and the bound check fires only above the limit.
func TestBytes(t *testing.T) {
	n := Bytes(func() { sink = make([]byte, 1<<20) })
	if n < 1<<20 || n > 1<<20+64<<10 {
		t.Errorf("a 1 MiB allocation measured as %d bytes", n)
	}
	b := Bound{PerByte: 4, Cap: 100}
	for _, c := range []struct {
		n     int
		alloc uint64
		ok    bool
	}{{10, 140, true}, {10, 141, false}, {0, 100, true}, {0, 101, false}} {
		if err := b.Check("x", c.n, c.alloc); (err == nil) != c.ok {
			t.Errorf("Check(%d bytes in, %d allocated) = %v, want ok=%v", c.n, c.alloc, err, c.ok)
		}
	}
}
