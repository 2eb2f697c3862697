package hub

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHeadMetadata(t *testing.T) {
	f := newFakeHub(t)
	c := newTestClient(t, f, "")
	tests := []struct {
		name, repo, rev, file string
		commit, locPrefix     string
	}{
		{"regular file: weak ETag, Content-Length, hub URL", "acme/resnet-tiny", "main", "config.json", commitMain, f.hub.URL + "/acme/resnet-tiny/resolve/main/"},
		{"LFS file: X-Linked-*, CDN Location", "acme/resnet-tiny", "v2", "model.safetensors", commitV2, f.cdn.URL + "/blobs/"},
		{"renamed repo: relative redirect followed", "old/resnet-tiny", "main", "config.json", commitMain, f.hub.URL + "/acme/resnet-tiny/resolve/main/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := c.head(context.Background(), tc.repo, tc.rev, tc.file)
			if err != nil {
				t.Fatal(err)
			}
			want := f.file("acme/resnet-tiny", tc.rev, tc.file)
			if m.Commit != tc.commit || m.ETag != etagOf(want) || m.Size != int64(len(want.data)) || !strings.HasPrefix(m.Location, tc.locPrefix) {
				t.Errorf("got %+v\nwant commit %s etag %s size %d location %s...", m, tc.commit, etagOf(want), len(want.data), tc.locPrefix)
			}
		})
	}
}

func TestAnnouncedSizeMismatch(t *testing.T) {
	f := newFakeHub(t)
	c := newTestClient(t, f, "")
	_, err := c.Download(context.Background(), "acme/resnet-tiny", "main", "truncated.bin")
	if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "1024") {
		t.Fatalf("err = %v, want a size mismatch naming the announced 1024 bytes", err)
	}
	blob := filepath.Join(repoRoot(c, "acme/resnet-tiny"), "blobs", etagOf(f.file("acme/resnet-tiny", "main", "truncated.bin")))
	assertNotExist(t, blob)
	assertNotExist(t, blob+".incomplete")
}

func TestMissingBlobIsFetchedAgain(t *testing.T) {
	f := newFakeHub(t)
	c := newTestClient(t, f, "")
	p, err := c.Download(context.Background(), "acme/resnet-tiny", "main", "model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	blob := filepath.Join(repoRoot(c, "acme/resnet-tiny"), "blobs", etagOf(f.file("acme/resnet-tiny", "main", "model.safetensors")))
	if err := os.Remove(blob); err != nil { // the snapshot link now dangles
		t.Fatal(err)
	}
	f.requests()
	if p2, err := c.Download(context.Background(), "acme/resnet-tiny", "main", "model.safetensors"); err != nil || p2 != p {
		t.Fatalf("got %q, %v", p2, err)
	}
	if count(f.requests(), "cdn", "GET") != 1 || !fileExists(p) {
		t.Error("dangling snapshot link was not repaired by a new download")
	}
}
