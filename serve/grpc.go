package serve

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // clients may compress requests (the size limit applies after)
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/resnet-go/resnet/serve/inference"
)

// The gRPC front end: the Open Inference Protocol's inference.GRPCInferenceService (all six
// RPCs; serving spec §2) and grpc.health.v1, over the same Server methods as REST.
//
//   - ModelInfer takes one input, "image" (BYTES [N] or [N,1], encoded images) or
//     "pixel_values" (FP32 [N,3,H,W]), either in raw_input_contents (BYTES elements each
//     after a 4-byte little-endian length, FP32 little-endian) or in the typed contents
//     (bytes_contents, fp32_contents), not both. Outputs come back in raw_output_contents when
//     the request used raw_input_contents, in the typed contents otherwise (as KServe does).
//     An output's "classification" parameter (int64_param or uint64_param) is Triton's
//     classification extension, as in REST.
//   - Errors carry the codes of spec §8: INVALID_ARGUMENT (bad input, undecodable image),
//     NOT_FOUND (unknown model or version), RESOURCE_EXHAUSTED (over a limit: message size,
//     pixels, images), UNAVAILABLE (queue full, loading, shutting down; with a RetryInfo
//     detail), DEADLINE_EXCEEDED, CANCELLED, UNIMPLEMENTED, INTERNAL.
//   - The receive limit is Options.MaxBody (grpc-go's default of 4 MiB would refuse a raw FP32
//     batch of 7 at 224²), after decompression: gzip-compressed requests are accepted.
//   - Health: the services "" and "inference.GRPCInferenceService" are SERVING while the
//     server is ready (models loaded, not draining), NOT_SERVING otherwise, like
//     /v2/health/ready.

// GRPCServiceName is the OIP service's full name, also a grpc.health.v1 service name.
const GRPCServiceName = "inference.GRPCInferenceService"

// serverExtensions are the protocol extensions GET /v2 and ServerMetadata advertise.
var serverExtensions = []string{"binary_tensor_data", "classification"}

// GRPCServer returns a gRPC server with the OIP v2 service and grpc.health.v1 registered,
// its receive limit raised to Options.MaxBody. opts are added to the server's own (for a
// program that adds TLS credentials, say), for serving on a listener of your own; Run serves
// GRPCFrontend instead, which also ends open health Watch streams before GracefulStop (which
// would otherwise wait for them: call Stop, or GracefulStop with a deadline of your own).
func (s *Server) GRPCServer(opts ...grpc.ServerOption) *grpc.Server {
	g, _ := s.newGRPC(opts)
	return g
}

func (s *Server) newGRPC(opts []grpc.ServerOption) (*grpc.Server, *healthService) {
	limit := int(min(s.opt.MaxBody, math.MaxInt32))
	own := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(limit),
		grpc.ChainUnaryInterceptor(s.grpcUnaryInterceptor),
		grpc.ChainStreamInterceptor(s.grpcStreamInterceptor),
	}
	g := grpc.NewServer(append(own, opts...)...)
	pb.RegisterGRPCInferenceServiceServer(g, &grpcService{s: s})
	hs := &healthService{Server: health.NewServer(), closing: make(chan struct{})}
	healthpb.RegisterHealthServer(g, hs)
	update := func() {
		st := healthpb.HealthCheckResponse_NOT_SERVING
		if s.Ready() {
			st = healthpb.HealthCheckResponse_SERVING
		}
		for _, name := range []string{"", GRPCServiceName} {
			hs.SetServingStatus(name, st)
		}
	}
	s.onReadinessChange(update)
	update()
	return g, hs
}

// GRPCFrontend serves the gRPC front end on ln (for Run).
func (s *Server) GRPCFrontend(ln net.Listener) Frontend {
	g, hs := s.newGRPC(nil)
	return &grpcFrontend{srv: g, health: hs, ln: ln}
}

type grpcFrontend struct {
	srv    *grpc.Server
	health *healthService
	ln     net.Listener
}

func (f *grpcFrontend) Serve() error {
	if err := f.srv.Serve(f.ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// Shutdown ends health watches, then stops gracefully: the listener closes, clients are told
// to go away, and pending RPCs finish; if ctx ends first, the rest are cut.
func (f *grpcFrontend) Shutdown(ctx context.Context) error {
	f.health.Shutdown()
	f.health.stop()
	done := make(chan struct{})
	go func() {
		f.srv.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		f.srv.Stop()
		<-done
		return ctx.Err()
	}
}

// healthService is grpc's health server whose Watch streams end when the front end shuts
// down (GracefulStop waits for every open stream).
type healthService struct {
	*health.Server
	closing  chan struct{}
	stopOnce sync.Once
}

func (h *healthService) stop() { h.stopOnce.Do(func() { close(h.closing) }) }

func (h *healthService) Watch(in *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	go func() {
		select {
		case <-h.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	return h.Server.Watch(in, watchStream{stream, ctx})
}

type watchStream struct {
	healthpb.Health_WatchServer
	ctx context.Context
}

func (w watchStream) Context() context.Context { return w.ctx }

// grpcService implements inference.GRPCInferenceService over a Server.
type grpcService struct {
	pb.UnimplementedGRPCInferenceServiceServer
	s *Server
}

func (g *grpcService) ServerLive(context.Context, *pb.ServerLiveRequest) (*pb.ServerLiveResponse, error) {
	return &pb.ServerLiveResponse{Live: true}, nil
}

func (g *grpcService) ServerReady(context.Context, *pb.ServerReadyRequest) (*pb.ServerReadyResponse, error) {
	return &pb.ServerReadyResponse{Ready: g.s.Ready()}, nil
}

func (g *grpcService) ModelReady(_ context.Context, r *pb.ModelReadyRequest) (*pb.ModelReadyResponse, error) {
	ready, err := g.s.ModelReady(r.Name, r.Version)
	if err != nil {
		return nil, g.s.grpcError(err, r.Name)
	}
	return &pb.ModelReadyResponse{Ready: ready}, nil
}

func (g *grpcService) ServerMetadata(context.Context, *pb.ServerMetadataRequest) (*pb.ServerMetadataResponse, error) {
	return &pb.ServerMetadataResponse{Name: g.s.opt.Name, Version: g.s.opt.Version, Extensions: serverExtensions}, nil
}

func (g *grpcService) ModelMetadata(_ context.Context, r *pb.ModelMetadataRequest) (*pb.ModelMetadataResponse, error) {
	md, err := g.s.ModelMetadata(r.Name, r.Version)
	if err != nil {
		return nil, g.s.grpcError(err, r.Name)
	}
	tensors := func(ts []TensorMetadata) []*pb.ModelMetadataResponse_TensorMetadata {
		var out []*pb.ModelMetadataResponse_TensorMetadata
		for _, t := range ts {
			out = append(out, &pb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.Datatype, Shape: int64s(t.Shape)})
		}
		return out
	}
	return &pb.ModelMetadataResponse{
		Name:       md.Name,
		Versions:   md.Versions,
		Platform:   md.Platform,
		Inputs:     tensors(md.Inputs),
		Outputs:    tensors(md.Outputs),
		Properties: md.Properties,
	}, nil
}

func (g *grpcService) ModelInfer(ctx context.Context, r *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	s := g.s
	e, err := s.lookup(r.ModelName)
	if err == nil {
		err = checkVersion(r.ModelName, r.ModelVersion)
	}
	if err != nil {
		return nil, s.grpcError(err, r.ModelName)
	}
	req, err := decodeGRPCInfer(e, r)
	if err != nil {
		s.metrics.failed(e.Name, err)
		return nil, s.grpcError(err, r.ModelName)
	}
	req.Model, req.Version, req.ID = r.ModelName, r.ModelVersion, r.Id
	resp, err := s.Infer(ctx, req)
	if err != nil {
		return nil, s.grpcError(err, r.ModelName)
	}
	return encodeGRPCInfer(resp, len(r.RawInputContents) > 0), nil
}

// decodeGRPCInfer turns a ModelInferRequest into an InferRequest.
func decodeGRPCInfer(e *entry, r *pb.ModelInferRequest) (*InferRequest, error) {
	switch len(r.Inputs) {
	case 0:
		return nil, errorf(Invalid, "request has no inputs: send %s (BYTES [N]) or %s (FP32 %s)", InputImage, InputPixels, shapeString(e.pixelShape()))
	case 1:
	default:
		return nil, errorf(Invalid, "request has %d inputs; this model takes one: %s or %s", len(r.Inputs), InputImage, InputPixels)
	}
	in := r.Inputs[0]
	var raw []byte
	isRaw := len(r.RawInputContents) > 0
	if isRaw {
		if len(r.RawInputContents) != len(r.Inputs) {
			return nil, errorf(Invalid, "raw_input_contents has %d entries for %d inputs; give one per input, in order", len(r.RawInputContents), len(r.Inputs))
		}
		if hasContents(in.Contents) {
			return nil, errorf(Invalid, "input %s has contents and raw_input_contents; give one", in.Name)
		}
		raw = r.RawInputContents[0]
	}
	if len(in.Shape) == 0 {
		return nil, errorf(Invalid, "input %s has no shape", in.Name)
	}
	count := int64(1)
	for _, d := range in.Shape {
		if d < 0 || (d > 0 && count > (1<<40)/d) {
			return nil, errorf(Invalid, "input %s: shape %v is not a valid tensor shape", in.Name, in.Shape)
		}
		count *= d
	}
	req := &InferRequest{}
	switch in.Name {
	case InputImage:
		if in.Datatype != "BYTES" {
			return nil, errorf(Invalid, "input %s must be BYTES, got %q", in.Name, in.Datatype)
		}
		if len(in.Shape) > 2 || (len(in.Shape) == 2 && in.Shape[1] != 1) {
			return nil, errorf(Invalid, "input %s must have shape [N] (or [N, 1]), got %v", in.Name, in.Shape)
		}
		var imgs [][]byte
		if isRaw {
			var err error
			if imgs, err = parseBinaryBytes(raw); err != nil {
				return nil, errorf(Invalid, "input %s: raw_input_contents: %v", in.Name, err)
			}
		} else if in.Contents != nil {
			imgs = in.Contents.BytesContents
		}
		if int64(len(imgs)) != count {
			return nil, errorf(Invalid, "input %s: shape %v says %d elements, the request has %d", in.Name, in.Shape, count, len(imgs))
		}
		if imgs == nil {
			imgs = [][]byte{}
		}
		req.Images = imgs
	case InputPixels:
		if in.Datatype != "FP32" {
			return nil, errorf(Invalid, "input %s must be FP32, got %q", in.Name, in.Datatype)
		}
		var vals []float32
		if isRaw {
			if int64(len(raw)) != 4*count {
				return nil, errorf(Invalid, "input %s: raw_input_contents has %d bytes, but shape %v of FP32 needs %d", in.Name, len(raw), in.Shape, 4*count)
			}
			vals = parseBinaryFP32(raw)
		} else {
			if in.Contents != nil {
				vals = in.Contents.Fp32Contents
			}
			if int64(len(vals)) != count {
				return nil, errorf(Invalid, "input %s: shape %v says %d values, fp32_contents has %d", in.Name, in.Shape, count, len(vals))
			}
		}
		shape := make([]int, len(in.Shape))
		for i, d := range in.Shape {
			shape[i] = int(d)
		}
		req.Pixels = pixelTensor(shape, vals)
	default:
		return nil, errorf(Invalid, "unknown input %q: this model takes %s (BYTES [N], encoded images) or %s (FP32 [N,3,H,W])", in.Name, InputImage, InputPixels)
	}
	for _, o := range r.Outputs {
		k, err := grpcParamInt(o.Parameters, "classification")
		if err != nil {
			return nil, err
		}
		req.Outputs = append(req.Outputs, OutputRequest{Name: o.Name, Classification: k})
	}
	return req, nil
}

// hasContents reports whether typed tensor contents hold any data.
func hasContents(c *pb.InferTensorContents) bool {
	return c != nil && (len(c.BoolContents) > 0 || len(c.IntContents) > 0 || len(c.Int64Contents) > 0 ||
		len(c.UintContents) > 0 || len(c.Uint64Contents) > 0 || len(c.Fp32Contents) > 0 ||
		len(c.Fp64Contents) > 0 || len(c.BytesContents) > 0)
}

// grpcParamInt reads an optional integer parameter (int64_param or uint64_param; 0 when
// absent).
func grpcParamInt(params map[string]*pb.InferParameter, key string) (int, error) {
	p, ok := params[key]
	if !ok || p == nil {
		return 0, nil
	}
	switch v := p.ParameterChoice.(type) {
	case *pb.InferParameter_Int64Param:
		if v.Int64Param >= -(1<<31) && v.Int64Param < 1<<31 {
			return int(v.Int64Param), nil
		}
	case *pb.InferParameter_Uint64Param:
		if v.Uint64Param < 1<<31 {
			return int(v.Uint64Param), nil
		}
	}
	return 0, errorf(Invalid, "parameter %s must be an integer (int64_param), got %v", key, p)
}

// encodeGRPCInfer writes the response, its data raw (raw_output_contents) or typed.
func encodeGRPCInfer(resp *InferResponse, raw bool) *pb.ModelInferResponse {
	out := &pb.ModelInferResponse{ModelName: resp.Model, ModelVersion: resp.Version, Id: resp.ID}
	for i := range resp.Outputs {
		t := &resp.Outputs[i]
		o := &pb.ModelInferResponse_InferOutputTensor{Name: t.Name, Datatype: t.Datatype, Shape: int64s(t.Shape)}
		switch {
		case raw:
			out.RawOutputContents = append(out.RawOutputContents, appendBinary(nil, t))
		case t.Datatype == "BYTES":
			o.Contents = &pb.InferTensorContents{BytesContents: t.Bytes}
		default:
			o.Contents = &pb.InferTensorContents{Fp32Contents: t.FP32}
		}
		out.Outputs = append(out.Outputs, o)
	}
	return out
}

func int64s(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// grpcCode is the gRPC status code of a failure kind (serving spec §8).
func grpcCode(k Kind) codes.Code {
	switch k {
	case Invalid, UnsupportedMedia:
		return codes.InvalidArgument
	case NotFound:
		return codes.NotFound
	case TooLarge:
		return codes.ResourceExhausted
	case Unimplemented:
		return codes.Unimplemented
	case Unavailable, Overloaded:
		return codes.Unavailable
	case Timeout:
		return codes.DeadlineExceeded
	case Canceled:
		return codes.Canceled
	}
	return codes.Internal
}

// grpcError is the status of an error, with the message REST would send; refusals for load
// carry a RetryInfo detail (REST's Retry-After).
func (s *Server) grpcError(err error, model string) error {
	k := kindOf(err)
	st := status.New(grpcCode(k), message(err, model))
	if k == Overloaded || k == Unavailable {
		if d, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Second)}); derr == nil {
			st = d
		}
	}
	return st.Err()
}

// grpcUnaryInterceptor logs a line per call at debug level (never the metadata: clients send
// tokens) and turns a panic into INTERNAL.
func (s *Server) grpcUnaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic while serving a gRPC call", "method", info.FullMethod, "panic", p)
			resp, err = nil, status.Error(codes.Internal, "internal error")
		}
		if s.log.Enabled(ctx, slog.LevelDebug) {
			attrs := []any{"method", info.FullMethod, "code", status.Code(err).String(), "duration", time.Since(start)}
			if m, ok := req.(interface{ GetModelName() string }); ok {
				attrs = append(attrs, "model", m.GetModelName())
			} else if m, ok := req.(interface{ GetName() string }); ok && m.GetName() != "" {
				attrs = append(attrs, "model", m.GetName())
			}
			if m, ok := req.(interface{ GetId() string }); ok && m.GetId() != "" {
				attrs = append(attrs, "id", m.GetId())
			}
			if p, ok := peer.FromContext(ctx); ok {
				attrs = append(attrs, "remote", p.Addr.String())
			}
			s.log.Debug("grpc", attrs...)
		}
	}()
	return handler(ctx, req)
}

func (s *Server) grpcStreamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic while serving a gRPC stream", "method", info.FullMethod, "panic", p)
			err = status.Error(codes.Internal, "internal error")
		}
	}()
	return handler(srv, ss)
}
