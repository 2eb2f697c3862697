package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/resnet-go/resnet"
	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/defaultmodel"
	"github.com/resnet-go/resnet/kernels"
	"github.com/resnet-go/resnet/serve"
)

// defaultServeName is the name of the built-in model when no --model is given.
const defaultServeName = "resnet20-cifar10"

type serveFlags struct {
	modelFlags
	models         []string
	httpAddr       string
	grpcAddr       string
	maxBatchSize   int
	maxQueueDelay  time.Duration
	maxQueueSize   int
	maxImages      int
	workers        int
	maxBody        byteSize
	drainWait      time.Duration
	exitTimeout    time.Duration
	requestTimeout time.Duration
	overloadStatus int
	cors           []string
	logLevel       string
	logFormat      string
}

func serveCmd() *cobra.Command {
	f := serveFlags{maxBody: serve.DefaultMaxBody}
	cmd := &cobra.Command{
		Use:   "serve [--model [NAME=]MODEL]... [flags]",
		Short: "Serve models over HTTP and gRPC: Open Inference Protocol v2, the HF Inference API, metrics and a web page",
		Long: `Serve one or more models with dynamic batching.

Routes (on --http):
  GET  /v2/health/live, /v2/health/ready, /v2          Open Inference Protocol v2 (KServe v2)
  GET  /v2/models/NAME[/versions/1][/ready]             model metadata and readiness
  POST /v2/models/NAME[/versions/1]/infer               inputs "image" (BYTES [N]) or "pixel_values"
                                                        (FP32 [N,3,H,W]); outputs "logits",
                                                        "probabilities", "embedding"; binary tensor
                                                        data and classification extensions
  POST /models/NAME, POST / (the first model)           HF Inference API image-classification
  GET  /metrics                                         Prometheus metrics
  GET  /                                                a web page to try the models

On --grpc: inference.GRPCInferenceService (OIP v2 gRPC: ServerLive, ServerReady, ModelReady,
ServerMetadata, ModelMetadata, ModelInfer with raw_input_contents or typed contents; the same
inputs, outputs and classification parameter) and grpc.health.v1 (SERVING once the models are
loaded, NOT_SERVING while loading or draining). Messages up to --max-body are accepted.

SIGTERM or SIGINT drains: readiness turns 503 (gRPC health NOT_SERVING) at once, requests are
still served for --drain-wait, then new connections are refused and everything accepted
finishes; the process exits 0 within --exit-timeout of the signal (1 if requests had to be
abandoned).`,
		Example: `  resnet serve                                   # the built-in model as resnet20-cifar10 on 127.0.0.1:8080
  resnet serve --model microsoft/resnet-50 --http :8080 --grpc :8081
  resnet serve --model r50=microsoft/resnet-50 --model cifar=./runs/r20 --max-batch-size 16
  curl --data-binary @cat.jpg localhost:8080/models/resnet-50`,
		Args: noArgs("models go in --model [NAME=]MODEL, once per model"),
		RunE: func(cmd *cobra.Command, args []string) error { return runServe(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.models, "model", "m", nil, "a model to serve, [NAME=]MODEL (repeatable): MODEL is a hub id, an HF-style directory or a checkpoint file, as for classify; NAME defaults to MODEL's last path element; without --model, the built-in CIFAR-10 ResNet-20 is served as "+defaultServeName)
	// The shared model flags (--arch, --revision, --labels, --threads, preprocessing) apply to
	// every --model; their own --model is shadowed by the repeatable one above.
	shared := &cobra.Command{}
	f.modelFlags.register(shared)
	f.modelFlags.registerDecode(shared)
	fl.AddFlagSet(shared.Flags())
	fl.StringVar(&f.httpAddr, "http", serve.DefaultHTTPAddr, `HTTP address (REST, metrics, web page); "" disables it`)
	fl.StringVar(&f.grpcAddr, "grpc", serve.DefaultGRPCAddr, `gRPC address (OIP v2 gRPC, grpc.health.v1); "" disables it`)
	fl.IntVar(&f.maxBatchSize, "max-batch-size", serve.DefaultMaxBatchSize, "most images per forward pass")
	fl.DurationVar(&f.maxQueueDelay, "max-queue-delay", serve.DefaultMaxQueueDelay, "how long the oldest waiting image waits for others to fill its batch (0: none)")
	fl.IntVar(&f.maxQueueSize, "max-queue-size", serve.DefaultMaxQueueSize, "requests admitted per model, waiting or running; more are refused with --overload-status")
	fl.IntVar(&f.maxImages, "max-request-images", serve.DefaultMaxRequestImages, "most images in one request (more: 413 / RESOURCE_EXHAUSTED)")
	fl.IntVar(&f.workers, "workers", 1, "forward passes at once per model (each uses --threads kernel threads)")
	fl.Var(&f.maxBody, "max-body", "largest request body, after gzip/deflate decoding, and largest gRPC message (e.g. 64MiB, 10MB, 1048576)")
	fl.DurationVar(&f.drainWait, "drain-wait", serve.DefaultDrainWait, "after SIGTERM, how long to keep serving with readiness 503 before refusing new connections")
	fl.DurationVar(&f.exitTimeout, "exit-timeout", serve.DefaultExitTimeout, "after SIGTERM, the longest until exit (drain wait included)")
	fl.DurationVar(&f.requestTimeout, "request-timeout", serve.DefaultRequestTimeout, "longest a request may wait for and run in its batch")
	fl.IntVar(&f.overloadStatus, "overload-status", 503, "HTTP status when a queue is full: 503 or 429 (both with Retry-After)")
	fl.StringSliceVar(&f.cors, "cors", nil, `allow cross-origin requests from these origins (repeatable or comma-separated; "*" for any); default: no CORS headers`)
	fl.StringVar(&f.logLevel, "log-level", "info", "debug (a line per request), info, warn or error")
	fl.StringVar(&f.logFormat, "log-format", "text", "text or json")
	return cmd
}

// byteSize is a flag value in bytes that takes units: 64MiB, 10MB, 512KiB, 1048576.
type byteSize int64

func (b *byteSize) String() string {
	v := int64(*b)
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if v >= u.size && v%u.size == 0 {
			return strconv.FormatInt(v/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(v, 10)
}

func (b *byteSize) Set(s string) error {
	units := []struct {
		suffix string
		size   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(num), strings.ToUpper(u.suffix)) {
			num, mult = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.size
			break
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err == nil && v < 1 {
		return fmt.Errorf("%q: a size must be at least 1 byte", s)
	}
	if err != nil || v > (1<<62)/mult {
		return fmt.Errorf("%q is not a size (e.g. 64MiB, 10MB, 1048576)", s)
	}
	*b = byteSize(v * mult)
	return nil
}

func (b *byteSize) Type() string { return "size" }

// modelSpec is one --model: the name it is served under and what to load.
type modelSpec struct{ name, source string }

// parseModelSpecs reads the --model values. NAME=MODEL names a model; without a name it is
// MODEL's last path element (microsoft/resnet-50 → resnet-50).
func parseModelSpecs(values []string) ([]modelSpec, error) {
	if len(values) == 0 {
		return []modelSpec{{name: defaultServeName}}, nil
	}
	var specs []modelSpec
	seen := map[string]string{}
	for _, v := range values {
		name, source, ok := strings.Cut(v, "=")
		if ok && name == "" {
			return nil, fmt.Errorf("--model %s: the name before '=' is empty; give one with --model NAME=%s", v, source)
		}
		if !ok || !serve.ValidModelName(name) {
			name, source = filepath.Base(strings.TrimRight(filepath.ToSlash(v), "/")), v
		}
		if source == "" {
			return nil, fmt.Errorf("--model %q names no model", v)
		}
		if !serve.ValidModelName(name) {
			return nil, fmt.Errorf("--model %s: the name %q is not URL-safe (letters, digits, '.', '_', '-'); give one with --model NAME=%s", v, name, source)
		}
		if prev, dup := seen[name]; dup {
			return nil, fmt.Errorf("--model %s and --model %s would both be served as %s; name them with --model NAME=MODEL", prev, v, name)
		}
		seen[name] = v
		specs = append(specs, modelSpec{name: name, source: source})
	}
	return specs, nil
}

func (f *serveFlags) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", f.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch f.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", f.logFormat)
}

func runServe(cmd *cobra.Command, f *serveFlags) error {
	specs, err := parseModelSpecs(f.models)
	if err != nil {
		return err
	}
	if err := f.modelFlags.check(); err != nil {
		return err // before listening: a bad --threads or --size failed only after the drain wait
	}
	switch {
	case f.overloadStatus != 503 && f.overloadStatus != 429:
		return fmt.Errorf("--overload-status %d: want 503 or 429", f.overloadStatus)
	case f.maxBatchSize < 1 || f.maxQueueSize < 1 || f.maxImages < 1 || f.workers < 1:
		return fmt.Errorf("--max-batch-size, --max-queue-size, --max-request-images and --workers must be at least 1")
	case f.maxQueueDelay < 0 || f.drainWait < 0 || f.exitTimeout <= 0 || f.requestTimeout <= 0:
		return fmt.Errorf("--max-queue-delay and --drain-wait must not be negative, --exit-timeout and --request-timeout must be positive")
	case f.httpAddr == "" && f.grpcAddr == "":
		return fmt.Errorf("--http and --grpc are both empty: nothing to serve")
	}
	log, err := f.logger()
	if err != nil {
		return err
	}
	var httpLn, grpcLn net.Listener
	if f.httpAddr != "" {
		if httpLn, err = net.Listen("tcp", f.httpAddr); err != nil {
			return fmt.Errorf("--http %s: %w", f.httpAddr, err)
		}
		defer httpLn.Close() // for the early returns; Run has closed it otherwise
	}
	if f.grpcAddr != "" {
		if grpcLn, err = net.Listen("tcp", f.grpcAddr); err != nil {
			return fmt.Errorf("--grpc %s: %w", f.grpcAddr, err)
		}
		defer grpcLn.Close()
	}
	addr := func(ln net.Listener) string {
		if ln == nil {
			return "disabled"
		}
		return ln.Addr().String()
	}
	version := "dev"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version = bi.Main.Version
	}
	drainWait := f.drainWait
	if drainWait == 0 {
		drainWait = -1 // serve.Options: 0 means the default
	}
	queueDelay := f.maxQueueDelay
	if queueDelay == 0 {
		queueDelay = -1
	}
	s := serve.New(serve.Options{
		MaxBatchSize:     f.maxBatchSize,
		MaxQueueDelay:    queueDelay,
		MaxQueueSize:     f.maxQueueSize,
		MaxRequestImages: f.maxImages,
		Workers:          f.workers,
		MaxBody:          int64(f.maxBody),
		MaxPixels:        f.maxPixels,
		KeepOrientation:  !f.exifTranspose,
		DecodeWorkers:    f.threads,
		RequestTimeout:   f.requestTimeout,
		OverloadStatus:   f.overloadStatus,
		CORSOrigins:      f.cors,
		DrainWait:        drainWait,
		ExitTimeout:      f.exitTimeout,
		Version:          version,
		Logger:           log,
	})
	log.Info("listening; loading models (readiness is 503 until they are loaded)", "http", addr(httpLn), "grpc", addr(grpcLn))
	var fronts []serve.Frontend
	if httpLn != nil {
		fronts = append(fronts, s.HTTPFrontend(httpLn))
	}
	if grpcLn != nil {
		fronts = append(fronts, s.GRPCFrontend(grpcLn))
	}

	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second signal ends the process at once
	}()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, fronts...) }()

	var names []string
	for _, spec := range specs {
		m, multiLabel, err := f.loadServed(ctx, spec)
		if err != nil {
			stop()
			<-done
			return fmt.Errorf("model %s: %w", spec.name, err)
		}
		if err := s.Add(serve.Model{Name: spec.name, Model: m.model, MultiLabel: multiLabel, Source: m.source}); err != nil {
			stop()
			<-done
			return err
		}
		names = append(names, spec.name+"="+m.source)
		log.Info("model loaded", "model", spec.name, "source", m.source, "classes", m.model.Config.NumLabels,
			"input", fmt.Sprintf("%dx%d", m.inputW, m.inputH), "multi_label", multiLabel)
	}
	s.MarkReady()
	log.Info("serving", "models", strings.Join(names, " "), "isa", kernels.ISA(), "threads", f.threads,
		"http", addr(httpLn), "grpc", addr(grpcLn), "max_batch_size", f.maxBatchSize, "max_queue_delay", f.maxQueueDelay,
		"max_queue_size", f.maxQueueSize, "max_request_images", f.maxImages, "workers", f.workers, "version", version)
	return <-done
}

// served is a loaded model with what the summary line prints.
type served struct {
	model          *resnet.Model
	source         string
	inputW, inputH int
}

// loadServed loads one --model with the shared flags, and says whether its config.json makes
// it a multi-label classifier (problem_type), which decides its probabilities.
func (f *serveFlags) loadServed(ctx context.Context, spec modelSpec) (*served, bool, error) {
	f.model = spec.source
	m, err := f.load(ctx)
	if err != nil {
		return nil, false, err
	}
	source := spec.source
	if source == "" {
		source = defaultmodel.Name
	}
	h, w := m.Processor.OutputSize()
	multi := m.Model.Config.ProblemType == arch.MultiLabelClassification
	return &served{model: m, source: source, inputW: w, inputH: h}, multi, nil
}
