// Command soak runs `resnet serve` on loopback under a fixed-duration mixed load and checks
// that it stays correct and flat. About 10% of the requests are bad on purpose: corrupt and
// truncated images, decompression bombs (huge declared dimensions, a gzip body that inflates
// past --max-body), wrong tensor shapes, datatypes and sizes in OIP JSON, binary and gRPC
// requests, malformed JSON, bodies cut short. Beside the closed-loop clients, slow clients
// dribble headers (slowloris: the server must cut them at its 10 s header timeout), dribble a
// body (a slow but valid request: it must still be answered correctly), or promise a 64 MiB
// body and send one byte (which must not cost the server 64 MiB).
//
// It fails (exit 1) when the server panics (its stderr is scanned), when a good request is
// not answered with the logits (or HF labels and scores) its first answer gave, when a bad
// one gets anything but the expected 4xx with a JSON {"error"} (or gRPC code), or when the
// server's RSS (/proc/PID/status VmRSS) or goroutine count (go_goroutines on /metrics) grows
// 10% or more from the first to the last window (a minute, or less in a short run; for
// goroutines, also by more than two per client, the number of connections in flight).
//
//	go build -o /tmp/resnet ./cmd/resnet
//	go run ./tools/soak -bin /tmp/resnet -duration 2m
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/resnet-go/resnet/serve/inference"
)

// Config is one soak run.
type Config struct {
	Bin       string        // the resnet binary
	ServeArgs []string      // extra `resnet serve` arguments (e.g. --model)
	Model     string        // the served model's name
	Duration  time.Duration // load time, after start-up
	Clients   int           // closed-loop clients
	Slow      int           // slow clients (header dribblers, body dribblers, body promisers in turn)
	Bad       float64       // fraction of bad requests from the closed-loop clients
	Seed      uint64
	Log       io.Writer // progress lines; nil for none
}

func main() {
	var c Config
	flag.StringVar(&c.Bin, "bin", "", "the resnet binary (go build -o /tmp/resnet ./cmd/resnet)")
	flag.StringVar(&c.Model, "model", "resnet20-cifar10", "name of the served model (the built-in one unless -serve-args names another)")
	serveArgs := flag.String("serve-args", "", "extra arguments for resnet serve, space-separated (e.g. \"--model cifar=./runs/r20\")")
	flag.DurationVar(&c.Duration, "duration", 2*time.Minute, "how long to load the server (at most 5m)")
	flag.IntVar(&c.Clients, "clients", 8, "closed-loop clients")
	flag.IntVar(&c.Slow, "slow", 2, "slow clients (slowloris headers, dribbled bodies, bodies promised and not sent)")
	flag.Float64Var(&c.Bad, "bad", 0.1, "fraction of bad requests")
	flag.Uint64Var(&c.Seed, "seed", 1, "seed of the request mix")
	asJSON := flag.Bool("json", false, "print the report as JSON")
	flag.Parse()
	if c.Bin == "" || c.Duration <= 0 || c.Duration > 5*time.Minute {
		fmt.Fprintln(os.Stderr, "soak: need -bin and a -duration of at most 5m")
		os.Exit(2)
	}
	c.ServeArgs = strings.Fields(*serveArgs)
	c.Log = os.Stderr
	rep, err := Run(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if *asJSON {
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Println(string(b))
	} else {
		fmt.Print(rep.String())
	}
	if len(rep.Problems) > 0 {
		os.Exit(1)
	}
}

// Report is what a run measured; Problems lists every failed check.
type Report struct {
	Seconds      float64           `json:"seconds"`
	Requests     map[string]*Tally `json:"requests"` // by kind
	Good, Bad    int               `json:"-"`
	SlowHeaders  int               `json:"slow_header_sessions"`  // slowloris connections cut by the server
	HeaderCutoff [2]float64        `json:"header_cutoff_seconds"` // min, max time until cut
	SlowBodies   int               `json:"slow_body_requests"`
	Declared     int               `json:"declared_body_connections"` // 64 MiB promised, 1 byte sent
	MaxLogitDiff float64           `json:"max_logit_diff"`            // largest |logit - first answer's| of a good request
	MaxScoreDiff float64           `json:"max_score_diff"`            // the same for HF scores
	RSS          Series            `json:"rss_kib"`
	Goroutines   Series            `json:"goroutines"`
	ExitCode     int               `json:"exit_code"`
	Problems     []string          `json:"problems"`
}

// Tally counts one kind of request.
type Tally struct {
	Bad    bool           `json:"bad"`
	Sent   int            `json:"sent"`
	Status map[string]int `json:"status"` // HTTP status or gRPC code
	Failed int            `json:"failed"` // answered otherwise than expected
}

// Series is a resource sampled every second, and its first and last windows' medians.
type Series struct {
	Samples     []float64 `json:"samples"`
	First, Last float64   `json:"-"`
	Growth      float64   `json:"growth"` // (Last-First)/First
	Window      float64   `json:"window_seconds"`
}

func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "soak: %.0f s, %d good and %d bad requests (%.1f%% bad), %d slowloris connections cut after %.1f-%.1f s, %d slow bodies answered, %d 64 MiB bodies promised and not sent\n",
		r.Seconds, r.Good, r.Bad, 100*float64(r.Bad)/float64(max(1, r.Good+r.Bad)), r.SlowHeaders, r.HeaderCutoff[0], r.HeaderCutoff[1], r.SlowBodies, r.Declared)
	kinds := make([]string, 0, len(r.Requests))
	for k := range r.Requests {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		t := r.Requests[k]
		fmt.Fprintf(&b, "  %-26s %6d sent, answers %v, %d unexpected\n", k, t.Sent, t.Status, t.Failed)
	}
	fmt.Fprintf(&b, "good answers: logits within %.2g of the first answer for the same input, HF scores within %.2g\n", r.MaxLogitDiff, r.MaxScoreDiff)
	fmt.Fprintf(&b, "RSS: %.0f MiB (median of the first %.0f s) -> %.0f MiB (last), %+.1f%%\n", r.RSS.First/1024, r.RSS.Window, r.RSS.Last/1024, 100*r.RSS.Growth)
	fmt.Fprintf(&b, "goroutines: %.0f -> %.0f, %+.1f%%\n", r.Goroutines.First, r.Goroutines.Last, 100*r.Goroutines.Growth)
	fmt.Fprintf(&b, "server exit code %d\n", r.ExitCode)
	if len(r.Problems) == 0 {
		b.WriteString("PASS\n")
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "FAIL: %s\n", p)
	}
	return b.String()
}

// soak is one run in progress.
type soak struct {
	cfg      Config
	base     string // http://127.0.0.1:PORT
	grpcAddr string
	http     *http.Client
	grpc     inference.GRPCInferenceServiceClient
	h, w     int // the model's input size

	slowImage []byte     // what slow clients send to the HF route
	slowRef   *[]hfLabel // and the answer it must get

	mu       sync.Mutex
	rep      *Report
	problems map[string]int // message -> count (the first 20 distinct are kept)
}

func (s *soak) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.problems[msg] == 0 && len(s.problems) < 20 {
		s.rep.Problems = append(s.rep.Problems, msg)
	}
	s.problems[msg]++
}

func (s *soak) logf(format string, args ...any) {
	if s.cfg.Log != nil {
		fmt.Fprintf(s.cfg.Log, "soak: "+format+"\n", args...)
	}
}

var listening = regexp.MustCompile(`msg="listening[^"]*" http=(\S+) grpc=(\S+)`)

// Run starts the server, loads it for cfg.Duration, stops it with SIGTERM and reports.
// An error means the run itself could not happen (no server); failed checks are in
// Report.Problems.
func Run(cfg Config) (*Report, error) {
	if cfg.Clients < 1 {
		cfg.Clients = 1
	}
	args := append([]string{"serve", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--drain-wait", "0", "--log-level", "info"}, cfg.ServeArgs...)
	cmd := exec.Command(cfg.Bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer cmd.Process.Kill()
	var logMu sync.Mutex
	var serverLog bytes.Buffer
	addrs := make(chan [2]string, 1)
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			logMu.Lock()
			serverLog.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addrs <- [2]string{m[1], m[2]}
			}
		}
	}()
	var a [2]string
	select {
	case a = <-addrs:
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("no \"listening\" line from %v within 60 s", args)
	}
	s := &soak{cfg: cfg, base: "http://" + a[0], grpcAddr: a[1], rep: &Report{Requests: map[string]*Tally{}}, problems: map[string]int{}}
	s.http = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Clients + cfg.Slow + 2}, Timeout: 60 * time.Second}
	conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	s.grpc = inference.NewGRPCInferenceServiceClient(conn)
	if err := s.waitReady(); err != nil {
		return nil, err
	}
	kinds, err := s.kinds()
	if err != nil {
		return nil, err
	}
	var good, bad []kind
	for _, k := range kinds {
		s.rep.Requests[k.name] = &Tally{Bad: k.bad, Status: map[string]int{}}
		if k.bad {
			bad = append(bad, k)
		} else {
			good = append(good, k)
		}
	}
	s.logf("server up (http %s, grpc %s, model input %dx%d); %d good and %d bad request kinds, %d clients, %d slow, for %v",
		a[0], a[1], s.w, s.h, len(good), len(bad), cfg.Clients, cfg.Slow, cfg.Duration)

	ctx, cancel := context.WithTimeout(context.Background(), cfg.Duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	var sent atomic.Int64
	for i := range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(i)))
			for ctx.Err() == nil {
				k := good[rng.IntN(len(good))]
				if rng.Float64() < cfg.Bad {
					k = bad[rng.IntN(len(bad))]
				}
				s.do(k)
				sent.Add(1)
			}
		}()
	}
	for i := range cfg.Slow {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				switch (n + i) % 3 {
				case 0:
					s.slowHeaders(ctx)
				case 1:
					s.slowBody()
				case 2:
					s.declaredBody()
				}
			}
		}()
	}
	pid := cmd.Process.Pid
	tick := time.NewTicker(time.Second)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
			s.sample(pid)
			if n := len(s.rep.RSS.Samples); n%30 == 0 {
				s.logf("%d s: %d requests, RSS %.0f MiB, %.0f goroutines", n, sent.Load(), s.rep.RSS.Samples[n-1]/1024, s.rep.Goroutines.Samples[len(s.rep.Goroutines.Samples)-1])
			}
		}
	}
	tick.Stop()
	wg.Wait()
	s.rep.Seconds = time.Since(start).Seconds()
	s.flatness(&s.rep.RSS, "RSS", 0)
	// Each client's connection has a goroutine or two on the server, alive or not at a given
	// moment (a slowloris lives 10 s): that many is noise, not growth, however small the count.
	s.flatness(&s.rep.Goroutines, "goroutine count", float64(2*(cfg.Clients+cfg.Slow)))
	for name, t := range s.rep.Requests {
		if t.Bad {
			s.rep.Bad += t.Sent
		} else {
			s.rep.Good += t.Sent
		}
		if t.Sent == 0 {
			s.problem("no %s request was sent", name)
		}
	}

	// A clean drain: SIGTERM, exit 0, and no panic anywhere in the log.
	cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { <-logDone; exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			s.rep.ExitCode = ee.ExitCode()
		} else if err != nil {
			s.problem("waiting for the server: %v", err)
		}
		if s.rep.ExitCode != 0 {
			s.problem("the server exited with status %d after SIGTERM", s.rep.ExitCode)
		}
	case <-time.After(40 * time.Second):
		s.problem("the server did not exit within 40 s of SIGTERM")
	}
	logMu.Lock()
	log := serverLog.String()
	logMu.Unlock()
	for _, l := range strings.Split(log, "\n") {
		if low := strings.ToLower(l); strings.Contains(low, "panic") || strings.Contains(low, "fatal error") || strings.Contains(l, "DATA RACE") {
			s.problem("server log: %s", l)
		}
	}
	return s.rep, nil
}

func (s *soak) waitReady() error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if resp, err := s.http.Get(s.base + "/v2/health/ready"); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the server was not ready within 2 minutes")
}

// sample reads the server's VmRSS and go_goroutines.
func (s *soak) sample(pid int) {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				if v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64); err == nil {
					s.rep.RSS.Samples = append(s.rep.RSS.Samples, v)
				}
			}
		}
	} else {
		s.problem("reading the server's RSS: %v", err)
	}
	resp, err := s.http.Get(s.base + "/metrics")
	if err != nil {
		s.problem("GET /metrics: %v", err)
		return
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			if v, err := strconv.ParseFloat(rest, 64); err == nil {
				s.rep.Goroutines.Samples = append(s.rep.Goroutines.Samples, v)
			}
		}
	}
}

// flatness compares the medians of the first and last windows: after a warm-up of a sixth
// of the run (at most 10 s, while the heap and connection pools reach their working size), a
// minute each, or half of what is left when that is shorter (12 s of a 30 s run). The median
// ignores the spikes of a few bombs arriving at once. Growth of at most slack (absolute) is
// never a failure.
func (s *soak) flatness(x *Series, what string, slack float64) {
	n := len(x.Samples)
	if n < 6 {
		s.problem("only %d samples of the %s", n, what)
		return
	}
	warm := min(10, n/6)
	win := min(60, (n-warm)/2)
	median := func(v []float64) float64 {
		v = slices.Clone(v)
		slices.Sort(v)
		return v[len(v)/2]
	}
	x.First, x.Last, x.Window = median(x.Samples[warm:warm+win]), median(x.Samples[n-win:]), float64(win)
	x.Growth = (x.Last - x.First) / x.First
	if x.Growth >= 0.10 && x.Last-x.First > slack {
		s.problem("the server's %s grew %.1f%% (%.0f -> %.0f) from the first to the last %d s", what, 100*x.Growth, x.First, x.Last, win)
	}
}
