package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// metricValue reads one sample from a Prometheus text exposition.
func metricValue(t *testing.T, exposition, series string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(exposition)
	if m == nil {
		t.Fatalf("no series %s in /metrics", series)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, body := do(t, "GET", url+"/metrics", nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	return string(body)
}

// TestOverload is the spec's case 6: max-queue-size+N concurrent slow requests; exactly N
// are refused at once with the overload status, Retry-After and a JSON error; the rejected
// counter rises by N; the others are batched (exec_count < count); no goroutine is left.
func TestOverload(t *testing.T) {
	for _, status := range []int{503, 429} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			cifar, _ := testModels(t)
			reference(t, cifar, imagePath(t, "cat.jpg")) // start the kernels' thread pool first
			http.DefaultClient.CloseIdleConnections()
			before := runtime.NumGoroutine()
			g := newGate()
			const queue, extra = 5, 3
			ts := newTestServer(t, Options{MaxQueueSize: queue, MaxBatchSize: 2, MaxQueueDelay: 100 * time.Millisecond, OverloadStatus: status}, g.wrap)
			url := ts.url + "/models/" + cifarName
			jpg := readFile(t, imagePath(t, "cat.jpg"))
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 20}}
			var mu sync.Mutex
			codes := map[int]int{}
			var wg sync.WaitGroup
			send := func() {
				defer wg.Done()
				resp, err := client.Post(url, "image/jpeg", strings.NewReader(string(jpg)))
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				var body map[string]any
				var list []any
				raw := make([]byte, 0, 512)
				buf := make([]byte, 512)
				for {
					n, err := resp.Body.Read(buf)
					raw = append(raw, buf[:n]...)
					if err != nil {
						break
					}
				}
				if resp.StatusCode == status {
					if resp.Header.Get("Retry-After") == "" || json.Unmarshal(raw, &body) != nil || !strings.Contains(fmt.Sprint(body["error"]), "overloaded") {
						t.Errorf("refusal without Retry-After or JSON error: %v %s", resp.Header, raw)
					}
				} else if resp.StatusCode != 200 || json.Unmarshal(raw, &list) != nil {
					t.Errorf("status %d %s", resp.StatusCode, raw)
				}
				mu.Lock()
				codes[resp.StatusCode]++
				mu.Unlock()
			}
			// Fill the queue first (the first batch starts and blocks on the gate), then send
			// the extra requests: they find it full.
			for range queue {
				wg.Add(1)
				go send()
			}
			waitFor(t, "a full queue", func() bool { e, _ := ts.lookup(cifarName); return e.batcher.Admitted() == queue })
			start := time.Now()
			for range extra {
				wg.Add(1)
				go send()
			}
			waitFor(t, "the refusals", func() bool { mu.Lock(); defer mu.Unlock(); return codes[status] == extra })
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("refusals took %v; they must not wait for the model", d)
			}
			close(g.open)
			wg.Wait()
			if codes[200] != queue || codes[status] != extra {
				t.Errorf("answers %v, want %d×200 and %d×%d", codes, queue, extra, status)
			}
			m := scrape(t, ts.url)
			labels := `{model="resnet20-cifar10",reason="rejected",version="1"}`
			if v := metricValue(t, m, "resnet_inference_request_failure_total"+labels); v != extra {
				t.Errorf("rejected counter %v, want %d", v, extra)
			}
			count := metricValue(t, m, `resnet_inference_count_total{model="resnet20-cifar10",version="1"}`)
			execs := metricValue(t, m, `resnet_inference_exec_count_total{model="resnet20-cifar10",version="1"}`)
			if count != queue || execs >= count {
				t.Errorf("count %v, exec_count %v: want %d images in fewer batches", count, execs, queue)
			}
			client.CloseIdleConnections()
			ts.hs.Close()
			ts.Close(context.Background())
			http.DefaultClient.CloseIdleConnections()
			deadline := time.Now().Add(10 * time.Second)
			for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if n := runtime.NumGoroutine(); n > before {
				buf := make([]byte, 1<<20)
				t.Errorf("%d goroutines left over (%d before):\n%s", n-before, before, buf[:runtime.Stack(buf, true)])
			}
		})
	}
}

// TestMetrics: the resnet_inference_* series with model and version labels, and the Go and
// process collectors.
func TestMetrics(t *testing.T) {
	ts := newTestServer(t, Options{}, nil)
	jpg := readFile(t, imagePath(t, "cat.jpg"))
	for range 3 {
		if resp, body := do(t, "POST", ts.url+"/models/"+cifarName, jpg, nil); resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
	do(t, "POST", ts.url+"/models/"+cifarName, []byte("not an image"), nil)
	do(t, "POST", ts.url+"/v2/models/"+cifarName+"/infer", []byte("{"), nil)
	m := scrape(t, ts.url)
	l := `{model="resnet20-cifar10",version="1"}`
	for series, want := range map[string]float64{
		"resnet_inference_request_success_total" + l:                                                    3,
		`resnet_inference_request_failure_total{model="resnet20-cifar10",reason="invalid",version="1"}`: 2,
		`resnet_inference_request_failure_total{model="resnet20-cifar10",reason="backend",version="1"}`: 0,
		"resnet_inference_count_total" + l:                                                              3,
		"resnet_inference_pending_requests" + l:                                                         0,
		"resnet_inference_request_duration_seconds_count" + l:                                           3,
		"resnet_inference_queue_duration_seconds_count" + l:                                             3,
		"resnet_inference_preprocess_duration_seconds_count" + l:                                        3,
		`resnet_inference_request_success_total{model="basic",version="1"}`:                             0,
	} {
		if v := metricValue(t, m, series); v != want {
			t.Errorf("%s = %v, want %v", series, v, want)
		}
	}
	if v := metricValue(t, m, "resnet_inference_exec_count_total"+l); v < 1 || v > 3 {
		t.Errorf("exec_count %v", v)
	}
	for _, name := range []string{
		"resnet_inference_compute_infer_duration_seconds_bucket", "resnet_inference_batch_size_bucket",
		"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes", "process_cpu_seconds_total",
	} {
		if !strings.Contains(m, "\n"+name) {
			t.Errorf("no %s in /metrics", name)
		}
	}
}

// TestDrain is the spec's case 8 in-process: a shutdown during 10 in-flight requests.
// Readiness turns 503 at once while liveness stays 200, requests are still served during the
// drain wait, new connections are refused after it, all 10 complete, and Run returns nil.
func TestDrain(t *testing.T) {
	g := newGate()
	cifar, _ := testModels(t)
	s := New(Options{DrainWait: 300 * time.Millisecond, ExitTimeout: 20 * time.Second, MaxBatchSize: 4})
	s.wrap = g.wrap
	if err := s.Add(Model{Name: cifarName, Model: cifar}); err != nil {
		t.Fatal(err)
	}
	s.MarkReady()
	addr, stop, done := runHTTP(t, s)
	url := "http://" + addr

	jpg := readFile(t, imagePath(t, "cat.jpg"))
	const inflight = 10
	results := make(chan int, inflight)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for range inflight {
		go func() {
			resp, err := client.Post(url+"/models/"+cifarName, "", strings.NewReader(string(jpg)))
			if err != nil {
				t.Error(err)
				results <- 0
				return
			}
			resp.Body.Close()
			results <- resp.StatusCode
		}()
	}
	e, _ := s.lookup(cifarName)
	waitFor(t, "10 requests in flight", func() bool { return e.batcher.Admitted() == inflight })

	stop() // SIGTERM
	waitFor(t, "readiness 503", func() bool {
		resp, err := client.Get(url + "/v2/health/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 503
	})
	if resp, err := client.Get(url + "/v2/health/live"); err != nil || resp.StatusCode != 200 {
		t.Errorf("liveness during the drain: %v %v", resp, err)
	}
	// After the drain wait the listener is closed: new connections are refused.
	waitFor(t, "new connections refused", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) with requests in flight", err)
	default:
	}
	close(g.open)
	for range inflight {
		if code := <-results; code != 200 {
			t.Errorf("an in-flight request got %d", code)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the requests finished")
	}
}

// TestDrainTimeout: requests that outlast ExitTimeout make Run return an error, in time.
func TestDrainTimeout(t *testing.T) {
	g := newGate()
	cifar, _ := testModels(t)
	s := New(Options{DrainWait: -1, ExitTimeout: 300 * time.Millisecond})
	s.wrap = g.wrap
	if err := s.Add(Model{Name: cifarName, Model: cifar}); err != nil {
		t.Fatal(err)
	}
	s.MarkReady()
	addr, stop, done := runHTTP(t, s)
	go http.Post("http://"+addr+"/models/"+cifarName, "", strings.NewReader(string(readFile(t, imagePath(t, "cat.jpg")))))
	<-g.entered
	start := time.Now()
	stop()
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "requests still in progress") {
		t.Errorf("Run: %v, want a timeout error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Run took %v past a 300 ms exit timeout", d)
	}
	close(g.open)
}

// A server stopped before it was ever ready (a model failed to load) exits without the
// drain wait: no load balancer routed traffic to it. Once ready, the wait applies.
func TestNoDrainWaitWhenNeverReady(t *testing.T) {
	for _, ready := range []bool{false, true} {
		s := New(Options{DrainWait: 2 * time.Second, ExitTimeout: 20 * time.Second})
		if ready {
			s.MarkReady()
		}
		_, stop, done := runHTTP(t, s)
		start := time.Now()
		stop()
		if err := <-done; err != nil {
			t.Errorf("ready %v: Run: %v", ready, err)
		}
		d := time.Since(start)
		if !ready && d > time.Second {
			t.Errorf("never ready: Run took %v, the 2 s drain wait included", d)
		}
		if ready && d < 2*time.Second {
			t.Errorf("ready: Run took %v, less than the 2 s drain wait", d)
		}
	}
}

// runHTTP serves s's REST front end on a free local port with Run, until stop; done
// receives Run's result.
func runHTTP(t *testing.T, s *Server) (addr string, stop context.CancelFunc, done <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	c := make(chan error, 1)
	go func() { c <- s.Run(ctx, s.HTTPFrontend(ln)) }()
	return ln.Addr().String(), stop, c
}
