package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/resnet-go/resnet/serve"
)

// inferenceService is KServe's serving.kserve.io/v1beta1 InferenceService, as far as a custom
// predictor goes (KS pkg/apis/serving/v1beta1: PredictorSpec inlines a PodSpec next to the
// ComponentExtensionSpec fields); a local type keeps github.com/kserve/kserve out of go.mod.
type inferenceService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Predictor predictorSpec `json:"predictor"`
	} `json:"spec"`
}

type predictorSpec struct {
	corev1.PodSpec       `json:",inline"`
	MinReplicas          *int32            `json:"minReplicas,omitempty"`
	MaxReplicas          int32             `json:"maxReplicas,omitempty"`
	ScaleTarget          *int32            `json:"scaleTarget,omitempty"`
	ScaleMetric          *string           `json:"scaleMetric,omitempty"`
	ContainerConcurrency *int64            `json:"containerConcurrency,omitempty"`
	TimeoutSeconds       *int64            `json:"timeout,omitempty"`
	CanaryTrafficPercent *int64            `json:"canaryTrafficPercent,omitempty"`
	Labels               map[string]string `json:"labels,omitempty"`
	Annotations          map[string]string `json:"annotations,omitempty"`
}

// kustomization is the part of kustomize's Kustomization these files use.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
}

// manifests are every YAML file under deploy/, decoded strictly by kind.
type manifests struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	hpas        map[string]*autoscalingv2.HorizontalPodAutoscaler
	pdbs        map[string]*policyv1.PodDisruptionBudget
	jobs        map[string]*batchv1.Job
	isvcs       map[string]*inferenceService
	kustomize   map[string]*kustomization
	files       int
	firstByPath map[string]string // path → kind
}

// decodeStrict decodes one YAML document into v, refusing unknown and duplicate fields.
func decodeStrict(data []byte, v any) error { return yaml.UnmarshalStrict(data, v) }

func loadManifests(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{
		deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		hpas: map[string]*autoscalingv2.HorizontalPodAutoscaler{}, pdbs: map[string]*policyv1.PodDisruptionBudget{},
		jobs: map[string]*batchv1.Job{}, isvcs: map[string]*inferenceService{}, kustomize: map[string]*kustomization{},
		firstByPath: map[string]string{},
	}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (!strings.HasSuffix(path, ".yaml") && !strings.HasSuffix(path, ".yml")) {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte("\n---")) {
			return fmt.Errorf("%s: one object per file", path)
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(data, &tm); err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		m.files++
		m.firstByPath[path] = tm.Kind
		var obj interface{ GetName() string }
		switch gvk := tm.APIVersion + " " + tm.Kind; gvk {
		case "apps/v1 Deployment":
			o := &appsv1.Deployment{}
			obj, m.deployments[path] = o, o
		case "v1 Service":
			o := &corev1.Service{}
			obj, m.services[path] = o, o
		case "autoscaling/v2 HorizontalPodAutoscaler":
			o := &autoscalingv2.HorizontalPodAutoscaler{}
			obj, m.hpas[path] = o, o
		case "policy/v1 PodDisruptionBudget":
			o := &policyv1.PodDisruptionBudget{}
			obj, m.pdbs[path] = o, o
		case "batch/v1 Job":
			o := &batchv1.Job{}
			obj, m.jobs[path] = o, o
		case "serving.kserve.io/v1beta1 InferenceService":
			o := &inferenceService{}
			obj, m.isvcs[path] = o, o
		case "kustomize.config.k8s.io/v1beta1 Kustomization":
			o := &kustomization{}
			if err := decodeStrict(data, o); err != nil {
				return fmt.Errorf("%s: %v", path, err)
			}
			m.kustomize[path] = o
			return nil
		default:
			return fmt.Errorf("%s: unexpected %q", path, gvk)
		}
		if err := decodeStrict(data, obj); err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		if obj.GetName() == "" {
			return fmt.Errorf("%s: no metadata.name", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestManifestsDecodeStrictly: every file decodes strictly into its type, and the set is
// complete; a misspelt field is an error (the decoding really is strict).
func TestManifestsDecodeStrictly(t *testing.T) {
	m := loadManifests(t)
	counts := fmt.Sprint(len(m.deployments), len(m.services), len(m.hpas), len(m.pdbs), len(m.jobs), len(m.isvcs), len(m.kustomize))
	if counts != "1 1 1 1 2 2 1" {
		t.Errorf("Deployments, Services, HPAs, PDBs, Jobs, InferenceServices, Kustomizations: %s, want 1 1 1 1 2 2 1 (%d files: %v)", counts, m.files, m.firstByPath)
	}
	for _, c := range []struct {
		file, from, to string
		into           any
	}{
		{"kubernetes/deployment.yaml", "terminationGracePeriodSeconds:", "terminationGracePeriod:", &appsv1.Deployment{}},
		{"jobs/classify-job.yaml", "completionMode:", "completionMod:", &batchv1.Job{}},
		{"kserve/inferenceservice.yaml", "containerConcurrency:", "containerConcurency:", &inferenceService{}},
		{"kubernetes/service.yaml", "targetPort: http", "targetPort: [http]", &corev1.Service{}},
	} {
		data, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		bad := bytes.Replace(data, []byte(c.from), []byte(c.to), 1)
		if bytes.Equal(bad, data) {
			t.Fatalf("%s has no %q", c.file, c.from)
		}
		if err := decodeStrict(bad, c.into); err == nil {
			t.Errorf("%s with %q instead of %q decoded without an error", c.file, c.to, c.from)
		}
	}
}

// flagValue reads --name VALUE or --name=VALUE from container args.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if a == "--"+name && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// addrPort is the port of a --http/--grpc value, with the server's default when absent; 0
// when the front end is disabled ("").
func addrPort(t *testing.T, args []string, flag, def string) int {
	t.Helper()
	v, ok := flagValue(args, flag)
	if !ok {
		v = def
	}
	if v == "" {
		return 0
	}
	_, p, err := net.SplitHostPort(v)
	if err != nil {
		t.Fatalf("--%s %q: %v", flag, v, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("--%s %q: %v", flag, v, err)
	}
	return n
}

func durationFlag(t *testing.T, args []string, name string, def time.Duration) time.Duration {
	t.Helper()
	v, ok := flagValue(args, name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("--%s %q: %v", name, v, err)
	}
	return d
}

func defaultPort(t *testing.T, addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// portNumber resolves a probe's or Service's port (a number or a container port's name).
func portNumber(t *testing.T, c *corev1.Container, p intstr.IntOrString) int {
	t.Helper()
	if p.Type == intstr.Int {
		return p.IntValue()
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort)
		}
	}
	t.Fatalf("container %s has no port named %q", c.Name, p.StrVal)
	return 0
}

// checkServeContainer checks a `resnet serve` container against the server: the ports its
// flags open, the probes' paths and ports, threads against the CPU request, and the grace
// period against --exit-timeout. It returns the HTTP and gRPC ports (0: disabled).
func checkServeContainer(t *testing.T, where string, pod *corev1.PodSpec, c *corev1.Container) (httpPort, grpcPort int) {
	t.Helper()
	if len(c.Command) != 0 {
		t.Errorf("%s: command %v overrides the image's entrypoint (/usr/local/bin/resnet); give args", where, c.Command)
	}
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Fatalf("%s: args %v, want serve ...", where, c.Args)
	}
	httpPort = addrPort(t, c.Args, "http", serve.DefaultHTTPAddr)
	grpcPort = addrPort(t, c.Args, "grpc", serve.DefaultGRPCAddr)
	if h, _ := flagValue(c.Args, "http"); httpPort != 0 && !strings.HasPrefix(h, ":") && !strings.HasPrefix(h, "0.0.0.0:") {
		t.Errorf("%s: --http %q listens on one address only; a pod needs :PORT", where, h)
	}
	if g, _ := flagValue(c.Args, "grpc"); grpcPort != 0 && !strings.HasPrefix(g, ":") && !strings.HasPrefix(g, "0.0.0.0:") {
		t.Errorf("%s: --grpc %q listens on one address only; a pod needs :PORT", where, g)
	}
	// KServe's ports: 8080 for HTTP, 8081 for gRPC, the server's defaults too.
	if httpPort != 0 && httpPort != defaultPort(t, serve.DefaultHTTPAddr) || grpcPort != 0 && grpcPort != defaultPort(t, serve.DefaultGRPCAddr) {
		t.Errorf("%s: ports %d/%d, want the defaults %s/%s", where, httpPort, grpcPort, serve.DefaultHTTPAddr, serve.DefaultGRPCAddr)
	}
	open := map[int]bool{httpPort: httpPort != 0, grpcPort: grpcPort != 0}
	for _, p := range c.Ports {
		if !open[int(p.ContainerPort)] {
			t.Errorf("%s: containerPort %d is not one the server opens (--http port %d, --grpc port %d)", where, p.ContainerPort, httpPort, grpcPort)
		}
	}

	probes := map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe}
	if c.ReadinessProbe == nil || c.LivenessProbe == nil {
		t.Errorf("%s: readiness and liveness probes are required", where)
	}
	for kind, p := range probes {
		if p == nil {
			continue
		}
		switch {
		case p.HTTPGet != nil:
			want := serve.ReadyPath
			if kind == "liveness" {
				want = serve.LivePath
			}
			if p.HTTPGet.Path != want {
				t.Errorf("%s: %s probe on %s, want %s", where, kind, p.HTTPGet.Path, want)
			}
			if port := portNumber(t, c, p.HTTPGet.Port); port != httpPort {
				t.Errorf("%s: %s probe on port %d, the HTTP server is on %d", where, kind, port, httpPort)
			}
		case p.GRPC != nil:
			if kind == "liveness" {
				t.Errorf("%s: a gRPC liveness probe fails while the model loads or drains (health follows readiness); probe TCP or %s", where, serve.LivePath)
			}
			if p.GRPC.Service == nil || (*p.GRPC.Service != serve.GRPCServiceName && *p.GRPC.Service != "") {
				t.Errorf("%s: %s gRPC probe service %v, want %q", where, kind, p.GRPC.Service, serve.GRPCServiceName)
			}
			if int(p.GRPC.Port) != grpcPort {
				t.Errorf("%s: %s gRPC probe on %d, the gRPC server is on %d", where, kind, p.GRPC.Port, grpcPort)
			}
		case p.TCPSocket != nil:
			if kind != "liveness" {
				t.Errorf("%s: a TCP %s probe passes while the model loads", where, kind)
			}
			if port := portNumber(t, c, p.TCPSocket.Port); !open[port] {
				t.Errorf("%s: TCP probe on port %d, not one the server opens", where, port)
			}
		default:
			t.Errorf("%s: %s probe of an unexpected kind", where, kind)
		}
	}

	exit := durationFlag(t, c.Args, "exit-timeout", serve.DefaultExitTimeout)
	drain := durationFlag(t, c.Args, "drain-wait", serve.DefaultDrainWait)
	if drain >= exit {
		t.Errorf("%s: --drain-wait %v is not below --exit-timeout %v", where, drain, exit)
	}
	grace := time.Duration(30) * time.Second // Kubernetes' default
	if pod.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	}
	if grace <= exit {
		t.Errorf("%s: terminationGracePeriodSeconds %v must exceed --exit-timeout %v (or the kubelet kills requests in progress)", where, grace, exit)
	}
	checkResources(t, where, c)
	checkNonRoot(t, where, pod, c)
	return httpPort, grpcPort
}

// checkResources: requests and limits set, and --threads equal to the CPU request.
func checkResources(t *testing.T, where string, c *corev1.Container) {
	t.Helper()
	cpu, mem := c.Resources.Requests.Cpu(), c.Resources.Requests.Memory()
	if cpu.IsZero() || mem.IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s: CPU and memory requests and a memory limit are required: %v", where, c.Resources)
		return
	}
	threads, ok := flagValue(c.Args, "threads")
	if n, err := strconv.Atoi(threads); !ok || err != nil || int64(n)*1000 != cpu.MilliValue() {
		t.Errorf("%s: --threads %q, want the CPU request %v (one intra-op thread per core)", where, threads, cpu)
	}
}

// checkNonRoot: the pod runs as the image's user (nonroot, 65532) and, with a read-only root
// file system, HF_HOME is on a mounted volume.
func checkNonRoot(t *testing.T, where string, pod *corev1.PodSpec, c *corev1.Container) {
	t.Helper()
	nonRoot := func(sc *corev1.SecurityContext, psc *corev1.PodSecurityContext) bool {
		if sc != nil && sc.RunAsNonRoot != nil {
			return *sc.RunAsNonRoot
		}
		return psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot
	}
	if !nonRoot(c.SecurityContext, pod.SecurityContext) {
		t.Errorf("%s: runAsNonRoot is not set", where)
	}
	if sc := c.SecurityContext; sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation must be false", where)
	}
	if sc := c.SecurityContext; sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
		home := ""
		for _, e := range c.Env {
			if e.Name == "HF_HOME" {
				home = e.Value
			}
		}
		mounted := false
		for _, vm := range c.VolumeMounts {
			mounted = mounted || home == vm.MountPath || strings.HasPrefix(home, strings.TrimSuffix(vm.MountPath, "/")+"/")
		}
		if !mounted {
			t.Errorf("%s: read-only root file system, but HF_HOME %q (the model cache) is not on a mounted volume", where, home)
		}
	}
	for _, vm := range c.VolumeMounts {
		found := false
		for _, v := range pod.Volumes {
			found = found || v.Name == vm.Name
		}
		if !found {
			t.Errorf("%s: volume mount %s has no volume", where, vm.Name)
		}
	}
}

func labelsMatch(t *testing.T, where string, sel map[string]string, labels map[string]string) {
	t.Helper()
	if len(sel) == 0 {
		t.Errorf("%s: empty selector", where)
	}
	for k, v := range sel {
		if labels[k] != v {
			t.Errorf("%s: selector %s=%s does not match the pod labels %v", where, k, v, labels)
		}
	}
}

// TestKubernetesServing: the Deployment, Service, HPA and PDB fit together and fit the server.
func TestKubernetesServing(t *testing.T) {
	m := loadManifests(t)
	var d *appsv1.Deployment
	for _, v := range m.deployments {
		d = v
	}
	if d == nil {
		t.Fatal("no Deployment")
	}
	labels := d.Spec.Template.Labels
	labelsMatch(t, "Deployment", d.Spec.Selector.MatchLabels, labels)
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("Deployment: %d containers", len(d.Spec.Template.Spec.Containers))
	}
	c := &d.Spec.Template.Spec.Containers[0]
	httpPort, grpcPort := checkServeContainer(t, "Deployment", &d.Spec.Template.Spec, c)
	if httpPort == 0 || grpcPort == 0 {
		t.Errorf("Deployment: serve both REST and gRPC (ports %d, %d)", httpPort, grpcPort)
	}
	if c.StartupProbe == nil {
		t.Errorf("Deployment: a startup probe covers the model download")
	}
	ann := d.Spec.Template.Annotations
	if ann["prometheus.io/path"] != serve.MetricsPath || ann["prometheus.io/port"] != strconv.Itoa(httpPort) {
		t.Errorf("Deployment: scrape annotations %v, want %s on %d", ann, serve.MetricsPath, httpPort)
	}

	for _, s := range m.services {
		labelsMatch(t, "Service", s.Spec.Selector, labels)
		seen := map[int]string{}
		for _, p := range s.Spec.Ports {
			target := portNumber(t, c, p.TargetPort)
			seen[target] = p.Name
			if target == grpcPort && (p.AppProtocol == nil || *p.AppProtocol != "kubernetes.io/h2c") {
				t.Errorf("Service: gRPC port %s without appProtocol kubernetes.io/h2c", p.Name)
			}
		}
		if seen[httpPort] == "" || seen[grpcPort] == "" {
			t.Errorf("Service: ports %v, want the HTTP (%d) and gRPC (%d) ports", seen, httpPort, grpcPort)
		}
	}
	for _, h := range m.hpas {
		ref := h.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || ref.Name != d.Name {
			t.Errorf("HPA: scaleTargetRef %+v, want the Deployment %s", ref, d.Name)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || *h.Spec.MinReplicas > h.Spec.MaxReplicas {
			t.Errorf("HPA: replicas %v..%d", h.Spec.MinReplicas, h.Spec.MaxReplicas)
		}
		for _, mt := range h.Spec.Metrics {
			if mt.Resource != nil && mt.Resource.Name == corev1.ResourceCPU && mt.Resource.Target.Type == autoscalingv2.UtilizationMetricType && c.Resources.Requests.Cpu().IsZero() {
				t.Errorf("HPA: CPU utilisation needs a CPU request")
			}
		}
	}
	for _, p := range m.pdbs {
		labelsMatch(t, "PodDisruptionBudget", p.Spec.Selector.MatchLabels, labels)
	}
	for path, k := range m.kustomize {
		dir := filepath.Dir(path)
		var want []string
		for p := range m.firstByPath {
			if filepath.Dir(p) == dir && p != path {
				want = append(want, filepath.Base(p))
			}
		}
		got := slices.Clone(k.Resources)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: resources %v, want every manifest beside it %v", path, got, want)
		}
	}
}

// TestKServe: the InferenceServices are custom containers as KServe wants them: one
// container, kserve-container, PROTOCOL=v2, one port (Knative exposes one; h2c for gRPC),
// probes on that port, and no more concurrent requests than the server admits.
func TestKServe(t *testing.T) {
	m := loadManifests(t)
	protocols := map[string]bool{}
	for path, is := range m.isvcs {
		p := &is.Spec.Predictor
		if len(p.Containers) != 1 || p.Containers[0].Name != "kserve-container" {
			t.Errorf("%s: want one container named kserve-container", path)
			continue
		}
		c := &p.Containers[0]
		env := map[string]string{}
		for _, e := range c.Env {
			env[e.Name] = e.Value
		}
		if env["PROTOCOL"] != "v2" {
			t.Errorf("%s: env PROTOCOL=%q, want v2 (KServe reads the protocol of a custom container from it)", path, env["PROTOCOL"])
		}
		httpPort, grpcPort := checkServeContainer(t, path, &p.PodSpec, c)
		if len(c.Ports) != 1 {
			t.Fatalf("%s: %d ports; Knative exposes exactly one", path, len(c.Ports))
		}
		port := int(c.Ports[0].ContainerPort)
		switch {
		case c.Ports[0].Name == "h2c":
			if port != grpcPort {
				t.Errorf("%s: h2c port %d is not the gRPC port %d", path, port, grpcPort)
			}
			protocols["grpc"] = true
		case c.Ports[0].Name == "" || c.Ports[0].Name == "http1":
			if port != httpPort {
				t.Errorf("%s: port %d is not the HTTP port %d", path, port, httpPort)
			}
			protocols["http"] = true
		default:
			t.Errorf("%s: port name %q: Knative knows h2c (gRPC) and http1", path, c.Ports[0].Name)
		}
		for kind, pr := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe} {
			if pr == nil {
				continue
			}
			var pp int
			switch {
			case pr.HTTPGet != nil:
				pp = portNumber(t, c, pr.HTTPGet.Port)
			case pr.GRPC != nil:
				pp = int(pr.GRPC.Port)
			case pr.TCPSocket != nil:
				pp = portNumber(t, c, pr.TCPSocket.Port)
			}
			if pp != port {
				t.Errorf("%s: %s probe on port %d; Knative probes only the container port %d", path, kind, pp, port)
			}
		}
		q, _ := flagValue(c.Args, "max-queue-size")
		queue, err := strconv.Atoi(q)
		if err != nil {
			queue = serve.DefaultMaxQueueSize
		}
		if p.ContainerConcurrency == nil || *p.ContainerConcurrency < 1 || *p.ContainerConcurrency > int64(queue) {
			t.Errorf("%s: containerConcurrency %v must be set and at most --max-queue-size %d", path, p.ContainerConcurrency, queue)
		}
		if p.MinReplicas != nil && p.MaxReplicas != 0 && *p.MinReplicas > p.MaxReplicas {
			t.Errorf("%s: minReplicas %d > maxReplicas %d", path, *p.MinReplicas, p.MaxReplicas)
		}
	}
	if !protocols["http"] || !protocols["grpc"] {
		t.Errorf("InferenceServices over %v, want one over REST and one over gRPC", protocols)
	}
}

// TestIndexedJobs: each Job is Indexed, with completions equal to the N of --shard auto/N (the
// index comes from JOB_COMPLETION_INDEX), its own output file per shard on a mounted volume.
func TestIndexedJobs(t *testing.T) {
	m := loadManifests(t)
	commands := map[string]bool{}
	for path, j := range m.jobs {
		s := &j.Spec
		if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion || s.Completions == nil {
			t.Errorf("%s: want completionMode Indexed with completions", path)
			continue
		}
		if s.Parallelism != nil && *s.Parallelism > *s.Completions {
			t.Errorf("%s: parallelism %d > completions %d", path, *s.Parallelism, *s.Completions)
		}
		if s.BackoffLimitPerIndex != nil && s.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("%s: backoffLimitPerIndex needs restartPolicy Never", path)
		}
		if len(s.Template.Spec.Containers) != 1 {
			t.Fatalf("%s: %d containers", path, len(s.Template.Spec.Containers))
		}
		c := &s.Template.Spec.Containers[0]
		if len(c.Command) != 0 || len(c.Args) == 0 || (c.Args[0] != "classify" && c.Args[0] != "embed") {
			t.Fatalf("%s: args %v, want classify|embed ... (the image's entrypoint)", path, c.Args)
		}
		commands[c.Args[0]] = true
		shard, _ := flagValue(c.Args, "shard")
		if shard != fmt.Sprintf("auto/%d", *s.Completions) {
			t.Errorf("%s: --shard %q, want auto/%d (the Job's completions)", path, shard, *s.Completions)
		}
		for _, e := range c.Env {
			if e.Name == "JOB_COMPLETION_INDEX" {
				t.Errorf("%s: JOB_COMPLETION_INDEX is set by Kubernetes; do not override it", path)
			}
		}
		out, ok := flagValue(c.Args, "output")
		if !ok {
			t.Errorf("%s: no --output: each shard writes its own file", path)
		}
		if c.Args[0] == "embed" && !strings.HasSuffix(out, ".npy") {
			t.Errorf("%s: embed --output %q, want .npy", path, out)
		}
		onVolume := func(p string) bool {
			for _, vm := range c.VolumeMounts {
				if strings.HasPrefix(p, strings.TrimSuffix(vm.MountPath, "/")+"/") {
					return true
				}
			}
			return false
		}
		if !onVolume(out) || !onVolume(c.Args[len(c.Args)-1]) {
			t.Errorf("%s: the inputs %q and the output %q must be on mounted volumes", path, c.Args[len(c.Args)-1], out)
		}
		checkResources(t, path, c)
		checkNonRoot(t, path, &s.Template.Spec, c)
	}
	if !commands["classify"] || !commands["embed"] {
		t.Errorf("Jobs for %v, want classify and embed", commands)
	}
}

// TestProbesAnswer: the probe paths are the server's routes: before the models are loaded,
// liveness 200 and readiness 503; after, both 200; while draining, readiness 503 again.
func TestProbesAnswer(t *testing.T) {
	s := serve.New(serve.Options{})
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	defer s.Close(context.Background())
	get := func(path string) int {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	check := func(when string, live, ready int) {
		if l, r := get(serve.LivePath), get(serve.ReadyPath); l != live || r != ready {
			t.Errorf("%s: live %d ready %d, want %d %d", when, l, r, live, ready)
		}
	}
	check("loading", 200, 503)
	s.MarkReady()
	check("loaded", 200, 200)
	if get(serve.MetricsPath) != 200 {
		t.Errorf("%s does not answer", serve.MetricsPath)
	}
	s.Drain()
	check("draining", 200, 503)
}

// TestDockerfile: a multi-stage build of a static binary (CGO_ENABLED=0) whose final stage is
// distroless/static or scratch, with no RUN (no shell to run it), a non-root numeric user that
// the manifests run as, an exec-form entrypoint, and the server's ports.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	type stage struct {
		from string
		ins  [][2]string // instruction, rest
	}
	var stages []stage
	var cont string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if cont != "" {
			line = cont + " " + line
			cont = ""
		}
		if strings.HasSuffix(line, "\\") {
			cont = strings.TrimSuffix(line, "\\")
			continue
		}
		ins, rest, _ := strings.Cut(line, " ")
		ins = strings.ToUpper(ins)
		if ins == "FROM" {
			stages = append(stages, stage{from: rest})
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("%s before FROM", ins)
		}
		stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, [2]string{ins, rest})
	}
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build stage and a final one", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]
	built := false
	for _, in := range build.ins {
		if in[0] == "RUN" && strings.Contains(in[1], "go build") {
			built = true
			if !strings.Contains(in[1], "CGO_ENABLED=0") || !strings.Contains(in[1], "./cmd/resnet") {
				t.Errorf("build: %q, want CGO_ENABLED=0 go build ./cmd/resnet", in[1])
			}
		}
	}
	if !built {
		t.Errorf("the first stage does not go build")
	}
	if !strings.Contains(final.from, "distroless/static") && !strings.HasPrefix(final.from, "scratch") {
		t.Errorf("final stage FROM %s, want distroless/static or scratch", final.from)
	}
	var user, entrypoint, cmd string
	var exposed []int
	for _, in := range final.ins {
		switch in[0] {
		case "RUN", "SHELL":
			t.Errorf("final stage has %s %s: it has no shell", in[0], in[1])
		case "USER":
			user = in[1]
		case "ENTRYPOINT":
			entrypoint = in[1]
		case "CMD":
			cmd = in[1]
		case "EXPOSE":
			for _, f := range strings.Fields(in[1]) {
				n, _ := strconv.Atoi(strings.TrimSuffix(f, "/tcp"))
				exposed = append(exposed, n)
			}
		}
	}
	if uid, _, _ := strings.Cut(user, ":"); uid == "" || uid == "0" || uid == "root" {
		t.Errorf("USER %q, want a non-root user", user)
	} else {
		n, err := strconv.Atoi(uid)
		if err != nil {
			t.Errorf("USER %q: a numeric uid lets Kubernetes check runAsNonRoot", user)
		}
		m := loadManifests(t)
		for path, d := range m.deployments {
			if sc := d.Spec.Template.Spec.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != int64(n) {
				t.Errorf("%s: runAsUser is not the image's user %d", path, n)
			}
		}
	}
	var ep, args []string
	if err := json.Unmarshal([]byte(entrypoint), &ep); err != nil || len(ep) != 1 {
		t.Errorf("ENTRYPOINT %s, want the exec form [\"/path/resnet\"] (there is no shell)", entrypoint)
	}
	if err := json.Unmarshal([]byte(cmd), &args); err != nil || len(args) == 0 || args[0] != "serve" {
		t.Errorf("CMD %s, want the exec form [\"serve\", ...]", cmd)
	}
	want := []int{addrPort(t, args, "http", serve.DefaultHTTPAddr), addrPort(t, args, "grpc", serve.DefaultGRPCAddr)}
	if !slices.Equal(exposed, want) {
		t.Errorf("EXPOSE %v, the CMD opens %v", exposed, want)
	}
	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(ignore), "\n") {
		for _, needed := range []string{"go.mod", "go.sum", "cmd", "defaultmodel", "*.go", "**/*.go"} {
			if strings.TrimSpace(l) == needed {
				t.Errorf(".dockerignore leaves out %s, which the build needs", needed)
			}
		}
	}
}
