package hub

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	retryDelay = time.Millisecond
	os.Exit(m.Run())
}

// newTestClient talks to the fake hub with a private cache and, unless token is empty, a token.
func newTestClient(t *testing.T, f *fakeHub, token string) *Client {
	t.Helper()
	return &Client{Endpoint: f.hub.URL, Token: token, CacheDir: t.TempDir(), HTTP: DefaultHTTPClient()}
}

func repoRoot(c *Client, repo string) string {
	return filepath.Join(c.CacheDir, repoFolderName(repo))
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func assertNotExist(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s should not exist (err=%v)", p, err)
	}
}

// assertNoBlobLeftovers checks that no .incomplete or temp file remains in blobs/.
func assertNoBlobLeftovers(t *testing.T, c *Client, repo string) {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(repoRoot(c, repo), "blobs"))
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".incomplete") || strings.HasPrefix(e.Name(), ".") {
			t.Errorf("leftover %s in blobs/", e.Name())
		}
	}
}

func TestDownloadCacheLayout(t *testing.T) {
	tests := []struct {
		name, repo, rev, file string
		commit                string // expected snapshot commit
		refPath               string // refs/<...> expected to hold commit; "" = none
		rawRev                string // how the revision must appear in the request path
	}{
		{"regular file on main", "acme/resnet-tiny", "", "config.json", commitMain, "main", "main"},
		{"LFS file on main", "acme/resnet-tiny", "main", "model.safetensors", commitMain, "main", "main"},
		{"nested file", "acme/resnet-tiny", "main", "sub/labels.txt", commitMain, "main", "main"},
		{"branch", "acme/resnet-tiny", "v2", "model.safetensors", commitV2, "v2", "v2"},
		{"commit hash", "acme/resnet-tiny", commitV2, "config.json", commitV2, "", commitV2},
		{"pr ref is quoted", "acme/resnet-tiny", "refs/pr/1", "config.json", commitV2, "refs/pr/1", "refs%2Fpr%2F1"},
		{"renamed repo (relative redirect)", "old/resnet-tiny", "main", "config.json", commitMain, "main", "main"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeHub(t)
			c := newTestClient(t, f, testToken)
			got, err := c.Download(context.Background(), tc.repo, tc.rev, tc.file)
			if err != nil {
				t.Fatal(err)
			}
			rev := tc.rev
			if rev == "" {
				rev = "main"
			}
			want := f.file("acme/resnet-tiny", rev, tc.file)
			etag := etagOf(want)
			root := repoRoot(c, tc.repo)

			if wantPath := filepath.Join(root, "snapshots", tc.commit, filepath.FromSlash(tc.file)); got != wantPath {
				t.Errorf("path = %s, want %s", got, wantPath)
			}
			if !bytes.Equal(readFile(t, got), want.data) {
				t.Errorf("content of %s differs from the hub's", got)
			}
			link, err := os.Readlink(got)
			if err != nil {
				t.Fatalf("snapshot entry is not a symlink: %v", err)
			}
			up := strings.Repeat("../", 2+strings.Count(tc.file, "/"))
			if wantLink := filepath.FromSlash(up + "blobs/" + etag); link != wantLink {
				t.Errorf("symlink target = %q, want %q", link, wantLink)
			}
			if !bytes.Equal(readFile(t, filepath.Join(root, "blobs", etag)), want.data) {
				t.Error("blob content differs")
			}
			if tc.refPath != "" {
				if ref := string(readFile(t, filepath.Join(root, "refs", filepath.FromSlash(tc.refPath)))); ref != tc.commit {
					t.Errorf("refs/%s = %q, want %q (no newline)", tc.refPath, ref, tc.commit)
				}
			} else {
				assertNotExist(t, filepath.Join(root, "refs"))
			}
			if _, err := os.Stat(filepath.Join(c.CacheDir, ".locks", repoFolderName(tc.repo), etag+".lock")); err != nil {
				t.Errorf("lock file: %v", err)
			}
			assertNoBlobLeftovers(t, c, tc.repo)

			reqs := f.requests()
			if n := count(reqs, "", "GET"); n != 1 {
				t.Errorf("%d GETs, want 1: %+v", n, reqs)
			}
			for _, r := range reqs {
				if r.server == "hub" && r.method == "HEAD" && !strings.Contains(r.rawPath, "/resolve/"+tc.rawRev+"/") {
					t.Errorf("HEAD path %s does not contain /resolve/%s/", r.rawPath, tc.rawRev)
				}
				if r.server == "hub" && r.auth != "Bearer "+testToken {
					t.Errorf("hub request %s %s without the token", r.method, r.rawPath)
				}
				if r.server == "cdn" && r.auth != "" {
					t.Errorf("CDN received Authorization %q", r.auth)
				}
			}
			if want.lfs && count(reqs, "cdn", "GET") != 1 {
				t.Errorf("LFS content not fetched from the CDN: %+v", reqs)
			}
		})
	}
}

func TestSecondDownloadMakesNoGET(t *testing.T) {
	tests := []struct{ name, rev, file string }{
		{"LFS on branch", "main", "model.safetensors"},
		{"regular on branch", "main", "config.json"},
		{"by commit", commitMain, "model.safetensors"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeHub(t)
			c := newTestClient(t, f, "")
			first, err := c.Download(context.Background(), "acme/resnet-tiny", tc.rev, tc.file)
			if err != nil {
				t.Fatal(err)
			}
			f.requests()
			second, err := c.Download(context.Background(), "acme/resnet-tiny", tc.rev, tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if first != second {
				t.Errorf("paths differ: %s vs %s", first, second)
			}
			reqs := f.requests()
			wantHEAD := 1
			if isCommitHash(tc.rev) {
				wantHEAD = 0 // a commit is immutable: no request at all
			}
			if count(reqs, "", "GET") != 0 || count(reqs, "", "HEAD") != wantHEAD {
				t.Errorf("second Download made %+v; want %d HEAD and no GET", reqs, wantHEAD)
			}
		})
	}
}

func TestBlobSharedAcrossRevisions(t *testing.T) {
	f := newFakeHub(t)
	c := newTestClient(t, f, "")
	a, err := c.Download(context.Background(), "acme/resnet-tiny", "main", "preprocessor_config.json")
	if err != nil {
		t.Fatal(err)
	}
	f.requests()
	b, err := c.Download(context.Background(), "acme/resnet-tiny", "v2", "preprocessor_config.json")
	if err != nil {
		t.Fatal(err)
	}
	if count(f.requests(), "", "GET") != 0 {
		t.Error("identical content was downloaded twice")
	}
	la, _ := os.Readlink(a)
	lb, _ := os.Readlink(b)
	if a == b || la != lb || la == "" {
		t.Errorf("want two snapshots linking one blob, got %s -> %s and %s -> %s", a, la, b, lb)
	}
}

func TestDownloadErrors(t *testing.T) {
	tests := []struct {
		name, repo, rev, file, token string
		want                         []error // all must match
		msg                          string  // substring of the message
	}{
		{"private without token", "acme/private", "", "config.json", "", []error{ErrUnauthorized}, "HF_TOKEN"},
		{"private with wrong token", "acme/private", "", "config.json", "hf_wrong", []error{ErrUnauthorized}, "HF_TOKEN"},
		{"unknown repo", "acme/nope", "", "config.json", "", []error{ErrRepoNotFound}, "acme/nope"},
		{"hidden repo 401 RepoNotFound", "acme/hidden", "", "config.json", "", []error{ErrRepoNotFound, ErrUnauthorized}, "HF_TOKEN"},
		{"missing file", "acme/resnet-tiny", "", "pytorch_model.bin", "", []error{ErrEntryNotFound}, "pytorch_model.bin"},
		{"missing file, plain 404", "acme/mirror", "", "pytorch_model.bin", "", []error{ErrEntryNotFound}, "pytorch_model.bin"},
		{"missing revision", "acme/resnet-tiny", "v9", "config.json", "", []error{ErrRevisionNotFound}, "v9"},
		{"bad repo id", "a//b", "", "config.json", "", nil, "invalid repo id"},
		{"filename escapes", "acme/resnet-tiny", "", "../../etc/passwd", "", nil, "invalid filename"},
		{"revision escapes", "acme/resnet-tiny", "..", "config.json", "", nil, "invalid revision"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeHub(t)
			c := newTestClient(t, f, tc.token)
			p, err := c.Download(context.Background(), tc.repo, tc.rev, tc.file)
			if err == nil {
				t.Fatalf("got %s, want an error", p)
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("error %q is not %v", err, w)
				}
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
			if tc.want == nil && len(f.requests()) != 0 {
				t.Error("invalid input reached the network")
			}
		})
	}
}

func TestEntryNotFoundIsRemembered(t *testing.T) {
	f := newFakeHub(t)
	c := newTestClient(t, f, "")
	_, err := c.Download(context.Background(), "acme/resnet-tiny", "", "pytorch_model.bin")
	if !errors.Is(err, ErrEntryNotFound) {
		t.Fatalf("err = %v", err)
	}
	root := repoRoot(c, "acme/resnet-tiny")
	fi, err := os.Stat(filepath.Join(root, ".no_exist", commitMain, "pytorch_model.bin"))
	if err != nil || fi.Size() != 0 {
		t.Fatalf(".no_exist marker: %v", err)
	}
	if ref := string(readFile(t, filepath.Join(root, "refs", "main"))); ref != commitMain {
		t.Errorf("refs/main = %q", ref)
	}
	off := &Client{Endpoint: f.hub.URL, CacheDir: c.CacheDir, Offline: true}
	f.requests()
	if _, err := off.Download(context.Background(), "acme/resnet-tiny", "main", "pytorch_model.bin"); !errors.Is(err, ErrEntryNotFound) {
		t.Errorf("offline after marker: err = %v, want ErrEntryNotFound", err)
	}
	if len(f.requests()) != 0 {
		t.Error("offline client made requests")
	}
}

func TestTokenSources(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, home string)
	}{
		{"HF_TOKEN", func(t *testing.T, home string) { t.Setenv("HF_TOKEN", testToken) }},
		{"HUGGING_FACE_HUB_TOKEN", func(t *testing.T, home string) { t.Setenv("HUGGING_FACE_HUB_TOKEN", testToken) }},
		{"$HF_HOME/token", func(t *testing.T, home string) {
			os.WriteFile(filepath.Join(home, "token"), []byte(testToken+"\n"), 0o600)
		}},
		{"HF_TOKEN_PATH", func(t *testing.T, home string) {
			p := filepath.Join(t.TempDir(), "tok")
			os.WriteFile(p, []byte("  "+testToken+"  "), 0o600)
			t.Setenv("HF_TOKEN_PATH", p)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clearHFEnv(t)
			home := t.TempDir()
			t.Setenv("HF_HOME", home)
			tc.setup(t, home)
			f := newFakeHub(t)
			c := NewFromEnv()
			c.Endpoint = f.hub.URL
			if c.Token != testToken {
				t.Fatalf("token = %q", c.Token)
			}
			p, err := c.Download(context.Background(), "acme/private", "", "model.safetensors")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(p, filepath.Join(home, "hub", "models--acme--private")) {
				t.Errorf("path %s not under $HF_HOME/hub", p)
			}
			for _, r := range f.requests() {
				if r.server == "cdn" && r.auth != "" {
					t.Errorf("token leaked to the CDN: %q", r.auth)
				}
			}
		})
	}
}

func TestResumeAfterDroppedConnection(t *testing.T) {
	f := newFakeHub(t)
	c := newTestClient(t, f, "")
	f.setCDN(cdnDrop)
	p, err := c.Download(context.Background(), "acme/resnet-tiny", "main", "model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	want := f.file("acme/resnet-tiny", "main", "model.safetensors").data
	if !bytes.Equal(readFile(t, p), want) {
		t.Fatal("resumed file differs")
	}
	var gets []reqRecord
	for _, r := range f.requests() {
		if r.server == "cdn" {
			gets = append(gets, r)
		}
	}
	if len(gets) != 2 || gets[0].rng != "" || gets[1].rng != "bytes=100000-" {
		t.Errorf("want a plain GET then one with Range bytes=100000-, got %+v", gets)
	}
}

func TestResumeInLaterCall(t *testing.T) {
	f := newFakeHub(t)
	c := newTestClient(t, f, "")
	drops := make([]cdnMode, maxAttempts)
	for i := range drops {
		drops[i] = cdnDrop
	}
	f.setCDN(drops...)
	_, err := c.Download(context.Background(), "acme/resnet-tiny", "main", "model.safetensors")
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("err = %v, want an interrupted download", err)
	}
	want := f.file("acme/resnet-tiny", "main", "model.safetensors")
	root := repoRoot(c, "acme/resnet-tiny")
	blob := filepath.Join(root, "blobs", etagOf(want))
	part := readFile(t, blob+".incomplete")
	if len(part) == 0 || len(part) >= len(want.data) || !bytes.Equal(part, want.data[:len(part)]) {
		t.Fatalf("partial file: %d bytes, not a proper prefix of %d", len(part), len(want.data))
	}
	assertNotExist(t, blob)
	assertNotExist(t, filepath.Join(root, "snapshots", commitMain, "model.safetensors"))

	f.requests()
	p, err := c.Download(context.Background(), "acme/resnet-tiny", "main", "model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, p), want.data) {
		t.Fatal("resumed file differs")
	}
	reqs := f.requests()
	if count(reqs, "cdn", "GET") != 1 || reqs[len(reqs)-1].rng != "bytes="+strconv.Itoa(len(part))+"-" {
		t.Errorf("want one GET with Range bytes=%d-, got %+v", len(part), reqs)
	}
	assertNoBlobLeftovers(t, c, "acme/resnet-tiny")
}

func TestServerIgnoringRangeRestarts(t *testing.T) {
	f := newFakeHub(t)
	c := newTestClient(t, f, "")
	f.setCDN(cdnDrop, cdnIgnoreRange)
	p, err := c.Download(context.Background(), "acme/resnet-tiny", "v2", "model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, p), f.file("acme/resnet-tiny", "v2", "model.safetensors").data) {
		t.Fatal("file differs after a 200 answer to a Range request")
	}
}

func TestStalledTransferIsRetried(t *testing.T) {
	f := newFakeHub(t)
	c := newTestClient(t, f, "")
	c.StallTimeout = 200 * time.Millisecond
	f.setCDN(cdnStall)
	p, err := c.Download(context.Background(), "acme/resnet-tiny", "main", "model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, p), f.file("acme/resnet-tiny", "main", "model.safetensors").data) {
		t.Fatal("file differs")
	}
	if reqs := f.requests(); count(reqs, "cdn", "GET") != 2 || reqs[len(reqs)-1].rng != "bytes=100000-" {
		t.Errorf("want a stalled GET then a resumed one, got %+v", reqs)
	}
}

func TestCorruptDownloadIsRejected(t *testing.T) {
	tests := []struct {
		name     string
		leftover []byte // planted .incomplete content
		modes    []cdnMode
	}{
		{"CDN flips a byte", nil, []cdnMode{cdnCorrupt}},
		{"bad partial file resumed", bytes.Repeat([]byte{0xAB}, 1000), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeHub(t)
			c := newTestClient(t, f, "")
			want := f.file("acme/resnet-tiny", "main", "model.safetensors")
			root := repoRoot(c, "acme/resnet-tiny")
			blob := filepath.Join(root, "blobs", etagOf(want))
			if tc.leftover != nil {
				os.MkdirAll(filepath.Dir(blob), 0o755)
				os.WriteFile(blob+".incomplete", tc.leftover, 0o644)
			}
			f.setCDN(tc.modes...)
			_, err := c.Download(context.Background(), "acme/resnet-tiny", "main", "model.safetensors")
			if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "sha256") {
				t.Fatalf("err = %v, want a sha256 mismatch", err)
			}
			assertNotExist(t, blob)
			assertNotExist(t, blob+".incomplete")
			assertNotExist(t, filepath.Join(root, "snapshots", commitMain, "model.safetensors"))
			if tc.leftover != nil {
				if r := f.requests(); r[len(r)-1].rng != "bytes=1000-" {
					t.Errorf("leftover was not resumed: %+v", r)
				}
			}
			// Nothing bad was kept: the next call downloads a good copy.
			p, err := c.Download(context.Background(), "acme/resnet-tiny", "main", "model.safetensors")
			if err != nil || !bytes.Equal(readFile(t, p), want.data) {
				t.Fatalf("retry: %v", err)
			}
		})
	}
}

func TestOffline(t *testing.T) {
	f := newFakeHub(t)
	online := newTestClient(t, f, "")
	ctx := context.Background()
	cached, err := online.Download(ctx, "acme/resnet-tiny", "main", "config.json")
	if err != nil {
		t.Fatal(err)
	}
	f.requests()
	off := &Client{Endpoint: f.hub.URL, CacheDir: online.CacheDir, Offline: true}
	tests := []struct {
		name, rev, file string
		want            error
		msg             string
	}{
		{"branch via refs", "main", "config.json", nil, ""},
		{"default revision", "", "config.json", nil, ""},
		{"commit hash", commitMain, "config.json", nil, ""},
		{"file not cached", "main", "sub/labels.txt", ErrOffline, "sub/labels.txt"},
		{"revision never resolved", "v2", "config.json", ErrOffline, "HF_HUB_OFFLINE"},
		{"commit never fetched", commitV2, "config.json", ErrOffline, commitV2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := off.Download(ctx, "acme/resnet-tiny", tc.rev, tc.file)
			if tc.want == nil {
				if err != nil || p != cached {
					t.Fatalf("got %q, %v; want %s", p, err, cached)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tc.want, tc.msg)
			}
		})
	}
	if r := f.requests(); len(r) != 0 {
		t.Errorf("offline client made requests: %+v", r)
	}
}

func TestUnreachableHubFallsBackToCache(t *testing.T) {
	f := newFakeHub(t)
	c := newTestClient(t, f, "")
	ctx := context.Background()
	cached, err := c.Download(ctx, "acme/resnet-tiny", "main", "config.json")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close() // connections are now refused
	c.Endpoint = dead

	p, err := c.Download(ctx, "acme/resnet-tiny", "main", "config.json")
	if err != nil || p != cached {
		t.Fatalf("got %q, %v; want the cached %s", p, err, cached)
	}
	_, err = c.Download(ctx, "acme/resnet-tiny", "main", "model.safetensors")
	if !errors.Is(err, ErrConnection) || !strings.Contains(err.Error(), dead) || !strings.Contains(err.Error(), "HF_HUB_OFFLINE=1") {
		t.Fatalf("err = %v; want ErrConnection naming %s and HF_HUB_OFFLINE=1", err, dead)
	}
}

func TestConcurrentDownloadsShareOneTransfer(t *testing.T) {
	f := newFakeHub(t)
	f.cdnDelay = 150 * time.Millisecond
	dir := t.TempDir()
	var wg sync.WaitGroup
	paths := make([]string, 3)
	errs := make([]error, 3)
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &Client{Endpoint: f.hub.URL, CacheDir: dir}
			paths[i], errs[i] = c.Download(context.Background(), "acme/resnet-tiny", "main", "model.safetensors")
		}()
	}
	wg.Wait()
	want := f.file("acme/resnet-tiny", "main", "model.safetensors").data
	for i := range paths {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(readFile(t, paths[i]), want) {
			t.Fatal("content differs")
		}
	}
	if n := count(f.requests(), "cdn", "GET"); n != 1 {
		t.Errorf("%d CDN GETs for one blob, want 1 (the lock should make the others wait)", n)
	}
}

type progressRecorder struct {
	file   string
	total  int64
	n      int64
	closed bool
}

func (p *progressRecorder) Write(b []byte) (int, error) { p.n += int64(len(b)); return len(b), nil }
func (p *progressRecorder) Close() error                { p.closed = true; return nil }

func TestProgress(t *testing.T) {
	f := newFakeHub(t)
	c := newTestClient(t, f, "")
	var recs []*progressRecorder
	c.Progress = func(file string, total int64) io.WriteCloser {
		r := &progressRecorder{file: file, total: total}
		recs = append(recs, r)
		return r
	}
	if _, err := c.Download(context.Background(), "acme/resnet-tiny", "main", "model.safetensors"); err != nil {
		t.Fatal(err)
	}
	size := int64(len(f.file("acme/resnet-tiny", "main", "model.safetensors").data))
	if len(recs) != 1 || recs[0].file != "model.safetensors" || recs[0].total != size || recs[0].n != size || !recs[0].closed {
		t.Errorf("progress = %+v, want one closed bar of %d bytes", recs, size)
	}
}
