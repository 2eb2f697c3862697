package main

import (
	"context"
	le "encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/resnet-go/resnet/internal/testenv"
	pb "github.com/resnet-go/resnet/serve/inference"
)

// TestServeGRPC runs `resnet serve --http "" --grpc ADDR` (gRPC alone): health turns SERVING
// once the model is loaded; ModelInfer with an encoded image gives the logits of `resnet
// classify --logits` within 1e-5; SIGTERM turns health NOT_SERVING and the process exits 0.
func TestServeGRPC(t *testing.T) {
	cat := filepath.Join(testenv.SharedDir(t), "data", "images", "cat.jpg")
	jpg, err := os.ReadFile(cat)
	if err != nil {
		t.Fatal(err)
	}
	p := startServe(t, "--http", "", "--model", tinyModel, "--drain-wait", "300ms")
	if p.url != "" || p.grpc == "disabled" {
		t.Fatalf("http %q grpc %q, want gRPC alone", p.url, p.grpc)
	}
	conn, err := grpc.NewClient(p.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	health := healthpb.NewHealthClient(conn)
	for {
		r, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: "inference.GRPCInferenceService"})
		if err == nil && r.Status == healthpb.HealthCheckResponse_SERVING {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("never SERVING: %v %v\n%s", r, err, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := classifyLogits(t, cat, "--model", tinyModel)
	r, err := pb.NewGRPCInferenceServiceClient(conn).ModelInfer(ctx, &pb.ModelInferRequest{
		ModelName:        "basic",
		Inputs:           []*pb.ModelInferRequest_InferInputTensor{{Name: "image", Datatype: "BYTES", Shape: []int64{1}}},
		Outputs:          []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "logits"}},
		RawInputContents: [][]byte{append(le.LittleEndian.AppendUint32(nil, uint32(len(jpg))), jpg...)},
	})
	if err != nil {
		t.Fatal(err)
	}
	raw := r.RawOutputContents[0]
	if len(raw) != 4*len(want) {
		t.Fatalf("%d bytes of logits for %d classes", len(raw), len(want))
	}
	for i := range want {
		if got := math.Float32frombits(le.LittleEndian.Uint32(raw[4*i:])); math.Abs(float64(got-want[i])) > 1e-5 {
			t.Errorf("logit %d = %v, classify says %v", i, got, want[i])
		}
	}
	if log := p.stderr.String(); !strings.Contains(log, "http=disabled grpc="+p.grpc) {
		t.Errorf("summary line without the addresses:\n%s", log)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if r, err := health.Check(ctx, &healthpb.HealthCheckRequest{}); err == nil && r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		// The signal may not have been handled yet: ask again until it has.
		deadline := time.Now().Add(10 * time.Second)
		for err == nil && r.Status != healthpb.HealthCheckResponse_NOT_SERVING && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
			r, err = health.Check(ctx, &healthpb.HealthCheckRequest{})
		}
		if err == nil && r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("health after SIGTERM: %v", r)
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
