package serve

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// The OIP v2 REST inference request and response (serving spec §1.2), with the binary tensor
// data extension (§1.4) and the classification extension (§1.5) as Triton defines them.

type restRequest struct {
	ID         string              `json:"id"`
	Parameters map[string]any      `json:"parameters"`
	Inputs     []restInput         `json:"inputs"`
	Outputs    []restRequestOutput `json:"outputs"`
}

type restInput struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters map[string]any  `json:"parameters"`
	Data       json.RawMessage `json:"data"`
}

type restRequestOutput struct {
	Name       string         `json:"name"`
	Parameters map[string]any `json:"parameters"`
}

type restResponse struct {
	ModelName    string       `json:"model_name"`
	ModelVersion string       `json:"model_version,omitempty"`
	ID           string       `json:"id,omitempty"`
	Outputs      []restOutput `json:"outputs"`
}

type restOutput struct {
	Name       string         `json:"name"`
	Datatype   string         `json:"datatype"`
	Shape      []int          `json:"shape"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Data       any            `json:"data,omitempty"`
}

// headerLength is the binary extension's header giving the JSON part's length.
const headerLength = "Inference-Header-Content-Length"

// handleInfer is POST /v2/models/{name}[/versions/{v}]/infer.
func (s *Server) handleInfer(w http.ResponseWriter, r *http.Request, name, version string) {
	e, err := s.lookup(name)
	if err == nil {
		err = checkVersion(name, version)
	}
	if err != nil {
		s.writeError(w, err, name)
		return
	}
	fail := func(err error) {
		s.metrics.failed(e.Name, err)
		s.writeError(w, err, name)
	}
	body, err := s.readBody(w, r)
	if err != nil {
		fail(err)
		return
	}
	req, binOut, err := s.decodeInfer(e, body, r.Header)
	if err != nil {
		fail(err)
		return
	}
	req.Model, req.Version = name, version
	resp, err := s.Infer(r.Context(), req)
	if err != nil {
		s.writeError(w, err, name)
		return
	}
	s.writeInfer(w, resp, binOut)
}

// binaryOutputs says which outputs go back as binary data.
type binaryOutputs struct {
	all    bool            // binary_data_output, or a raw request
	output map[string]bool // per-output binary_data (overrides all)
}

func (b binaryOutputs) binary(name string) bool {
	if v, ok := b.output[name]; ok {
		return v
	}
	return b.all
}

// decodeInfer turns a request body into an InferRequest: JSON, JSON followed by binary tensor
// data (Inference-Header-Content-Length: the JSON's length), or a raw binary request
// (Inference-Header-Content-Length: 0: the body is the single input).
func (s *Server) decodeInfer(e *entry, body []byte, h http.Header) (*InferRequest, binaryOutputs, error) {
	jsonPart, tail := body, []byte(nil)
	if v := h.Get(headerLength); v != "" {
		// A value longer than any int64 is refused unparsed and quoted in part: ParseInt's
		// error and %q would copy an 11 KB junk header 4 times over (FuzzDecodeInfer).
		n, err := int64(-1), error(nil)
		if s := strings.TrimSpace(v); len(s) <= 20 {
			n, err = strconv.ParseInt(s, 10, 64)
		}
		if err != nil || n < 0 || n > int64(len(body)) {
			if len(v) > 32 {
				v = v[:32] + "..."
			}
			return nil, binaryOutputs{}, errorf(Invalid, "%s: %q is not a length between 0 and the body's %d bytes", headerLength, v, len(body))
		}
		if n == 0 {
			req, err := rawRequest(e, body)
			return req, binaryOutputs{all: true}, err
		}
		jsonPart, tail = body[:n], body[n:]
	}
	var rr restRequest
	if err := json.Unmarshal(jsonPart, &rr); err != nil {
		hint := ""
		if len(tail) == 0 && bytes.IndexByte(jsonPart, 0) >= 0 {
			hint = fmt.Sprintf(" (binary data needs the %s header)", headerLength)
		}
		return nil, binaryOutputs{}, errorf(Invalid, "request is not valid JSON: %v%s", err, hint)
	}
	req := &InferRequest{ID: rr.ID}
	var bo binaryOutputs
	var err error
	if bo.all, err = paramBool(rr.Parameters, "binary_data_output"); err != nil {
		return nil, bo, err
	}
	switch len(rr.Inputs) {
	case 0:
		return nil, bo, errorf(Invalid, "request has no inputs: send %s (BYTES [N]) or %s (FP32 %s)", InputImage, InputPixels, shapeString(e.pixelShape()))
	case 1:
	default:
		return nil, bo, errorf(Invalid, "request has %d inputs; this model takes one: %s or %s", len(rr.Inputs), InputImage, InputPixels)
	}
	in := rr.Inputs[0]
	if tail, err = decodeInput(req, &in, tail); err != nil {
		return nil, bo, err
	}
	if len(tail) > 0 {
		return nil, bo, errorf(Invalid, "%d bytes of binary data follow the inputs' binary_data_size", len(tail))
	}
	for _, o := range rr.Outputs {
		k, err := paramInt(o.Parameters, "classification")
		if err != nil {
			return nil, bo, err
		}
		if _, ok := o.Parameters["binary_data"]; ok {
			v, err := paramBool(o.Parameters, "binary_data")
			if err != nil {
				return nil, bo, err
			}
			if bo.output == nil {
				bo.output = map[string]bool{}
			}
			bo.output[o.Name] = v
		}
		req.Outputs = append(req.Outputs, OutputRequest{Name: o.Name, Classification: int(k)})
	}
	return req, bo, nil
}

// decodeInput reads one input's data, from JSON or from the binary tail; it returns what is
// left of the tail.
func decodeInput(req *InferRequest, in *restInput, tail []byte) ([]byte, error) {
	count := int64(1)
	for _, d := range in.Shape {
		if d < 0 || (d > 0 && count > (1<<40)/d) {
			return nil, errorf(Invalid, "input %s: shape %v is not a valid tensor shape", in.Name, in.Shape)
		}
		count *= d
	}
	if len(in.Shape) == 0 {
		return nil, errorf(Invalid, "input %s has no shape", in.Name)
	}
	_, hasSize := in.Parameters["binary_data_size"]
	hasData := len(in.Data) > 0 && string(in.Data) != "null"
	var raw []byte
	switch {
	case hasSize && hasData:
		return nil, errorf(Invalid, "input %s has both data and binary_data_size; give one", in.Name)
	case hasSize:
		size, err := paramInt(in.Parameters, "binary_data_size")
		if err != nil {
			return nil, err
		}
		if size < 0 || size > int64(len(tail)) {
			return nil, errorf(Invalid, "input %s: binary_data_size %d, but %d bytes of binary data follow the JSON", in.Name, size, len(tail))
		}
		raw, tail = tail[:size], tail[size:]
	case !hasData:
		return nil, errorf(Invalid, "input %s has no data (JSON data or binary_data_size)", in.Name)
	}

	switch in.Name {
	case InputImage:
		if in.Datatype != "BYTES" {
			return nil, errorf(Invalid, "input %s must be BYTES, got %q", in.Name, in.Datatype)
		}
		if len(in.Shape) > 2 || (len(in.Shape) == 2 && in.Shape[1] != 1) {
			return nil, errorf(Invalid, "input %s must have shape [N] (or [N, 1]), got %v", in.Name, in.Shape)
		}
		var imgs [][]byte
		var err error
		if raw != nil {
			imgs, err = parseBinaryBytes(raw)
		} else {
			imgs, err = parseJSONBytes(in.Data)
		}
		if err != nil {
			return nil, errorf(Invalid, "input %s: %v", in.Name, err)
		}
		if int64(len(imgs)) != count {
			return nil, errorf(Invalid, "input %s: shape %v says %d elements, data has %d", in.Name, in.Shape, count, len(imgs))
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
		if raw != nil {
			if int64(len(raw)) != 4*count {
				return nil, errorf(Invalid, "input %s: binary_data_size %d, but shape %v of FP32 needs %d bytes", in.Name, len(raw), in.Shape, 4*count)
			}
			vals = parseBinaryFP32(raw)
		} else {
			var err error
			if vals, err = parseJSONNumbers(in.Data, int(count)); err != nil {
				return nil, errorf(Invalid, "input %s: %v", in.Name, err)
			}
			if int64(len(vals)) != count {
				return nil, errorf(Invalid, "input %s: shape %v says %d values, data has %d", in.Name, in.Shape, count, len(vals))
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
	return tail, nil
}

// rawRequest reads a raw binary request: the body is the single input, a batch of one. An
// encoded image (its bytes, or its bytes after a 4-byte length as in binary BYTES data) is
// the "image" input; a body of exactly one preprocessed image's FP32 bytes is
// "pixel_values".
func rawRequest(e *entry, body []byte) (*InferRequest, error) {
	if len(body) == 0 {
		return nil, errorf(Invalid, "raw binary request (%s: 0) with an empty body", headerLength)
	}
	if len(body) >= 4 && uint64(binary.LittleEndian.Uint32(body)) == uint64(len(body)-4) {
		return &InferRequest{Images: [][]byte{body[4:]}}, nil
	}
	if _, _, ok := headerSize(body); ok {
		return &InferRequest{Images: [][]byte{body}}, nil
	}
	if e.inputH > 0 && len(body) == 4*3*e.inputH*e.inputW {
		return &InferRequest{Pixels: pixelTensor([]int{1, 3, e.inputH, e.inputW}, parseBinaryFP32(body))}, nil
	}
	return &InferRequest{Images: [][]byte{body}}, nil // the decoder says what is wrong with it
}

// writeInfer writes the response: JSON, or JSON followed by the binary outputs.
func (s *Server) writeInfer(w http.ResponseWriter, resp *InferResponse, bo binaryOutputs) {
	out := restResponse{ModelName: resp.Model, ModelVersion: resp.Version, ID: resp.ID}
	var tail []byte
	for i := range resp.Outputs {
		t := &resp.Outputs[i]
		o := restOutput{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape}
		switch {
		case bo.binary(t.Name):
			n := len(tail)
			tail = appendBinary(tail, t)
			o.Parameters = map[string]any{"binary_data_size": len(tail) - n}
		case t.Datatype == "BYTES":
			strs := make([]string, len(t.Bytes))
			for j, b := range t.Bytes {
				strs[j] = string(b)
			}
			o.Data = strs
		default:
			o.Data = t.FP32
		}
		out.Outputs = append(out.Outputs, o)
	}
	head, err := json.Marshal(out)
	if err != nil {
		s.writeError(w, errorf(Internal, "the model's output cannot be written as JSON (%v); ask for binary_data output", err), resp.Model)
		return
	}
	if tail == nil {
		head = append(head, '\n')
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(head)))
		w.WriteHeader(http.StatusOK)
		w.Write(head)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set(headerLength, strconv.Itoa(len(head)))
	w.Header().Set("Content-Length", strconv.Itoa(len(head)+len(tail)))
	w.WriteHeader(http.StatusOK)
	w.Write(head)
	w.Write(tail)
}

// paramBool reads an optional boolean parameter.
func paramBool(params map[string]any, key string) (bool, error) {
	v, ok := params[key]
	if !ok || v == nil {
		return false, nil
	}
	b, isBool := v.(bool)
	if !isBool {
		return false, errorf(Invalid, "parameter %s must be a boolean, got %v", key, v)
	}
	return b, nil
}

// paramInt reads an optional integer parameter (0 when absent).
func paramInt(params map[string]any, key string) (int64, error) {
	v, ok := params[key]
	if !ok || v == nil {
		return 0, nil
	}
	f, isNum := v.(float64)
	if !isNum || f != float64(int64(f)) || f < -(1<<53) || f > 1<<53 {
		return 0, errorf(Invalid, "parameter %s must be an integer, got %v", key, v)
	}
	return int64(f), nil
}
