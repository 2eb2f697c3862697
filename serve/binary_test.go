package serve

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"testing"
)

func fp32Bytes(v []float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, f := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	return b
}

// splitBinary splits a binary-extension response into its JSON header and its tail.
func splitBinary(t *testing.T, header string, body []byte) (inferResponse, []byte) {
	t.Helper()
	n, err := strconv.Atoi(header)
	if err != nil || n <= 0 || n > len(body) {
		t.Fatalf("Inference-Header-Content-Length %q for a %d-byte body", header, len(body))
	}
	return decodeInfer(t, body[:n]), body[n:]
}

// TestBinaryExtension is the spec's case 2: the same tensor as a binary tail with
// binary_data_output, and in raw mode (Inference-Header-Content-Length: 0); the logits come
// back as 4×K bytes; a wrong binary_data_size is a 400.
func TestBinaryExtension(t *testing.T) {
	ts := newTestServer(t, Options{}, nil)
	cifar, tiny := testModels(t)
	url := ts.url + "/v2/models/" + cifarName + "/infer"
	x, want := reference(t, cifar, imagePath(t, "cat.jpg"))
	tensor := fp32Bytes(x.Data)

	t.Run("binary input and binary_data_output", func(t *testing.T) {
		head := mustJSON(map[string]any{
			"id":         "bin-1",
			"parameters": map[string]any{"binary_data_output": true},
			"inputs": []map[string]any{{"name": "pixel_values", "datatype": "FP32", "shape": x.Shape,
				"parameters": map[string]any{"binary_data_size": len(tensor)}}},
			"outputs": []map[string]any{{"name": "logits"}, {"name": "probabilities", "parameters": map[string]any{"binary_data": false}}},
		})
		resp, body := do(t, "POST", url, append(head, tensor...), map[string]string{
			"Content-Type": "application/octet-stream", headerLength: strconv.Itoa(len(head)),
		})
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
			t.Errorf("Content-Type %q", ct)
		}
		r, tail := splitBinary(t, resp.Header.Get(headerLength), body)
		if r.ID != "bin-1" {
			t.Errorf("id %q", r.ID)
		}
		if len(tail) != 40 {
			t.Fatalf("binary tail of %d bytes, want 40 (10 FP32 logits)", len(tail))
		}
		if size, _ := r.Outputs[0].Parameters["binary_data_size"].(float64); size != 40 || r.Outputs[0].Data != nil {
			t.Errorf("logits output %+v, want binary_data_size 40 and no data", r.Outputs[0])
		}
		closeTo(t, "binary logits", parseBinaryFP32(tail), want.Data, 1e-5)
		// binary_data false on probabilities overrides binary_data_output.
		if _, probs := r.floats(t, "probabilities"); len(probs) != 10 {
			t.Errorf("probabilities in JSON: %d values", len(probs))
		}
	})

	t.Run("raw mode, FP32 tensor", func(t *testing.T) {
		resp, body := do(t, "POST", url, tensor, map[string]string{"Content-Type": "application/octet-stream", headerLength: "0"})
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		r, tail := splitBinary(t, resp.Header.Get(headerLength), body)
		if len(r.Outputs) != 3 {
			t.Fatalf("%d outputs, want all 3 as binary", len(r.Outputs))
		}
		if len(tail) != 40+40+4*64 {
			t.Fatalf("tail %d bytes, want logits 40 + probabilities 40 + embedding 256", len(tail))
		}
		for _, o := range r.Outputs {
			if o.Parameters["binary_data_size"] == nil {
				t.Errorf("output %s is not binary in raw mode", o.Name)
			}
		}
		closeTo(t, "raw logits", parseBinaryFP32(tail[:40]), want.Data, 1e-5)
	})

	t.Run("raw mode, encoded image", func(t *testing.T) {
		jpg := readFile(t, imagePath(t, "cat.jpg"))
		for _, body := range [][]byte{jpg, binary.LittleEndian.AppendUint32(nil, uint32(len(jpg)))} {
			if len(body) == 4 {
				body = append(body, jpg...) // BYTES element layout: length, then the bytes
			}
			resp, out := do(t, "POST", url, body, map[string]string{headerLength: "0"})
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, out)
			}
			_, tail := splitBinary(t, resp.Header.Get(headerLength), out)
			closeTo(t, "raw image logits", parseBinaryFP32(tail[:40]), want.Data, 1e-5)
		}
	})

	t.Run("raw mode on a 224² model", func(t *testing.T) {
		xt, wt := reference(t, tiny, imagePath(t, "dog.jpg"))
		resp, out := do(t, "POST", ts.url+"/v2/models/"+tinyName+"/infer", fp32Bytes(xt.Data), map[string]string{headerLength: "0"})
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, out)
		}
		_, tail := splitBinary(t, resp.Header.Get(headerLength), out)
		closeTo(t, "raw logits", parseBinaryFP32(tail[:28]), wt.Data, 1e-5)
	})

	t.Run("binary BYTES input with classification", func(t *testing.T) {
		var data []byte
		for _, im := range []string{"cat.jpg", "dog.jpg"} {
			b := readFile(t, imagePath(t, im))
			data = binary.LittleEndian.AppendUint32(data, uint32(len(b)))
			data = append(data, b...)
		}
		head := mustJSON(map[string]any{
			"inputs": []map[string]any{{"name": "image", "datatype": "BYTES", "shape": []int{2},
				"parameters": map[string]any{"binary_data_size": len(data)}}},
			"outputs": []map[string]any{{"name": "logits", "parameters": map[string]any{"classification": 3, "binary_data": true}}},
		})
		resp, body := do(t, "POST", url, append(head, data...), map[string]string{headerLength: strconv.Itoa(len(head))})
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		r, tail := splitBinary(t, resp.Header.Get(headerLength), body)
		if o := r.Outputs[0]; o.Datatype != "BYTES" || o.Shape[0] != 2 || o.Shape[1] != 3 {
			t.Fatalf("output %+v", o)
		}
		strs, err := parseBinaryBytes(tail)
		if err != nil || len(strs) != 6 {
			t.Fatalf("BYTES tail: %v, %d elements", err, len(strs))
		}
		if !strings.HasSuffix(string(strs[0]), ":cat") || !strings.HasSuffix(string(strs[3]), ":dog") {
			t.Errorf("top classes %q and %q, want cat and dog", strs[0], strs[3])
		}
	})

	withSize := func(size int) (body []byte, header string) {
		head := mustJSON(map[string]any{"inputs": []map[string]any{{"name": "pixel_values", "datatype": "FP32", "shape": x.Shape,
			"parameters": map[string]any{"binary_data_size": size}}}})
		return append(head, tensor...), strconv.Itoa(len(head))
	}
	tooBig, tooBigHeader := withSize(999999)
	tooSmall, tooSmallHeader := withSize(len(tensor) - 4)
	errs := []struct {
		name   string
		body   []byte
		header string
		want   string
	}{
		{"binary_data_size larger than the tail", tooBig, tooBigHeader, "binary_data_size 999999, but 12288 bytes"},
		{"binary_data_size smaller than the tensor", tooSmall, tooSmallHeader, "binary_data_size 12284, but shape [1 3 32 32] of FP32 needs 12288 bytes"},
		{"header longer than the body", []byte(`{}`), "10", "not a length between 0 and the body's 2 bytes"},
		{"negative header", []byte(`{}`), "-1", "not a length"},
		{"raw mode, empty body", []byte{}, "0", "empty body"},
		{"binary data without the header", append([]byte(`{"inputs":[]}`), 0, 1, 2), "", "binary data needs the Inference-Header-Content-Length header"},
	}
	for _, e := range errs {
		t.Run(e.name, func(t *testing.T) {
			h := map[string]string{}
			if e.header != "" {
				h[headerLength] = e.header
			}
			resp, body := do(t, "POST", url, e.body, h)
			if msg := wantError(t, resp, body, 400); !strings.Contains(msg, e.want) {
				t.Errorf("error %q, want %q", msg, e.want)
			}
		})
	}

	t.Run("data and binary_data_size together", func(t *testing.T) {
		head := mustJSON(map[string]any{"inputs": []map[string]any{{"name": "pixel_values", "datatype": "FP32", "shape": []int{1},
			"data": []float32{1}, "parameters": map[string]any{"binary_data_size": 4}}}})
		resp, body := do(t, "POST", url, append(head, 0, 0, 0, 0), map[string]string{headerLength: strconv.Itoa(len(head))})
		if msg := wantError(t, resp, body, 400); !strings.Contains(msg, "both data and binary_data_size") {
			t.Error(msg)
		}
	})

	t.Run("NaN in binary FP32", func(t *testing.T) {
		bad := append([]float32(nil), x.Data...)
		bad[7] = float32(math.NaN())
		resp, body := do(t, "POST", url, fp32Bytes(bad), map[string]string{headerLength: "0"})
		if msg := wantError(t, resp, body, 400); !strings.Contains(msg, "value 7 is NaN") {
			t.Error(msg)
		}
	})
}
