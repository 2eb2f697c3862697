// Package serve is the inference service behind `resnet serve`: a Server holds the loaded
// models, one batching queue per model (package batching) and the metrics, and answers
// protocol-neutral requests (Server.Infer, Server.ModelMetadata, Server.Ready); front ends
// translate protocols onto it. The REST front end (Server.Handler) speaks the Open Inference
// Protocol v2 (KServe v2, as Triton serves it, with the binary tensor data and classification
// extensions), the Hugging Face Inference API's image-classification shape, Prometheus
// metrics and a small web page. The gRPC front end (Server.GRPCServer, GRPCFrontend) speaks
// OIP v2 gRPC (inference.GRPCInferenceService, package serve/inference) and grpc.health.v1
// over the same methods.
//
// Server.Run serves front ends until its context ends (SIGTERM), then drains: readiness turns
// 503 at once, requests keep being served for Options.DrainWait so that load balancers
// notice, the listeners close, and every request already accepted finishes before Run
// returns, all within Options.ExitTimeout.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/resnet-go/resnet"
	"github.com/resnet-go/resnet/batching"
	"github.com/resnet-go/resnet/imageproc"
)

// Defaults of Options, chosen between the anchors of the serving spec (Triton, TorchServe,
// Ray Serve, TEI).
const (
	DefaultMaxBatchSize      = 8
	DefaultMaxQueueDelay     = 2 * time.Millisecond
	DefaultMaxQueueSize      = 64
	DefaultMaxBody           = 64 << 20 // Triton's --http-max-input-size
	DefaultMaxRequestImages  = 256
	DefaultRequestTimeout    = 30 * time.Second
	DefaultDrainWait         = 5 * time.Second
	DefaultExitTimeout       = 30 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 1 << 20
)

// Options configure a Server. Zero values take the defaults above.
type Options struct {
	// Batching, per model (see package batching).
	MaxBatchSize  int
	MaxQueueDelay time.Duration // 0: DefaultMaxQueueDelay; negative: no delay
	MaxQueueSize  int           // requests admitted per model, waiting or running
	Workers       int           // forward passes at once per model

	// Limits.
	MaxBody          int64 // request body bytes, after decompression (413 beyond)
	MaxPixels        int   // decoded image pixels, checked from the header (413 beyond); default Pillow's
	MaxRequestImages int   // images in one request (413 beyond)
	DecodeWorkers    int   // images decoded at once, server-wide (default GOMAXPROCS)
	RequestTimeout   time.Duration
	// KeepOrientation classifies encoded images as stored instead of turned upright by
	// their EXIF orientation, as transformers' pipelines and browsers show them
	// (imageproc.DecodeOptions).
	KeepOrientation bool

	// OverloadStatus is the HTTP status of a refusal because a queue is full: 503 (default,
	// as Triton, TorchServe, Ray) or 429 (as TEI). Both come with Retry-After.
	OverloadStatus int
	// CORSOrigins allow cross-origin requests from these origins ("*" for any); none: no
	// CORS headers at all.
	CORSOrigins []string

	// Shutdown: after the signal, serve DrainWait more (readiness already 503), then stop
	// accepting and finish what was accepted; ExitTimeout bounds the whole, from the signal.
	// DrainWait 0 means DefaultDrainWait; negative means none.
	DrainWait   time.Duration
	ExitTimeout time.Duration

	// HTTP server timeouts.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration

	// Name and Version are reported by GET /v2 (default "resnet" and "dev").
	Name, Version string
	// Logger receives a line per request at debug level and lifecycle lines at info.
	Logger *slog.Logger
}

func (o *Options) fill() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.MaxBatchSize, DefaultMaxBatchSize)
	def(&o.MaxQueueSize, DefaultMaxQueueSize)
	def(&o.Workers, 1)
	def(&o.MaxPixels, imageproc.DefaultMaxPixels)
	def(&o.MaxRequestImages, DefaultMaxRequestImages)
	def(&o.DecodeWorkers, runtime.GOMAXPROCS(0))
	def(&o.OverloadStatus, http.StatusServiceUnavailable)
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	defDur(&o.MaxQueueDelay, DefaultMaxQueueDelay)
	o.MaxQueueDelay = max(o.MaxQueueDelay, 0)
	defDur(&o.RequestTimeout, DefaultRequestTimeout)
	defDur(&o.DrainWait, DefaultDrainWait)
	o.DrainWait = max(o.DrainWait, 0)
	defDur(&o.ExitTimeout, DefaultExitTimeout)
	defDur(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	defDur(&o.ReadTimeout, DefaultReadTimeout)
	defDur(&o.WriteTimeout, DefaultWriteTimeout)
	defDur(&o.IdleTimeout, DefaultIdleTimeout)
	if o.Name == "" {
		o.Name = "resnet"
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Model is one model to serve.
type Model struct {
	// Name is how clients address it: URL-safe (letters, digits, '.', '_', '-').
	Name string
	// Model is the loaded network with its preprocessing and labels.
	Model *resnet.Model
	// MultiLabel says the checkpoint was trained for multi-label classification
	// (config.json problem_type "multi_label_classification"): probabilities are sigmoids.
	MultiLabel bool
	// Source says where it came from (hub id, path), for logs and metadata.
	Source string
	// Explainer, if set (built from the same checkpoint), lets POST /v1/models/{name}/explain
	// take ?layer= at any layer; without it the route explains the last stage only.
	Explainer *resnet.Explainer
}

// modelNameRE is what Model.Name may hold.
var modelNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ValidModelName reports whether name can be used in URLs as a model name.
func ValidModelName(name string) bool { return len(name) <= 128 && modelNameRE.MatchString(name) }

// entry is a model being served.
type entry struct {
	Model
	batcher *batching.Batcher
	inputH  int // preprocessed size; 0 when the processor keeps each image's size
	inputW  int
}

// Server holds the models and answers inference requests. Create it with New, add models with
// Add, call MarkReady when all are loaded, and serve it with Run or Handler.
type Server struct {
	opt     Options
	log     *slog.Logger
	metrics *metrics
	decode  chan struct{} // a token per image being decoded

	mu     sync.RWMutex
	models map[string]*entry
	order  []string // names in the order added; the first is the default of the HF routes

	loaded   atomic.Bool
	draining atomic.Bool

	watchMu  sync.Mutex
	watchers []func() // called after readiness may have changed (MarkReady, Drain)

	// wrap, if set, stands between a batcher and its model (tests slow the model down).
	wrap func(batching.Model) batching.Model
}

// New creates a server with no models; it reports not ready until MarkReady.
func New(opt Options) *Server {
	opt.fill()
	s := &Server{
		opt:    opt,
		log:    opt.Logger,
		decode: make(chan struct{}, opt.DecodeWorkers),
		models: map[string]*entry{},
	}
	s.metrics = newMetrics()
	return s
}

// Options returns the options in force, defaults filled in.
func (s *Server) Options() Options { return s.opt }

// Add starts serving m.
func (s *Server) Add(m Model) error {
	if !ValidModelName(m.Name) {
		return fmt.Errorf("model name %q is not URL-safe: use letters, digits, '.', '_' and '-' (set it with --model NAME=MODEL)", m.Name)
	}
	if m.Model == nil {
		return fmt.Errorf("model %s: no model", m.Name)
	}
	if m.Model.Config.NumChannels != 3 {
		return fmt.Errorf("model %s takes %d input channels; the server feeds RGB images (3)", m.Name, m.Model.Config.NumChannels)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.models[m.Name]; dup {
		return fmt.Errorf("two models are named %s; name them apart with --model NAME=MODEL", m.Name)
	}
	e := &entry{Model: m}
	e.inputH, e.inputW = m.Model.Processor.OutputSize()
	hooks := s.metrics.hooks(m.Name)
	var run batching.Model = m.Model
	if s.wrap != nil {
		run = s.wrap(run)
	}
	e.batcher = batching.New(run, batching.Options{
		MaxBatchSize:  s.opt.MaxBatchSize,
		MaxQueueDelay: s.opt.MaxQueueDelay,
		MaxQueueSize:  s.opt.MaxQueueSize,
		Workers:       s.opt.Workers,
		Hooks:         hooks,
	})
	s.models[m.Name] = e
	s.order = append(s.order, m.Name)
	s.metrics.addModel(m.Name, e.batcher)
	return nil
}

// MarkReady says every model is loaded: readiness turns 200 (unless draining).
func (s *Server) MarkReady() { s.loaded.Store(true); s.readinessChanged() }

// Ready reports whether the server takes traffic: models loaded and not draining.
func (s *Server) Ready() bool { return s.loaded.Load() && !s.draining.Load() }

// Drain turns readiness to 503; requests are still served. Run calls it on shutdown.
func (s *Server) Drain() { s.draining.Store(true); s.readinessChanged() }

// onReadinessChange registers f to be called whenever Ready may have changed (the gRPC
// front end's health service follows it).
func (s *Server) onReadinessChange(f func()) {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	s.watchers = append(s.watchers, f)
}

func (s *Server) readinessChanged() {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	for _, f := range s.watchers {
		f()
	}
}

// Models lists the served model names in the order they were added.
func (s *Server) Models() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]string(nil), s.order...)
}

func (s *Server) lookup(name string) (*entry, error) {
	s.mu.RLock()
	e := s.models[name]
	s.mu.RUnlock()
	if e != nil {
		return e, nil
	}
	if !s.loaded.Load() {
		return nil, errorf(Unavailable, "model %s is not loaded yet: the server is still loading its models", name)
	}
	return nil, errorf(NotFound, "unknown model %q (served: %s)", name, joinNames(s.Models()))
}

// firstModel is the model of the HF routes without a name.
func (s *Server) firstModel() (*entry, error) {
	names := s.Models()
	if len(names) == 0 {
		return nil, errorf(Unavailable, "no model is loaded yet")
	}
	return s.lookup(names[0])
}

// checkVersion accepts no version or "1": each model has one version.
func checkVersion(name, version string) error {
	if version != "" && version != "1" {
		return errorf(NotFound, "model %s has no version %q (its only version is 1)", name, version)
	}
	return nil
}

// Frontend is one protocol server over a Server: HTTPFrontend (REST) or GRPCFrontend.
type Frontend interface {
	// Serve serves until Shutdown; it returns nil or http.ErrServerClosed after Shutdown.
	Serve() error
	// Shutdown stops accepting, finishes requests in progress, and returns when they are
	// done or ctx ends.
	Shutdown(ctx context.Context) error
}

// HTTPServer returns the net/http server of the REST front end, with the timeouts and header
// limit of the options.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.opt.ReadHeaderTimeout,
		ReadTimeout:       s.opt.ReadTimeout,
		WriteTimeout:      s.opt.WriteTimeout,
		IdleTimeout:       s.opt.IdleTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// HTTPFrontend serves the REST front end on ln.
func (s *Server) HTTPFrontend(ln net.Listener) Frontend {
	return &httpFrontend{srv: s.HTTPServer(), ln: ln}
}

type httpFrontend struct {
	srv *http.Server
	ln  net.Listener
}

func (h *httpFrontend) Serve() error                       { return h.srv.Serve(h.ln) }
func (h *httpFrontend) Shutdown(ctx context.Context) error { return h.srv.Shutdown(ctx) }

// Run serves the front ends until ctx ends or one of them fails, then shuts down gracefully:
// readiness turns 503 at once, requests are still served for DrainWait (skipped if the
// server never became ready: MarkReady was not called), then the front ends
// stop accepting and finish every request in progress, and the batchers finish what is
// queued. ExitTimeout bounds the whole shutdown, from the moment ctx ends. Run returns nil
// after a clean shutdown, and an error if a front end failed or the time ran out with
// requests unfinished.
func (s *Server) Run(ctx context.Context, fronts ...Frontend) error {
	errc := make(chan error, len(fronts))
	for _, f := range fronts {
		go func() { errc <- f.Serve() }()
	}
	var failed error
	select {
	case <-ctx.Done():
	case err := <-errc:
		failed = fmt.Errorf("serving: %w", err)
	}
	start := time.Now()
	deadline, cancel := context.WithTimeout(context.Background(), s.opt.ExitTimeout)
	defer cancel()
	everReady := s.loaded.Load()
	s.Drain()
	if failed == nil && !everReady {
		// Readiness never turned 200 (a model failed to load, or the signal came first):
		// no load balancer sends traffic here, so there is nothing to drain.
		s.log.Info("stopping before any model was ready: no drain wait")
	} else if failed == nil {
		wait := min(s.opt.DrainWait, s.opt.ExitTimeout)
		s.log.Info("draining: readiness is 503; still serving, then refusing new connections", "wait", wait)
		select {
		case <-time.After(wait):
		case err := <-errc:
			failed = fmt.Errorf("serving: %w", err)
		}
	}
	var errs []error
	if failed != nil {
		errs = append(errs, failed)
	}
	// All front ends at once: each closes its listener now, whatever the others still finish.
	shut := make([]error, len(fronts))
	var wg sync.WaitGroup
	for i, f := range fronts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			shut[i] = f.Shutdown(deadline)
		}()
	}
	wg.Wait()
	for _, err := range shut {
		if err != nil {
			errs = append(errs, fmt.Errorf("shutting down: %w (requests still in progress after %v)", err, s.opt.ExitTimeout))
		}
	}
	s.mu.RLock()
	entries := make([]*entry, 0, len(s.models))
	for _, e := range s.models {
		entries = append(entries, e)
	}
	s.mu.RUnlock()
	for _, e := range entries {
		if err := e.batcher.Close(deadline); err != nil {
			errs = append(errs, fmt.Errorf("model %s: queued work unfinished: %w", e.Name, err))
		}
	}
	s.log.Info("stopped", "shutdown", time.Since(start).Round(time.Millisecond), "clean", len(errs) == 0)
	return errors.Join(errs...)
}

// Close stops the batchers without serving (for programs that use Handler directly).
func (s *Server) Close(ctx context.Context) error {
	s.Drain()
	s.mu.RLock()
	defer s.mu.RUnlock()
	var errs []error
	for _, e := range s.models {
		errs = append(errs, e.batcher.Close(ctx))
	}
	return errors.Join(errs...)
}
