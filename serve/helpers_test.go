package serve

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/resnet-go/resnet"
	"github.com/resnet-go/resnet/batching"
	"github.com/resnet-go/resnet/internal/testenv"
	"github.com/resnet-go/resnet/model"
	"github.com/resnet-go/resnet/tensor"
)

// The tests run real HTTP clients against a server on loopback, with two small models: the
// built-in CIFAR-10 ResNet-20 (10 classes, 32×32 input) and model/testdata/basic (7 classes,
// 224×224 input, no preprocessor_config.json).

const (
	cifarName = "resnet20-cifar10"
	tinyName  = "basic"
)

var (
	loadOnce              sync.Once
	cifarModel, tinyModel *resnet.Model
	loadErr               error
)

func testModels(t *testing.T) (cifar, tiny *resnet.Model) {
	t.Helper()
	loadOnce.Do(func() {
		if cifarModel, loadErr = resnet.Default(); loadErr != nil {
			return
		}
		tinyModel, loadErr = resnet.FromPretrained(context.Background(), filepath.Join(testenv.RepoRoot(t), "model", "testdata", "basic"))
	})
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return cifarModel, tinyModel
}

type testServer struct {
	*Server
	url string
	hs  *httptest.Server
}

// newTestServer serves both test models with opt; wrap (optional) stands between the
// batchers and the models.
func newTestServer(t *testing.T, opt Options, wrap func(batching.Model) batching.Model) *testServer {
	t.Helper()
	cifar, tiny := testModels(t)
	s := New(opt)
	s.wrap = wrap
	for _, m := range []Model{{Name: cifarName, Model: cifar, Source: "built-in"}, {Name: tinyName, Model: tiny, Source: "model/testdata/basic"}} {
		if err := s.Add(m); err != nil {
			t.Fatal(err)
		}
	}
	s.MarkReady()
	hs := httptest.NewUnstartedServer(nil)
	hs.Config = s.HTTPServer()
	hs.Start()
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("closing the server: %v", err)
		}
	})
	return &testServer{Server: s, url: hs.URL, hs: hs}
}

// do sends a request and returns the response with its body read.
func do(t *testing.T, method, url string, body []byte, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func postJSON(t *testing.T, url string, v any) (*http.Response, []byte) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, http.MethodPost, url, b, map[string]string{"Content-Type": "application/json"})
}

// wantError checks a {"error": ...} answer with the status, and returns the message.
func wantError(t *testing.T, resp *http.Response, body []byte, status int) string {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q", ct)
	}
	var e map[string]any
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body is not JSON: %s", body)
	}
	msg, ok := e["error"].(string)
	if !ok || msg == "" || len(e) != 1 {
		t.Fatalf("error body %s, want exactly {\"error\": message}", body)
	}
	return msg
}

func imagePath(t *testing.T, name string) string {
	return filepath.Join(testenv.SharedDir(t), "data", "images", name)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reference is what `resnet classify --logits` computes for an image file.
func reference(t *testing.T, m *resnet.Model, path string) (x, logits *tensor.Tensor) {
	t.Helper()
	x, err := m.PreprocessFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if logits, err = m.Forward(x); err != nil {
		t.Fatal(err)
	}
	return x, logits
}

func closeTo(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > tol {
			t.Fatalf("%s[%d] = %v, want %v (±%g)", what, i, got[i], want[i], tol)
		}
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// gate is a model wrapper whose forward passes wait until the gate opens.
type gate struct {
	m       batching.Model
	open    chan struct{}
	entered chan struct{}
}

func newGate() *gate { return &gate{open: make(chan struct{}), entered: make(chan struct{}, 100)} }

func (g *gate) wrap(m batching.Model) batching.Model {
	return &gate{m: m, open: g.open, entered: g.entered}
}

func (g *gate) Run(x *tensor.Tensor, hidden bool) (*model.Output, error) {
	g.entered <- struct{}{}
	<-g.open
	return g.m.Run(x, hidden)
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// newTestServerFor serves h on loopback and returns its URL.
func newTestServerFor(t *testing.T, h http.Handler) string {
	t.Helper()
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs.URL
}
