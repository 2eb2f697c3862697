package serve

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Handler is the REST front end: OIP v2 under /v2, the HF Inference API routes (POST /,
// /predict, /models/{name}, /hf/models/{name}), GET /metrics and the web page at GET /.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	if id := r.Header.Get("X-Request-Id"); id != "" {
		rec.Header().Set("X-Request-Id", id)
	}
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic while serving a request", "method", r.Method, "path", r.URL.Path, "panic", p)
			if !rec.wrote {
				s.writeError(rec, errorf(Internal, "internal error"), "")
			}
		}
		if s.log.Enabled(r.Context(), slog.LevelDebug) {
			// Never the headers: clients send Authorization tokens.
			s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
				"bytes_in", r.ContentLength, "bytes_out", rec.bytes, "duration", time.Since(start),
				"id", rec.Header().Get("X-Request-Id"), "remote", r.RemoteAddr, "model", rec.model)
		}
	}()
	if s.cors(rec, r) {
		return
	}
	s.route(rec, r)
}

// recorder remembers the status and size of a response, for the request log.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
	model  string
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// route dispatches on the path; every failure, a wrong method or an unknown path included,
// answers {"error": ...}.
func (s *Server) route(w *recorder, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/":
		if r.Method == http.MethodPost {
			s.handleHF(w, r, "")
		} else if s.allow(w, r, http.MethodGet, http.MethodPost) {
			s.handlePage(w, r)
		}
	case p == "/predict":
		if s.allow(w, r, http.MethodPost) {
			s.handleHF(w, r, "")
		}
	case p == "/health":
		if s.allow(w, r, http.MethodGet) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, "Ok")
		}
	case p == MetricsPath:
		if s.allow(w, r, http.MethodGet) {
			s.metrics.handler.ServeHTTP(w, r)
		}
	case p == LivePath:
		if s.allow(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, map[string]bool{"live": true})
		}
	case p == ReadyPath:
		if s.allow(w, r, http.MethodGet) {
			s.handleReady(w)
		}
	case p == "/v2" || p == "/v2/":
		if s.allow(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, map[string]any{
				"name": s.opt.Name, "version": s.opt.Version,
				"extensions": serverExtensions,
			})
		}
	case strings.HasPrefix(p, "/v2/models/"):
		s.routeModel(w, r, strings.TrimPrefix(p, "/v2/models/"))
	case strings.HasPrefix(p, "/v1/models/"):
		s.routeV1(w, r, strings.TrimPrefix(p, "/v1/models/"))
	case strings.HasPrefix(p, "/models/") || strings.HasPrefix(p, "/hf/models/"):
		name := p[strings.Index(p, "/models/")+len("/models/"):]
		if name == "" || strings.Contains(name, "/") {
			s.writeError(w, errorf(NotFound, "no route %s: POST /models/{name} takes a model name", p), "")
		} else if s.allow(w, r, http.MethodPost) {
			s.handleHF(w, r, name)
		}
	default:
		s.writeError(w, errorf(NotFound, "no route %s %s (see GET /v2 for the protocol, GET / for the web page)", r.Method, p), "")
	}
}

// routeModel handles /v2/models/{name}[/versions/{v}][/ready|/infer].
func (s *Server) routeModel(w *recorder, r *http.Request, rest string) {
	parts := strings.Split(rest, "/")
	name, version := parts[0], ""
	parts = parts[1:]
	if len(parts) >= 2 && parts[0] == "versions" {
		version, parts = parts[1], parts[2:]
	}
	w.model = name
	action := strings.Join(parts, "/")
	switch action {
	case "":
		if s.allow(w, r, http.MethodGet) {
			md, err := s.ModelMetadata(name, version)
			if err != nil {
				s.writeError(w, err, name)
				return
			}
			writeJSON(w, http.StatusOK, md)
		}
	case "ready":
		if s.allow(w, r, http.MethodGet) {
			ready, err := s.ModelReady(name, version)
			if err != nil {
				s.writeError(w, err, name)
				return
			}
			status := http.StatusOK
			if !ready {
				status = http.StatusServiceUnavailable
			}
			writeJSON(w, status, map[string]any{"name": name, "ready": ready})
		}
	case "infer":
		if s.allow(w, r, http.MethodPost) {
			s.handleInfer(w, r, name, version)
		}
	default:
		s.writeError(w, errorf(NotFound, "no route %s: under /v2/models/{name}[/versions/{v}] there are GET (metadata), GET /ready and POST /infer", r.URL.Path), name)
	}
}

// allow answers 405 (with Allow) unless the method is one of methods; GET allows HEAD.
func (s *Server) allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	if slices.Contains(methods, r.Method) || (r.Method == http.MethodHead && slices.Contains(methods, http.MethodGet)) {
		return true
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": fmt.Sprintf("method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(methods, ", "))})
	return false
}

func (s *Server) handleReady(w http.ResponseWriter) {
	switch {
	case s.draining.Load():
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "error": "server is shutting down"})
	case !s.loaded.Load():
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "error": "server is loading its models"})
	default:
		writeJSON(w, http.StatusOK, map[string]bool{"ready": true})
	}
}

// writeError answers {"error": msg} with the status of the error's kind; refusals for load
// come with Retry-After.
func (s *Server) writeError(w http.ResponseWriter, err error, model string) {
	k := kindOf(err)
	if k == Overloaded || k == Unavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, s.httpStatus(k), map[string]string{"error": message(err, model)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(map[string]string{"error": "cannot encode the response as JSON: " + err.Error()})
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// readBody reads the request body within MaxBody, after gzip or deflate decoding if the
// body is compressed (the limit applies to the decoded size, as in Triton).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := s.opt.MaxBody
	tooLarge := errorf(TooLarge, "request body is larger than the limit of %d bytes (--max-body)", limit)
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	if enc == "" || enc == "identity" {
		if r.ContentLength > limit {
			return nil, tooLarge
		}
	} else if enc != "gzip" && enc != "deflate" {
		w.Header().Set("Accept-Encoding", "gzip, deflate")
		return nil, errorf(Unimplemented, "Content-Encoding %q is not supported (gzip, deflate)", enc)
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	if enc == "gzip" || enc == "deflate" {
		raw, err := io.ReadAll(body)
		if err != nil {
			return nil, bodyError(err, tooLarge, "")
		}
		return decompress(enc, raw, limit, tooLarge)
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		// Content-Length is only a claim: allocating all of it before the bytes arrive let
		// a few headers pin 64 MiB each until ReadTimeout. Beyond 1 MiB the buffer grows
		// with the data.
		buf.Grow(int(min(r.ContentLength, 1<<20)))
	}
	n, err := buf.ReadFrom(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, bodyError(err, tooLarge, enc)
	}
	if n > limit {
		return nil, tooLarge
	}
	return buf.Bytes(), nil
}

// decompress inflates a gzip or deflate body of at most limit decoded bytes in two passes:
// the first only counts, so a bomb is refused without holding its output (one 64 KiB gzip of
// zeros used to grow a buffer to 128 MiB before the 413: the soak's RSS was 10 times its
// size without bombs); the second fills a buffer of exactly the counted size.
func decompress(enc string, raw []byte, limit int64, tooLarge *Error) ([]byte, error) {
	open := func() (io.ReadCloser, error) {
		if enc == "gzip" {
			return gzip.NewReader(bytes.NewReader(raw))
		}
		return zlib.NewReader(bytes.NewReader(raw))
	}
	zr, err := open()
	if err != nil {
		return nil, bodyError(err, tooLarge, enc)
	}
	n, err := io.Copy(io.Discard, io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, bodyError(err, tooLarge, enc)
	}
	if n > limit {
		return nil, tooLarge
	}
	if zr, err = open(); err != nil {
		return nil, bodyError(err, tooLarge, enc)
	}
	out := make([]byte, n)
	if _, err := io.ReadFull(zr, out); err != nil {
		return nil, bodyError(err, tooLarge, enc)
	}
	return out, nil
}

func bodyError(err error, tooLarge *Error, enc string) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return tooLarge
	}
	if enc != "" && enc != "identity" {
		return errorf(Invalid, "cannot decode the %s request body: %v", enc, err)
	}
	return errorf(Invalid, "reading the request body: %v", err)
}

// cors adds CORS headers for an allowed Origin and answers preflight requests; with no
// origins configured it does nothing. It reports whether it answered the request.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	if len(s.opt.CORSOrigins) == 0 {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	w.Header().Add("Vary", "Origin")
	allowed := slices.Contains(s.opt.CORSOrigins, "*") || slices.Contains(s.opt.CORSOrigins, origin)
	if !allowed {
		return false
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	w.Header().Set("Access-Control-Expose-Headers", "Inference-Header-Content-Length, X-Request-Id, Retry-After")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Content-Encoding, Inference-Header-Content-Length, Authorization, X-Request-Id")
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}
