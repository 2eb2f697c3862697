package hub

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// fileMeta is what a HEAD on the resolve URL tells about one file.
type fileMeta struct {
	Commit   string // X-Repo-Commit; also set on error responses that carry it
	ETag     string // normalized X-Linked-Etag or ETag: sha256 for LFS files, git sha1 otherwise
	Size     int64  // X-Linked-Size or Content-Length; -1 when unknown
	Location string // absolute URL to GET the content from
}

const maxRelativeRedirects = 10

// head fetches file metadata, following only relative (same-host) redirects such as renamed
// repositories; a redirect to another host (the CDN) is where the content lives.
func (c *Client) head(ctx context.Context, repoID, revision, filename string) (fileMeta, error) {
	return c.headOf(ctx, modelRepo, repoID, revision, filename)
}

func (c *Client) headOf(ctx context.Context, kind repoType, repoID, revision, filename string) (fileMeta, error) {
	meta := fileMeta{Size: -1}
	ctx, cancel := context.WithTimeout(ctx, c.metadataTimeout())
	defer cancel()

	hc := *c.httpClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	target := c.fileURLOf(kind, repoID, revision, filename)
	var resp *http.Response
	for redirects := 0; ; redirects++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, target, nil)
		if err != nil {
			return meta, fmt.Errorf("hub: bad endpoint %q: %w", c.endpoint(), err)
		}
		c.setHeaders(req, true)
		resp, err = hc.Do(req)
		if err != nil {
			return meta, c.connError(ctx, err)
		}
		resp.Body.Close()
		if resp.StatusCode < 300 || resp.StatusCode > 399 || redirects == maxRelativeRedirects {
			break
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || loc.Scheme != "" || loc.Host != "" || loc.Path == "" {
			break
		}
		target = req.URL.ResolveReference(loc).String()
	}

	meta.Commit = resp.Header.Get("X-Repo-Commit")
	if resp.StatusCode >= 400 {
		return meta, c.statusError(resp, repoID, revision, filename)
	}
	redirect := resp.StatusCode >= 300
	if meta.Commit == "" {
		return meta, fmt.Errorf("hub: %s answered %s for %s without X-Repo-Commit; is HF_ENDPOINT a Hugging Face hub?", c.endpoint(), resp.Status, resp.Request.URL)
	}
	if err := safeComponent("commit (X-Repo-Commit)", meta.Commit); err != nil {
		return meta, err
	}
	meta.ETag = normalizeETag(resp.Header.Get("X-Linked-Etag"))
	if meta.ETag == "" {
		meta.ETag = normalizeETag(resp.Header.Get("ETag"))
	}
	if meta.ETag == "" {
		return meta, fmt.Errorf("hub: %s sent no ETag for %s; cannot cache it", c.endpoint(), resp.Request.URL)
	}
	if err := safeComponent("ETag", meta.ETag); err != nil {
		return meta, err
	}
	size := resp.Header.Get("X-Linked-Size")
	if size == "" && !redirect {
		size = resp.Header.Get("Content-Length")
	}
	if size != "" {
		n, err := strconv.ParseInt(size, 10, 64)
		if err != nil || n < 0 {
			return meta, fmt.Errorf("hub: bad file size %q for %s", size, resp.Request.URL)
		}
		meta.Size = n
	}
	meta.Location = resp.Request.URL.String()
	if redirect {
		loc, err := resp.Location()
		if err != nil {
			return meta, fmt.Errorf("hub: %s redirect for %s has no usable Location: %v", resp.Status, resp.Request.URL, err)
		}
		meta.Location = loc.String()
	}
	return meta, nil
}

// normalizeETag strips the weak prefix and quotes.
func normalizeETag(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	return strings.Trim(s, `"`)
}

// statusError maps a failed HEAD to the package's error classes using X-Error-Code, as
// huggingface_hub's hf_raise_for_status does.
func (c *Client) statusError(resp *http.Response, repoID, revision, filename string) error {
	code := resp.Header.Get("X-Error-Code")
	detail := ""
	if m := resp.Header.Get("X-Error-Message"); m != "" {
		detail = " (" + m + ")"
	}
	where := fmt.Sprintf("%s at revision %q of %s on %s", filename, revision, repoID, c.endpoint())
	switch {
	case code == "RepoNotFound" || code == "RepositoryNotFound":
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			// The hub hides private repos behind "not found"; both readings are possible.
			return &multiKind{
				msg:   c.authError(resp, repoID, detail).Error() + " (or the repository does not exist)",
				kinds: []error{ErrRepoNotFound, ErrUnauthorized},
			}
		}
		return fmt.Errorf("%w: %s on %s%s; check the name, and for a private or gated repo set HF_TOKEN", ErrRepoNotFound, repoID, c.endpoint(), detail)
	case code == "RevisionNotFound":
		return fmt.Errorf("%w: %q in %s%s", ErrRevisionNotFound, revision, repoID, detail)
	case code == "EntryNotFound":
		return fmt.Errorf("%w: %s%s", ErrEntryNotFound, where, detail)
	case code == "GatedRepo" || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return c.authError(resp, repoID, detail)
	case resp.StatusCode == http.StatusNotFound:
		// A mirror or proxy without error codes: the repo answered, the file is not there.
		return fmt.Errorf("%w: %s (HTTP 404)%s", ErrEntryNotFound, where, detail)
	}
	return fmt.Errorf("hub: %s answered %s for %s%s", c.endpoint(), resp.Status, where, detail)
}

// authError explains what to do about a 401/403.
func (c *Client) authError(resp *http.Response, repoID, detail string) error {
	if c.Token == "" {
		return fmt.Errorf("%w: %s answered %s for %s%s: the repository is private or gated; set HF_TOKEN (or save a token in $HF_HOME/token) for an account with access",
			ErrUnauthorized, c.endpoint(), resp.Status, repoID, detail)
	}
	return fmt.Errorf("%w: %s answered %s for %s%s: the token (HF_TOKEN) was rejected or has no access; for gated repos accept the terms at %s/%s",
		ErrUnauthorized, c.endpoint(), resp.Status, repoID, detail, c.endpoint(), repoID)
}

// connError explains a transport failure; cancellation by the caller is passed through as is.
func (c *Client) connError(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w at %s: %v (set HF_HUB_OFFLINE=1 to use only files already in the cache)", ErrConnection, c.endpoint(), err)
}
