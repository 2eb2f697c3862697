package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/status"

	"github.com/resnet-go/resnet/serve/inference"
)

// kind is one sort of request: run sends it and says how it was answered (an HTTP status or
// a gRPC code) and whether that was the expected answer.
type kind struct {
	name string
	bad  bool
	run  func() (answer string, err error)
}

// How far a good answer may be from the first answer for the same input. The server
// batches requests dynamically, and the batch size changes the kernels' blocking and so the
// float32 summation order: the built-in CIFAR ResNet-20's logits (|x| < 10) move by up to
// MaxLogitDiff (measured 1-2e-6, see the report), HF softmax scores by a few 1e-7.
const (
	logitsTol = 1e-4
	scoreTol  = 1e-5
)

func (s *soak) do(k kind) {
	answer, err := k.run()
	s.mu.Lock()
	t := s.rep.Requests[k.name]
	t.Sent++
	t.Status[answer]++
	if err != nil {
		t.Failed++
	}
	s.mu.Unlock()
	if err != nil {
		s.problem("%s: %v", k.name, err)
	}
}

// kinds builds the request mix: reads the model's input size, makes the inputs, and takes
// the reference answers (the first answer to each good input).
func (s *soak) kinds() ([]kind, error) {
	var meta struct {
		Inputs []struct {
			Name  string
			Shape []int
		}
	}
	if code, body, err := s.post("GET", "/v2/models/"+s.cfg.Model, nil, nil); err != nil || code != 200 {
		return nil, fmt.Errorf("model metadata of %s: status %d, %v %s", s.cfg.Model, code, err, body)
	} else if err := json.Unmarshal(body, &meta); err != nil {
		return nil, fmt.Errorf("model metadata: %v", err)
	}
	for _, in := range meta.Inputs {
		if in.Name == "pixel_values" && len(in.Shape) == 4 {
			s.h, s.w = in.Shape[2], in.Shape[3]
		}
	}
	if s.h <= 0 {
		return nil, fmt.Errorf("model metadata has no pixel_values [N,3,H,W] input: %+v", meta)
	}
	images := [][]byte{makePNG(40, 40), makeJPEG(64, 48)}
	rng := rand.New(rand.NewPCG(7, 7))
	pixels := make([]float32, 3*s.h*s.w)
	for i := range pixels {
		pixels[i] = float32(rng.NormFloat64())
	}
	pixBytes := fp32Bytes(pixels)
	path := "/v2/models/" + s.cfg.Model + "/infer"
	hfPath := "/models/" + s.cfg.Model

	// Reference answers: the binary route for the images, raw mode for the pixels.
	refImage := make([][]float32, len(images))
	for i, img := range images {
		l, _, err := s.oipBinaryImage(path, img)
		if err != nil {
			return nil, fmt.Errorf("reference answer for image %d: %v", i, err)
		}
		refImage[i] = l
	}
	refPixels, _, err := s.oipRaw(path, pixBytes)
	if err != nil {
		return nil, fmt.Errorf("reference answer for the pixel tensor: %v", err)
	}
	refHF := make([][]hfLabel, len(images))
	s.slowImage, s.slowRef = images[1], &refHF[1]
	for i, img := range images {
		code, body, err := s.post("POST", hfPath, img, nil)
		if err != nil || code != 200 {
			return nil, fmt.Errorf("reference HF answer: %d %v %s", code, err, body)
		}
		if err := json.Unmarshal(body, &refHF[i]); err != nil || len(refHF[i]) == 0 {
			return nil, fmt.Errorf("reference HF answer: %v %s", err, body)
		}
	}
	pick := func() int { return rand.IntN(len(images)) } // which image does not change any expectation
	check := func(got, want []float32, err error) error {
		if err != nil {
			return err
		}
		return s.sameLogits(got, want)
	}

	ks := []kind{
		{name: "oip-json-pixels", run: func() (string, error) {
			code, body, err := s.post("POST", path, jsonInfer("pixel_values", "FP32", []int{1, 3, s.h, s.w}, pixels), nil)
			l, err := parseOIP(code, body, err)
			return strconv.Itoa(code), check(l, refPixels, err)
		}},
		{name: "oip-json-image", run: func() (string, error) {
			i := pick()
			code, body, err := s.post("POST", path, jsonInfer("image", "BYTES", []int{1}, []string{base64.StdEncoding.EncodeToString(images[i])}), nil)
			l, err := parseOIP(code, body, err)
			return strconv.Itoa(code), check(l, refImage[i], err)
		}},
		{name: "oip-binary-image", run: func() (string, error) {
			i := pick()
			l, code, err := s.oipBinaryImage(path, images[i])
			return strconv.Itoa(code), check(l, refImage[i], err)
		}},
		{name: "oip-raw-pixels", run: func() (string, error) {
			l, code, err := s.oipRaw(path, pixBytes)
			return strconv.Itoa(code), check(l, refPixels, err)
		}},
		{name: "hf-image", run: func() (string, error) {
			i := pick()
			code, body, err := s.post("POST", hfPath, images[i], nil)
			if err == nil {
				err = s.sameLabels(code, body, refHF[i])
			}
			return strconv.Itoa(code), err
		}},
		{name: "grpc-image", run: func() (string, error) {
			i := pick()
			l, err := s.grpcInfer("image", "BYTES", []int64{1}, lengthPrefixed(images[i]))
			if err != nil {
				return status.Code(err).String(), err
			}
			return "OK", check(l, refImage[i], nil)
		}},
		{name: "grpc-pixels", run: func() (string, error) {
			l, err := s.grpcInfer("pixel_values", "FP32", []int64{1, 3, int64(s.h), int64(s.w)}, pixBytes)
			if err != nil {
				return status.Code(err).String(), err
			}
			return "OK", check(l, refPixels, nil)
		}},
	}

	// Bad requests, each with the one answer it must get.
	corrupt := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 64)...)
	truncJPEG := images[1][:len(images[1])/2]
	bomb := pngBomb(100000, 100000)
	gzBomb := gzipZeros(65 << 20) // inflates past the default --max-body of 64 MiB
	httpBad := func(name string, want int, method, p string, body []byte, h map[string]string) kind {
		return kind{name: name, bad: true, run: func() (string, error) {
			code, resp, err := s.post(method, p, body, h)
			return strconv.Itoa(code), expectError(code, resp, err, want)
		}}
	}
	binHeader := func(size int) (map[string]string, []byte) {
		head := fmt.Sprintf(`{"inputs":[{"name":"image","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":%d}}]}`, size)
		return map[string]string{"Inference-Header-Content-Length": strconv.Itoa(len(head))}, []byte(head)
	}
	h1, j1 := binHeader(4 + len(images[0]) + 100)
	ks = append(ks,
		httpBad("hf-corrupt-image", 415, "POST", hfPath, corrupt, nil),
		httpBad("hf-truncated-jpeg", 415, "POST", hfPath, truncJPEG, nil),
		httpBad("hf-pixel-bomb", 413, "POST", hfPath, bomb, nil),
		httpBad("hf-gzip-bomb", 413, "POST", hfPath, gzBomb, map[string]string{"Content-Encoding": "gzip"}),
		httpBad("oip-wrong-shape", 400, "POST", path, jsonInfer("pixel_values", "FP32", []int{1, 3, s.h, s.w + 1}, make([]float32, 3*s.h*(s.w+1))), nil),
		httpBad("oip-wrong-dtype", 400, "POST", path, jsonInfer("pixel_values", "INT32", []int{1, 3, s.h, s.w}, make([]int, 3*s.h*s.w)), nil),
		httpBad("oip-short-data", 400, "POST", path, jsonInfer("pixel_values", "FP32", []int{1, 3, s.h, s.w}, pixels[:100]), nil),
		httpBad("oip-binary-size", 400, "POST", path, append(j1, lengthPrefixed(images[0])...), h1),
		httpBad("oip-header-length", 400, "POST", path, []byte(`{"inputs":[]}`), map[string]string{"Inference-Header-Content-Length": "9999"}),
		httpBad("oip-raw-bomb", 413, "POST", path, bomb, map[string]string{"Inference-Header-Content-Length": "0"}),
		httpBad("oip-bad-json", 400, "POST", path, []byte(`{"inputs": [{"name": "image", "shape": [1], `), nil),
		httpBad("unknown-model", 404, "POST", "/v2/models/no-such-model/infer", jsonInfer("image", "BYTES", []int{1}, []string{""}), nil),
		kind{name: "truncated-body", bad: true, run: func() (string, error) {
			return s.truncated(path, jsonInfer("pixel_values", "FP32", []int{1, 3, s.h, s.w}, pixels))
		}},
		kind{name: "grpc-wrong-shape", bad: true, run: func() (string, error) {
			_, err := s.grpcInfer("pixel_values", "FP32", []int64{1, 3, int64(s.h) + 1, int64(s.w)}, fp32Bytes(make([]float32, 3*(s.h+1)*s.w)))
			return expectCode(err, "InvalidArgument")
		}},
		kind{name: "grpc-raw-size", bad: true, run: func() (string, error) {
			_, err := s.grpcInfer("pixel_values", "FP32", []int64{1, 3, int64(s.h), int64(s.w)}, pixBytes[:len(pixBytes)-4])
			return expectCode(err, "InvalidArgument")
		}},
		kind{name: "grpc-corrupt-image", bad: true, run: func() (string, error) {
			_, err := s.grpcInfer("image", "BYTES", []int64{1}, lengthPrefixed(corrupt))
			return expectCode(err, "InvalidArgument")
		}},
		kind{name: "grpc-pixel-bomb", bad: true, run: func() (string, error) {
			_, err := s.grpcInfer("image", "BYTES", []int64{1}, lengthPrefixed(bomb))
			return expectCode(err, "ResourceExhausted")
		}},
	)
	return ks, nil
}

// post sends a request and reads the whole answer.
func (s *soak) post(method, path string, body []byte, h map[string]string) (int, []byte, error) {
	req, err := http.NewRequest(method, s.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if v := resp.Header.Get("Inference-Header-Content-Length"); v != "" && err == nil {
		n, _ := strconv.Atoi(v)
		return resp.StatusCode, b, errBinary{n}
	}
	return resp.StatusCode, b, err
}

// errBinary marks an answer with a binary part after n bytes of JSON (not an error).
type errBinary struct{ n int }

func (e errBinary) Error() string { return "binary answer" }

// parseOIP reads the logits of a one-image OIP answer, JSON or binary.
func parseOIP(code int, body []byte, err error) ([]float32, error) {
	var eb errBinary
	head, tail := body, []byte(nil)
	if errors.As(err, &eb) {
		if eb.n > len(body) {
			return nil, fmt.Errorf("Inference-Header-Content-Length %d > body %d", eb.n, len(body))
		}
		head, tail = body[:eb.n], body[eb.n:]
	} else if err != nil {
		return nil, err
	}
	if code != 200 {
		return nil, fmt.Errorf("status %d: %.300s", code, body)
	}
	var r struct {
		Outputs []struct {
			Name       string
			Shape      []int
			Parameters map[string]any
			Data       []float32
		}
	}
	if err := json.Unmarshal(head, &r); err != nil {
		return nil, fmt.Errorf("answer is not OIP JSON: %v: %.300s", err, head)
	}
	off := 0 // binary outputs follow the JSON in the order of the outputs
	for _, o := range r.Outputs {
		size, isBinary := o.Parameters["binary_data_size"].(float64)
		if isBinary && (int(size) < 0 || off+int(size) > len(tail)) {
			return nil, fmt.Errorf("output %s: binary_data_size %v, %d bytes left", o.Name, size, len(tail)-off)
		}
		part := tail[off : off+int(size)]
		off += int(size)
		if o.Name != "logits" {
			continue
		}
		if !isBinary {
			return o.Data, nil
		}
		out := make([]float32, len(part)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(part[4*i:]))
		}
		return out, nil
	}
	return nil, fmt.Errorf("no logits in %.300s", head)
}

// checkLogits wraps parseOIPErr for the check helper.
func (s *soak) oipBinaryImage(path string, img []byte) ([]float32, int, error) {
	head := fmt.Sprintf(`{"inputs":[{"name":"image","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":%d}}],"outputs":[{"name":"logits","parameters":{"binary_data":true}}]}`, 4+len(img))
	body := append([]byte(head), lengthPrefixed(img)...)
	code, resp, err := s.post("POST", path, body, map[string]string{"Inference-Header-Content-Length": strconv.Itoa(len(head)), "Content-Type": "application/octet-stream"})
	l, err := parseOIP(code, resp, err)
	return l, code, err
}

// oipRaw sends a raw binary request (Inference-Header-Content-Length: 0).
func (s *soak) oipRaw(path string, body []byte) ([]float32, int, error) {
	code, resp, err := s.post("POST", path, body, map[string]string{"Inference-Header-Content-Length": "0"})
	l, err := parseOIP(code, resp, err)
	return l, code, err
}

func (s *soak) grpcInfer(input, dtype string, shape []int64, raw []byte) ([]float32, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := s.grpc.ModelInfer(ctx, &inference.ModelInferRequest{
		ModelName:        s.cfg.Model,
		Inputs:           []*inference.ModelInferRequest_InferInputTensor{{Name: input, Datatype: dtype, Shape: shape}},
		Outputs:          []*inference.ModelInferRequest_InferRequestedOutputTensor{{Name: "logits"}},
		RawInputContents: [][]byte{raw},
	})
	if err != nil {
		return nil, err
	}
	if len(resp.RawOutputContents) == 1 {
		b := resp.RawOutputContents[0]
		out := make([]float32, len(b)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return out, nil
	}
	if len(resp.Outputs) == 1 && resp.Outputs[0].Contents != nil {
		return resp.Outputs[0].Contents.Fp32Contents, nil
	}
	return nil, fmt.Errorf("ModelInfer answer has no logits: %v", resp)
}

// truncated sends a request whose body stops halfway (Content-Length promises more), then
// half-closes the connection: the server must answer 400 with a JSON error.
func (s *soak) truncated(path string, body []byte) (string, error) {
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.base, "http://"), 10*time.Second)
	if err != nil {
		return "dial", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, len(body))
	c.Write(body[:len(body)/2])
	c.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "no answer", fmt.Errorf("no answer to a truncated body: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strconv.Itoa(resp.StatusCode), expectError(resp.StatusCode, b, nil, 400)
}

// slowHeaders is a slowloris client: it sends a request line and then one header byte a
// second, never finishing. The server must close the connection after its 10 s
// ReadHeaderTimeout (plus scheduling slack).
func (s *soak) slowHeaders(ctx context.Context) {
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.base, "http://"), 10*time.Second)
	if err != nil {
		s.problem("slow client: %v", err)
		return
	}
	defer c.Close()
	start := time.Now()
	fmt.Fprintf(c, "POST /models/%s HTTP/1.1\r\nHost: soak\r\n", s.cfg.Model)
	buf := make([]byte, 512)
	for i := 0; ; i++ {
		if ctx.Err() != nil {
			return // the run is over; this session is not counted
		}
		if _, err := c.Write([]byte{"X-Slow: aaaa\r\n"[i%14]}); err != nil {
			break
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if time.Since(start) > 20*time.Second {
					s.problem("a slowloris connection is still open after %v", time.Since(start).Round(time.Second))
					return
				}
				continue
			}
		}
		break // closed (or a 408), as it should be
	}
	d := time.Since(start).Seconds()
	s.mu.Lock()
	r := s.rep
	if r.SlowHeaders == 0 || d < r.HeaderCutoff[0] {
		r.HeaderCutoff[0] = d
	}
	r.HeaderCutoff[1] = max(r.HeaderCutoff[1], d)
	r.SlowHeaders++
	s.mu.Unlock()
	if d < 8 {
		s.problem("a slowloris connection was cut after %.1f s, before the 10 s header timeout", d)
	}
}

// slowBody sends a valid HF request whose image arrives in 8 pieces over 2.4 s: a slow but
// good client, which must get the same answer as a fast one.
func (s *soak) slowBody() {
	img := s.slowImage
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < 8; i++ {
			time.Sleep(300 * time.Millisecond)
			pw.Write(img[i*len(img)/8 : (i+1)*len(img)/8])
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", s.base+"/models/"+s.cfg.Model, pr)
	req.ContentLength = int64(len(img))
	resp, err := s.http.Do(req)
	if err != nil {
		s.problem("slow body: %v", err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := s.sameLabels(resp.StatusCode, b, *s.slowRef); err != nil {
		s.problem("slow body: %v", err)
	}
	s.mu.Lock()
	s.rep.SlowBodies++
	s.mu.Unlock()
}

// declaredBody promises a 64 MiB body, sends one byte and holds the connection for 3 s, as
// a client that stalls (or an attacker counting on the server to allocate what it promised).
func (s *soak) declaredBody() {
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.base, "http://"), 10*time.Second)
	if err != nil {
		s.problem("declared body: %v", err)
		return
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /models/%s HTTP/1.1\r\nHost: soak\r\nContent-Length: %d\r\n\r\nx", s.cfg.Model, 64<<20)
	time.Sleep(3 * time.Second)
	s.mu.Lock()
	s.rep.Declared++
	s.mu.Unlock()
}

// expectError checks for the status want with a JSON {"error": non-empty}.
func expectError(code int, body []byte, err error, want int) error {
	if err != nil {
		return err
	}
	var e struct{ Error string }
	if code != want {
		return fmt.Errorf("status %d, want %d: %.300s", code, want, body)
	}
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		return fmt.Errorf("status %d without a JSON error: %.300s", code, body)
	}
	return nil
}

func expectCode(err error, want string) (string, error) {
	got := status.Code(err).String()
	if got != want {
		return got, fmt.Errorf("gRPC code %s, want %s (%v)", got, want, err)
	}
	if msg := status.Convert(err).Message(); msg == "" {
		return got, fmt.Errorf("gRPC %s without a message", got)
	}
	return got, nil
}

type hfLabel struct {
	Label string
	Score float64
}

// sameLabels checks an HF answer against the first one: the same labels in the same order,
// scores within scoreTol.
func (s *soak) sameLabels(code int, body []byte, want []hfLabel) error {
	var got []hfLabel
	if code != 200 || json.Unmarshal(body, &got) != nil || len(got) != len(want) {
		return fmt.Errorf("status %d, answer %.300s", code, body)
	}
	worst := 0.0
	for i := range got {
		if got[i].Label != want[i].Label {
			return fmt.Errorf("labels %.300s, want %+v", body, want)
		}
		worst = max(worst, math.Abs(got[i].Score-want[i].Score))
	}
	s.mu.Lock()
	s.rep.MaxScoreDiff = max(s.rep.MaxScoreDiff, worst)
	s.mu.Unlock()
	if worst > scoreTol {
		return fmt.Errorf("scores differ from the first answer by %.3g: %.300s, want %+v", worst, body, want)
	}
	return nil
}

func (s *soak) sameLogits(got, want []float32) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d logits, want %d", len(got), len(want))
	}
	worst := 0.0
	for i := range got {
		worst = max(worst, math.Abs(float64(got[i])-float64(want[i])))
	}
	s.mu.Lock()
	s.rep.MaxLogitDiff = max(s.rep.MaxLogitDiff, worst)
	s.mu.Unlock()
	if worst > logitsTol || argmax(got) != argmax(want) {
		return fmt.Errorf("logits differ from the first answer by up to %.3g (top class %d, want %d)", worst, argmax(got), argmax(want))
	}
	return nil
}

func argmax(v []float32) int {
	best := 0
	for i := range v {
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}

func jsonInfer(name, dtype string, shape []int, data any) []byte {
	b, _ := json.Marshal(map[string]any{
		"inputs":  []any{map[string]any{"name": name, "datatype": dtype, "shape": shape, "data": data}},
		"outputs": []any{map[string]any{"name": "logits"}},
	})
	return b
}

func fp32Bytes(v []float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// lengthPrefixed is one BYTES element in binary form: a 4-byte little-endian length first.
func lengthPrefixed(b []byte) []byte {
	return append(binary.LittleEndian.AppendUint32(nil, uint32(len(b))), b...)
}

func testImage(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x * y) % 256), 255})
		}
	}
	return img
}

func makePNG(w, h int) []byte {
	var b bytes.Buffer
	png.Encode(&b, testImage(w, h))
	return b.Bytes()
}

func makeJPEG(w, h int) []byte {
	var b bytes.Buffer
	jpeg.Encode(&b, testImage(w, h), &jpeg.Options{Quality: 90})
	return b.Bytes()
}

// pngBomb is a valid PNG header that declares w×h RGB pixels, followed by a tiny IDAT: a
// server that allocated before checking would need w*h*4 bytes.
func pngBomb(w, h uint32) []byte {
	chunk := func(typ string, data []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		b = append(b, typ...)
		b = append(b, data...)
		return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, w), h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, chunk("IHDR", ihdr)...)
	out = append(out, chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	return append(out, chunk("IEND", nil)...)
}

// gzipZeros is n zero bytes, gzipped (about n/1000 bytes).
func gzipZeros(n int) []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, len(zeros))
		zw.Write(zeros[:k])
		n -= k
	}
	zw.Close()
	return b.Bytes()
}
