package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/resnet-go/resnet/batching"
)

// Kind classifies a failure the way every protocol needs: an HTTP status, a gRPC code, a
// metrics reason.
type Kind int

const (
	Invalid          Kind = iota // bad request: 400, INVALID_ARGUMENT
	NotFound                     // unknown model, version or route: 404, NOT_FOUND
	TooLarge                     // body, pixels or images over a limit: 413, RESOURCE_EXHAUSTED
	UnsupportedMedia             // undecodable image: 415, INVALID_ARGUMENT
	Unimplemented                // a feature the server lacks: 501, UNIMPLEMENTED
	Unavailable                  // loading or shutting down: 503, UNAVAILABLE
	Overloaded                   // queue full: 503 or 429 with Retry-After, UNAVAILABLE
	Timeout                      // the request deadline passed in the queue: 503, DEADLINE_EXCEEDED
	Canceled                     // the client went away: 499 (never seen by it), CANCELLED
	Internal                     // the model failed: 500, INTERNAL
)

// Error is a failure with its kind; its message is what the client reads in {"error": ...}.
type Error struct {
	Kind Kind
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

func errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// kindOf classifies any error: ours, the batcher's, a context's.
func kindOf(err error) Kind {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e.Kind
	case errors.Is(err, batching.ErrQueueFull):
		return Overloaded
	case errors.Is(err, batching.ErrClosed):
		return Unavailable
	case errors.Is(err, context.DeadlineExceeded):
		return Timeout
	case errors.Is(err, context.Canceled):
		return Canceled
	}
	return Internal
}

// httpStatus is the status of a failure kind (serving spec §8).
func (s *Server) httpStatus(k Kind) int {
	switch k {
	case Invalid:
		return http.StatusBadRequest
	case NotFound:
		return http.StatusNotFound
	case TooLarge:
		return http.StatusRequestEntityTooLarge
	case UnsupportedMedia:
		return http.StatusUnsupportedMediaType
	case Unimplemented:
		return http.StatusNotImplemented
	case Unavailable, Timeout:
		return http.StatusServiceUnavailable
	case Overloaded:
		return s.opt.OverloadStatus
	case Canceled:
		return 499 // nginx's "client closed request": only the log sees it
	}
	return http.StatusInternalServerError
}

// reason is the failure label of resnet_inference_request_failure_total.
func reason(k Kind) string {
	switch k {
	case Overloaded, Unavailable:
		return "rejected"
	case Timeout:
		return "timeout"
	case Canceled:
		return "canceled"
	case Internal:
		return "backend"
	}
	return "invalid"
}

// message is the client-facing text of an error.
func message(err error, model string) string {
	switch kindOf(err) {
	case Overloaded:
		return fmt.Sprintf("server overloaded: the queue of model %s is full (%v); retry later", model, err)
	case Timeout:
		return fmt.Sprintf("request timed out before model %s could run it", model)
	case Canceled:
		return "request canceled by the client"
	case Unavailable:
		var e *Error
		if errors.As(err, &e) {
			return e.Msg
		}
		return fmt.Sprintf("model %s is shutting down", model)
	}
	return err.Error()
}

func joinNames(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	s := append([]string(nil), names...)
	sort.Strings(s)
	return strings.Join(s, ", ")
}
