package serve

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// A request's Content-Length is a claim, not bytes: readBody must not allocate it before the
// body arrives. Before the fix, 16 connections that each sent ~100 bytes of headers
// declaring a 64 MiB body made `resnet serve` resident at 1.08 GB (measured with the soak's
// slow clients); 64 such connections would need 4 GiB, held for the 60 s ReadTimeout.
func TestDeclaredBodyIsNotPreallocated(t *testing.T) {
	ts := newTestServer(t, Options{}, nil) // the default 64 MiB body limit
	addr := strings.TrimPrefix(ts.url, "http://")
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	before := heap()
	const conns = 8
	for _, path := range []string{"/v2/models/" + cifarName + "/infer", "/models/" + cifarName} {
		for range conns / 2 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n{", path, DefaultMaxBody)
		}
	}
	// The handlers are now blocked reading bodies that never come; give them time to start.
	var grew uint64
	for i := 0; i < 10; i++ {
		time.Sleep(100 * time.Millisecond)
		if h := heap(); h > before {
			grew = max(grew, h-before)
		}
	}
	if limit := uint64(conns) * 4 << 20; grew > limit {
		t.Errorf("%d connections declaring %d-byte bodies (1 byte sent) grew the heap by %d MiB, want at most %d MiB", conns, DefaultMaxBody, grew>>20, limit>>20)
	}
}
