// Package hubtest is a loopback Hugging Face hub for tests of code that reads dataset repos:
// the API routes (/api/datasets/{id}[/revision/{rev}], the paginated /tree listing) and the
// resolve route, answered the way huggingface.co answers them (X-Repo-Commit, ETag, LFS files
// with X-Linked-Etag/X-Linked-Size and a redirect to a CDN path, X-Error-Code on errors).
package hubtest

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Repo is one dataset repo: refs (branch or ref name -> commit) and each commit's files.
type Repo struct {
	Refs    map[string]string
	Commits map[string]map[string][]byte
}

// Server serves dataset repos until closed.
type Server struct {
	*httptest.Server
	// PageSize is the number of tree entries per page (pagination via Link rel="next").
	PageSize int
	// Token, when set, makes every repo private: the API and resolve routes answer 401 with
	// X-Error-Code RepoNotFound (as the hub does) unless "Authorization: Bearer Token" is sent.
	Token string

	mu    sync.Mutex
	repos map[string]*Repo
	reqs  []string
}

// NewDatasetServer starts a hub with the given repos (id -> repo).
func NewDatasetServer(repos map[string]*Repo) *Server {
	s := &Server{repos: repos, PageSize: 2}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Requests returns and clears the log of "METHOD escaped-path" lines.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reqs
	s.reqs = nil
	return r
}

// SetFile replaces (or adds, or with nil removes) a file of a commit while serving.
func (s *Server) SetFile(repo, commit, name string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if data == nil {
		delete(s.repos[repo].Commits[commit], name)
		return
	}
	s.repos[repo].Commits[commit][name] = data
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.EscapedPath()
	s.mu.Lock()
	s.reqs = append(s.reqs, r.Method+" "+raw)
	defer s.mu.Unlock()
	private := strings.HasPrefix(raw, "/api/") || strings.HasPrefix(raw, "/datasets/")
	if private && s.Token != "" && r.Header.Get("Authorization") != "Bearer "+s.Token {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		http.Error(w, "Repository not found", http.StatusUnauthorized)
		return
	}
	switch {
	case strings.HasPrefix(raw, "/api/datasets/"):
		s.api(w, r, strings.TrimPrefix(raw, "/api/datasets/"))
	case strings.HasPrefix(raw, "/datasets/"):
		s.resolve(w, r, strings.TrimPrefix(raw, "/datasets/"))
	case strings.HasPrefix(raw, "/cdn/"):
		s.cdn(w, r, strings.TrimPrefix(raw, "/cdn/"))
	default:
		w.Header().Set("X-Error-Code", "RepoNotFound")
		http.Error(w, "not found", http.StatusNotFound)
	}
}

// splitRepo finds "org/name" (or "name") at the start of rest and returns the remainder.
func (s *Server) splitRepo(rest string) (string, *Repo, string) {
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) >= 2 {
		if repo := s.repos[parts[0]+"/"+parts[1]]; repo != nil {
			tail := ""
			if len(parts) == 3 {
				tail = parts[2]
			}
			return parts[0] + "/" + parts[1], repo, tail
		}
	}
	if repo := s.repos[parts[0]]; repo != nil {
		return parts[0], repo, strings.TrimPrefix(rest, parts[0]+"/")
	}
	return "", nil, ""
}

func (s *Server) commitOf(repo *Repo, rev string) (string, bool) {
	if c, ok := repo.Refs[rev]; ok {
		return c, true
	}
	_, ok := repo.Commits[rev]
	return rev, ok
}

func notFound(w http.ResponseWriter, code string) {
	w.Header().Set("X-Error-Code", code)
	http.Error(w, code, http.StatusNotFound)
}

func (s *Server) api(w http.ResponseWriter, r *http.Request, rest string) {
	id, repo, tail := s.splitRepo(rest)
	if repo == nil {
		notFound(w, "RepoNotFound")
		return
	}
	rev := "main"
	switch {
	case tail == "":
	case strings.HasPrefix(tail, "revision/"):
		rev, _ = url.PathUnescape(strings.TrimPrefix(tail, "revision/"))
	case strings.HasPrefix(tail, "tree/"):
		revEsc, _, _ := strings.Cut(strings.TrimPrefix(tail, "tree/"), "/")
		rev, _ = url.PathUnescape(revEsc)
		s.tree(w, r, id, repo, rev)
		return
	default:
		http.NotFound(w, r)
		return
	}
	commit, ok := s.commitOf(repo, rev)
	if !ok {
		notFound(w, "RevisionNotFound")
		return
	}
	var siblings []map[string]string
	for _, name := range sortedNames(repo.Commits[commit]) {
		siblings = append(siblings, map[string]string{"rfilename": name})
	}
	writeJSON(w, map[string]any{"id": id, "sha": commit, "siblings": siblings})
}

func (s *Server) tree(w http.ResponseWriter, r *http.Request, id string, repo *Repo, rev string) {
	commit, ok := s.commitOf(repo, rev)
	if !ok {
		notFound(w, "RevisionNotFound")
		return
	}
	names := sortedNames(repo.Commits[commit])
	start, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
	end := min(start+s.PageSize, len(names))
	if start > len(names) {
		start = len(names)
	}
	var entries []map[string]any
	for _, n := range names[start:end] {
		entries = append(entries, map[string]any{"type": "file", "path": n, "size": len(repo.Commits[commit][n])})
	}
	if end < len(names) {
		next := fmt.Sprintf("%s/api/datasets/%s/tree/%s?recursive=true&cursor=%d", s.URL, id, url.PathEscape(rev), end)
		w.Header().Set("Link", "<"+next+`>; rel="next"`)
	}
	if entries == nil {
		entries = []map[string]any{}
	}
	writeJSON(w, entries)
}

func (s *Server) resolve(w http.ResponseWriter, r *http.Request, rest string) {
	id, repo, tail := s.splitRepo(rest)
	if repo == nil {
		notFound(w, "RepoNotFound")
		return
	}
	revEsc, nameEsc, ok := strings.Cut(strings.TrimPrefix(tail, "resolve/"), "/")
	rev, err1 := url.PathUnescape(revEsc)
	name, err2 := url.PathUnescape(nameEsc)
	if !strings.HasPrefix(tail, "resolve/") || !ok || err1 != nil || err2 != nil {
		http.Error(w, "bad path", http.StatusBadRequest)
		return
	}
	commit, ok := s.commitOf(repo, rev)
	if !ok {
		notFound(w, "RevisionNotFound")
		return
	}
	w.Header().Set("X-Repo-Commit", commit)
	data, ok := repo.Commits[commit][name]
	if !ok {
		notFound(w, "EntryNotFound")
		return
	}
	if strings.HasSuffix(name, ".parquet") { // an LFS file: the content lives on the CDN
		sum := sha256.Sum256(data)
		h := hex.EncodeToString(sum[:])
		w.Header().Set("X-Linked-Etag", `"`+h+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(data)))
		w.Header().Set("Location", s.URL+"/cdn/"+id+"/"+commit+"/"+nameEsc)
		w.WriteHeader(http.StatusFound)
		return
	}
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	w.Header().Set("ETag", `"`+hex.EncodeToString(h.Sum(nil))+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	if r.Method != http.MethodHead {
		w.Write(data)
	}
}

func (s *Server) cdn(w http.ResponseWriter, r *http.Request, rest string) {
	id, repo, tail := s.splitRepo(rest)
	commit, nameEsc, _ := strings.Cut(tail, "/")
	name, _ := url.PathUnescape(nameEsc)
	var data []byte
	ok := false
	if repo != nil {
		data, ok = repo.Commits[commit][name]
	}
	if !ok {
		http.Error(w, "AccessDenied "+id, http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	if r.Method != http.MethodHead {
		w.Write(data)
	}
}

func sortedNames(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
