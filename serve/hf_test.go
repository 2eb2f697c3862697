package serve

import (
	"encoding/json"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/resnet-go/resnet"
)

func decodeLabels(t *testing.T, body []byte) []hfLabel {
	t.Helper()
	var out []hfLabel
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("answer is not [{label, score}]: %v: %s", err, body)
	}
	if !sort.SliceIsSorted(out, func(i, j int) bool { return out[i].Score > out[j].Score }) {
		t.Errorf("labels not sorted by score: %s", body)
	}
	// Exactly the keys label and score.
	var raw []map[string]any
	json.Unmarshal(body, &raw)
	for _, m := range raw {
		if len(m) != 2 {
			t.Errorf("element %v has keys other than label and score", m)
		}
	}
	return out
}

// TestHFRoutes is the spec's case 5: huggingface_hub's shapes. Raw JPEG bytes with no
// Content-Type (what InferenceClient sends for bytes), the same with image/jpeg, and JSON
// base64 with parameters; all answer [{label, score}] sorted.
func TestHFRoutes(t *testing.T) {
	ts := newTestServer(t, Options{}, nil)
	cifar, tiny := testModels(t)
	jpg := readFile(t, imagePath(t, "cat.jpg"))
	_, logits := reference(t, cifar, imagePath(t, "cat.jpg"))
	probs := resnet.Softmax(logits.Data)

	for _, c := range []struct {
		name, path string
		header     map[string]string
	}{
		{"no Content-Type", "/models/" + cifarName, nil},
		{"image/jpeg", "/models/" + cifarName, map[string]string{"Content-Type": "image/jpeg"}},
		{"octet-stream", "/models/" + cifarName, map[string]string{"Content-Type": "application/octet-stream"}},
		{"wrong type still sniffed", "/models/" + cifarName, map[string]string{"Content-Type": "image/png"}},
		{"toolkit path /", "/", nil},
		{"toolkit path /predict", "/predict", nil},
		{"/hf/models", "/hf/models/" + cifarName, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := do(t, "POST", ts.url+c.path, jpg, c.header)
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			out := decodeLabels(t, body)
			if len(out) != 5 {
				t.Errorf("%d labels, want the default top_k 5", len(out))
			}
			if out[0].Label != "cat" {
				t.Errorf("first label %q, want cat", out[0].Label)
			}
			closeTo(t, "top score", []float32{out[0].Score}, []float32{probs[3]}, 1e-6)
		})
	}

	t.Run("JSON base64 with top_k 3 and function none", func(t *testing.T) {
		resp, body := postJSON(t, ts.url+"/models/"+cifarName, map[string]any{
			"inputs": b64(jpg), "parameters": map[string]any{"top_k": 3, "function_to_apply": "none"},
		})
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		out := decodeLabels(t, body)
		if len(out) != 3 || out[0].Label != "cat" {
			t.Fatalf("%+v", out)
		}
		closeTo(t, "raw logit", []float32{out[0].Score}, []float32{logits.Data[3]}, 1e-5)
	})

	t.Run("softmax sums to 1 over all labels", func(t *testing.T) {
		// JSON without a Content-Type is recognised too; top_k above the classes is clamped.
		resp, body := do(t, "POST", ts.url+"/models/"+cifarName, mustJSON(map[string]any{"inputs": b64(jpg), "parameters": map[string]any{"top_k": 100}}), nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		out := decodeLabels(t, body)
		var sum float64
		for _, l := range out {
			sum += float64(l.Score)
		}
		if len(out) != 10 || math.Abs(sum-1) > 1e-5 {
			t.Errorf("%d labels summing to %v, want 10 summing to 1", len(out), sum)
		}
	})

	// The camelCase names of older huggingface.js specs, and transformers' timeout (unused:
	// nothing is fetched), are accepted.
	t.Run("camelCase parameters", func(t *testing.T) {
		resp, body := do(t, "POST", ts.url+"/models/"+cifarName, []byte(`{"inputs": "`+b64(jpg)+`", "parameters": {"topK": 3, "functionToApply": "none", "timeout": 5}}`), map[string]string{"Content-Type": "application/json"})
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if out := decodeLabels(t, body); len(out) != 3 || out[0].Score <= 1 {
			t.Errorf("%+v, want 3 raw logits (the top one above 1)", out)
		}
	})

	t.Run("sigmoid and query parameters", func(t *testing.T) {
		resp, body := do(t, "POST", ts.url+"/models/"+tinyName+"?top_k=2&function_to_apply=sigmoid", readFile(t, imagePath(t, "dog.jpg")), nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		out := decodeLabels(t, body)
		_, l := reference(t, tiny, imagePath(t, "dog.jpg"))
		top := topIndices(l.Data, 1)[0]
		want := float32(1 / (1 + math.Exp(-float64(l.Data[top]))))
		if len(out) != 2 || out[0].Label != tiny.Config.Label(top) {
			t.Fatalf("%+v, want 2 labels led by %s", out, tiny.Config.Label(top))
		}
		closeTo(t, "sigmoid", []float32{out[0].Score}, []float32{want}, 1e-6)
		// The camelCase spellings work in the query too.
		resp, body = do(t, "POST", ts.url+"/models/"+tinyName+"?topK=3&functionToApply=none", readFile(t, imagePath(t, "dog.jpg")), nil)
		if out := decodeLabels(t, body); resp.StatusCode != 200 || len(out) != 3 || out[0].Score != l.Data[top] {
			t.Fatalf("topK=3, none: %d %s", resp.StatusCode, body)
		}
	})

	errs := []struct {
		name, path string
		body       string
		header     map[string]string
		status     int
		want       string
	}{
		{"bad base64", "/models/" + cifarName, `{"inputs": "not base64!"}`, map[string]string{"Content-Type": "application/json"}, 400, "not valid base64"},
		{"inputs not a string", "/models/" + cifarName, `{"inputs": ["a"]}`, map[string]string{"Content-Type": "application/json"}, 400, "base64-encoded image string"},
		{"URL is not fetched", "/models/" + cifarName, `{"inputs": "http://example.com/cat.jpg"}`, map[string]string{"Content-Type": "application/json"}, 400, "is a URL, which this server does not fetch"},
		{"bad JSON", "/models/" + cifarName, `{"inputs": `, map[string]string{"Content-Type": "application/json; charset=utf-8"}, 400, "not valid JSON"},
		{"bad top_k", "/models/" + cifarName, `{"inputs": "` + b64(jpg) + `", "parameters": {"top_k": 0}}`, map[string]string{"Content-Type": "application/json"}, 400, "top_k must be a positive integer"},
		{"bad function", "/models/" + cifarName, `{"inputs": "` + b64(jpg) + `", "parameters": {"function_to_apply": "relu"}}`, map[string]string{"Content-Type": "application/json"}, 400, `function_to_apply must be`},
		{"bad query top_k", "/models/" + cifarName + "?top_k=x", string(jpg), nil, 400, "not an integer"},
		{"misspelt query parameter", "/models/" + cifarName + "?topk=3", string(jpg), nil, 400, `unknown parameter "topk"`},
		{"query parameter twice", "/models/" + cifarName + "?top_k=3&top_k=2", string(jpg), nil, 400, "given 2 times"},
		{"query and body spellings", "/models/" + cifarName + "?topK=3", `{"inputs": "` + b64(jpg) + `", "parameters": {"top_k": 2}}`, map[string]string{"Content-Type": "application/json"}, 400, "given twice"},
		{"top_k a string", "/models/" + cifarName, `{"inputs": "` + b64(jpg) + `", "parameters": {"top_k": "3"}}`, map[string]string{"Content-Type": "application/json"}, 400, `top_k must be a positive integer, got "3"`},
		{"misspelt parameter", "/models/" + cifarName, `{"inputs": "` + b64(jpg) + `", "parameters": {"topk": 3}}`, map[string]string{"Content-Type": "application/json"}, 400, `unknown parameter "topk": image-classification takes top_k and function_to_apply`},
		{"both spellings", "/models/" + cifarName, `{"inputs": "` + b64(jpg) + `", "parameters": {"top_k": 3, "topK": 2}}`, map[string]string{"Content-Type": "application/json"}, 400, "given twice"},
		{"parameters not an object", "/models/" + cifarName, `{"inputs": "` + b64(jpg) + `", "parameters": []}`, map[string]string{"Content-Type": "application/json"}, 400, `"parameters" must be an object, got array`},
		{"not an image", "/models/" + cifarName, "hello", nil, 415, "unrecognised image format"},
		{"empty body", "/models/" + cifarName, "", nil, 415, "empty image data"},
		{"unknown model", "/models/resnet-50", string(jpg), nil, 404, `unknown model "resnet-50"`},
	}
	for _, e := range errs {
		t.Run(e.name, func(t *testing.T) {
			resp, body := do(t, "POST", ts.url+e.path, []byte(e.body), e.header)
			if msg := wantError(t, resp, body, e.status); !strings.Contains(msg, e.want) {
				t.Errorf("error %q, want %q", msg, e.want)
			}
		})
	}
}

// TestHFMultiLabel: a multi-label model's default function is the sigmoid (transformers'
// pipeline rule), and the metadata says so.
func TestHFMultiLabel(t *testing.T) {
	cifar, _ := testModels(t)
	s := New(Options{})
	if err := s.Add(Model{Name: "ml", Model: cifar, MultiLabel: true}); err != nil {
		t.Fatal(err)
	}
	s.MarkReady()
	defer s.Close(t.Context())
	url := newTestServerFor(t, s.Handler())
	resp, body := do(t, "POST", url+"/models/ml?top_k=10", readFile(t, imagePath(t, "cat.jpg")), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	out := decodeLabels(t, body)
	_, l := reference(t, cifar, imagePath(t, "cat.jpg"))
	want := float32(1 / (1 + math.Exp(-float64(l.Data[3]))))
	closeTo(t, "sigmoid of cat", []float32{out[0].Score}, []float32{want}, 1e-6)
	md, err := s.ModelMetadata("ml", "")
	if err != nil || md.Properties["probabilities"] != "sigmoid" {
		t.Errorf("metadata %+v %v", md, err)
	}
}

// An upload stored sideways with EXIF orientation 6 (imageproc's Pillow fixture) is
// classified upright, as transformers' pipeline (and a browser showing it) has it, unless
// the server keeps orientation as stored.
func TestHFOrientation(t *testing.T) {
	dir := filepath.Join("..", "imageproc", "testdata", "orientation")
	stored, upright := readFile(t, filepath.Join(dir, "png_o6.png")), readFile(t, filepath.Join(dir, "png_o6.want.png"))
	scores := func(ts *testServer, img []byte) []hfLabel {
		resp, body := postJSON(t, ts.url+"/models/"+cifarName, map[string]any{
			"inputs": b64(img), "parameters": map[string]any{"top_k": 10, "function_to_apply": "none"},
		})
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		return decodeLabels(t, body)
	}
	ts := newTestServer(t, Options{}, nil)
	want := scores(ts, upright)
	if got := scores(ts, stored); !slices.Equal(got, want) {
		t.Errorf("EXIF-6 upload: %+v, want the upright image's %+v", got, want)
	}
	keep := newTestServer(t, Options{KeepOrientation: true}, nil)
	if got := scores(keep, stored); slices.Equal(got, want) {
		t.Error("KeepOrientation: the EXIF-6 upload was classified upright")
	}
}
