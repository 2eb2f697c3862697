"""An independent Open Inference Protocol gRPC client (Python grpcio, Debian's python3-grpcio),
run by serve's TestPythonGRPCClient against a server the test started.

Usage: oip_grpc_client.py STUBS_DIR CONFIG_JSON

STUBS_DIR holds open_inference_grpc_pb2.py, generated at test time by protoc --python_out from
the vendored serve/inference/open_inference_grpc.proto. The service stubs come from grpcio's
generic unary_unary calls (grpc_tools is not needed). Prints one JSON object with what it saw.
"""
import json
import struct
import sys

import grpc

sys.path.insert(0, sys.argv[1])
import open_inference_grpc_pb2 as pb  # noqa: E402

cfg = json.load(open(sys.argv[2]))
channel = grpc.insecure_channel(cfg["addr"], options=[("grpc.max_send_message_length", 64 << 20),
                                                       ("grpc.max_receive_message_length", 64 << 20)])


def call(method, request, response_type):
    stub = channel.unary_unary("/inference.GRPCInferenceService/" + method,
                               request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=response_type.FromString)
    return stub(request, timeout=60)


def floats(raw):
    return list(struct.unpack("<%df" % (len(raw) // 4), raw))


def strings(raw):
    out = []
    while raw:
        (n,) = struct.unpack("<I", raw[:4])
        out.append(raw[4:4 + n].decode())
        raw = raw[4 + n:]
    return out


out = {}
out["live"] = call("ServerLive", pb.ServerLiveRequest(), pb.ServerLiveResponse).live
out["ready"] = call("ServerReady", pb.ServerReadyRequest(), pb.ServerReadyResponse).ready
md = call("ServerMetadata", pb.ServerMetadataRequest(), pb.ServerMetadataResponse)
out["server"] = {"name": md.name, "extensions": list(md.extensions)}
mm = call("ModelMetadata", pb.ModelMetadataRequest(name=cfg["model"]), pb.ModelMetadataResponse)
out["model"] = {"name": mm.name, "versions": list(mm.versions),
                "inputs": [[t.name, t.datatype, list(t.shape)] for t in mm.inputs],
                "outputs": [[t.name, t.datatype, list(t.shape)] for t in mm.outputs]}
out["model_ready"] = call("ModelReady", pb.ModelReadyRequest(name=cfg["model"]), pb.ModelReadyResponse).ready

# grpc.health.v1.Health/Check with hand-encoded messages: an empty HealthCheckRequest (service
# "") and the response's field 1 (status; SERVING = 1).
check = channel.unary_unary("/grpc.health.v1.Health/Check", request_serializer=lambda b: b,
                            response_deserializer=lambda b: b)
out["health"] = check(b"", timeout=10).hex()

# Encoded images in raw_input_contents (each after its 4-byte little-endian length), raw
# outputs back: logits, and the classification extension on probabilities.
images = [open(p, "rb").read() for p in cfg["images"]]
req = pb.ModelInferRequest(model_name=cfg["model"], id="py-raw")
t = req.inputs.add()
t.name, t.datatype = "image", "BYTES"
t.shape.append(len(images))
req.raw_input_contents.append(b"".join(struct.pack("<I", len(b)) + b for b in images))
req.outputs.add().name = "logits"
o = req.outputs.add()
o.name = "probabilities"
o.parameters["classification"].int64_param = 3
r = call("ModelInfer", req, pb.ModelInferResponse)
out["raw"] = {"id": r.id, "model_name": r.model_name,
              "outputs": [[t.name, t.datatype, list(t.shape)] for t in r.outputs],
              "logits": floats(r.raw_output_contents[0]),
              "classes": strings(r.raw_output_contents[1])}

# A preprocessed tensor in the typed contents (fp32_contents): typed outputs back.
pixels = floats(open(cfg["pixels"], "rb").read())
req = pb.ModelInferRequest(model_name=cfg["model"], model_version="1", id="py-typed")
t = req.inputs.add()
t.name, t.datatype = "pixel_values", "FP32"
t.shape.extend(cfg["pixels_shape"])
t.contents.fp32_contents.extend(pixels)
req.outputs.add().name = "logits"
r = call("ModelInfer", req, pb.ModelInferResponse)
out["typed"] = {"id": r.id, "model_version": r.model_version, "raw_outputs": len(r.raw_output_contents),
                "shape": list(r.outputs[0].shape), "logits": list(r.outputs[0].contents.fp32_contents)}

# Errors come back as status codes.
errors = {}
for name, request in [("unknown_model", pb.ModelInferRequest(model_name="no-such-model")),
                      ("no_inputs", pb.ModelInferRequest(model_name=cfg["model"]))]:
    try:
        call("ModelInfer", request, pb.ModelInferResponse)
        errors[name] = "OK"
    except grpc.RpcError as e:
        errors[name] = e.code().name
out["errors"] = errors
print(json.dumps(out))
