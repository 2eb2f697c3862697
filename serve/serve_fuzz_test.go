package serve

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/resnet-go/resnet"
	"github.com/resnet-go/resnet/internal/memcheck"
)

// Fuzz targets of the request decoding; tools/fuzz.sh runs them, e.g.
// `go test -run '^$' -fuzz '^FuzzDecodeInfer$' -fuzztime 60s ./serve`.

// inferBound: decodeInfer allocates at most 64 bytes per body byte (encoding/json's values
// and maps, the float32s of FP32 data, the decoded base64) plus 64 KiB, whatever the
// Inference-Header-Content-Length value holds (an 11 KB junk value once cost 69 KB).
var inferBound = memcheck.Bound{PerByte: 64, Cap: 64 << 10}

// binaryRequest writes a decoded request back in the binary extension's form: a JSON
// header naming the input with binary_data_size, then the raw tensor data.
func binaryRequest(req *InferRequest) (header string, body []byte) {
	in := map[string]any{}
	var raw []byte
	if req.Pixels != nil {
		in["name"], in["datatype"], in["shape"] = InputPixels, "FP32", req.Pixels.Shape
		for _, v := range req.Pixels.Data {
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
		}
	} else {
		in["name"], in["datatype"], in["shape"] = InputImage, "BYTES", []int{len(req.Images)}
		for _, b := range req.Images {
			raw = binary.LittleEndian.AppendUint32(raw, uint32(len(b)))
			raw = append(raw, b...)
		}
	}
	in["parameters"] = map[string]any{"binary_data_size": len(raw)}
	var outs []map[string]any
	for _, o := range req.Outputs {
		outs = append(outs, map[string]any{"name": o.Name, "parameters": map[string]any{"classification": o.Classification}})
	}
	j, _ := json.Marshal(map[string]any{"id": req.ID, "inputs": []any{in}, "outputs": outs})
	return strconv.Itoa(len(j)), append(j, raw...)
}

// FuzzDecodeInfer: an OIP v2 infer body (JSON, JSON + binary tensor data, or raw binary,
// by the Inference-Header-Content-Length value) decodes within the memory bound to one
// input with consistent sizes, and the same request written back in the binary extension's
// form decodes to the same request.
func FuzzDecodeInfer(f *testing.F) {
	png := mustRead(f, "../imageproc/testdata/convert/rgb8.png")
	img := base64.StdEncoding.EncodeToString(png)
	f.Add("", []byte(`{"id":"a","inputs":[{"name":"image","shape":[1],"datatype":"BYTES","data":["`+img+`"]}],"outputs":[{"name":"logits","parameters":{"classification":3}}]}`))
	f.Add("", []byte(`{"inputs":[{"name":"pixel_values","shape":[1,3,1,2],"datatype":"FP32","data":[[[[1,2]],[[3,4.5e-3]],[[-5,6]]]]}],"parameters":{"binary_data_output":true}}`))
	j := `{"inputs":[{"name":"image","shape":[2,1],"datatype":"BYTES","parameters":{"binary_data_size":13}}],"outputs":[{"name":"probabilities","parameters":{"binary_data":false}}]}`
	f.Add(strconv.Itoa(len(j)), append([]byte(j), "\x04\x00\x00\x00abcd\x01\x00\x00\x00e"...))
	f.Add("0", png)
	f.Add("0", make([]byte, 4*3*32*32))
	e := &entry{inputH: 32, inputW: 32}
	s := &Server{}
	f.Fuzz(func(t *testing.T, hlen string, body []byte) {
		h := http.Header{}
		if hlen != "" {
			h.Set(headerLength, hlen)
		}
		var req *InferRequest
		var err error
		n := memcheck.Bytes(func() { req, _, err = s.decodeInfer(e, body, h) })
		if e := inferBound.Check("decodeInfer", len(body), n); e != nil {
			t.Fatal(e)
		}
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || se.Kind != Invalid {
				t.Fatalf("error %v is not an Invalid *Error", err)
			}
			return
		}
		if (req.Images == nil) == (req.Pixels == nil) {
			t.Fatalf("request with %d images and pixels %v: want exactly one input", len(req.Images), req.Pixels != nil)
		}
		if req.Pixels != nil {
			numel := 1
			for _, d := range req.Pixels.Shape {
				numel *= d
			}
			if numel != len(req.Pixels.Data) {
				t.Fatalf("pixels of shape %v hold %d values", req.Pixels.Shape, len(req.Pixels.Data))
			}
		}
		h2, b2 := binaryRequest(req)
		req2, _, err := s.decodeInfer(e, b2, http.Header{headerLength: {h2}})
		if err != nil {
			t.Fatalf("the request written back in binary form fails: %v", err)
		}
		if req.Pixels != nil && len(req.Pixels.Data) == 0 {
			req.Pixels.Data = nil // an empty FP32 tensor decodes with nil or empty data
			if req2.Pixels != nil && len(req2.Pixels.Data) == 0 {
				req2.Pixels.Data = nil
			}
		}
		if req.Pixels != nil && req2.Pixels != nil {
			a, b := req.Pixels.Data, req2.Pixels.Data
			if len(a) != len(b) || !reflect.DeepEqual(req.Pixels.Shape, req2.Pixels.Shape) {
				t.Fatalf("pixels %v read back as %v", req.Pixels.Shape, req2.Pixels.Shape)
			}
			for i := range a {
				if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
					t.Fatalf("pixel %d = %v read back as %v", i, a[i], b[i])
				}
			}
			req.Pixels, req2.Pixels = nil, nil
		}
		for _, r := range []*InferRequest{req, req2} {
			for i, b := range r.Images {
				if len(b) == 0 {
					r.Images[i] = []byte{}
				}
			}
		}
		if !reflect.DeepEqual(req, req2) {
			t.Fatalf("request %+v read back from binary form as %+v", req, req2)
		}
	})
}

func mustRead(f *testing.F, path string) []byte {
	b, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// hfMaxPixels is FuzzHFRequest's image limit.
const hfMaxPixels = 1 << 16

// FuzzHFRequest: the Hugging Face route (raw image or JSON {"inputs": base64, "parameters"}
// bodies, any Content-Type and Content-Encoding, top_k and function_to_apply in the query)
// served by the built-in CIFAR-10 model answers 200 with labels, best first, or a 4xx JSON
// error (501 only for a Content-Encoding it lacks), never a 5xx.
func FuzzHFRequest(f *testing.F) {
	m, err := resnet.Default()
	if err != nil {
		f.Fatal(err)
	}
	s := New(Options{MaxPixels: hfMaxPixels, MaxBody: 1 << 20, MaxQueueDelay: -1, Workers: 1, DecodeWorkers: 1})
	if err := s.Add(Model{Name: "cifar", Model: m}); err != nil {
		f.Fatal(err)
	}
	s.MarkReady()
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	handler := s.Handler()
	png := mustRead(f, "../imageproc/testdata/convert/rgb8.png")
	gif := mustRead(f, "../imageproc/testdata/convert/gif_subframe.gif")
	f.Add("", "", "", "", png)
	f.Add("image/png", "3", "softmax", "", png)
	f.Add("application/json", "", "", "", []byte(`{"inputs":"`+base64.StdEncoding.EncodeToString(gif)+`","parameters":{"top_k":2,"function_to_apply":"sigmoid"}}`))
	f.Add("", "", "", "", []byte(` {"inputs":"`+base64.RawStdEncoding.EncodeToString(png)+`"}`))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(png)
	zw.Close()
	f.Add("image/png", "", "none", "gzip", gz.Bytes())
	f.Fuzz(func(t *testing.T, ctype, topK, fn, enc string, body []byte) {
		q := url.Values{}
		if topK != "" {
			q.Set("top_k", topK)
		}
		if fn != "" {
			q.Set("function_to_apply", fn)
		}
		r := httptest.NewRequest(http.MethodPost, "/models/cifar?"+q.Encode(), bytes.NewReader(body))
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		if enc != "" {
			r.Header.Set("Content-Encoding", enc)
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		out := w.Body.Bytes()
		if !json.Valid(out) {
			t.Fatalf("status %d with a body that is not JSON: %q", w.Code, out)
		}
		e := strings.ToLower(strings.TrimSpace(enc))
		switch {
		case w.Code == http.StatusOK:
			var labels []hfLabel
			if err := json.Unmarshal(out, &labels); err != nil || len(labels) == 0 {
				t.Fatalf("200 with %s (%v)", out, err)
			}
			for i := 1; i < len(labels); i++ {
				if labels[i].Score > labels[i-1].Score {
					t.Fatalf("labels not best first: %s", out)
				}
			}
		case w.Code >= 400 && w.Code < 500,
			w.Code == http.StatusNotImplemented && e != "" && e != "identity" && e != "gzip" && e != "deflate":
			var msg struct{ Error string }
			if err := json.Unmarshal(out, &msg); err != nil || msg.Error == "" {
				t.Fatalf("status %d without a JSON error: %s", w.Code, out)
			}
		default:
			t.Fatalf("status %d: %s", w.Code, out)
		}
	})
}

// A junk Inference-Header-Content-Length is refused with its start quoted, not all of it, and
// a value too long for an int64 is not parsed.
func TestLengthHeaderErrors(t *testing.T) {
	e := &entry{inputH: 32, inputW: 32}
	for _, c := range []struct{ value, want string }{
		{"12x", `Inference-Header-Content-Length: "12x" is not a length between 0 and the body's 4 bytes`},
		{"5", `"5" is not a length`},
		{"-1", `"-1" is not a length`},
		{strings.Repeat("9", 5000), `"` + strings.Repeat("9", 32) + `..." is not a length`},
		{"000000000000000000000001", `"000000000000000000000001" is not a length`},
	} {
		_, _, err := (&Server{}).decodeInfer(e, []byte("abcd"), http.Header{headerLength: {c.value}})
		if err == nil || !strings.Contains(err.Error(), c.want) || len(err.Error()) > 200 {
			t.Errorf("header %.40q: error %v, want one containing %s", c.value, err, c.want)
		}
	}
}
