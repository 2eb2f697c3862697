package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// The Hugging Face Inference API's image-classification shape (serving spec §3), as
// huggingface_hub's InferenceClient.image_classification and @huggingface/inference send it:
// the body is the raw image (any or no Content-Type), or JSON {"inputs": base64, "parameters":
// {"top_k", "function_to_apply"}}; the answer is [{"label", "score"}], best first. Query
// parameters top_k and function_to_apply work with a raw body too.

// hfLabel is one element of the answer.
type hfLabel struct {
	Label string  `json:"label"`
	Score float32 `json:"score"`
}

type hfRequest struct {
	Inputs     json.RawMessage `json:"inputs"`
	Parameters map[string]any  `json:"parameters"`
}

// handleHF is POST /models/{name} (name "" : the first model, for POST / and /predict).
func (s *Server) handleHF(w *recorder, r *http.Request, name string) {
	var e *entry
	var err error
	if name == "" {
		e, err = s.firstModel()
	} else {
		e, err = s.lookup(name)
	}
	if err != nil {
		s.writeError(w, err, name)
		return
	}
	w.model = e.Name
	fail := func(err error) {
		s.metrics.failed(e.Name, err)
		s.writeError(w, err, e.Name)
	}
	if e.Model.Model.Config.NumLabels == 0 {
		fail(errorf(Invalid, "model %s has no classifier head (it is a feature extractor); use POST /v2/models/%s/infer for its embedding", e.Name, e.Name))
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		fail(err)
		return
	}
	// Query-string parameters become parameters (the toolkit's rule), every one of them, so
	// that hfParams refuses a misspelt ?topk=3 as it does in the JSON body.
	params := map[string]any{}
	for k, vs := range r.URL.Query() {
		if len(vs) > 1 {
			fail(errorf(Invalid, "query parameter %s given %d times", k, len(vs)))
			return
		}
		v := vs[0]
		params[k] = v
		if hfParamNames[k] == "top_k" {
			n, err := strconv.Atoi(v)
			if err != nil {
				fail(errorf(Invalid, "%s %q is not an integer", k, v))
				return
			}
			params[k] = float64(n)
		}
	}
	image := body
	if isJSONBody(r.Header.Get("Content-Type"), body) {
		var hr hfRequest
		if err := json.Unmarshal(body, &hr); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) && te.Field == "parameters" {
				err = fmt.Errorf(`"parameters" must be an object, got %s`, te.Value)
			}
			fail(errorf(Invalid, "request is not valid JSON: %v", err))
			return
		}
		var s64 string
		if err := json.Unmarshal(hr.Inputs, &s64); err != nil || s64 == "" {
			fail(errorf(Invalid, `"inputs" must be a base64-encoded image string (or send the image itself as the body)`))
			return
		}
		if strings.HasPrefix(s64, "http://") || strings.HasPrefix(s64, "https://") {
			// The HF clients download a URL themselves and send its bytes; a URL that
			// reaches a server is refused (serving-spec), saying what to send instead.
			fail(errorf(Invalid, `"inputs" is a URL, which this server does not fetch: send the image itself as the body, or base64 in "inputs"`))
			return
		}
		if image, err = decodeBase64(s64); err != nil {
			fail(errorf(Invalid, `"inputs" is not valid base64: %v`, err))
			return
		}
		for k, v := range hr.Parameters {
			params[k] = v
		}
	}
	topK, fn, err := hfParams(params, e.Model.Model.Config.NumLabels)
	if err != nil {
		fail(err)
		return
	}
	resp, err := s.Infer(r.Context(), &InferRequest{Model: e.Name, Images: [][]byte{image}, Outputs: []OutputRequest{{Name: OutputLogits}}})
	if err != nil {
		s.writeError(w, err, e.Name)
		return
	}
	logits := resp.Outputs[0].FP32
	scores := e.probabilities(logits, len(logits), fn)
	out := make([]hfLabel, 0, topK)
	for _, i := range topIndices(scores, topK) {
		out = append(out, hfLabel{Label: e.Model.Model.Config.Label(i), Score: scores[i]})
	}
	writeJSON(w, http.StatusOK, out)
}

// isJSONBody says whether an HF request body is the JSON form: Content-Type
// application/json, or no Content-Type and a body that starts like an object.
func isJSONBody(contentType string, body []byte) bool {
	if contentType == "" {
		return bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("{"))
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && strings.EqualFold(mt, "application/json")
}

// hfParamNames maps the parameters image-classification takes to their names: the spec's,
// the camelCase ones of older huggingface.js specs, and timeout, which transformers'
// pipeline takes for fetching URL inputs (never fetched here: accepted, unused).
var hfParamNames = map[string]string{
	"top_k": "top_k", "topK": "top_k",
	"function_to_apply": "function_to_apply", "functionToApply": "function_to_apply",
	"timeout": "timeout",
}

// hfParams reads top_k (default 5, clamped to the number of labels) and function_to_apply
// ("" = the model's default, transformers' rule). Any other parameter is refused, as
// transformers' pipeline refuses an unexpected keyword (through the toolkit, a 400): a
// misspelt "topk" must not quietly give five classes.
func hfParams(params map[string]any, numLabels int) (topK int, fn string, err error) {
	canon := map[string]any{}
	for k, v := range params {
		name, ok := hfParamNames[k]
		if !ok {
			return 0, "", errorf(Invalid, "unknown parameter %q: image-classification takes top_k and function_to_apply", k)
		}
		if _, dup := canon[name]; dup {
			return 0, "", errorf(Invalid, "parameter %s given twice (as %s and its other spelling)", name, k)
		}
		canon[name] = v
	}
	params = canon
	topK = 5
	if v, ok := params["top_k"]; ok && v != nil {
		k, err := paramInt(params, "top_k")
		if err != nil || k < 1 {
			return 0, "", errorf(Invalid, "top_k must be a positive integer, got %s", jsonString(v))
		}
		topK = int(min(k, int64(numLabels)))
	}
	topK = min(topK, numLabels)
	if v, ok := params["function_to_apply"]; ok && v != nil {
		s, _ := v.(string)
		switch strings.ToLower(s) {
		case "softmax", "sigmoid", "none":
			fn = strings.ToLower(s)
		default:
			return 0, "", errorf(Invalid, "function_to_apply must be \"softmax\", \"sigmoid\" or \"none\", got %s", jsonString(v))
		}
	}
	return topK, fn, nil
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
