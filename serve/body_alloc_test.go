package serve

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
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

// A gzip or deflate bomb (a 64 KiB body inflating past MaxBody) is refused without holding
// its output: before the fix each one grew a buffer to 128 MiB (256 MiB allocated in all),
// and the soak's RSS sat at 500-860 MiB against 50 MiB without bombs. A body under the limit
// still arrives whole.
func TestCompressedBombIsCountedNotKept(t *testing.T) {
	ts := newTestServer(t, Options{}, nil) // 64 MiB
	url := ts.url + "/v2/models/" + cifarName + "/infer"
	zeros := make([]byte, DefaultMaxBody+1)
	var gz, zl bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(zeros)
	zw.Close()
	lw := zlib.NewWriter(&zl)
	lw.Write(zeros)
	lw.Close()
	zeros = nil
	for _, c := range []struct {
		enc  string
		body []byte
	}{{"gzip", gz.Bytes()}, {"deflate", zl.Bytes()}} {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		resp, body := do(t, "POST", url, c.body, map[string]string{"Content-Encoding": c.enc})
		runtime.ReadMemStats(&after)
		wantError(t, resp, body, 413)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
			t.Errorf("a %d-byte %s bomb made the server allocate %d MiB", len(c.body), c.enc, grew>>20)
		}
	}
	// Under the limit: decoded whole (a JSON request that fails only on its content).
	var ok bytes.Buffer
	zw = gzip.NewWriter(&ok)
	io.WriteString(zw, `{"inputs": []}`)
	zw.Close()
	resp, body := do(t, "POST", url, ok.Bytes(), map[string]string{"Content-Encoding": "gzip"})
	if msg := wantError(t, resp, body, 400); !bytes.Contains([]byte(msg), []byte("no inputs")) {
		t.Errorf("gzip body under the limit: %s", msg)
	}
}
