// Command loadserve is a bounded load test for `resnet serve` on loopback: C clients send
// one image each per request to the HF route until N requests are done or the time limit
// passes, then it prints throughput and latency percentiles. It refuses any address that is
// not loopback.
//
//	go run ./tools/loadserve -url http://127.0.0.1:8080 -model resnet20-cifar10 \
//	    -image ../shared/data/images/cat.jpg -clients 32 -requests 2000 -limit 60s
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	target := flag.String("url", "http://127.0.0.1:8080", "server base URL (loopback only)")
	model := flag.String("model", "resnet20-cifar10", "model name")
	image := flag.String("image", "", "image file to send (to the HF route)")
	pixels := flag.Int("pixels", 0, "instead of an image, send a random preprocessed FP32 [1,3,N,N] tensor in OIP raw binary mode (no decoding on the server: batching and compute only)")
	clients := flag.Int("clients", 32, "concurrent clients")
	requests := flag.Int("requests", 1000, "requests in all")
	limit := flag.Duration("limit", time.Minute, "stop after this long even if requests remain")
	warmup := flag.Int("warmup", 16, "requests sent first and not counted")
	asJSON := flag.Bool("json", false, "print one JSON object")
	flag.Parse()
	if err := run(*target, *model, *image, *pixels, *clients, *requests, *warmup, *limit, *asJSON); err != nil {
		fmt.Fprintln(os.Stderr, "loadserve:", err)
		os.Exit(1)
	}
}

func run(target, model, image string, pixels, clients, requests, warmup int, limit time.Duration, asJSON bool) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(u.Hostname()); (ip == nil || !ip.IsLoopback()) && u.Hostname() != "localhost" {
		return fmt.Errorf("%s is not a loopback address; this tool only loads servers on this machine", u.Hostname())
	}
	if (image == "") == (pixels == 0) || clients < 1 || requests < 1 {
		return fmt.Errorf("need -image or -pixels, and -clients and -requests of at least 1")
	}
	var body []byte
	endpoint := target + "/models/" + url.PathEscape(model)
	header := http.Header{}
	if pixels > 0 {
		rng := rand.New(rand.NewPCG(1, 2))
		for range 3 * pixels * pixels {
			body = binary.LittleEndian.AppendUint32(body, math.Float32bits(float32(rng.NormFloat64())))
		}
		endpoint = target + "/v2/models/" + url.PathEscape(model) + "/infer"
		header.Set("Inference-Header-Content-Length", "0")
	} else if body, err = os.ReadFile(image); err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: limit}
	send := func() (time.Duration, int, error) {
		start := time.Now()
		req, err := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(body))
		if err != nil {
			return 0, 0, err
		}
		req.Header = header.Clone()
		resp, err := client.Do(req)
		if err != nil {
			return 0, 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(start), resp.StatusCode, nil
	}
	for range warmup {
		if _, code, err := send(); err != nil || code != 200 {
			return fmt.Errorf("warm-up request: status %d, %v", code, err)
		}
	}

	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	codes := map[int]int{}
	var errs int
	deadline := time.Now().Add(limit)
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(requests) && time.Now().Before(deadline) {
				d, code, err := send()
				mu.Lock()
				if err != nil {
					errs++
				} else {
					codes[code]++
					if code == 200 {
						lat = append(lat, d)
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / 1e6
	}
	res := map[string]any{
		"model": model, "clients": clients, "ok": len(lat), "errors": errs, "status": codes,
		"seconds": elapsed.Seconds(), "images_per_sec": float64(len(lat)) / elapsed.Seconds(),
		"p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99), "stopped_by_limit": time.Now().After(deadline),
	}
	if asJSON {
		b, _ := json.Marshal(res)
		fmt.Println(string(b))
		return nil
	}
	fmt.Printf("%d requests OK in %.2f s (%d errors, statuses %v): %.1f images/s; latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms\n",
		len(lat), elapsed.Seconds(), errs, codes, res["images_per_sec"], pct(0.5), pct(0.9), pct(0.99))
	return nil
}
