package serve

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/resnet-go/resnet"
	"github.com/resnet-go/resnet/batching"
	"github.com/resnet-go/resnet/imageproc"
	"github.com/resnet-go/resnet/tensor"
)

// Input and output tensor names, as model metadata lists them.
const (
	InputImage          = "image"         // BYTES [N]: encoded image files
	InputPixels         = "pixel_values"  // FP32 [N, 3, H, W]: preprocessed
	OutputLogits        = "logits"        // FP32 [N, K]
	OutputProbabilities = "probabilities" // FP32 [N, K]: softmax, or sigmoid for multi-label models
	OutputEmbedding     = "embedding"     // FP32 [N, F]: the pooled features (HF's pooler_output)
)

// InferRequest is an inference request in no particular protocol.
type InferRequest struct {
	Model   string
	Version string // "" or "1"
	ID      string // echoed in the response
	// Exactly one of Images and Pixels is set.
	Images [][]byte       // encoded image files (input "image"), preprocessed as `resnet classify` does
	Pixels *tensor.Tensor // an already preprocessed batch [N, 3, H, W] (input "pixel_values")
	// Outputs selects outputs; none means every output with default settings.
	Outputs []OutputRequest
}

// OutputRequest asks for one output.
type OutputRequest struct {
	Name string
	// Classification k > 0 replaces the output with its k largest values per row as BYTES
	// [N, k] strings "value:index:label" (Triton's classification extension).
	Classification int
}

// Tensor is one output: FP32 data or, for BYTES, one byte string per element.
type Tensor struct {
	Name     string
	Datatype string // "FP32" or "BYTES"
	Shape    []int
	FP32     []float32
	Bytes    [][]byte
}

// InferResponse is the answer to an InferRequest.
type InferResponse struct {
	Model   string
	Version string // echoes the request's
	ID      string
	Outputs []Tensor
}

// Infer runs a request through the model's batching queue. Errors are *Error values or
// wrap the batcher's and the context's errors; kindOf classifies them.
func (s *Server) Infer(ctx context.Context, req *InferRequest) (*InferResponse, error) {
	if req == nil {
		return nil, errorf(Invalid, "no request")
	}
	e, err := s.lookup(req.Model)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	resp, err := s.infer(ctx, e, req)
	s.metrics.done(e.Name, time.Since(start), err)
	return resp, err
}

func (s *Server) infer(ctx context.Context, e *entry, req *InferRequest) (*InferResponse, error) {
	if err := checkVersion(e.Name, req.Version); err != nil {
		return nil, err
	}
	outs, err := e.checkOutputs(req.Outputs)
	if err != nil {
		return nil, err
	}
	var x *tensor.Tensor
	switch {
	case req.Images != nil && req.Pixels != nil:
		return nil, errorf(Invalid, "give one input, %s or %s, not both", InputImage, InputPixels)
	case req.Images != nil:
		if x, err = s.preprocess(ctx, e, req.Images); err != nil {
			return nil, err
		}
	case req.Pixels != nil:
		if err := s.checkPixels(e, req.Pixels); err != nil {
			return nil, err
		}
		x = req.Pixels
	default:
		return nil, errorf(Invalid, "no input: send %s (BYTES [N], encoded images) or %s (FP32 %s)", InputImage, InputPixels, shapeString(e.pixelShape()))
	}
	ctx, cancel := context.WithTimeout(ctx, s.opt.RequestTimeout)
	defer cancel()
	res, err := e.batcher.Infer(ctx, x)
	if err != nil {
		return nil, err
	}
	resp := &InferResponse{Model: e.Name, Version: req.Version, ID: req.ID}
	for _, o := range outs {
		resp.Outputs = append(resp.Outputs, e.output(o, res))
	}
	return resp, nil
}

// outputNames are the outputs a model offers: a feature extractor (no labels) has no
// probabilities.
func (e *entry) outputNames() []string {
	if e.Model.Model.Config.NumLabels == 0 {
		return []string{OutputLogits, OutputEmbedding}
	}
	return []string{OutputLogits, OutputProbabilities, OutputEmbedding}
}

func (e *entry) checkOutputs(reqs []OutputRequest) ([]OutputRequest, error) {
	if len(reqs) == 0 {
		for _, n := range e.outputNames() {
			reqs = append(reqs, OutputRequest{Name: n})
		}
		return reqs, nil
	}
	seen := map[string]bool{}
	for _, o := range reqs {
		known := false
		for _, n := range e.outputNames() {
			known = known || n == o.Name
		}
		switch {
		case !known:
			return nil, errorf(Invalid, "unknown output %q (model %s has %s)", o.Name, e.Name, joinNames(e.outputNames()))
		case seen[o.Name]:
			return nil, errorf(Invalid, "output %q requested twice", o.Name)
		case o.Classification < 0:
			return nil, errorf(Invalid, "output %q: classification %d must be positive", o.Name, o.Classification)
		}
		seen[o.Name] = true
	}
	return reqs, nil
}

// output computes one requested output from the batch result.
func (e *entry) output(o OutputRequest, res *batching.Result) Tensor {
	n := res.Logits.Shape[0]
	var data []float32
	var width int
	switch o.Name {
	case OutputEmbedding:
		data, width = res.Pooled.Data, res.Pooled.Shape[1]
	case OutputProbabilities:
		width = res.Logits.Shape[1]
		data = e.probabilities(res.Logits.Data, width, "")
	default:
		data, width = res.Logits.Data, res.Logits.Shape[1]
	}
	if o.Classification == 0 {
		return Tensor{Name: o.Name, Datatype: "FP32", Shape: []int{n, width}, FP32: data}
	}
	k := min(o.Classification, width)
	out := Tensor{Name: o.Name, Datatype: "BYTES", Shape: []int{n, k}}
	cfg := &e.Model.Model.Config
	for i := range n {
		row := data[i*width : (i+1)*width]
		for _, j := range topIndices(row, k) {
			s := strconv.FormatFloat(float64(row[j]), 'f', 6, 32) + ":" + strconv.Itoa(j)
			if o.Name != OutputEmbedding {
				s += ":" + cfg.Label(j)
			}
			out.Bytes = append(out.Bytes, []byte(s))
		}
	}
	return out
}

// probabilities applies fn ("softmax", "sigmoid", "none"; "" = the model's default: sigmoid
// for multi-label checkpoints and single-logit heads, softmax otherwise, as transformers'
// image-classification pipeline) to each row of logits.
func (e *entry) probabilities(logits []float32, width int, fn string) []float32 {
	if fn == "" {
		fn = e.defaultFunction()
	}
	out := make([]float32, len(logits))
	for i := 0; i+width <= len(logits) && width > 0; i += width {
		row := logits[i : i+width]
		switch fn {
		case "sigmoid":
			for j, v := range row {
				out[i+j] = float32(1 / (1 + math.Exp(-float64(v))))
			}
		case "none":
			copy(out[i:], row)
		default:
			copy(out[i:], resnet.Softmax(row))
		}
	}
	return out
}

func (e *entry) defaultFunction() string {
	if e.MultiLabel || e.Model.Model.Config.Sigmoid() {
		return "sigmoid"
	}
	return "softmax"
}

// topIndices returns the indices of the k largest values, largest first, lower index first
// among equals.
func topIndices(row []float32, k int) []int {
	if k > 32 {
		idx := make([]int, len(row))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return row[idx[a]] > row[idx[b]] })
		return idx[:k]
	}
	idx := make([]int, 0, k)
	for j, v := range row {
		pos := len(idx)
		for pos > 0 && row[idx[pos-1]] < v {
			pos--
		}
		if pos >= k {
			continue
		}
		if len(idx) < k {
			idx = append(idx, 0)
		}
		copy(idx[pos+1:], idx[pos:len(idx)-1])
		idx[pos] = j
	}
	return idx
}

// pixelShape is the FP32 input's shape in metadata terms (-1: any).
func (e *entry) pixelShape() []int {
	h, w := e.inputH, e.inputW
	if h == 0 {
		h, w = -1, -1
	}
	return []int{-1, 3, h, w}
}

func (s *Server) checkPixels(e *entry, x *tensor.Tensor) error {
	want := e.pixelShape()
	sh := x.Shape
	if len(sh) == 4 && sh[0] == 0 {
		return errorf(Invalid, "%s has a batch of 0 images (shape %s): send at least one", InputPixels, shapeString(sh))
	}
	if len(sh) != 4 || sh[0] < 1 || sh[1] != 3 || (want[2] > 0 && (sh[2] != want[2] || sh[3] != want[3])) || sh[2] < 1 || sh[3] < 1 {
		return errorf(Invalid, "%s must be FP32 %s for model %s, got shape %s", InputPixels, shapeString(want), e.Name, shapeString(sh))
	}
	if len(x.Data) != tensor.Numel(sh) {
		return errorf(Invalid, "%s has %d values for shape %s (%d)", InputPixels, len(x.Data), shapeString(sh), tensor.Numel(sh))
	}
	if sh[0] > s.opt.MaxRequestImages {
		return errorf(TooLarge, "%s holds %d images; the limit per request is %d", InputPixels, sh[0], s.opt.MaxRequestImages)
	}
	if int64(sh[2])*int64(sh[3]) > int64(s.opt.MaxPixels) {
		return errorf(TooLarge, "%s images are %dx%d, over the limit of %d pixels", InputPixels, sh[3], sh[2], s.opt.MaxPixels)
	}
	for i, v := range x.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return errorf(Invalid, "%s value %d is %v; inputs must be finite", InputPixels, i, v)
		}
	}
	return nil
}

// preprocess decodes and preprocesses encoded images on the server's decode workers.
func (s *Server) preprocess(ctx context.Context, e *entry, images [][]byte) (*tensor.Tensor, error) {
	n := len(images)
	switch {
	case n == 0:
		return nil, errorf(Invalid, "input %s has no images", InputImage)
	case n > s.opt.MaxRequestImages:
		return nil, errorf(TooLarge, "request holds %d images; the limit per request is %d", n, s.opt.MaxRequestImages)
	}
	start := time.Now()
	xs := make([]*tensor.Tensor, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range images {
		select {
		case s.decode <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return nil, ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer func() { <-s.decode; wg.Done() }()
			xs[i], errs[i] = s.preprocessOne(e, images[i])
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			continue
		}
		if n > 1 {
			err.(*Error).Msg = fmt.Sprintf("image %d: %s", i, err.(*Error).Msg)
		}
		return nil, err
	}
	x, err := resnet.Stack(xs)
	if err != nil {
		return nil, errorf(Invalid, "the images of one request must preprocess to one size for model %s (it keeps each image's size): %v", e.Name, err)
	}
	s.metrics.preprocessed(e.Name, time.Since(start))
	return x, nil
}

// decodeOptions are the server's MaxPixels and KeepOrientation.
func (s *Server) decodeOptions() imageproc.DecodeOptions {
	return imageproc.DecodeOptions{MaxPixels: s.opt.MaxPixels, KeepOrientation: s.opt.KeepOrientation}
}

// preprocessOne checks the image's declared size from its header, then decodes and
// preprocesses it exactly as `resnet classify` does (imageproc.DecodeWith, Model.PreprocessRGB).
func (s *Server) preprocessOne(e *entry, data []byte) (*tensor.Tensor, error) {
	if w, h, ok := headerSize(data); ok && int64(w)*int64(h) > int64(s.opt.MaxPixels) {
		return nil, errorf(TooLarge, "image is %dx%d = %d pixels, over the limit of %d (refused before decoding)", w, h, int64(w)*int64(h), s.opt.MaxPixels)
	}
	img, err := imageproc.DecodeWith(bytes.NewReader(data), s.decodeOptions())
	if err != nil {
		return nil, errorf(UnsupportedMedia, "cannot decode the image: %v", err)
	}
	defer img.Release() // its memory serves the next request's decode
	x, err := e.Model.Model.PreprocessRGB(img)
	if err != nil {
		return nil, errorf(Invalid, "cannot preprocess the image: %v", err)
	}
	return x, nil
}

// headerSize reads an image's width and height from its header alone (no pixels decoded).
func headerSize(data []byte) (w, h int, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return 0, 0, false
	}
	return cfg.Width, cfg.Height, true
}

func shapeString(s []int) string {
	b := []byte{'['}
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(v), 10)
	}
	return string(append(b, ']'))
}

func pixelTensor(shape []int, vals []float32) *tensor.Tensor {
	return &tensor.Tensor{Shape: shape, Data: vals}
}
