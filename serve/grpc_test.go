package serve

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/resnet-go/resnet"
	"github.com/resnet-go/resnet/batching"
	pb "github.com/resnet-go/resnet/serve/inference"
	"github.com/resnet-go/resnet/tensor"
)

// The gRPC tests are real clients (grpc-go, the generated inference client) on loopback.

type grpcTestServer struct {
	*testServer
	addr   string
	conn   *grpc.ClientConn
	client pb.GRPCInferenceServiceClient
	health healthpb.HealthClient
}

// newGRPCTestServer serves the two test models over REST and gRPC.
func newGRPCTestServer(t *testing.T, opt Options, wrap func(batching.Model) batching.Model) *grpcTestServer {
	t.Helper()
	ts := newTestServer(t, opt, wrap)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := ts.GRPCServer()
	go g.Serve(ln)
	t.Cleanup(g.Stop)
	conn := dialGRPC(t, ln.Addr().String())
	return &grpcTestServer{testServer: ts, addr: ln.Addr().String(), conn: conn,
		client: pb.NewGRPCInferenceServiceClient(conn), health: healthpb.NewHealthClient(conn)}
}

func dialGRPC(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func ctx10s(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantCode checks a gRPC error's code and returns its message.
func wantCode(t *testing.T, err error, code codes.Code) string {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code {
		t.Fatalf("error %v, want code %v", err, code)
	}
	if st.Message() == "" {
		t.Errorf("code %v without a message", code)
	}
	return st.Message()
}

// lengthPrefixed is BYTES elements in the raw layout: each after its 4-byte little-endian
// length.
func lengthPrefixed(elems ...[]byte) []byte {
	var b []byte
	for _, e := range elems {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(e)))
		b = append(b, e...)
	}
	return b
}

// rawFP32 reads little-endian float32s.
func rawFP32(t *testing.T, b []byte) []float32 {
	t.Helper()
	if len(b)%4 != 0 {
		t.Fatalf("raw FP32 output of %d bytes", len(b))
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// imagenetSamples are the first n ImageNet validation samples of ../shared.
func imagenetSamples(t *testing.T, n int) []string {
	t.Helper()
	dir := filepath.Join(filepath.Dir(imagePath(t, "cat.jpg")), "imagenet-val-samples")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".jpg") {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(paths)
	if len(paths) < n {
		t.Fatalf("%d samples in %s, want %d", len(paths), dir, n)
	}
	return paths[:n]
}

// references preprocesses the images and runs them as one batch, as `resnet classify` does
// (its --batch is 8).
func references(t *testing.T, m *resnet.Model, paths []string) (xs []*tensor.Tensor, logits [][]float32) {
	t.Helper()
	for _, p := range paths {
		x, err := m.PreprocessFile(p)
		if err != nil {
			t.Fatal(err)
		}
		xs = append(xs, x)
	}
	x, err := resnet.Stack(xs)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	k := out.Shape[1]
	for i := range paths {
		logits = append(logits, out.Data[i*k:(i+1)*k])
	}
	return xs, logits
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// TestGRPCHealthAndMetadata: the five RPCs besides ModelInfer, and grpc.health.v1.
func TestGRPCHealthAndMetadata(t *testing.T) {
	logs := &lockedBuffer{}
	ts := newGRPCTestServer(t, Options{Version: "v9", Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}, nil)
	ctx := metadata.AppendToOutgoingContext(ctx10s(t), "authorization", "Bearer grpc_secret_token")
	c := ts.client
	if r, err := c.ServerLive(ctx, &pb.ServerLiveRequest{}); err != nil || !r.Live {
		t.Errorf("ServerLive: %v %v", r, err)
	}
	if r, err := c.ServerReady(ctx, &pb.ServerReadyRequest{}); err != nil || !r.Ready {
		t.Errorf("ServerReady: %v %v", r, err)
	}
	sm, err := c.ServerMetadata(ctx, &pb.ServerMetadataRequest{})
	if err != nil || sm.Name != "resnet" || sm.Version != "v9" || strings.Join(sm.Extensions, ",") != "binary_tensor_data,classification" {
		t.Errorf("ServerMetadata: %v %v", sm, err)
	}
	md, err := c.ModelMetadata(ctx, &pb.ModelMetadataRequest{Name: tinyName})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(md.Name, md.Versions, md.Platform)
	for _, in := range md.Inputs {
		got += fmt.Sprint(" in:", in.Name, in.Datatype, in.Shape)
	}
	for _, out := range md.Outputs {
		got += fmt.Sprint(" out:", out.Name, out.Datatype, out.Shape)
	}
	want := "basic[1]resnet-go in:imageBYTES[-1] in:pixel_valuesFP32[-1 3 224 224] out:logitsFP32[-1 7] out:probabilitiesFP32[-1 7] out:embeddingFP32[-1 16]"
	if got != want {
		t.Errorf("ModelMetadata\n got %s\nwant %s", got, want)
	}
	if md.Properties["source"] != "model/testdata/basic" || md.Properties["num_labels"] != "7" || md.Properties["probabilities"] != "softmax" {
		t.Errorf("properties %v", md.Properties)
	}
	if _, err := c.ModelMetadata(ctx, &pb.ModelMetadataRequest{Name: tinyName, Version: "1"}); err != nil {
		t.Errorf("version 1: %v", err)
	}
	wantCode(t, mdErr(c.ModelMetadata(ctx, &pb.ModelMetadataRequest{Name: tinyName, Version: "2"})), codes.NotFound)
	if msg := wantCode(t, mdErr(c.ModelMetadata(ctx, &pb.ModelMetadataRequest{Name: "nope"})), codes.NotFound); !strings.Contains(msg, `unknown model "nope"`) {
		t.Error(msg)
	}
	if r, err := c.ModelReady(ctx, &pb.ModelReadyRequest{Name: cifarName}); err != nil || !r.Ready {
		t.Errorf("ModelReady: %v %v", r, err)
	}
	_, err = c.ModelReady(ctx, &pb.ModelReadyRequest{Name: "nope"})
	wantCode(t, err, codes.NotFound)
	_, err = c.ModelReady(ctx, &pb.ModelReadyRequest{Name: cifarName, Version: "3"})
	wantCode(t, err, codes.NotFound)

	for _, svc := range []string{"", GRPCServiceName} {
		r, err := ts.health.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health %q: %v %v", svc, r, err)
		}
	}
	_, err = ts.health.Check(ctx, &healthpb.HealthCheckRequest{Service: "other"})
	wantCode(t, err, codes.NotFound)
	// A line per call at debug level, without the metadata.
	if l := logs.String(); !strings.Contains(l, "msg=grpc method=/inference.GRPCInferenceService/ModelMetadata code=NotFound") ||
		!strings.Contains(l, "model=nope") || strings.Contains(l, "grpc_secret_token") {
		t.Errorf("request log:\n%s", l)
	}
	// Draining turns health and ServerReady to not serving; liveness stays.
	ts.Drain()
	if r, err := ts.health.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health while draining: %v %v", r, err)
	}
	if r, err := c.ServerReady(ctx, &pb.ServerReadyRequest{}); err != nil || r.Ready {
		t.Errorf("ServerReady while draining: %v %v", r, err)
	}
	if r, err := c.ServerLive(ctx, &pb.ServerLiveRequest{}); err != nil || !r.Live {
		t.Errorf("ServerLive while draining: %v %v", r, err)
	}
}

func mdErr(_ *pb.ModelMetadataResponse, err error) error { return err }

// TestGRPCHealthWhileLoading: NOT_SERVING until MarkReady, and a model not loaded yet is
// UNAVAILABLE, not NOT_FOUND.
func TestGRPCHealthWhileLoading(t *testing.T) {
	s := New(Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := s.GRPCServer()
	go g.Serve(ln)
	defer g.Stop()
	conn := dialGRPC(t, ln.Addr().String())
	ctx := ctx10s(t)
	h := healthpb.NewHealthClient(conn)
	if r, err := h.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health while loading: %v %v", r, err)
	}
	c := pb.NewGRPCInferenceServiceClient(conn)
	_, err = c.ModelInfer(ctx, &pb.ModelInferRequest{ModelName: cifarName})
	st := wantCode(t, err, codes.Unavailable)
	if !strings.Contains(st, "still loading") {
		t.Error(st)
	}
	cifar, _ := testModels(t)
	if err := s.Add(Model{Name: cifarName, Model: cifar}); err != nil {
		t.Fatal(err)
	}
	s.MarkReady()
	if r, err := h.Check(ctx, &healthpb.HealthCheckRequest{Service: GRPCServiceName}); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health once loaded: %v %v", r, err)
	}
	s.Close(ctx)
}

// TestGRPCEncodedImages is the spec's case 4 with encoded images: 8 JPEGs as an "image" BYTES
// input in raw_input_contents (length-prefixed) give the logits of `resnet classify` (±1e-5)
// and the same top-1 through the classification extension; outputs come back raw. The typed
// form (bytes_contents) answers typed contents.
func TestGRPCEncodedImages(t *testing.T) {
	ts := newGRPCTestServer(t, Options{}, nil)
	cifar, tiny := testModels(t)
	ctx := ctx10s(t)
	paths := imagenetSamples(t, 8)
	var jpgs [][]byte
	for _, p := range paths {
		jpgs = append(jpgs, readFile(t, p))
	}
	_, want := references(t, tiny, paths)

	r, err := ts.client.ModelInfer(ctx, &pb.ModelInferRequest{
		ModelName: tinyName, Id: "enc-8",
		Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "image", Datatype: "BYTES", Shape: []int64{8}}},
		Outputs: []*pb.ModelInferRequest_InferRequestedOutputTensor{
			{Name: "logits"},
			{Name: "probabilities", Parameters: map[string]*pb.InferParameter{"classification": {ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: 1}}}},
		},
		RawInputContents: [][]byte{lengthPrefixed(jpgs...)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Id != "enc-8" || r.ModelName != tinyName || r.ModelVersion != "" || len(r.Outputs) != 2 || len(r.RawOutputContents) != 2 {
		t.Fatalf("response %v", r)
	}
	if o := r.Outputs[0]; o.Name != "logits" || o.Datatype != "FP32" || fmt.Sprint(o.Shape) != "[8 7]" || o.Contents != nil {
		t.Errorf("logits output %v", o)
	}
	logits := rawFP32(t, r.RawOutputContents[0])
	for i := range paths {
		closeTo(t, "logits of "+filepath.Base(paths[i]), logits[i*7:(i+1)*7], want[i], 1e-5)
	}
	if o := r.Outputs[1]; o.Name != "probabilities" || o.Datatype != "BYTES" || fmt.Sprint(o.Shape) != "[8 1]" {
		t.Errorf("classification output %v", o)
	}
	top, err := parseBinaryBytes(r.RawOutputContents[1])
	if err != nil || len(top) != 8 {
		t.Fatalf("classification output: %v %q", err, top)
	}
	for i, s := range top {
		parts := strings.Split(string(s), ":")
		if len(parts) != 3 || parts[1] != strconv.Itoa(argmax(want[i])) || parts[2] != "class_"+parts[1] {
			t.Errorf("image %d: classification %q, want index %d", i, s, argmax(want[i]))
		}
	}

	// Typed contents, the built-in model, the classification extension on logits with k=3.
	_, cw := references(t, cifar, []string{imagePath(t, "cat.jpg"), imagePath(t, "dog.jpg")})
	r, err = ts.client.ModelInfer(ctx, &pb.ModelInferRequest{
		ModelName: cifarName, ModelVersion: "1",
		Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "image", Datatype: "BYTES", Shape: []int64{2, 1},
			Contents: &pb.InferTensorContents{BytesContents: [][]byte{readFile(t, imagePath(t, "cat.jpg")), readFile(t, imagePath(t, "dog.jpg"))}}}},
		Outputs: []*pb.ModelInferRequest_InferRequestedOutputTensor{
			{Name: "logits", Parameters: map[string]*pb.InferParameter{"classification": {ParameterChoice: &pb.InferParameter_Uint64Param{Uint64Param: 3}}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.ModelVersion != "1" || len(r.RawOutputContents) != 0 || len(r.Outputs) != 1 {
		t.Fatalf("typed response %v", r)
	}
	o := r.Outputs[0]
	if o.Datatype != "BYTES" || fmt.Sprint(o.Shape) != "[2 3]" || o.Contents == nil || len(o.Contents.BytesContents) != 6 {
		t.Fatalf("typed classification %v", o)
	}
	for i, label := range []string{"cat", "dog"} {
		first := string(o.Contents.BytesContents[3*i])
		wantFirst := fmt.Sprintf("%.6f:%d:%s", cw[i][argmax(cw[i])], argmax(cw[i]), label)
		if first != wantFirst {
			t.Errorf("image %d: top class %q, want %q", i, first, wantFirst)
		}
	}
}

// TestGRPCRawFP32Batch is the spec's case 4 with tensors: a raw FP32 [8,3,224,224] batch
// (4.8 MB, over grpc-go's default 4 MiB receive limit) succeeds because the limit is
// Options.MaxBody, and its logits equal REST's for the same tensor within 1e-5 (and the
// per-image reference). With MaxBody at 4 MiB the same call is RESOURCE_EXHAUSTED; a client
// that keeps a small receive limit sees RESOURCE_EXHAUSTED on the reply.
func TestGRPCRawFP32Batch(t *testing.T) {
	ts := newGRPCTestServer(t, Options{}, nil)
	_, tiny := testModels(t)
	// Compressing the 80 MB gzip bomb below takes seconds under the race detector.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	paths := imagenetSamples(t, 8)
	xs, want := references(t, tiny, paths)
	x, err := resnet.Stack(xs)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(x.Shape) != "[8 3 224 224]" {
		t.Fatalf("batch shape %v", x.Shape)
	}
	raw := fp32Bytes(x.Data)
	if len(raw) <= 4<<20 {
		t.Fatalf("the batch is %d bytes, not over grpc-go's default limit", len(raw))
	}
	req := &pb.ModelInferRequest{
		ModelName:        tinyName,
		Inputs:           []*pb.ModelInferRequest_InferInputTensor{{Name: "pixel_values", Datatype: "FP32", Shape: []int64{8, 3, 224, 224}}},
		Outputs:          []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "logits"}, {Name: "embedding"}},
		RawInputContents: [][]byte{raw},
	}
	r, err := ts.client.ModelInfer(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.RawOutputContents) != 2 || fmt.Sprint(r.Outputs[0].Shape, r.Outputs[1].Shape) != "[8 7] [8 16]" {
		t.Fatalf("response %v", r)
	}
	logits := rawFP32(t, r.RawOutputContents[0])
	if len(r.RawOutputContents[1]) != 8*16*4 {
		t.Errorf("embedding: %d bytes", len(r.RawOutputContents[1]))
	}

	// The same tensor over REST, binary in and out.
	head := mustJSON(map[string]any{
		"parameters": map[string]any{"binary_data_output": true},
		"inputs":     []map[string]any{{"name": "pixel_values", "datatype": "FP32", "shape": x.Shape, "parameters": map[string]any{"binary_data_size": len(raw)}}},
		"outputs":    []map[string]any{{"name": "logits"}},
	})
	resp, body := do(t, "POST", ts.url+"/v2/models/"+tinyName+"/infer", append(head, raw...), map[string]string{headerLength: strconv.Itoa(len(head))})
	if resp.StatusCode != 200 {
		t.Fatalf("REST: %d %s", resp.StatusCode, body)
	}
	_, tail := splitBinary(t, resp.Header.Get(headerLength), body)
	closeTo(t, "gRPC vs REST logits", logits, rawFP32(t, tail), 1e-5)
	for i := range paths {
		closeTo(t, "logits of "+filepath.Base(paths[i]), logits[i*7:(i+1)*7], want[i], 1e-5)
	}

	t.Run("receive limit at grpc-go's default", func(t *testing.T) {
		small := newGRPCTestServer(t, Options{MaxBody: 4 << 20}, nil)
		_, err := small.client.ModelInfer(ctx, req)
		wantCode(t, err, codes.ResourceExhausted)
	})
	t.Run("gzip", func(t *testing.T) {
		r, err := ts.client.ModelInfer(ctx, req, grpc.UseCompressor(gzip.Name))
		if err != nil {
			t.Fatal(err)
		}
		closeTo(t, "gzip logits", rawFP32(t, r.RawOutputContents[0]), logits, 0)
		bomb := &pb.ModelInferRequest{ModelName: tinyName, Inputs: req.Inputs, RawInputContents: [][]byte{make([]byte, 80<<20)}}
		_, err = ts.client.ModelInfer(ctx, bomb, grpc.UseCompressor(gzip.Name))
		wantCode(t, err, codes.ResourceExhausted)
	})
	t.Run("client receive limit", func(t *testing.T) {
		c := pb.NewGRPCInferenceServiceClient(ts.conn)
		_, err := c.ModelInfer(ctx, req, grpc.MaxCallRecvMsgSize(256))
		wantCode(t, err, codes.ResourceExhausted)
	})
}

// TestGRPCErrors: every refusal has the code of spec §8 and a message that says what is
// wrong; invalid requests of a known model count as failures with reason "invalid".
func TestGRPCErrors(t *testing.T) {
	ts := newGRPCTestServer(t, Options{MaxRequestImages: 4}, nil)
	ctx := ctx10s(t)
	jpg := readFile(t, imagePath(t, "cat.jpg"))
	img := func(n int64) []*pb.ModelInferRequest_InferInputTensor {
		return []*pb.ModelInferRequest_InferInputTensor{{Name: "image", Datatype: "BYTES", Shape: []int64{n}}}
	}
	pix := func(shape ...int64) []*pb.ModelInferRequest_InferInputTensor {
		return []*pb.ModelInferRequest_InferInputTensor{{Name: "pixel_values", Datatype: "FP32", Shape: shape}}
	}
	intParam := func(v int64) map[string]*pb.InferParameter {
		return map[string]*pb.InferParameter{"classification": {ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: v}}}
	}
	cases := []struct {
		name string
		req  *pb.ModelInferRequest
		code codes.Code
		msg  string
	}{
		{"unknown model", &pb.ModelInferRequest{ModelName: "nope", Inputs: img(1), RawInputContents: [][]byte{lengthPrefixed(jpg)}}, codes.NotFound, `unknown model "nope"`},
		{"unknown version", &pb.ModelInferRequest{ModelName: cifarName, ModelVersion: "2", Inputs: img(1)}, codes.NotFound, `no version "2"`},
		{"no inputs", &pb.ModelInferRequest{ModelName: cifarName}, codes.InvalidArgument, "no inputs"},
		{"two inputs", &pb.ModelInferRequest{ModelName: cifarName, Inputs: append(img(1), img(1)...)}, codes.InvalidArgument, "2 inputs"},
		{"unknown input", &pb.ModelInferRequest{ModelName: cifarName, Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "FP32", Shape: []int64{1}}}}, codes.InvalidArgument, `unknown input "x"`},
		{"image not BYTES", &pb.ModelInferRequest{ModelName: cifarName, Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "image", Datatype: "UINT8", Shape: []int64{1}}}}, codes.InvalidArgument, "must be BYTES"},
		{"pixels not FP32", &pb.ModelInferRequest{ModelName: cifarName, Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "pixel_values", Datatype: "FP16", Shape: []int64{1, 3, 32, 32}}}}, codes.InvalidArgument, "must be FP32"},
		{"no shape", &pb.ModelInferRequest{ModelName: cifarName, Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "image", Datatype: "BYTES"}}}, codes.InvalidArgument, "has no shape"},
		{"no data", &pb.ModelInferRequest{ModelName: cifarName, Inputs: img(1)}, codes.InvalidArgument, "says 1 elements, the request has 0"},
		{"negative shape", &pb.ModelInferRequest{ModelName: cifarName, Inputs: img(-1)}, codes.InvalidArgument, "not a valid tensor shape"},
		{"raw and contents", &pb.ModelInferRequest{ModelName: cifarName,
			Inputs:           []*pb.ModelInferRequest_InferInputTensor{{Name: "image", Datatype: "BYTES", Shape: []int64{1}, Contents: &pb.InferTensorContents{BytesContents: [][]byte{jpg}}}},
			RawInputContents: [][]byte{lengthPrefixed(jpg)}}, codes.InvalidArgument, "contents and raw_input_contents"},
		{"raw entries", &pb.ModelInferRequest{ModelName: cifarName, Inputs: img(1), RawInputContents: [][]byte{lengthPrefixed(jpg), {}}}, codes.InvalidArgument, "2 entries for 1 inputs"},
		{"raw BYTES cut", &pb.ModelInferRequest{ModelName: cifarName, Inputs: img(1), RawInputContents: [][]byte{lengthPrefixed(jpg)[:100]}}, codes.InvalidArgument, "only 96 follow"},
		{"count mismatch", &pb.ModelInferRequest{ModelName: cifarName, Inputs: img(2), RawInputContents: [][]byte{lengthPrefixed(jpg)}}, codes.InvalidArgument, "says 2 elements, the request has 1"},
		{"raw FP32 size", &pb.ModelInferRequest{ModelName: cifarName, Inputs: pix(1, 3, 32, 32), RawInputContents: [][]byte{make([]byte, 100)}}, codes.InvalidArgument, "needs 12288"},
		{"typed FP32 count", &pb.ModelInferRequest{ModelName: cifarName, Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "pixel_values", Datatype: "FP32", Shape: []int64{1, 3, 32, 32}, Contents: &pb.InferTensorContents{Fp32Contents: make([]float32, 10)}}}}, codes.InvalidArgument, "fp32_contents has 10"},
		{"pixel shape", &pb.ModelInferRequest{ModelName: cifarName, Inputs: pix(1, 3, 30, 30), RawInputContents: [][]byte{make([]byte, 4*3*30*30)}}, codes.InvalidArgument, "must be FP32 [-1,3,32,32]"},
		{"empty batch", &pb.ModelInferRequest{ModelName: cifarName, Inputs: pix(0, 3, 32, 32), RawInputContents: [][]byte{{}}}, codes.InvalidArgument, "pixel_values has a batch of 0 images (shape [0,3,32,32]): send at least one"},
		{"undecodable image", &pb.ModelInferRequest{ModelName: cifarName, Inputs: img(1), RawInputContents: [][]byte{lengthPrefixed([]byte("not an image"))}}, codes.InvalidArgument, "cannot decode the image"},
		{"pixel bomb", &pb.ModelInferRequest{ModelName: cifarName, Inputs: img(1), RawInputContents: [][]byte{lengthPrefixed(hugePNG(20000, 20000))}}, codes.ResourceExhausted, "refused before decoding"},
		{"too many images", &pb.ModelInferRequest{ModelName: cifarName, Inputs: img(5), RawInputContents: [][]byte{lengthPrefixed(jpg, jpg, jpg, jpg, jpg)}}, codes.ResourceExhausted, "limit per request is 4"},
		{"unknown output", &pb.ModelInferRequest{ModelName: cifarName, Inputs: img(1), RawInputContents: [][]byte{lengthPrefixed(jpg)},
			Outputs: []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "scores"}}}, codes.InvalidArgument, `unknown output "scores"`},
		{"negative classification", &pb.ModelInferRequest{ModelName: cifarName, Inputs: img(1), RawInputContents: [][]byte{lengthPrefixed(jpg)},
			Outputs: []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "logits", Parameters: intParam(-1)}}}, codes.InvalidArgument, "must be positive"},
		{"classification as a string", &pb.ModelInferRequest{ModelName: cifarName, Inputs: img(1), RawInputContents: [][]byte{lengthPrefixed(jpg)},
			Outputs: []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "logits", Parameters: map[string]*pb.InferParameter{"classification": {ParameterChoice: &pb.InferParameter_StringParam{StringParam: "3"}}}}}},
			codes.InvalidArgument, "classification must be an integer"},
	}
	before := metricValue(t, scrape(t, ts.url), `resnet_inference_request_failure_total{model="resnet20-cifar10",reason="invalid",version="1"}`)
	invalid := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ts.client.ModelInfer(ctx, c.req)
			if msg := wantCode(t, err, c.code); !strings.Contains(msg, c.msg) {
				t.Errorf("message %q, want it to contain %q", msg, c.msg)
			}
		})
		if c.code == codes.InvalidArgument || c.code == codes.ResourceExhausted {
			invalid++
		}
	}
	after := metricValue(t, scrape(t, ts.url), `resnet_inference_request_failure_total{model="resnet20-cifar10",reason="invalid",version="1"}`)
	if after-before != float64(invalid) {
		t.Errorf("invalid-request counter rose by %v, want %d", after-before, invalid)
	}
}

// TestGRPCOverload: past the queue size, ModelInfer is refused at once with UNAVAILABLE and a
// RetryInfo detail (REST's Retry-After); the admitted requests all succeed.
func TestGRPCOverload(t *testing.T) {
	g := newGate()
	const queue, extra = 3, 2
	ts := newGRPCTestServer(t, Options{MaxQueueSize: queue, MaxBatchSize: 2, MaxQueueDelay: 50 * time.Millisecond}, g.wrap)
	jpg := readFile(t, imagePath(t, "cat.jpg"))
	req := &pb.ModelInferRequest{ModelName: cifarName, Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "image", Datatype: "BYTES", Shape: []int64{1}}},
		RawInputContents: [][]byte{lengthPrefixed(jpg)}}
	ctx := ctx10s(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codeCount := map[codes.Code]int{}
	send := func() {
		defer wg.Done()
		_, err := ts.client.ModelInfer(ctx, req)
		st := status.Convert(err)
		if st.Code() == codes.Unavailable {
			var retry bool
			for _, d := range st.Details() {
				if ri, ok := d.(*errdetails.RetryInfo); ok && ri.RetryDelay.AsDuration() > 0 {
					retry = true
				}
			}
			if !retry || !strings.Contains(st.Message(), "overloaded") {
				t.Errorf("refusal %v without RetryInfo or the word overloaded", st)
			}
		} else if err != nil {
			t.Errorf("ModelInfer: %v", err)
		}
		mu.Lock()
		codeCount[st.Code()]++
		mu.Unlock()
	}
	for range queue {
		wg.Add(1)
		go send()
	}
	waitFor(t, "a full queue", func() bool { e, _ := ts.lookup(cifarName); return e.batcher.Admitted() == queue })
	start := time.Now()
	for range extra {
		wg.Add(1)
		go send()
	}
	waitFor(t, "the refusals", func() bool { mu.Lock(); defer mu.Unlock(); return codeCount[codes.Unavailable] == extra })
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusals took %v", d)
	}
	close(g.open)
	wg.Wait()
	if codeCount[codes.OK] != queue || codeCount[codes.Unavailable] != extra {
		t.Errorf("answers %v, want %d OK and %d UNAVAILABLE", codeCount, queue, extra)
	}
	m := scrape(t, ts.url)
	if v := metricValue(t, m, `resnet_inference_request_failure_total{model="resnet20-cifar10",reason="rejected",version="1"}`); v != extra {
		t.Errorf("rejected counter %v, want %d", v, extra)
	}
}

// TestGRPCDrain is the spec's case 8 over gRPC: Run with the REST and gRPC front ends; on
// the signal, health turns NOT_SERVING (ServerLive stays true), the calls in flight all
// finish, an open health Watch does not hold the shutdown, new connections are refused after
// the drain wait (while a REST request is still in flight), and Run returns nil.
func TestGRPCDrain(t *testing.T) {
	g := newGate()
	cifar, _ := testModels(t)
	s := New(Options{DrainWait: time.Second, ExitTimeout: 20 * time.Second, MaxBatchSize: 4})
	s.wrap = g.wrap
	if err := s.Add(Model{Name: cifarName, Model: cifar}); err != nil {
		t.Fatal(err)
	}
	s.MarkReady()
	hln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, s.HTTPFrontend(hln), s.GRPCFrontend(gln)) }()

	conn := dialGRPC(t, gln.Addr().String())
	client := pb.NewGRPCInferenceServiceClient(conn)
	health := healthpb.NewHealthClient(conn)
	cctx := ctx10s(t)
	watch, err := health.Watch(cctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := watch.Recv(); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("watch: %v %v", r, err)
	}
	jpg := readFile(t, imagePath(t, "cat.jpg"))
	const inflight = 6
	results := make(chan error, inflight)
	for i := range inflight {
		go func() {
			r, err := client.ModelInfer(cctx, &pb.ModelInferRequest{ModelName: cifarName, Id: strconv.Itoa(i),
				Inputs:           []*pb.ModelInferRequest_InferInputTensor{{Name: "image", Datatype: "BYTES", Shape: []int64{1}}},
				RawInputContents: [][]byte{lengthPrefixed(jpg)}})
			if err == nil && r.Id != strconv.Itoa(i) {
				err = fmt.Errorf("id %q, want %d", r.Id, i)
			}
			results <- err
		}()
	}
	// And one REST request in flight: the gRPC listener must not wait for it to close.
	httpDone := make(chan int, 1)
	go func() {
		resp, err := http.Post("http://"+hln.Addr().String()+"/models/"+cifarName, "", bytes.NewReader(jpg))
		if err != nil {
			t.Error(err)
			httpDone <- 0
			return
		}
		resp.Body.Close()
		httpDone <- resp.StatusCode
	}()
	e, _ := s.lookup(cifarName)
	waitFor(t, "the calls in flight", func() bool { return e.batcher.Admitted() == inflight+1 })

	stop() // SIGTERM
	if r, err := watch.Recv(); err != nil || r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("watch after the signal: %v %v", r, err)
	}
	if r, err := client.ServerLive(cctx, &pb.ServerLiveRequest{}); err != nil || !r.Live {
		t.Errorf("ServerLive during the drain: %v %v", r, err)
	}
	if r, err := client.ServerReady(cctx, &pb.ServerReadyRequest{}); err != nil || r.Ready {
		t.Errorf("ServerReady during the drain: %v %v", r, err)
	}
	waitFor(t, "new gRPC connections refused", func() bool {
		c, err := net.DialTimeout("tcp", gln.Addr().String(), time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	// The watch ends once the front end shuts down.
	for {
		if _, err := watch.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				t.Errorf("watch ended with EOF, want a status")
			}
			break
		}
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) with calls in flight", err)
	default:
	}
	close(g.open)
	for range inflight {
		if err := <-results; err != nil {
			t.Errorf("a call in flight: %v", err)
		}
	}
	if code := <-httpDone; code != 200 {
		t.Errorf("the REST request in flight got %d", code)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the calls finished")
	}
	// A fresh client finds nobody there.
	fresh := pb.NewGRPCInferenceServiceClient(dialGRPC(t, gln.Addr().String()))
	short, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = fresh.ServerLive(short, &pb.ServerLiveRequest{})
	if c := status.Code(err); c != codes.Unavailable && c != codes.DeadlineExceeded {
		t.Errorf("after shutdown: %v", err)
	}
}

// TestInferNilRequest: the library call refuses a nil request instead of panicking.
func TestInferNilRequest(t *testing.T) {
	s := New(Options{})
	if _, err := s.Infer(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "no request") {
		t.Errorf("Infer(nil): %v", err)
	}
}
