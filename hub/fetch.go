package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// maxAttempts is how many GETs one Download makes for a blob before giving up; each retry
// resumes from the bytes already on disk.
const maxAttempts = 5

// retryDelay is the pause before the n-th retry (times n); a variable so tests run fast.
var retryDelay = time.Second

var sha256Pattern = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

var errStalled = errors.New("no data received")

// partial is the blobs/<etag>.incomplete file plus the running sha256 of its contents.
type partial struct {
	f *os.File
	h hash.Hash
	n int64
}

// diskError marks a failure writing the cache, which retrying the network will not fix.
type diskError struct{ err error }

func (e diskError) Error() string { return e.err.Error() }
func (e diskError) Unwrap() error { return e.err }

func (p *partial) Write(b []byte) (int, error) {
	n, err := p.f.Write(b)
	p.h.Write(b[:n])
	p.n += int64(n)
	if err != nil {
		return n, diskError{err}
	}
	return n, nil
}

// reset discards what was downloaded so far.
func (p *partial) reset() error {
	p.h.Reset()
	p.n = 0
	if err := p.f.Truncate(0); err != nil {
		return diskError{err}
	}
	if _, err := p.f.Seek(0, io.SeekStart); err != nil {
		return diskError{err}
	}
	return nil
}

// fetchBlob downloads meta's content to blob via blob+".incomplete", resuming a previous
// partial file with a Range request. The blob appears only after its size and (for LFS files,
// whose etag is a sha256) its hash match; on a mismatch the partial file is deleted. After
// network failures the partial file is kept so the next call can resume.
func (c *Client) fetchBlob(ctx context.Context, meta fileMeta, blob, label string) error {
	inc := blob + ".incomplete"
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		return fmt.Errorf("hub: creating cache folder: %w", err)
	}
	f, err := os.OpenFile(inc, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("hub: creating %s: %w", inc, err)
	}
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	p := &partial{f: f, h: sha256.New()}
	if p.n, err = io.Copy(p.h, f); err != nil {
		return fmt.Errorf("hub: reading partial download %s: %w", inc, err)
	}
	if meta.Size >= 0 && p.n >= meta.Size && p.n > 0 {
		// Complete or overlong leftovers are suspicious; fetching again is cheap by comparison.
		if err := p.reset(); err != nil {
			return err
		}
	}

	for attempt := 1; ; attempt++ {
		retry, err := c.getOnce(ctx, meta, p, label)
		if err == nil {
			break
		}
		if !retry || attempt == maxAttempts || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(retryDelay * time.Duration(attempt)):
		}
	}

	if meta.Size >= 0 && p.n != meta.Size {
		f.Close()
		f = nil
		os.Remove(inc)
		return fmt.Errorf("%w: %s: received %d bytes, the hub announced %d; deleted the partial file, try again",
			ErrIntegrity, label, p.n, meta.Size)
	}
	if sha256Pattern.MatchString(meta.ETag) {
		if got := hex.EncodeToString(p.h.Sum(nil)); !strings.EqualFold(got, meta.ETag) {
			f.Close()
			f = nil
			os.Remove(inc)
			return fmt.Errorf("%w: %s: sha256 of the downloaded bytes is %s, expected %s; deleted the partial file, try again",
				ErrIntegrity, label, got, strings.ToLower(meta.ETag))
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("hub: writing %s: %w", inc, err)
	}
	err = f.Close()
	f = nil
	if err != nil {
		return fmt.Errorf("hub: writing %s: %w", inc, err)
	}
	if err := os.Rename(inc, blob); err != nil {
		return fmt.Errorf("hub: moving download into the cache: %w", err)
	}
	return nil
}

// getOnce makes one GET, resuming at p.n, and appends the body to p. retry reports whether
// another attempt may succeed (network trouble, 5xx), as opposed to a definite refusal.
func (c *Client) getOnce(ctx context.Context, meta fileMeta, p *partial, label string) (retry bool, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := c.stallTimeout()
	watchdog := time.AfterFunc(stall, func() { cancel(errStalled) })
	defer watchdog.Stop()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, meta.Location, nil)
	if err != nil {
		return false, fmt.Errorf("hub: bad download URL for %s: %w", label, err)
	}
	c.setHeaders(req, c.sameHost(req))
	if p.n > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", p.n))
	}
	resp, err := c.downloadClient().Do(req)
	if err != nil {
		return true, c.transferError(ctx, label, p.n, err)
	}
	defer resp.Body.Close()

	switch code := resp.StatusCode; {
	case code == http.StatusPartialContent:
		if start, ok := contentRangeStart(resp.Header.Get("Content-Range")); !ok || start != p.n {
			asked := p.n
			if err := p.reset(); err != nil {
				return false, err
			}
			return true, fmt.Errorf("hub: downloading %s: asked for bytes from %d, got Content-Range %q",
				label, asked, resp.Header.Get("Content-Range"))
		}
	case code == http.StatusOK:
		if p.n > 0 { // the server ignored Range: start over
			if err := p.reset(); err != nil {
				return false, err
			}
		}
	case code == http.StatusRequestedRangeNotSatisfiable:
		if err := p.reset(); err != nil {
			return false, err
		}
		return true, fmt.Errorf("hub: downloading %s: resume refused (%s); restarting", label, resp.Status)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return false, fmt.Errorf("%w: downloading %s from %s: %s; set HF_TOKEN for private or gated repos",
			ErrUnauthorized, label, resp.Request.URL.Host, resp.Status)
	case code == http.StatusTooManyRequests || code >= 500:
		return true, fmt.Errorf("hub: downloading %s from %s: %s", label, resp.Request.URL.Host, resp.Status)
	default:
		return false, fmt.Errorf("hub: downloading %s from %s: unexpected %s", label, resp.Request.URL.Host, resp.Status)
	}

	var w io.Writer = p
	if c.Progress != nil {
		pw := c.Progress(label, resp.ContentLength)
		defer pw.Close()
		w = io.MultiWriter(p, quietWriter{pw})
	}
	if _, err := io.Copy(w, &stallReader{r: resp.Body, timer: watchdog, d: stall}); err != nil {
		var de diskError
		if errors.As(err, &de) {
			return false, fmt.Errorf("hub: writing %s to the cache: %w", label, de.err)
		}
		return true, c.transferError(ctx, label, p.n, err)
	}
	return false, nil
}

// transferError explains a failed or interrupted transfer.
func (c *Client) transferError(ctx context.Context, label string, have int64, err error) error {
	if errors.Is(context.Cause(ctx), errStalled) {
		return fmt.Errorf("hub: downloading %s: no data for %s after %d bytes (HF_HUB_DOWNLOAD_TIMEOUT)", label, c.stallTimeout(), have)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("hub: downloading %s: %w", label, context.Cause(ctx))
	}
	return fmt.Errorf("hub: downloading %s interrupted after %d bytes (run again to resume): %w", label, have, err)
}

// sameHost reports whether req goes to the endpoint's host (port included); only then is the
// token sent. Other hosts get signed CDN URLs that must not see it.
func (c *Client) sameHost(req *http.Request) bool {
	ep, err := http.NewRequest(http.MethodGet, c.endpoint(), nil)
	return err == nil && strings.EqualFold(ep.URL.Host, req.URL.Host)
}

// downloadClient follows redirects but drops the token whenever a hop changes host; Go's own
// rule ignores ports, and two services on one host must not share credentials either.
func (c *Client) downloadClient() *http.Client {
	hc := *c.httpClient()
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if !strings.EqualFold(req.URL.Host, via[len(via)-1].URL.Host) || !c.sameHost(req) {
			req.Header.Del("Authorization")
		}
		return nil
	}
	return &hc
}

// contentRangeStart parses the first byte position of "bytes START-END/TOTAL".
func contentRangeStart(s string) (int64, bool) {
	s, ok := strings.CutPrefix(strings.TrimSpace(s), "bytes ")
	if !ok {
		return 0, false
	}
	start, _, ok := strings.Cut(s, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(start, 10, 64)
	return n, err == nil
}

// stallReader pushes the watchdog back whenever bytes arrive.
type stallReader struct {
	r     io.Reader
	timer *time.Timer
	d     time.Duration
}

func (s *stallReader) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	if n > 0 {
		s.timer.Reset(s.d)
	}
	return n, err
}

// quietWriter keeps a failing progress display from failing the download.
type quietWriter struct{ w io.Writer }

func (q quietWriter) Write(b []byte) (int, error) {
	q.w.Write(b)
	return len(b), nil
}
