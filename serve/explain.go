package serve

import (
	"bytes"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/resnet-go/resnet/gradcam"
	"github.com/resnet-go/resnet/imageproc"
	"github.com/resnet-go/resnet/model"
)

// POST /v1/models/{name}/explain: the body is an image (any format `classify` reads, within
// --max-body and --max-pixels); the answer is a PNG of the image with its Grad-CAM heat map
// (the JET overlay of pytorch-grad-cam's show_cam_on_image) at the image's size. Query
// parameters: class (index or label; default the top class), method (gradcam, gradcam++),
// layer. The server holds each model's weights only packed for inference, so unless the Model
// carries an Explainer (the plain weights again) it explains at the last stage, where the
// gradient has a closed form; `resnet explain` reaches every layer.
// The explained class travels in headers: X-Class, X-Label (percent-encoded), X-Score (softmax
// probability), X-Layer, and X-Flat: true when the map has no positive value.
//
// The work (decode, one forward pass, the overlay) runs on a decode worker token, so explain
// requests share the decode workers' bound instead of adding their own.

const explainSuffix = "/explain"

// handleExplain serves POST /v1/models/{name}/explain.
func (s *Server) handleExplain(w *recorder, r *http.Request, name string) {
	e, err := s.lookup(name)
	if err != nil {
		s.writeError(w, err, name)
		return
	}
	w.model = e.Name
	fail := func(err error) {
		s.metrics.failed(e.Name, err)
		s.writeError(w, err, e.Name)
	}
	m := e.Model.Model
	if m.Config.NumLabels == 0 {
		fail(errorf(Invalid, "model %s has no classifier head (it is a feature extractor): Grad-CAM explains a class score", e.Name))
		return
	}
	q := r.URL.Query()
	class := -1
	if v := q.Get("class"); v != "" {
		if class, err = m.ClassIndex(v); err != nil {
			fail(errorf(Invalid, "class: %v", err))
			return
		}
	}
	method := q.Get("method")
	if method == "" {
		method = model.MethodGradCAM
	}
	if method != model.MethodGradCAM && method != model.MethodGradCAMPlusPlus {
		fail(errorf(Invalid, "method %q: use gradcam or gradcam++", method))
		return
	}
	layer := q.Get("layer")
	t, err := m.ResolveLayer(layer)
	if err != nil {
		fail(errorf(Invalid, "layer: %v", err))
		return
	}
	explain := m.Explain
	if e.Explainer != nil {
		explain = e.Explainer.Explain
	} else if last, _ := m.ResolveLayer(""); t != last {
		fail(errorf(Invalid, "layer %s: this server explains model %s at its last stage (%s) only; `resnet explain --layer` reaches the others", t.Name, e.Name, last.Name))
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		fail(err)
		return
	}
	if wd, h, ok := headerSize(body); ok && int64(wd)*int64(h) > int64(s.opt.MaxPixels) {
		fail(errorf(TooLarge, "image is %dx%d = %d pixels, over the limit of %d (refused before decoding)", wd, h, int64(wd)*int64(h), s.opt.MaxPixels))
		return
	}
	select {
	case s.decode <- struct{}{}:
	case <-r.Context().Done():
		fail(r.Context().Err())
		return
	}
	defer func() { <-s.decode }()
	img, err := imageproc.DecodeWith(bytes.NewReader(body), s.decodeOptions())
	if err != nil {
		fail(errorf(UnsupportedMedia, "cannot decode the image: %v", err))
		return
	}
	ex, err := explain(img, class, layer, method)
	if err != nil {
		fail(errorf(Invalid, "cannot explain the image: %v", err))
		return
	}
	var buf bytes.Buffer
	if err := gradcam.EncodePNG(&buf, ex.Overlay); err != nil {
		fail(errorf(Internal, "encoding the overlay: %v", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("X-Class", strconv.Itoa(ex.Class))
	h.Set("X-Label", url.PathEscape(ex.Label))
	h.Set("X-Score", strconv.FormatFloat(float64(ex.Score), 'g', 6, 32))
	h.Set("X-Layer", ex.Layer)
	h.Set("X-Flat", strconv.FormatBool(ex.Flat))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// routeV1 handles /v1/models/{name}/explain.
func (s *Server) routeV1(w *recorder, r *http.Request, rest string) {
	name, ok := strings.CutSuffix(rest, explainSuffix)
	if !ok || name == "" || strings.Contains(name, "/") {
		s.writeError(w, errorf(NotFound, "no route %s: under /v1/models there is POST /v1/models/{name}/explain", r.URL.Path), "")
		return
	}
	if s.allow(w, r, http.MethodPost) {
		s.handleExplain(w, r, name)
	}
}
