package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/resnet-go/resnet/internal/testenv"
)

// lockedBuffer collects a process's stderr while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type serveProcess struct {
	cmd    *exec.Cmd
	url    string // http://ADDR, or "" with --http ""
	grpc   string // the gRPC address, or "disabled"
	stderr *lockedBuffer
	exited chan error
}

var listeningRE = regexp.MustCompile(`msg="listening[^"]*" http=(\S+) grpc=(\S+)`)

// startServe runs `resnet serve --http 127.0.0.1:0 --grpc 127.0.0.1:0 ARGS...` and waits
// until it is ready.
func startServe(t *testing.T, args ...string) *serveProcess {
	t.Helper()
	p := &serveProcess{stderr: &lockedBuffer{}, exited: make(chan error, 1)}
	p.cmd = exec.Command(binary, append([]string{"serve", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"}, args...)...)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for p.grpc == "" {
		if m := listeningRE.FindStringSubmatch(p.stderr.String()); m != nil {
			if m[1] != "disabled" {
				p.url = "http://" + m[1]
			}
			p.grpc = m[2]
			break
		}
		select {
		case err := <-p.exited:
			t.Fatalf("serve exited (%v): %s", err, p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start listening: %s", p.stderr.String())
		}
	}
	for p.url != "" {
		if resp, err := http.Get(p.url + "/v2/health/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve never became ready: %s", p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

// classifyLogits runs `resnet classify --json --logits` on one image.
func classifyLogits(t *testing.T, image string, args ...string) []float32 {
	t.Helper()
	stdout, stderr, code := run(t, append(append([]string{"classify", "--json", "--logits"}, args...), image)...)
	if code != 0 {
		t.Fatalf("classify: %s", stderr)
	}
	var r classifyResult
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	return r.Logits
}

// oipLogits sends an encoded image to the OIP infer route and returns the logits.
func oipLogits(t *testing.T, url, model, image string) []float32 {
	t.Helper()
	data, err := os.ReadFile(image)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := json.Marshal(map[string]any{
		"id":      "cli",
		"inputs":  []map[string]any{{"name": "image", "datatype": "BYTES", "shape": []int{1}, "data": []string{base64.StdEncoding.EncodeToString(data)}}},
		"outputs": []map[string]any{{"name": "logits"}},
	})
	resp, err := http.Post(url+"/v2/models/"+model+"/infer", "application/json", bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var r struct {
		ID      string `json:"id"`
		Outputs []struct {
			Data []float32 `json:"data"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.ID != "cli" || len(r.Outputs) != 1 {
		t.Fatalf("response %s", body)
	}
	return r.Outputs[0].Data
}

// TestServeMatchesClassify: the logits served for an image equal `resnet classify --logits`
// within 1e-5, for the built-in model (served as resnet20-cifar10 without --model) and for an
// HF-format directory named by its last path element.
func TestServeMatchesClassify(t *testing.T) {
	images := filepath.Join(testenv.SharedDir(t), "data", "images")
	builtin := startServe(t)
	tiny := startServe(t, "--model", tinyModel, "--model", "cifar="+"../../defaultmodel/model")
	for _, c := range []struct {
		p     *serveProcess
		model string
		args  []string
	}{
		{builtin, "resnet20-cifar10", nil},
		{tiny, "basic", []string{"--model", tinyModel}},
		{tiny, "cifar", []string{"--model", "../../defaultmodel/model"}},
	} {
		for _, im := range []string{"cat.jpg", "dog.jpg", "000000039769.png"} {
			path := filepath.Join(images, im)
			want := classifyLogits(t, path, c.args...)
			got := oipLogits(t, c.p.url, c.model, path)
			if len(got) != len(want) {
				t.Fatalf("%s %s: %d logits, classify has %d", c.model, im, len(got), len(want))
			}
			for i := range got {
				if math.Abs(float64(got[i]-want[i])) > 1e-5 {
					t.Errorf("%s %s: logit %d = %v, classify says %v", c.model, im, i, got[i], want[i])
				}
			}
		}
	}
	if log := builtin.stderr.String(); !strings.Contains(log, `msg=serving models="resnet20-cifar10=built-in cifar10-resnet20" isa=`) || !strings.Contains(log, "threads=") {
		t.Errorf("summary line missing or incomplete:\n%s", log)
	}
}

// TestServeLimitFlags: --max-request-images reaches the server (a second image in one
// request is refused with 413, one is served) and --workers is accepted and reported.
func TestServeLimitFlags(t *testing.T) {
	img, err := os.ReadFile(filepath.Join(testenv.SharedDir(t), "data", "images", "cat.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	p := startServe(t, "--max-request-images", "1", "--workers", "2")
	enc := base64.StdEncoding.EncodeToString(img)
	for _, c := range []struct {
		images []string
		status int
	}{{[]string{enc}, 200}, {[]string{enc, enc}, 413}} {
		req, _ := json.Marshal(map[string]any{
			"inputs": []map[string]any{{"name": "image", "datatype": "BYTES", "shape": []int{len(c.images)}, "data": c.images}},
		})
		resp, err := http.Post(p.url+"/v2/models/resnet20-cifar10/infer", "application/json", bytes.NewReader(req))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%d images: status %d (%s), want %d", len(c.images), resp.StatusCode, body, c.status)
		}
	}
	if log := p.stderr.String(); !strings.Contains(log, "workers=2") {
		t.Errorf("summary line does not report workers=2:\n%s", log)
	}
}

// TestServeDrainSIGTERM is the spec's case 8 on the real process: SIGTERM during 10 queued
// requests turns readiness 503 (liveness stays 200), refuses new connections after
// --drain-wait, finishes all 10, and exits 0.
func TestServeDrainSIGTERM(t *testing.T) {
	cat := filepath.Join(testenv.SharedDir(t), "data", "images", "cat.jpg")
	jpg, err := os.ReadFile(cat)
	if err != nil {
		t.Fatal(err)
	}
	// A long queue delay keeps the requests waiting while the signal arrives.
	p := startServe(t, "--max-batch-size", "64", "--max-queue-delay", "6s", "--drain-wait", "300ms", "--exit-timeout", "30s")
	const n = 10
	codes := make(chan int, n)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for range n {
		go func() {
			resp, err := client.Post(p.url+"/models/resnet20-cifar10", "", bytes.NewReader(jpg))
			if err != nil {
				t.Error(err)
				codes <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for pending(t, client, p.url) < n {
		if time.Now().After(deadline) {
			t.Fatal("requests never queued")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitHTTP(t, client, p.url+"/v2/health/ready", 503)
	if resp, err := client.Get(p.url + "/v2/health/live"); err != nil || resp.StatusCode != 200 {
		t.Errorf("liveness while draining: %v %v", resp, err)
	}
	host := strings.TrimPrefix(p.url, "http://")
	for {
		c, err := net.DialTimeout("tcp", host, time.Second)
		if err != nil {
			break // refused: the listener is closed
		}
		c.Close()
		if time.Since(start) > 10*time.Second {
			t.Fatal("still accepting connections 10 s after SIGTERM with --drain-wait 300ms")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("connections refused %v after SIGTERM, before the 300 ms drain wait", d)
	}
	for range n {
		if code := <-codes; code != 200 {
			t.Errorf("a request accepted before SIGTERM got %d", code)
		}
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Errorf("exit: %v\n%s", err, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit")
	}
	if log := p.stderr.String(); !strings.Contains(log, "clean=true") {
		t.Errorf("no clean stop in the log:\n%s", log)
	}
}

func pending(t *testing.T, client *http.Client, url string) int {
	resp, err := client.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, `resnet_inference_pending_requests{model="resnet20-cifar10",version="1"} `) {
			var v float64
			json.Unmarshal([]byte(line[strings.LastIndexByte(line, ' ')+1:]), &v)
			return int(v)
		}
	}
	return 0
}

func waitHTTP(t *testing.T, client *http.Client, url string, status int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == status {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered %d", url, status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestServeRefusesBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--overload-status", "500"}, "--overload-status 500: want 503 or 429"},
		{[]string{"--max-body", "lots"}, `"lots" is not a size`},
		{[]string{"--max-body", "0"}, `"0": a size must be at least 1 byte`},
		{[]string{"--model", "=../../defaultmodel/model"}, "--model =../../defaultmodel/model: the name before '=' is empty; give one with --model NAME=../../defaultmodel/model"},
		{[]string{"--model", "a=x", "--model", "a=y"}, "would both be served as a"},
		{[]string{"--model", "../../model/testdata/basic", "--model", "other/basic"}, "would both be served as basic"},
		{[]string{"--http", "", "--grpc", ""}, "--http and --grpc are both empty: nothing to serve"},
		{[]string{"--grpc", "256.0.0.1:1"}, "--grpc 256.0.0.1:1"},
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"--model", "/no/such/dir"}, "model dir: "},
		{[]string{"--http", "256.0.0.1:1"}, "--http 256.0.0.1:1"},
		{[]string{"--max-request-images", "0"}, "--max-request-images and --workers must be at least 1"},
		{[]string{"--workers", "0"}, "--max-request-images and --workers must be at least 1"},
	} {
		_, stderr, code := run(t, append([]string{"serve", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"}, c.args...)...)
		if code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("serve %v: exit %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
	}
}

func TestParseModelSpecs(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want []modelSpec
	}{
		{nil, []modelSpec{{"resnet20-cifar10", ""}}},
		{[]string{"microsoft/resnet-50"}, []modelSpec{{"resnet-50", "microsoft/resnet-50"}}},
		{[]string{"r50=microsoft/resnet-50", "./runs/r20/"}, []modelSpec{{"r50", "microsoft/resnet-50"}, {"r20", "./runs/r20/"}}},
		{[]string{"ck/resnet20-12fca82f.th"}, []modelSpec{{"resnet20-12fca82f.th", "ck/resnet20-12fca82f.th"}}},
		{[]string{"/models/a=b/c"}, []modelSpec{{"c", "/models/a=b/c"}}},
	} {
		got, err := parseModelSpecs(c.in)
		if err != nil || len(got) != len(c.want) {
			t.Errorf("%v: %v %v", c.in, got, err)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%v: %v, want %v", c.in, got, c.want)
			}
		}
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int64{"64MiB": 64 << 20, "10MB": 10e6, "512kib": 512 << 10, "1048576": 1 << 20, "2 GiB": 2 << 30, "7B": 7} {
		var b byteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("%q: %d %v, want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "-1", "0", "1.5MiB", "MiB", "9999999999GiB"} {
		var b byteSize
		if err := b.Set(in); err == nil {
			t.Errorf("%q accepted as %d", in, b)
		}
	}
	b := byteSize(64 << 20)
	if b.String() != "64MiB" {
		t.Errorf("String %q", b.String())
	}
}
