package serve

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/resnet-go/resnet/batching"
)

// modelVersion is the version label of every model: each has one version.
const modelVersion = "1"

// metrics are the resnet_inference_* series of the serving spec (§8), which map one to one
// onto Triton's nv_inference_*, plus the Go runtime and process collectors. Every series has
// the labels model and version.
type metrics struct {
	reg *prometheus.Registry

	success    *prometheus.CounterVec   // requests answered
	failure    *prometheus.CounterVec   // requests failed, by reason
	count      *prometheus.CounterVec   // images inferred (a batch of n counts n)
	execCount  *prometheus.CounterVec   // forward passes (batches); count/exec_count is the mean batch
	requestDur *prometheus.HistogramVec // whole request, successes only
	queueDur   *prometheus.HistogramVec // waiting for a batch
	computeDur *prometheus.HistogramVec // one forward pass
	prepDur    *prometheus.HistogramVec // decoding and preprocessing a request's images
	batchSize  *prometheus.HistogramVec // images per forward pass

	handler http.Handler // GET /metrics
}

func newMetrics() *metrics {
	labels := []string{"model", "version"}
	seconds := prometheus.ExponentialBuckets(0.0005, 2, 16) // 0.5 ms … 16 s
	counter := func(name, help string, extra ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resnet_inference_" + name, Help: help}, append(labels, extra...))
	}
	histogram := func(name, help string, buckets []float64) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "resnet_inference_" + name, Help: help, Buckets: buckets}, labels)
	}
	m := &metrics{
		reg:        prometheus.NewRegistry(),
		success:    counter("request_success_total", "Inference requests answered successfully."),
		failure:    counter("request_failure_total", "Inference requests that failed, by reason: rejected (queue full, shutting down), timeout, canceled (client gone), invalid (bad input), backend (the model failed).", "reason"),
		count:      counter("count_total", "Images inferred (a batch of n images counts n)."),
		execCount:  counter("exec_count_total", "Forward passes (batches) run; count_total / exec_count_total is the mean batch size."),
		requestDur: histogram("request_duration_seconds", "Time from receiving a decoded request to its answer (successful requests).", seconds),
		queueDur:   histogram("queue_duration_seconds", "Time a request waited in the batching queue before its first images ran.", seconds),
		computeDur: histogram("compute_infer_duration_seconds", "Time of one forward pass (one batch).", seconds),
		prepDur:    histogram("preprocess_duration_seconds", "Time to decode and preprocess the images of one request.", seconds),
		batchSize:  histogram("batch_size", "Images per forward pass.", []float64{1, 2, 4, 8, 16, 32, 64, 128}),
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.success, m.failure, m.count, m.execCount, m.requestDur, m.queueDur, m.computeDur, m.prepDur, m.batchSize)
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

// addModel creates the model's series, so that they read 0 before its first request, and
// its pending-requests gauge.
func (m *metrics) addModel(name string, b *batching.Batcher) {
	m.success.WithLabelValues(name, modelVersion)
	for _, r := range []string{"rejected", "timeout", "canceled", "invalid", "backend"} {
		m.failure.WithLabelValues(name, modelVersion, r)
	}
	m.count.WithLabelValues(name, modelVersion)
	m.execCount.WithLabelValues(name, modelVersion)
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "resnet_inference_pending_requests",
		Help:        "Requests waiting in the batching queue, none of whose images has started.",
		ConstLabels: prometheus.Labels{"model": name, "version": modelVersion},
	}, func() float64 { return float64(b.Waiting()) }))
}

// hooks feed the batcher's timings into the model's series.
func (m *metrics) hooks(name string) batching.Hooks {
	queue := m.queueDur.WithLabelValues(name, modelVersion)
	compute := m.computeDur.WithLabelValues(name, modelVersion)
	size := m.batchSize.WithLabelValues(name, modelVersion)
	count := m.count.WithLabelValues(name, modelVersion)
	execs := m.execCount.WithLabelValues(name, modelVersion)
	return batching.Hooks{
		Started: func(d time.Duration) { queue.Observe(d.Seconds()) },
		Ran: func(n int, d time.Duration, err error) {
			execs.Inc()
			if err == nil {
				count.Add(float64(n))
			}
			compute.Observe(d.Seconds())
			size.Observe(float64(n))
		},
	}
}

// done counts a finished request of a known model.
func (m *metrics) done(model string, d time.Duration, err error) {
	if err != nil {
		m.failed(model, err)
		return
	}
	m.success.WithLabelValues(model, modelVersion).Inc()
	m.requestDur.WithLabelValues(model, modelVersion).Observe(d.Seconds())
}

// failed counts a failure of a known model, also one found before Infer (a body that does
// not parse).
func (m *metrics) failed(model string, err error) {
	m.failure.WithLabelValues(model, modelVersion, reason(kindOf(err))).Inc()
}

func (m *metrics) preprocessed(model string, d time.Duration) {
	m.prepDur.WithLabelValues(model, modelVersion).Observe(d.Seconds())
}
