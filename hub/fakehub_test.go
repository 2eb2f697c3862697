package hub

import (
	"bufio"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The fake hub below behaves like huggingface.co for the resolve endpoint: HEAD/GET on
// /{repo}/resolve/{rev}/{file}, X-Repo-Commit on every answer about an existing revision,
// regular files served directly with a git-sha1 ETag, LFS files answered with X-Linked-Etag
// (sha256), X-Linked-Size and a 302 to a second server acting as the CDN.

type fakeFile struct {
	data      []byte
	lfs       bool
	sizeExtra int // added to the announced X-Linked-Size, to simulate a lying hub
}

type fakeRepo struct {
	private  bool // 401 without the right token
	hidden   bool // 401 with X-Error-Code RepoNotFound, like the hub for unknown repos
	plain404 bool // missing files get a 404 without X-Error-Code (a simple mirror)
	refs     map[string]string
	commits  map[string]map[string]fakeFile
}

// cdnMode tells the CDN how to misbehave on one GET.
type cdnMode int

const (
	cdnOK          cdnMode = iota
	cdnDrop                // send headers and half the body, then close the connection
	cdnCorrupt             // flip one byte
	cdnIgnoreRange         // answer 200 with the whole file even when asked for a range
	cdnStall               // send half the body, then go silent
)

type reqRecord struct {
	server, method, rawPath, rng, auth string
}

type fakeHub struct {
	t        *testing.T
	token    string
	repos    map[string]*fakeRepo
	renamed  map[string]string
	blobs    map[string][]byte // sha256 -> data, what the CDN serves
	hub, cdn *httptest.Server

	mu       sync.Mutex
	reqs     []reqRecord
	cdnModes []cdnMode // consumed one per CDN GET; empty means cdnOK
	cdnDelay time.Duration
}

const (
	commitMain = "1111111111111111111111111111111111111111"
	commitV2   = "2222222222222222222222222222222222222222"
	commitPriv = "3333333333333333333333333333333333333333"
	testToken  = "hf_testtoken"
)

// randomBytes is deterministic content so failures reproduce.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

func gitBlobSHA1(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// etagOf is the cache blob name the hub announces for a file.
func etagOf(f fakeFile) string {
	if f.lfs {
		return sha256Hex(f.data)
	}
	return gitBlobSHA1(f.data)
}

func newFakeHub(t *testing.T) *fakeHub {
	t.Helper()
	shared := fakeFile{data: []byte(`{"do_resize": true, "size": {"shortest_edge": 224}}`)}
	f := &fakeHub{
		t:     t,
		token: testToken,
		repos: map[string]*fakeRepo{
			"acme/resnet-tiny": {
				refs: map[string]string{"main": commitMain, "v2": commitV2, "refs/pr/1": commitV2},
				commits: map[string]map[string]fakeFile{
					commitMain: {
						"config.json":              {data: []byte(`{"model_type": "resnet", "depths": [1, 1, 1, 1]}`)},
						"model.safetensors":        {data: randomBytes(1, 200_001), lfs: true},
						"sub/labels.txt":           {data: []byte("tench\ngoldfish\n")},
						"preprocessor_config.json": shared,
						"truncated.bin":            {data: randomBytes(4, 1000), lfs: true, sizeExtra: 24},
					},
					commitV2: {
						"config.json":              {data: []byte(`{"model_type": "resnet", "depths": [2, 2, 2, 2]}`)},
						"model.safetensors":        {data: randomBytes(2, 150_000), lfs: true},
						"preprocessor_config.json": shared,
					},
				},
			},
			"acme/private": {
				private: true,
				refs:    map[string]string{"main": commitPriv},
				commits: map[string]map[string]fakeFile{commitPriv: {
					"config.json":       {data: []byte(`{"private": true}`)},
					"model.safetensors": {data: randomBytes(3, 50_000), lfs: true},
				}},
			},
			"acme/hidden": {hidden: true},
			"acme/mirror": {
				plain404: true,
				refs:     map[string]string{"main": commitMain},
				commits:  map[string]map[string]fakeFile{commitMain: {"config.json": {data: []byte("{}")}}},
			},
		},
		renamed: map[string]string{"old/resnet-tiny": "acme/resnet-tiny"},
		blobs:   map[string][]byte{},
	}
	for _, r := range f.repos {
		for _, files := range r.commits {
			for _, file := range files {
				if file.lfs {
					f.blobs[sha256Hex(file.data)] = file.data
				}
			}
		}
	}
	f.hub = httptest.NewServer(http.HandlerFunc(f.serveHub))
	f.cdn = httptest.NewServer(http.HandlerFunc(f.serveCDN))
	t.Cleanup(func() {
		f.hub.Close()
		f.cdn.Close()
	})
	return f
}

// file returns the content the fake holds for repo@rev/name.
func (f *fakeHub) file(repo, rev, name string) fakeFile {
	f.t.Helper()
	r := f.repos[repo]
	commit := rev
	if c, ok := r.refs[rev]; ok {
		commit = c
	}
	file, ok := r.commits[commit][name]
	if !ok {
		f.t.Fatalf("fake hub has no %s@%s/%s", repo, rev, name)
	}
	return file
}

func (f *fakeHub) record(server string, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, reqRecord{server, r.Method, r.URL.EscapedPath(), r.Header.Get("Range"), r.Header.Get("Authorization")})
}

// requests returns and clears the request log.
func (f *fakeHub) requests() []reqRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.reqs
	f.reqs = nil
	return r
}

func (f *fakeHub) setCDN(modes ...cdnMode) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cdnModes = modes
}

func count(reqs []reqRecord, server, method string) int {
	n := 0
	for _, r := range reqs {
		if (server == "" || r.server == server) && r.method == method {
			n++
		}
	}
	return n
}

func (f *fakeHub) serveHub(w http.ResponseWriter, r *http.Request) {
	f.record("hub", r)
	raw := r.URL.EscapedPath()
	i := strings.Index(raw, "/resolve/")
	if i < 0 {
		http.NotFound(w, r)
		return
	}
	repoID := strings.TrimPrefix(raw[:i], "/")
	revEsc, nameEsc, _ := strings.Cut(raw[i+len("/resolve/"):], "/")
	rev, err1 := url.PathUnescape(revEsc)
	name, err2 := url.PathUnescape(nameEsc)
	if err1 != nil || err2 != nil {
		http.Error(w, "bad escape", http.StatusBadRequest)
		return
	}
	if to, ok := f.renamed[repoID]; ok {
		w.Header().Set("Location", "/"+to+"/resolve/"+revEsc+"/"+nameEsc)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	repo := f.repos[repoID]
	switch {
	case repo == nil:
		w.Header().Set("X-Error-Code", "RepoNotFound")
		w.WriteHeader(http.StatusNotFound)
		return
	case repo.hidden:
		w.Header().Set("X-Error-Code", "RepoNotFound")
		w.Header().Set("X-Error-Message", "Repository not found")
		w.WriteHeader(http.StatusUnauthorized)
		return
	case repo.private && r.Header.Get("Authorization") != "Bearer "+f.token:
		w.Header().Set("X-Error-Message", "Invalid username or password.")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	commit, ok := repo.refs[rev]
	if _, isCommit := repo.commits[rev]; !ok && isCommit {
		commit, ok = rev, true
	}
	if !ok {
		w.Header().Set("X-Error-Code", "RevisionNotFound")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("X-Repo-Commit", commit)
	file, ok := repo.commits[commit][name]
	if !ok {
		if !repo.plain404 {
			w.Header().Set("X-Error-Code", "EntryNotFound")
		}
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if file.lfs {
		sum := sha256Hex(file.data)
		w.Header().Set("ETag", `"not-the-content-hash"`)
		w.Header().Set("X-Linked-Etag", `"`+sum+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(file.data)+file.sizeExtra))
		w.Header().Set("Location", f.cdn.URL+"/blobs/"+sum+"?X-Amz-Signature=abc")
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `W/"`+gitBlobSHA1(file.data)+`"`)
	serveBytes(w, r, file.data, cdnOK)
}

func (f *fakeHub) serveCDN(w http.ResponseWriter, r *http.Request) {
	f.record("cdn", r)
	f.mu.Lock()
	mode := cdnOK
	if len(f.cdnModes) > 0 {
		mode, f.cdnModes = f.cdnModes[0], f.cdnModes[1:]
	}
	delay := f.cdnDelay
	f.mu.Unlock()
	time.Sleep(delay)
	data, ok := f.blobs[strings.TrimPrefix(r.URL.Path, "/blobs/")]
	if !ok || r.URL.Query().Get("X-Amz-Signature") == "" {
		http.Error(w, "AccessDenied", http.StatusForbidden)
		return
	}
	serveBytes(w, r, data, mode)
}

// serveBytes answers a GET or HEAD for data, honouring "Range: bytes=N-" unless told not to.
func serveBytes(w http.ResponseWriter, r *http.Request, data []byte, mode cdnMode) {
	status, body := http.StatusOK, data
	if rng := r.Header.Get("Range"); rng != "" && mode != cdnIgnoreRange {
		start, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rng, "bytes="), "-"))
		if err != nil || start >= len(data) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(data)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		status, body = http.StatusPartialContent, data[start:]
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(data)-1, len(data)))
	}
	switch mode {
	case cdnCorrupt:
		body = append([]byte(nil), body...)
		body[len(body)/2] ^= 0xff
	case cdnDrop:
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		writeRawHead(buf, status, w.Header(), len(body))
		buf.Write(body[:len(body)/2])
		buf.Flush()
		return
	case cdnStall:
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		w.Write(body[:len(body)/2])
		http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

func writeRawHead(buf *bufio.ReadWriter, status int, h http.Header, n int) {
	fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	h.Set("Content-Length", strconv.Itoa(n))
	h.Write(buf)
	buf.WriteString("\r\n")
}
