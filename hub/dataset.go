package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ParquetRevision is the branch where the dataset viewer keeps its Parquet export
// ({config}/{split}/NNNN.parquet), also for repos whose own files are not Parquet.
const ParquetRevision = "refs/convert/parquet"

// DownloadDataset is Download for a dataset repo: the file is resolved under
// {endpoint}/datasets/{id}/resolve/{rev}/{file} and cached under datasets--org--name, the
// layout huggingface_hub uses, so Python reuses the download and the other way round.
func (c *Client) DownloadDataset(ctx context.Context, repoID, revision, filename string) (string, error) {
	return c.download(ctx, datasetRepo, repoID, revision, filename)
}

// DatasetSnapshot is one commit of a dataset repo and the files it holds.
type DatasetSnapshot struct {
	ID       string   // the repo id as asked: huggingface_hub names the cache folder after it
	HubID    string   // the hub's own id for it (a renamed repo's new id); "" offline
	Revision string   // as asked ("main", "refs/convert/parquet", a tag or a commit)
	Commit   string   // the commit the revision points at
	Files    []string // repo-relative slash paths, sorted; offline: only the files cached
	Offline  bool     // Files come from the cache, not from the hub
}

// DatasetFiles resolves revision (default "main") to a commit and lists the repo's files
// there: online with GET /api/datasets/{id}/revision/{rev} for the commit (recorded in
// refs/<revision>, nested folders for refs/convert/parquet, like huggingface_hub) and the
// paginated tree listing /api/datasets/{id}/tree/{commit}?recursive=true; offline, or when the
// hub cannot be reached, from refs/ and the files already in snapshots/<commit>/.
func (c *Client) DatasetFiles(ctx context.Context, repoID, revision string) (*DatasetSnapshot, error) {
	if revision == "" {
		revision = "main"
	}
	if err := validateRepoID(repoID); err != nil {
		return nil, err
	}
	if err := validatePathish("revision", revision); err != nil {
		return nil, err
	}
	cache := newRepoCacheOf(datasetRepo, c.cacheDir(), repoID)
	if c.Offline {
		return c.cachedSnapshot(cache, repoID, revision, nil)
	}
	id, commit, err := c.datasetCommit(ctx, repoID, revision)
	if err != nil {
		if isDefinite(err) || ctx.Err() != nil {
			return nil, err
		}
		return c.cachedSnapshot(cache, repoID, revision, err)
	}
	if err := cache.writeRef(revision, commit); err != nil {
		return nil, err
	}
	files, err := c.datasetTree(ctx, id, commit)
	if err != nil {
		return nil, err
	}
	return &DatasetSnapshot{ID: repoID, HubID: id, Revision: revision, Commit: commit, Files: files}, nil
}

// isDefinite reports errors that a cached copy must not paper over.
func isDefinite(err error) bool {
	for _, e := range []error{ErrRepoNotFound, ErrRevisionNotFound, ErrUnauthorized} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// cachedSnapshot lists snapshots/<commit>/ for the commit refs/<revision> names.
func (c *Client) cachedSnapshot(cache repoCache, repoID, revision string, netErr error) (*DatasetSnapshot, error) {
	commit, ok := cache.commitFor(revision)
	if !ok {
		if netErr != nil {
			return nil, netErr
		}
		return nil, fmt.Errorf("%w: dataset %s at revision %q has never been downloaded into %s, and HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) forbids listing it on the hub",
			ErrOffline, repoID, revision, c.cacheDir())
	}
	root := filepath.Join(cache.root, "snapshots", commit)
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("hub: listing the cached snapshot %s: %w", root, err)
	}
	sort.Strings(files)
	return &DatasetSnapshot{ID: repoID, Revision: revision, Commit: commit, Files: files, Offline: true}, nil
}

// datasetCommit asks /api/datasets/{id}[/revision/{rev}] for the commit (and canonical id).
func (c *Client) datasetCommit(ctx context.Context, repoID, revision string) (id, commit string, err error) {
	u := c.endpoint() + "/api/datasets/" + repoID
	if revision != "main" {
		u += "/revision/" + quote(revision, "")
	}
	var info struct {
		ID  string `json:"id"`
		SHA string `json:"sha"`
	}
	if _, err := c.getJSON(ctx, u, repoID, revision, &info); err != nil {
		return "", "", err
	}
	if err := safeComponent("commit (sha)", info.SHA); err != nil {
		return "", "", err
	}
	id = repoID
	if info.ID != "" && validateRepoID(info.ID) == nil {
		id = info.ID
	}
	return id, info.SHA, nil
}

// maxTreePages bounds the pagination of one listing (1000 entries a page on the hub).
const maxTreePages = 10000

// datasetTree lists every file at commit, following the Link rel="next" pagination.
func (c *Client) datasetTree(ctx context.Context, repoID, commit string) ([]string, error) {
	next := c.endpoint() + "/api/datasets/" + repoID + "/tree/" + quote(commit, "") + "?recursive=true"
	var files []string
	for page := 0; next != ""; page++ {
		if page == maxTreePages {
			return nil, fmt.Errorf("hub: listing %s: more than %d pages", repoID, maxTreePages)
		}
		var entries []struct {
			Type string `json:"type"`
			Path string `json:"path"`
		}
		resp, err := c.getJSON(ctx, next, repoID, commit, &entries)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.Type == "file" && validatePathish("file", e.Path) == nil {
				files = append(files, e.Path)
			}
		}
		next = nextLink(resp.Header.Get("Link"), resp.Request.URL)
	}
	sort.Strings(files)
	return files, nil
}

// nextLink extracts rel="next" from a Link header, resolved against the request URL.
func nextLink(h string, base *url.URL) string {
	for _, part := range strings.Split(h, ",") {
		target, params, ok := strings.Cut(part, ";")
		if !ok || !strings.Contains(strings.ReplaceAll(params, " ", ""), `rel="next"`) {
			continue
		}
		target = strings.Trim(strings.TrimSpace(target), "<>")
		u, err := url.Parse(target)
		if err != nil {
			return ""
		}
		return base.ResolveReference(u).String()
	}
	return ""
}

// maxJSON bounds an API answer (a tree page of 1000 entries is about 300 KB).
const maxJSON = 64 << 20

// getJSON GETs an API URL with the token and decodes the answer into v.
func (c *Client) getJSON(ctx context.Context, u, repoID, revision string, v any) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.metadataTimeout()+c.stallTimeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("hub: bad endpoint %q: %w", c.endpoint(), err)
	}
	c.setHeaders(req, c.sameHost(req))
	req.Header.Set("Accept", "application/json")
	resp, err := c.downloadClient().Do(req)
	if err != nil {
		return nil, c.connError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return nil, c.statusError(resp, repoID, revision, "(listing)")
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJSON+1))
	if err != nil {
		return nil, c.connError(ctx, err)
	}
	if len(body) > maxJSON {
		return nil, fmt.Errorf("hub: %s answered more than %d MiB", resp.Request.URL, maxJSON>>20)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return nil, fmt.Errorf("hub: %s answered %s that is not the expected JSON: %v", resp.Request.URL, resp.Status, err)
	}
	return resp, nil
}

// ValidRepoID reports whether s is a well-formed repo id ("name" or "org/name"), without
// looking at the disk as IsRepoID does.
func ValidRepoID(s string) bool { return validateRepoID(s) == nil }
