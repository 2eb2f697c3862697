package serve

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// hugePNG is a valid PNG header declaring w×h pixels, followed by no image data: only a
// header-first check can refuse it without trying to decode.
func hugePNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk := append([]byte("IHDR"), ihdr...)
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// TestLimits is the spec's case 7, and the other refusals of hostile input.
func TestLimits(t *testing.T) {
	ts := newTestServer(t, Options{MaxBody: 256 << 10}, nil)
	infer := ts.url + "/v2/models/" + cifarName + "/infer"
	hf := ts.url + "/models/" + cifarName

	t.Run("body over the limit", func(t *testing.T) {
		resp, body := do(t, "POST", infer, make([]byte, 300<<10), nil)
		if msg := wantError(t, resp, body, 413); !strings.Contains(msg, "limit of 262144 bytes") {
			t.Error(msg)
		}
		resp, body = do(t, "POST", hf, make([]byte, 300<<10), nil)
		wantError(t, resp, body, 413)
	})

	t.Run("chunked body over the limit", func(t *testing.T) {
		req, _ := http.NewRequest("POST", infer, io.MultiReader(bytes.NewReader(make([]byte, 300<<10)))) // no length: chunked
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantError(t, resp, body, 413)
	})

	t.Run("gzip body", func(t *testing.T) {
		req := mustJSON(map[string]any{"inputs": []map[string]any{{"name": "image", "datatype": "BYTES", "shape": []int{1}, "data": []string{b64(readFile(t, imagePath(t, "cat.jpg")))}}},
			"outputs": []map[string]any{{"name": "logits", "parameters": map[string]any{"classification": 1}}}})
		resp, body := do(t, "POST", infer, gzipped(req), map[string]string{"Content-Encoding": "gzip"})
		if resp.StatusCode != 200 || !strings.Contains(string(body), ":cat") {
			t.Errorf("%d %s", resp.StatusCode, body)
		}
	})

	t.Run("gzip bomb", func(t *testing.T) {
		bomb := gzipped(make([]byte, 20<<20))
		resp, body := do(t, "POST", infer, bomb, map[string]string{"Content-Encoding": "gzip"})
		wantError(t, resp, body, 413)
	})

	t.Run("unsupported encoding", func(t *testing.T) {
		resp, body := do(t, "POST", infer, []byte("x"), map[string]string{"Content-Encoding": "br"})
		wantError(t, resp, body, 501)
		if resp.Header.Get("Accept-Encoding") != "gzip, deflate" {
			t.Errorf("Accept-Encoding %q", resp.Header.Get("Accept-Encoding"))
		}
	})

	t.Run("pixels over the limit, from the header", func(t *testing.T) {
		png := hugePNG(20000, 20000)
		if len(png) > 100 {
			t.Fatal("the bomb should be tiny")
		}
		resp, body := do(t, "POST", hf, png, nil)
		if msg := wantError(t, resp, body, 413); !strings.Contains(msg, "20000x20000 = 400000000 pixels, over the limit of 89478485 (refused before decoding)") {
			t.Error(msg)
		}
		resp, body = postJSON(t, infer, map[string]any{"inputs": []map[string]any{{"name": "image", "datatype": "BYTES", "shape": []int{1}, "data": []string{b64(png)}}}})
		wantError(t, resp, body, 413)
	})

	t.Run("truncated image", func(t *testing.T) {
		jpg := readFile(t, imagePath(t, "cat.jpg"))
		resp, body := do(t, "POST", hf, jpg[:len(jpg)/2], nil)
		if msg := wantError(t, resp, body, 415); !strings.Contains(msg, "cannot decode the image: decoding JPEG: ") {
			t.Error(msg)
		}
	})

	t.Run("unsupported format", func(t *testing.T) {
		resp, body := do(t, "POST", hf, []byte("<svg xmlns='http://www.w3.org/2000/svg'/>"), map[string]string{"Content-Type": "image/svg+xml"})
		if msg := wantError(t, resp, body, 415); !strings.Contains(msg, "SVG/XML/HTML text images are not supported") {
			t.Error(msg)
		}
	})
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// TestReadHeaderTimeout: a client that trickles its headers is cut off (slowloris).
func TestReadHeaderTimeout(t *testing.T) {
	ts := newTestServer(t, Options{ReadHeaderTimeout: 200 * time.Millisecond}, nil)
	conn, err := net.Dial("tcp", ts.hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for range 5 { // trickle one header line at a time, slower than the timeout allows in total
		time.Sleep(60 * time.Millisecond)
		if _, err := io.WriteString(conn, "X-Slow: 1\r\n"); err != nil {
			break
		}
	}
	_, err = io.ReadAll(conn)
	d := time.Since(start)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server kept a trickling client for %v", d)
	}
	if d < 150*time.Millisecond || d > 4*time.Second {
		t.Errorf("connection closed after %v, want about the 200 ms ReadHeaderTimeout", d)
	}
}

// TestServerTimeouts: the net/http server has every timeout set (none is infinite).
func TestServerTimeouts(t *testing.T) {
	hs := New(Options{}).HTTPServer()
	if hs.ReadHeaderTimeout != 10*time.Second || hs.ReadTimeout != 60*time.Second || hs.WriteTimeout != 60*time.Second ||
		hs.IdleTimeout != 120*time.Second || hs.MaxHeaderBytes != 1<<20 {
		t.Errorf("timeouts %v %v %v %v, header limit %d", hs.ReadHeaderTimeout, hs.ReadTimeout, hs.WriteTimeout, hs.IdleTimeout, hs.MaxHeaderBytes)
	}
}

// TestCORS: no CORS headers unless origins are configured.
func TestCORS(t *testing.T) {
	off := newTestServer(t, Options{}, nil)
	resp, _ := do(t, "GET", off.url+"/v2/health/live", nil, map[string]string{"Origin": "http://evil.test"})
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS header without --cors")
	}
	resp, _ = do(t, "OPTIONS", off.url+"/models/"+cifarName, nil, map[string]string{"Origin": "http://evil.test", "Access-Control-Request-Method": "POST"})
	if resp.StatusCode != 405 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight without --cors: %d", resp.StatusCode)
	}

	on := newTestServer(t, Options{CORSOrigins: []string{"http://app.test"}}, nil)
	resp, _ = do(t, "GET", on.url+"/v2/health/live", nil, map[string]string{"Origin": "http://app.test"})
	if resp.Header.Get("Access-Control-Allow-Origin") != "http://app.test" {
		t.Errorf("allowed origin: %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
	resp, _ = do(t, "GET", on.url+"/v2/health/live", nil, map[string]string{"Origin": "http://evil.test"})
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS header for an origin not allowed")
	}
	resp, _ = do(t, "OPTIONS", on.url+"/models/"+cifarName, nil, map[string]string{"Origin": "http://app.test", "Access-Control-Request-Method": "POST"})
	if resp.StatusCode != 204 || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Inference-Header-Content-Length") {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}
