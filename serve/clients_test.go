package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resnet-go/resnet/internal/testenv"
)

// Independent clients, in other languages, against servers the tests start on loopback:
// Python grpcio (Debian's python3-grpcio and python3-protobuf, stubs generated at test time
// by protoc from Debian's protobuf-compiler) on gRPC, and the npm package
// @huggingface/inference on the HF route. Without them the tests skip, saying what to
// install; with RESNET_REQUIRE_CLIENTS=1 (CI) they fail instead.

// hfInferenceVersion is the @huggingface/inference release the JS test is written against.
const hfInferenceVersion = "4.13.30"

// missingClient skips (or, with RESNET_REQUIRE_CLIENTS set, fails) a test whose client is not
// installed.
func missingClient(t *testing.T, format string, args ...any) {
	t.Helper()
	testenv.MissingTool(t, format, args...)
}

// pythonWithGRPC finds a Python that imports grpc and google.protobuf: $RESNET_PYTHON, or
// Debian's /usr/bin/python3 (where python3-grpcio installs; a pyenv python3 earlier on PATH
// does not see it), or python3 on PATH.
func pythonWithGRPC() (string, bool) { return testenv.Python("grpc, google.protobuf") }

// TestPythonGRPCClient: Python grpcio calls all six RPCs and grpc.health.v1 on a server this
// test starts; ModelInfer with 8 encoded images in raw_input_contents and with a typed FP32
// tensor gives the logits of `resnet classify` within 1e-5, and errors arrive as status codes.
func TestPythonGRPCClient(t *testing.T) {
	python, ok := pythonWithGRPC()
	if !ok {
		missingClient(t, "no Python with grpcio and protobuf: apt-get install python3-grpcio python3-protobuf")
	}
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		missingClient(t, "no protoc to generate the Python stubs: apt-get install protobuf-compiler")
	}
	dir := t.TempDir()
	gen := exec.Command(protoc, "-I", "inference", "--python_out="+dir, "open_inference_grpc.proto")
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("protoc --python_out: %v\n%s", err, out)
	}

	ts := newGRPCTestServer(t, Options{}, nil)
	_, tiny := testModels(t)
	paths := imagenetSamples(t, 8)
	xs, want := references(t, tiny, paths)
	pixels := filepath.Join(dir, "pixels.f32")
	if err := os.WriteFile(pixels, fp32Bytes(xs[0].Data), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]any{"addr": ts.addr, "model": tinyName, "images": paths,
		"pixels": pixels, "pixels_shape": xs[0].Shape})
	cfgPath := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, filepath.Join("testdata", "oip_grpc_client.py"), dir, cfgPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("python client: %v\n%s", err, stderr.String())
	}
	var got struct {
		Live       bool `json:"live"`
		Ready      bool `json:"ready"`
		ModelReady bool `json:"model_ready"`
		Server     struct {
			Name       string   `json:"name"`
			Extensions []string `json:"extensions"`
		} `json:"server"`
		Model struct {
			Name     string   `json:"name"`
			Versions []string `json:"versions"`
			Inputs   [][]any  `json:"inputs"`
			Outputs  [][]any  `json:"outputs"`
		} `json:"model"`
		Health string `json:"health"`
		Raw    struct {
			ID        string    `json:"id"`
			ModelName string    `json:"model_name"`
			Outputs   [][]any   `json:"outputs"`
			Logits    []float32 `json:"logits"`
			Classes   []string  `json:"classes"`
		} `json:"raw"`
		Typed struct {
			ID           string    `json:"id"`
			ModelVersion string    `json:"model_version"`
			RawOutputs   int       `json:"raw_outputs"`
			Shape        []int     `json:"shape"`
			Logits       []float32 `json:"logits"`
		} `json:"typed"`
		Errors map[string]string `json:"errors"`
	}
	if err := json.Unmarshal(stdout, &got); err != nil {
		t.Fatalf("python client output %q: %v", stdout, err)
	}
	if !got.Live || !got.Ready || !got.ModelReady || got.Health != "0801" {
		t.Errorf("live %v ready %v model ready %v health %q (want 0801: SERVING)", got.Live, got.Ready, got.ModelReady, got.Health)
	}
	if got.Server.Name != "resnet" || strings.Join(got.Server.Extensions, ",") != "binary_tensor_data,classification" {
		t.Errorf("server metadata %+v", got.Server)
	}
	if got.Model.Name != tinyName || fmt.Sprint(got.Model.Versions) != "[1]" || fmt.Sprint(got.Model.Inputs) != "[[image BYTES [-1]] [pixel_values FP32 [-1 3 224 224]]]" {
		t.Errorf("model metadata %+v", got.Model)
	}
	if got.Raw.ID != "py-raw" || got.Raw.ModelName != tinyName || fmt.Sprint(got.Raw.Outputs) != "[[logits FP32 [8 7]] [probabilities BYTES [8 3]]]" {
		t.Errorf("raw response %+v", got.Raw)
	}
	if len(got.Raw.Logits) != 8*7 || len(got.Raw.Classes) != 8*3 {
		t.Fatalf("raw response: %d logits, %d classes", len(got.Raw.Logits), len(got.Raw.Classes))
	}
	for i := range paths {
		closeTo(t, "python: logits of "+filepath.Base(paths[i]), got.Raw.Logits[i*7:(i+1)*7], want[i], 1e-5)
		if top, wantTop := got.Raw.Classes[3*i], fmt.Sprintf(":%d:class_%d", argmax(want[i]), argmax(want[i])); !strings.HasSuffix(top, wantTop) {
			t.Errorf("python: image %d top class %q, want ...%s", i, top, wantTop)
		}
	}
	if got.Typed.ID != "py-typed" || got.Typed.ModelVersion != "1" || got.Typed.RawOutputs != 0 || fmt.Sprint(got.Typed.Shape) != "[1 7]" {
		t.Errorf("typed response %+v", got.Typed)
	}
	_, single := reference(t, tiny, paths[0])
	closeTo(t, "python: typed logits", got.Typed.Logits, single.Data, 1e-5)
	if got.Errors["unknown_model"] != "NOT_FOUND" || got.Errors["no_inputs"] != "INVALID_ARGUMENT" {
		t.Errorf("errors %v", got.Errors)
	}
}

// npmPrefix is where the JS test looks for node_modules/@huggingface/inference:
// $RESNET_NPM_PREFIX, or the user cache directory's resnet-go/npm.
func npmPrefix() string {
	if p := os.Getenv("RESNET_NPM_PREFIX"); p != "" {
		return p
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "resnet-go", "npm")
}

// TestHFInferenceJSClient: the npm package @huggingface/inference (InferenceClient.endpoint(url)
// .imageClassification) against POST /models/{name}: with a Blob without a type (no
// Content-Type) and with image/jpeg it gets the same sorted [{label, score}] as the route
// answers curl, cat first; a bad image surfaces as the client's error with the server's
// message. Its Bearer token never reaches the log.
func TestHFInferenceJSClient(t *testing.T) {
	prefix := npmPrefix()
	install := fmt.Sprintf("npm install --no-audit --no-fund --prefix %s @huggingface/inference@%s", prefix, hfInferenceVersion)
	node, err := exec.LookPath("node")
	if err != nil {
		missingClient(t, "no node on PATH (Debian: apt-get install nodejs npm), then %s", install)
	}
	pkg, err := os.ReadFile(filepath.Join(prefix, "node_modules", "@huggingface", "inference", "package.json"))
	if err != nil {
		missingClient(t, "@huggingface/inference is not installed under %s: %s (or set RESNET_NPM_PREFIX)", prefix, install)
	}
	var meta struct {
		Version string `json:"version"`
	}
	json.Unmarshal(pkg, &meta)
	if meta.Version != hfInferenceVersion {
		t.Logf("@huggingface/inference %s under %s; written against %s", meta.Version, prefix, hfInferenceVersion)
	}
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ts := newTestServer(t, Options{Logger: logger}, nil)
	url := ts.url + "/models/" + cifarName
	cat := imagePath(t, "cat.jpg")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "hf_inference_client.cjs"), prefix, url, cat)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("node client: %v\n%s", err, stderr.String())
	}
	var got struct {
		Untyped []hfLabel `json:"untyped"`
		Typed   []hfLabel `json:"typed"`
		Error   *struct {
			Name    string `json:"name"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(stdout, &got); err != nil {
		t.Fatalf("node client output %q: %v", stdout, err)
	}
	resp, body := do(t, "POST", url, readFile(t, cat), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("curl-like request: %d %s", resp.StatusCode, body)
	}
	want := decodeLabels(t, body)
	for name, labels := range map[string][]hfLabel{"untyped Blob": got.Untyped, "image/jpeg Blob": got.Typed} {
		if len(labels) != 5 || labels[0].Label != "cat" {
			t.Errorf("%s: %+v, want 5 labels, cat first", name, labels)
			continue
		}
		for i := range labels {
			if labels[i].Label != want[i].Label || labels[i].Score != want[i].Score {
				t.Errorf("%s: label %d %+v, the route answers %+v", name, i, labels[i], want[i])
			}
		}
	}
	if got.Error == nil || !strings.Contains(got.Error.Message, "cannot decode the image") {
		t.Errorf("bad image: client error %+v, want the server's message", got.Error)
	}
	if strings.Contains(logs.String(), "hf_test_secret_token") {
		t.Errorf("the client's token is in the server log")
	}
	if !strings.Contains(logs.String(), "path=/models/"+cifarName) {
		t.Errorf("no request lines in the debug log:\n%s", logs.String())
	}
}

// lockedBuffer collects the server's log lines from its goroutines.
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
