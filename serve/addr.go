package serve

// Where `resnet serve` listens by default and the routes that probes and scrapers use (the
// deploy manifests' tests check their probes against these).
const (
	DefaultHTTPAddr = "127.0.0.1:8080" // REST, metrics, web page (KServe's HTTP port)
	DefaultGRPCAddr = "127.0.0.1:8081" // OIP v2 gRPC and grpc.health.v1 (KServe's gRPC port)

	LivePath    = "/v2/health/live"  // 200 while the process serves: the liveness probe
	ReadyPath   = "/v2/health/ready" // 200 once the models are loaded, 503 while loading or draining
	MetricsPath = "/metrics"         // Prometheus exposition
)
