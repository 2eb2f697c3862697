package hub_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/hub"
	"github.com/resnet-go/resnet/hub/hubtest"
)

const (
	dsMain    = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	dsV2      = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	dsParquet = "cccccccccccccccccccccccccccccccccccccccc"
)

func datasetHub(t *testing.T) *hubtest.Server {
	srv := hubtest.NewDatasetServer(map[string]*hubtest.Repo{
		"acme/pics": {
			Refs: map[string]string{"main": dsMain, "v2": dsV2, hub.ParquetRevision: dsParquet},
			Commits: map[string]map[string][]byte{
				dsMain: {"README.md": []byte("# pics\n"), "cats_image.jpeg": []byte("jpeg-v1")},
				dsV2:   {"README.md": []byte("# pics v2\n"), "cats_image.jpeg": []byte("jpeg-v2")},
				dsParquet: {
					"image/test/0000.parquet":  []byte("PAR1 shard 0 PAR1"),
					"image/test/0001.parquet":  []byte("PAR1 shard 1 PAR1"),
					"image/train/0000.parquet": []byte("PAR1 train PAR1"),
				},
			},
		},
	})
	t.Cleanup(srv.Close)
	return srv
}

func TestDatasetDownloadCacheLayoutOffline(t *testing.T) {
	srv := datasetHub(t)
	cache := t.TempDir()
	c := &hub.Client{Endpoint: srv.URL, CacheDir: cache}
	ctx := context.Background()

	tests := []struct {
		rev, commit string
		files       []string
		fetch       string
		want        string
	}{
		{"", dsMain, []string{"README.md", "cats_image.jpeg"}, "cats_image.jpeg", "jpeg-v1"},
		{"v2", dsV2, []string{"README.md", "cats_image.jpeg"}, "cats_image.jpeg", "jpeg-v2"},
		{hub.ParquetRevision, dsParquet, []string{"image/test/0000.parquet", "image/test/0001.parquet", "image/train/0000.parquet"}, "image/test/0001.parquet", "PAR1 shard 1 PAR1"},
	}
	root := filepath.Join(cache, "datasets--acme--pics")
	for _, tc := range tests {
		snap, err := c.DatasetFiles(ctx, "acme/pics", tc.rev)
		if err != nil {
			t.Fatalf("%q: %v", tc.rev, err)
		}
		if snap.Commit != tc.commit || !slices.Equal(snap.Files, tc.files) || snap.ID != "acme/pics" || snap.Offline {
			t.Errorf("%q: %+v, want commit %s files %v", tc.rev, snap, tc.commit, tc.files)
		}
		p, err := c.DownloadDataset(ctx, "acme/pics", snap.Commit, tc.fetch)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != tc.want {
			t.Errorf("%q/%s reads %q, want %q", tc.rev, tc.fetch, b, tc.want)
		}
		// huggingface_hub's layout: snapshots/<commit>/<path> is a relative link into blobs/.
		if want := filepath.Join(root, "snapshots", tc.commit, filepath.FromSlash(tc.fetch)); p != want {
			t.Errorf("path %s, want %s", p, want)
		}
		link, err := os.Readlink(p)
		depth := strings.Count(tc.fetch, "/")
		if err != nil || !strings.HasPrefix(link, strings.Repeat("../", depth+2)+"blobs/") {
			t.Errorf("%s links to %q (%v), want ../../%sblobs/<etag>", p, link, err, strings.Repeat("../", depth))
		}
	}
	// Refs: plain files holding the commit; a revision with slashes is nested folders.
	for ref, commit := range map[string]string{"main": dsMain, "v2": dsV2, "refs/convert/parquet": dsParquet} {
		b, err := os.ReadFile(filepath.Join(root, "refs", filepath.FromSlash(ref)))
		if err != nil || string(b) != commit {
			t.Errorf("refs/%s = %q (%v), want %s", ref, b, err, commit)
		}
	}
	// The parquet shard is an LFS file: its blob is named by sha256.
	blobs, _ := os.ReadDir(filepath.Join(root, "blobs"))
	if len(blobs) != 3 {
		t.Errorf("%d blobs, want 3", len(blobs))
	}
	reqs := strings.Join(srv.Requests(), "\n")
	for _, want := range []string{
		"GET /api/datasets/acme/pics\n",
		"GET /api/datasets/acme/pics/revision/v2",
		"GET /api/datasets/acme/pics/revision/refs%2Fconvert%2Fparquet",
		"GET /api/datasets/acme/pics/tree/" + dsParquet,
		"HEAD /datasets/acme/pics/resolve/" + dsParquet + "/image/test/0001.parquet",
	} {
		if !strings.Contains(reqs+"\n", want) {
			t.Errorf("no request %q in\n%s", want, reqs)
		}
	}
	// Three files on a page of two: the listing followed the Link header.
	if n := strings.Count(reqs, "/tree/"+dsParquet); n != 2 {
		t.Errorf("%d tree pages for 3 files at 2 a page, want 2", n)
	}

	// Offline: same answers from the cache, no request; what was never fetched is an error.
	off := &hub.Client{Endpoint: srv.URL, CacheDir: cache, Offline: true}
	snap, err := off.DatasetFiles(ctx, "acme/pics", hub.ParquetRevision)
	if err != nil || !snap.Offline || snap.Commit != dsParquet || !slices.Equal(snap.Files, []string{"image/test/0001.parquet"}) {
		t.Errorf("offline listing %+v, %v", snap, err)
	}
	if p, err := off.DownloadDataset(ctx, "acme/pics", dsParquet, "image/test/0001.parquet"); err != nil || !strings.HasPrefix(p, root) {
		t.Errorf("offline re-open: %s, %v", p, err)
	}
	if _, err := off.DownloadDataset(ctx, "acme/pics", dsParquet, "image/test/0000.parquet"); !errors.Is(err, hub.ErrOffline) {
		t.Errorf("offline miss: %v, want ErrOffline", err)
	}
	if _, err := off.DatasetFiles(ctx, "acme/other", ""); !errors.Is(err, hub.ErrOffline) {
		t.Errorf("offline unknown repo: %v, want ErrOffline", err)
	}
	if r := srv.Requests(); len(r) != 0 {
		t.Errorf("offline client made requests: %v", r)
	}
	// The hub gone: the listing falls back to the cache, as downloads do.
	srv.Close()
	if snap, err := c.DatasetFiles(ctx, "acme/pics", "v2"); err != nil || !snap.Offline || snap.Commit != dsV2 {
		t.Errorf("unreachable hub: %+v, %v", snap, err)
	}
}

func TestDatasetErrors(t *testing.T) {
	srv := datasetHub(t)
	c := &hub.Client{Endpoint: srv.URL, CacheDir: t.TempDir()}
	ctx := context.Background()
	if _, err := c.DatasetFiles(ctx, "acme/nope", ""); !errors.Is(err, hub.ErrRepoNotFound) {
		t.Errorf("unknown repo: %v", err)
	}
	if _, err := c.DatasetFiles(ctx, "acme/pics", "v9"); !errors.Is(err, hub.ErrRevisionNotFound) {
		t.Errorf("unknown revision: %v", err)
	}
	if _, err := c.DownloadDataset(ctx, "acme/pics", "main", "absent.txt"); !errors.Is(err, hub.ErrEntryNotFound) {
		t.Errorf("unknown file: %v", err)
	}
	if _, err := c.DatasetFiles(ctx, "acme/../x", ""); err == nil {
		t.Error("bad repo id accepted")
	}
}

// A private dataset repo: refused without the token (the hub's "not found or not allowed"),
// listed and downloaded with it.
func TestDatasetToken(t *testing.T) {
	srv := datasetHub(t)
	srv.Token = "hf_secret"
	ctx := context.Background()
	anon := &hub.Client{Endpoint: srv.URL, CacheDir: t.TempDir()}
	_, err := anon.DatasetFiles(ctx, "acme/pics", hub.ParquetRevision)
	if !errors.Is(err, hub.ErrUnauthorized) || !errors.Is(err, hub.ErrRepoNotFound) || !strings.Contains(err.Error(), "HF_TOKEN") {
		t.Errorf("without a token: %v", err)
	}
	if _, err := anon.DownloadDataset(ctx, "acme/pics", "main", "README.md"); !errors.Is(err, hub.ErrUnauthorized) {
		t.Errorf("download without a token: %v", err)
	}
	c := &hub.Client{Endpoint: srv.URL, CacheDir: t.TempDir(), Token: "hf_secret"}
	snap, err := c.DatasetFiles(ctx, "acme/pics", hub.ParquetRevision)
	if err != nil || len(snap.Files) != 3 {
		t.Fatalf("with the token: %+v, %v", snap, err)
	}
	if _, err := c.DownloadDataset(ctx, "acme/pics", snap.Commit, snap.Files[0]); err != nil {
		t.Errorf("download with the token: %v", err)
	}
}

// A file asked for by branch name: the revision is percent-encoded whole in the resolve URL
// (refs%2Fconvert%2Fparquet) and recorded under the nested refs/refs/convert/parquet.
func TestDatasetDownloadByBranch(t *testing.T) {
	srv := datasetHub(t)
	cache := t.TempDir()
	c := &hub.Client{Endpoint: srv.URL, CacheDir: cache}
	p, err := c.DownloadDataset(context.Background(), "acme/pics", hub.ParquetRevision, "image/train/0000.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "PAR1 train PAR1" {
		t.Errorf("read %q", b)
	}
	reqs := srv.Requests()
	if len(reqs) == 0 || reqs[0] != "HEAD /datasets/acme/pics/resolve/refs%2Fconvert%2Fparquet/image/train/0000.parquet" {
		t.Errorf("requests %v", reqs)
	}
	ref := filepath.Join(cache, "datasets--acme--pics", "refs", "refs", "convert", "parquet")
	if b, err := os.ReadFile(ref); err != nil || string(b) != dsParquet {
		t.Errorf("%s: %q, %v", ref, b, err)
	}
}
