package hub

import (
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"time"
)

// userAgent names this project to the hub, as huggingface_hub does for itself.
var userAgent = "resnet-go (github.com/resnet-go/resnet/hub); go/" + strings.TrimPrefix(runtime.Version(), "go")

const (
	defaultMetadataTimeout = 10 * time.Second // HF_HUB_ETAG_TIMEOUT
	defaultStallTimeout    = 10 * time.Second // HF_HUB_DOWNLOAD_TIMEOUT
)

// Client downloads repository files into a huggingface_hub-compatible cache. The zero value
// works: it talks to https://huggingface.co without a token and uses the cache directory the
// environment names. Use NewFromEnv to honour every HF_* variable.
type Client struct {
	// Endpoint is the hub or mirror base URL (HF_ENDPOINT); empty means https://huggingface.co.
	Endpoint string
	// Token is sent as "Authorization: Bearer" to the endpoint, never to other hosts; empty = none.
	Token string
	// CacheDir is the hub cache root (HF_HUB_CACHE); empty means the one the environment names.
	CacheDir string
	// Offline forbids all network access: files come from the cache or Download fails.
	Offline bool
	// HTTP is the client used for requests; nil means DefaultHTTPClient().
	HTTP *http.Client
	// Progress, when set, is called once per transfer with the file name and the number of bytes
	// the response will carry (-1 if unknown; after a resume, only the remaining bytes); the
	// bytes are written to the returned writer as they arrive and it is closed at the end.
	Progress func(file string, total int64) io.WriteCloser
	// MetadataTimeout bounds each HEAD request (HF_HUB_ETAG_TIMEOUT); zero means 10 s.
	MetadataTimeout time.Duration
	// StallTimeout aborts and retries a transfer that receives nothing for this long
	// (HF_HUB_DOWNLOAD_TIMEOUT); zero means 10 s. The whole transfer has no time limit.
	StallTimeout time.Duration
}

// NewFromEnv returns a client configured like huggingface_hub from HF_ENDPOINT, HF_TOKEN
// (HUGGING_FACE_HUB_TOKEN, HF_TOKEN_PATH, $HF_HOME/token), HF_HUB_CACHE (HUGGINGFACE_HUB_CACHE,
// HF_HOME, XDG_CACHE_HOME), HF_HUB_OFFLINE (TRANSFORMERS_OFFLINE), HF_HUB_ETAG_TIMEOUT and
// HF_HUB_DOWNLOAD_TIMEOUT.
func NewFromEnv() *Client {
	return &Client{
		Endpoint:        endpointFromEnv(),
		Token:           tokenFromEnv(),
		CacheDir:        cacheDirFromEnv(),
		Offline:         offlineFromEnv(),
		HTTP:            DefaultHTTPClient(),
		MetadataTimeout: envSeconds("HF_HUB_ETAG_TIMEOUT", defaultMetadataTimeout),
		StallTimeout:    envSeconds("HF_HUB_DOWNLOAD_TIMEOUT", defaultStallTimeout),
	}
}

// DefaultHTTPClient bounds connecting and waiting for response headers but not the body, so
// large checkpoints on slow links are not cut off; stalls are caught by Client.StallTimeout.
func DefaultHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          10,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ExpectContinueTimeout: time.Second,
	}}
}

func (c *Client) endpoint() string {
	if c.Endpoint == "" {
		return defaultEndpoint
	}
	return strings.TrimRight(c.Endpoint, "/")
}

func (c *Client) cacheDir() string {
	if c.CacheDir == "" {
		return cacheDirFromEnv()
	}
	return c.CacheDir
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP == nil {
		return DefaultHTTPClient()
	}
	return c.HTTP
}

func (c *Client) metadataTimeout() time.Duration {
	if c.MetadataTimeout <= 0 {
		return defaultMetadataTimeout
	}
	return c.MetadataTimeout
}

func (c *Client) stallTimeout() time.Duration {
	if c.StallTimeout <= 0 {
		return defaultStallTimeout
	}
	return c.StallTimeout
}

// setHeaders adds the headers every request carries. Identity encoding keeps the byte counts
// equal to the announced sizes.
func (c *Client) setHeaders(req *http.Request, auth bool) {
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept-Encoding", "identity")
	if auth && c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
}
