package serve

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/resnet-go/resnet"
)

type inferResponse struct {
	ModelName    string `json:"model_name"`
	ModelVersion string `json:"model_version"`
	ID           string `json:"id"`
	Outputs      []struct {
		Name       string          `json:"name"`
		Datatype   string          `json:"datatype"`
		Shape      []int           `json:"shape"`
		Parameters map[string]any  `json:"parameters"`
		Data       json.RawMessage `json:"data"`
	} `json:"outputs"`
}

func decodeInfer(t *testing.T, body []byte) inferResponse {
	t.Helper()
	var r inferResponse
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("response is not JSON: %v: %.200s", err, body)
	}
	return r
}

func (r inferResponse) floats(t *testing.T, name string) ([]int, []float32) {
	t.Helper()
	for _, o := range r.Outputs {
		if o.Name == name {
			if o.Datatype != "FP32" {
				t.Fatalf("output %s datatype %s", name, o.Datatype)
			}
			var v []float32
			if err := json.Unmarshal(o.Data, &v); err != nil {
				t.Fatalf("output %s data: %v", name, err)
			}
			return o.Shape, v
		}
	}
	t.Fatalf("no output %s in the response", name)
	return nil, nil
}

func TestHealthAndMetadata(t *testing.T) {
	ts := newTestServer(t, Options{Version: "1.2.3"}, nil)
	cifar, _ := testModels(t)
	type check struct {
		method, path string
		status       int
		want         string // a substring of the body
	}
	checks := []check{
		{"GET", "/v2/health/live", 200, `{"live":true}`},
		{"GET", "/v2/health/ready", 200, `{"ready":true}`},
		{"GET", "/v2", 200, `{"extensions":["binary_tensor_data","classification"],"name":"resnet","version":"1.2.3"}`},
		{"GET", "/v2/models/" + cifarName, 200, `"inputs":[{"name":"image","datatype":"BYTES","shape":[-1]},{"name":"pixel_values","datatype":"FP32","shape":[-1,3,32,32]}]`},
		{"GET", "/v2/models/" + cifarName, 200, `"outputs":[{"name":"logits","datatype":"FP32","shape":[-1,10]},{"name":"probabilities","datatype":"FP32","shape":[-1,10]},{"name":"embedding","datatype":"FP32","shape":[-1,64]}]`},
		{"GET", "/v2/models/" + cifarName + "/versions/1", 200, `"versions":["1"]`},
		{"GET", "/v2/models/" + tinyName, 200, `{"name":"pixel_values","datatype":"FP32","shape":[-1,3,224,224]}`},
		{"GET", "/v2/models/" + cifarName + "/ready", 200, `{"name":"resnet20-cifar10","ready":true}`},
		{"GET", "/v2/models/" + cifarName + "/versions/1/ready", 200, `"ready":true`},
		{"HEAD", "/v2/health/live", 200, ``},
		{"GET", "/health", 200, `Ok`},
	}
	for _, c := range checks {
		resp, body := do(t, c.method, ts.url+c.path, nil, nil)
		if resp.StatusCode != c.status || !strings.Contains(string(body), c.want) {
			t.Errorf("%s %s: %d %s, want %d with %s", c.method, c.path, resp.StatusCode, body, c.status, c.want)
		}
	}
	if cifar.Config.NumLabels != 10 {
		t.Fatal("the built-in model should have 10 classes")
	}
	errorsWanted := []check{
		{"GET", "/v2/models/nope", 404, `unknown model \"nope\" (served: basic, resnet20-cifar10)`},
		{"GET", "/v2/models/nope/ready", 404, `unknown model`},
		{"POST", "/v2/models/nope/infer", 404, `unknown model`},
		{"GET", "/v2/models/" + cifarName + "/versions/2", 404, `has no version \"2\"`},
		{"POST", "/v2/models/" + cifarName + "/versions/7/infer", 404, `has no version \"7\"`},
		{"GET", "/v2/models/" + cifarName + "/infer", 405, `method GET not allowed`},
		{"POST", "/v2/health/live", 405, `not allowed`},
		{"DELETE", "/", 405, `not allowed`},
		{"GET", "/v2/models/" + cifarName + "/explain", 404, `no route`},
		{"GET", "/nothing/here", 404, `no route GET /nothing/here`},
		{"POST", "/models/", 404, `no route`},
		{"POST", "/models/nope", 404, `unknown model`},
	}
	for _, c := range errorsWanted {
		resp, body := do(t, c.method, ts.url+c.path, nil, nil)
		msg := wantError(t, resp, body, c.status)
		if !strings.Contains(string(body), c.want) {
			t.Errorf("%s %s: error %q, want it to contain %s", c.method, c.path, msg, c.want)
		}
		if c.status == 405 && resp.Header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", c.method, c.path)
		}
	}
}

func TestReadinessWhileLoading(t *testing.T) {
	s := New(Options{})
	h := s.Handler()
	ts := newTestServerFor(t, h)
	resp, body := do(t, "GET", ts+"/v2/health/ready", nil, nil)
	if resp.StatusCode != 503 || !strings.Contains(string(body), "loading") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("ready while loading: %d %s", resp.StatusCode, body)
	}
	resp, _ = do(t, "GET", ts+"/v2/health/live", nil, nil)
	if resp.StatusCode != 200 {
		t.Errorf("live while loading: %d", resp.StatusCode)
	}
	resp, body = do(t, "POST", ts+"/v2/models/x/infer", []byte("{}"), nil)
	if msg := wantError(t, resp, body, 503); !strings.Contains(msg, "still loading") {
		t.Errorf("infer while loading: %s", msg)
	}
	resp, body = do(t, "POST", ts+"/", []byte("x"), nil)
	wantError(t, resp, body, 503)
	cifar, _ := testModels(t)
	if err := s.Add(Model{Name: cifarName, Model: cifar}); err != nil {
		t.Fatal(err)
	}
	s.MarkReady()
	if resp, _ = do(t, "GET", ts+"/v2/health/ready", nil, nil); resp.StatusCode != 200 {
		t.Errorf("ready after loading: %d", resp.StatusCode)
	}
	s.Drain()
	if resp, _ = do(t, "GET", ts+"/v2/health/ready", nil, nil); resp.StatusCode != 503 {
		t.Errorf("ready while draining: %d", resp.StatusCode)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Error(err)
	}
}

func TestAddRefuses(t *testing.T) {
	cifar, _ := testModels(t)
	s := New(Options{})
	defer s.Close(t.Context())
	for _, name := range []string{"", "a/b", "has space", "-dash", "ü"} {
		if err := s.Add(Model{Name: name, Model: cifar}); err == nil {
			t.Errorf("model name %q accepted", name)
		}
	}
	if err := s.Add(Model{Name: "m", Model: cifar}); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(Model{Name: "m", Model: cifar}); err == nil || !strings.Contains(err.Error(), "two models are named m") {
		t.Errorf("duplicate name: %v", err)
	}
}

// TestOIPJSONRoundTrip is the spec's case 1: a flat FP32 tensor of a fixture image gives the
// logits of `resnet classify --logits` (within 1e-5), the same top-1, and the request id back.
func TestOIPJSONRoundTrip(t *testing.T) {
	ts := newTestServer(t, Options{}, nil)
	cifar, tiny := testModels(t)
	for _, tc := range []struct {
		name  string
		model *resnet.Model
		image string
	}{
		{cifarName, cifar, "cat.jpg"},
		{tinyName, tiny, "dog.jpg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, want := reference(t, tc.model, imagePath(t, tc.image))
			k := tc.model.Config.NumLabels
			resp, body := postJSON(t, ts.url+"/v2/models/"+tc.name+"/infer", map[string]any{
				"id": "req-42",
				"inputs": []map[string]any{{
					"name": "pixel_values", "datatype": "FP32", "shape": x.Shape, "data": x.Data,
				}},
				"outputs": []map[string]any{{"name": "logits"}},
			})
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d %s: %.300s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			r := decodeInfer(t, body)
			if r.ID != "req-42" || r.ModelName != tc.name || r.ModelVersion != "" || len(r.Outputs) != 1 {
				t.Errorf("id %q model %q version %q, %d outputs", r.ID, r.ModelName, r.ModelVersion, len(r.Outputs))
			}
			shape, logits := r.floats(t, "logits")
			if shape[0] != 1 || shape[1] != k {
				t.Errorf("logits shape %v, want [1 %d]", shape, k)
			}
			closeTo(t, "logits", logits, want.Data, 1e-5)
			if top := topIndices(logits, 1)[0]; top != tc.model.TopK(want, 1)[0][0].Index {
				t.Errorf("top-1 %d differs from classify's", top)
			}

			// The same image as an encoded file in the "image" input: preprocessed exactly
			// as classify does, so the same logits.
			resp, body = postJSON(t, ts.url+"/v2/models/"+tc.name+"/versions/1/infer", map[string]any{
				"inputs": []map[string]any{{
					"name": "image", "datatype": "BYTES", "shape": []int{1}, "data": []string{b64(readFile(t, imagePath(t, tc.image)))},
				}},
			})
			if resp.StatusCode != 200 {
				t.Fatalf("image input: %d %s", resp.StatusCode, body)
			}
			r = decodeInfer(t, body)
			if r.ModelVersion != "1" || r.ID != "" {
				t.Errorf("model_version %q (want the request's 1), id %q (none sent)", r.ModelVersion, r.ID)
			}
			if len(r.Outputs) != 3 {
				t.Errorf("no outputs asked: got %d outputs, want all 3", len(r.Outputs))
			}
			_, logits = r.floats(t, "logits")
			closeTo(t, "logits from the encoded image", logits, want.Data, 1e-5)
			_, probs := r.floats(t, "probabilities")
			closeTo(t, "probabilities", probs, resnet.Softmax(want.Data), 1e-6)
			shape, emb := r.floats(t, "embedding")
			if shape[1] != tc.model.Spec.Features || len(emb) != tc.model.Spec.Features {
				t.Errorf("embedding shape %v", shape)
			}
			wantEmb, err := tc.model.Embed(x)
			if err != nil {
				t.Fatal(err)
			}
			closeTo(t, "embedding", emb, wantEmb.Data, 1e-5)
		})
	}
}

// TestOIPNestedAndBatch: nested JSON data, a batch of two, outputs chosen by name.
func TestOIPNestedAndBatch(t *testing.T) {
	ts := newTestServer(t, Options{}, nil)
	cifar, _ := testModels(t)
	x1, l1 := reference(t, cifar, imagePath(t, "cat.jpg"))
	x2, l2 := reference(t, cifar, imagePath(t, "dog.jpg"))
	// [2][3][32][32] nested arrays.
	nested := make([][][][]float32, 2)
	for n, x := range [][]float32{x1.Data, x2.Data} {
		nested[n] = make([][][]float32, 3)
		for c := range 3 {
			nested[n][c] = make([][]float32, 32)
			for h := range 32 {
				nested[n][c][h] = x[c*1024+h*32 : c*1024+h*32+32]
			}
		}
	}
	resp, body := postJSON(t, ts.url+"/v2/models/"+cifarName+"/infer", map[string]any{
		"inputs":  []map[string]any{{"name": "pixel_values", "datatype": "FP32", "shape": []int{2, 3, 32, 32}, "data": nested}},
		"outputs": []map[string]any{{"name": "probabilities"}, {"name": "logits"}},
	})
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	r := decodeInfer(t, body)
	if len(r.Outputs) != 2 || r.Outputs[0].Name != "probabilities" || r.Outputs[1].Name != "logits" {
		t.Fatalf("outputs %+v, want probabilities then logits", r.Outputs)
	}
	_, logits := r.floats(t, "logits")
	closeTo(t, "batch logits", logits, append(append([]float32{}, l1.Data...), l2.Data...), 1e-5)
	_, probs := r.floats(t, "probabilities")
	for row := range 2 {
		var sum float64
		for _, p := range probs[row*10 : row*10+10] {
			sum += float64(p)
		}
		if math.Abs(sum-1) > 1e-5 {
			t.Errorf("row %d probabilities sum to %v", row, sum)
		}
	}
}

// TestClassificationExtension is the spec's case 3: {"classification": 5} on logits for a
// batch of two gives BYTES [2, 5] strings "value:index:label" that parse back to the
// model's own top classes and id2label names.
func TestClassificationExtension(t *testing.T) {
	ts := newTestServer(t, Options{}, nil)
	cifar, _ := testModels(t)
	images := []string{"cat.jpg", "dog.jpg"}
	var data []string
	var want [][]resnet.Prediction
	var wantLogits [][]float32
	for _, im := range images {
		data = append(data, b64(readFile(t, imagePath(t, im))))
		_, l := reference(t, cifar, imagePath(t, im))
		want = append(want, cifar.TopK(l, 5)[0])
		wantLogits = append(wantLogits, l.Data)
	}
	resp, body := postJSON(t, ts.url+"/v2/models/"+cifarName+"/infer", map[string]any{
		"inputs":  []map[string]any{{"name": "image", "datatype": "BYTES", "shape": []int{2}, "data": data}},
		"outputs": []map[string]any{{"name": "logits", "parameters": map[string]any{"classification": 5}}},
	})
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	r := decodeInfer(t, body)
	o := r.Outputs[0]
	if o.Datatype != "BYTES" || len(o.Shape) != 2 || o.Shape[0] != 2 || o.Shape[1] != 5 {
		t.Fatalf("classification output %s %v, want BYTES [2 5]", o.Datatype, o.Shape)
	}
	var strs []string
	if err := json.Unmarshal(o.Data, &strs); err != nil || len(strs) != 10 {
		t.Fatalf("data %s", o.Data)
	}
	for row := range 2 {
		for j := range 5 {
			parts := strings.SplitN(strs[row*5+j], ":", 3)
			if len(parts) != 3 {
				t.Fatalf("%q is not value:index:label", strs[row*5+j])
			}
			idx, err := strconv.Atoi(parts[1])
			if err != nil {
				t.Fatal(err)
			}
			p := want[row][j]
			if idx != p.Index || parts[2] != cifar.Config.Label(idx) || parts[2] != p.Label {
				t.Errorf("image %d rank %d: %q, want index %d label %s", row, j, strs[row*5+j], p.Index, p.Label)
			}
			// The raw logit, printed %f; a batch of two may differ from one image in the
			// last bits.
			v, err := strconv.ParseFloat(parts[0], 64)
			if err != nil || len(parts[0]) != len(strconv.FormatFloat(v, 'f', 6, 64)) || math.Abs(v-float64(wantLogits[row][idx])) > 1e-5 {
				t.Errorf("value %s, want the raw logit %v printed with 6 decimals", parts[0], wantLogits[row][idx])
			}
		}
	}
	if !strings.HasSuffix(strs[0], ":cat") {
		t.Errorf("cat.jpg's first class is %q, want cat", strs[0])
	}

	// k larger than the classes is clamped; probabilities can be classified too; the
	// embedding has no labels.
	resp, body = postJSON(t, ts.url+"/v2/models/"+cifarName+"/infer", map[string]any{
		"inputs": []map[string]any{{"name": "image", "datatype": "BYTES", "shape": []int{1}, "data": data[:1]}},
		"outputs": []map[string]any{
			{"name": "probabilities", "parameters": map[string]any{"classification": 50}},
			{"name": "embedding", "parameters": map[string]any{"classification": 2}},
		},
	})
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	r = decodeInfer(t, body)
	if s := r.Outputs[0].Shape; s[1] != 10 {
		t.Errorf("classification 50 of 10 classes: shape %v", s)
	}
	strs = nil
	json.Unmarshal(r.Outputs[1].Data, &strs)
	if len(strs) != 2 || strings.Count(strs[0], ":") != 1 {
		t.Errorf("embedding classification %v, want value:index without labels", strs)
	}
}

// TestInferBadRequests: malformed requests get 400 (or 413) with a message that says what
// is wrong, and never reach the model.
func TestInferBadRequests(t *testing.T) {
	ts := newTestServer(t, Options{MaxRequestImages: 4}, nil)
	url := ts.url + "/v2/models/" + cifarName + "/infer"
	px := func(shape []int, data any) map[string]any {
		return map[string]any{"inputs": []map[string]any{{"name": "pixel_values", "datatype": "FP32", "shape": shape, "data": data}}}
	}
	zeros := make([]float32, 3*32*32)
	cases := []struct {
		name   string
		body   string
		status int
		want   string
	}{
		{"not JSON", `{"inputs": [`, 400, "not valid JSON"},
		{"no inputs", `{"inputs": []}`, 400, "no inputs"},
		{"two inputs", `{"inputs": [{"name":"image","datatype":"BYTES","shape":[1],"data":["AA=="]},{"name":"image","datatype":"BYTES","shape":[1],"data":["AA=="]}]}`, 400, "2 inputs"},
		{"unknown input", `{"inputs": [{"name":"input0","datatype":"FP32","shape":[1],"data":[1]}]}`, 400, `unknown input "input0"`},
		{"wrong datatype", `{"inputs": [{"name":"pixel_values","datatype":"INT32","shape":[1,3,32,32],"data":[1]}]}`, 400, "must be FP32"},
		{"image not BYTES", `{"inputs": [{"name":"image","datatype":"FP32","shape":[1],"data":[1]}]}`, 400, "must be BYTES"},
		{"no data", `{"inputs": [{"name":"image","datatype":"BYTES","shape":[1]}]}`, 400, "has no data"},
		{"negative shape", `{"inputs": [{"name":"image","datatype":"BYTES","shape":[-1],"data":["AA=="]}]}`, 400, "not a valid tensor shape"},
		{"huge shape", `{"inputs": [{"name":"pixel_values","datatype":"FP32","shape":[1000000000,3,1000000,1000000],"data":[1]}]}`, 400, "not a valid tensor shape"},
		{"count mismatch", string(mustJSON(px([]int{1, 3, 32, 32}, []float32{1, 2}))), 400, "says 3072 values, data has 2"},
		{"too many values", string(mustJSON(px([]int{1, 3, 32, 32}, append(zeros, 1)))), 400, "more values than the shape's 3072"},
		{"wrong size", string(mustJSON(px([]int{1, 3, 16, 16}, make([]float32, 768)))), 400, "must be FP32 [-1,3,32,32]"},
		{"strings as FP32", `{"inputs": [{"name":"pixel_values","datatype":"FP32","shape":[1],"data":["a"]}]}`, 400, "holds a string"},
		{"out of range", `{"inputs": [{"name":"pixel_values","datatype":"FP32","shape":[1],"data":[1e60]}]}`, 400, "not a float32"},
		{"bad base64", `{"inputs": [{"name":"image","datatype":"BYTES","shape":[1],"data":["%%%"]}]}`, 400, "not base64"},
		{"number as BYTES", `{"inputs": [{"name":"image","datatype":"BYTES","shape":[1],"data":[5]}]}`, 400, "not a string"},
		{"unknown output", `{"inputs": [{"name":"image","datatype":"BYTES","shape":[1],"data":["AA=="]}], "outputs":[{"name":"output0"}]}`, 400, `unknown output "output0"`},
		{"duplicate output", `{"inputs": [{"name":"image","datatype":"BYTES","shape":[1],"data":["AA=="]}], "outputs":[{"name":"logits"},{"name":"logits"}]}`, 400, "requested twice"},
		{"bad classification", `{"inputs": [{"name":"image","datatype":"BYTES","shape":[1],"data":["AA=="]}], "outputs":[{"name":"logits","parameters":{"classification":"five"}}]}`, 400, "must be an integer"},
		{"bad binary_data_output", `{"parameters":{"binary_data_output":"yes"},"inputs": [{"name":"image","datatype":"BYTES","shape":[1],"data":["AA=="]}]}`, 400, "must be a boolean"},
		{"too many images", `{"inputs": [{"name":"image","datatype":"BYTES","shape":[5],"data":["AA==","AA==","AA==","AA==","AA=="]}]}`, 413, "limit per request is 4"},
		{"not an image", `{"inputs": [{"name":"image","datatype":"BYTES","shape":[1],"data":["aGVsbG8gd29ybGQ="]}]}`, 415, "unrecognised image format"},
		{"second image bad", `{"inputs": [{"name":"image","datatype":"BYTES","shape":[2],"data":["` + b64(readFile(t, imagePath(t, "cat.jpg"))) + `","AA=="]}]}`, 415, "image 1: cannot decode"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := do(t, "POST", url, []byte(c.body), map[string]string{"Content-Type": "application/json"})
			if msg := wantError(t, resp, body, c.status); !strings.Contains(msg, c.want) {
				t.Errorf("error %q, want it to contain %q", msg, c.want)
			}
		})
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestRequestID: an X-Request-Id header comes back on the response.
func TestRequestID(t *testing.T) {
	ts := newTestServer(t, Options{}, nil)
	resp, _ := do(t, "GET", ts.url+"/v2/health/live", nil, map[string]string{"X-Request-Id": "abc-123"})
	if got := resp.Header.Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("X-Request-Id %q", got)
	}
}
