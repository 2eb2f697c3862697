package hub

import (
	"context"
	"errors"
	"fmt"
)

// Download returns the local path of repo file filename at revision (default "main"): the
// cached snapshot file when present, otherwise it is downloaded into the cache first.
//
// Online, a HEAD request resolves the revision to a commit (recorded in refs/) and the file to
// a content hash; a file already cached for that commit costs no GET. If the hub cannot be
// reached (or refuses, other than "no such file/revision"), a cached copy for the revision is
// returned instead, as huggingface_hub does. Offline, only the cache is consulted.
//
// Errors wrap ErrEntryNotFound, ErrRepoNotFound, ErrRevisionNotFound, ErrUnauthorized,
// ErrOffline, ErrConnection or ErrIntegrity where they apply.
func (c *Client) Download(ctx context.Context, repoID, revision, filename string) (string, error) {
	return c.download(ctx, modelRepo, repoID, revision, filename)
}

func (c *Client) download(ctx context.Context, kind repoType, repoID, revision, filename string) (string, error) {
	if revision == "" {
		revision = "main"
	}
	if err := validateRepoID(repoID); err != nil {
		return "", err
	}
	if err := validatePathish("revision", revision); err != nil {
		return "", err
	}
	if err := validatePathish("filename", filename); err != nil {
		return "", err
	}
	cache := newRepoCacheOf(kind, c.cacheDir(), repoID)

	// A commit is immutable: a cached file for it is final (huggingface_hub skips the HEAD too).
	if isCommitHash(revision) {
		if p := cache.snapshotPath(revision, filename); fileExists(p) {
			return p, nil
		}
	}
	if c.Offline {
		return c.fromCache(cache, repoID, revision, filename)
	}

	meta, err := c.headOf(ctx, kind, repoID, revision, filename)
	if err != nil {
		return c.headFailed(ctx, cache, meta, err, repoID, revision, filename)
	}
	if err := cache.writeRef(revision, meta.Commit); err != nil {
		return "", err
	}
	pointer := cache.snapshotPath(meta.Commit, filename)
	if fileExists(pointer) {
		return pointer, nil
	}
	blob := cache.blobPath(meta.ETag)
	if !fileExists(blob) {
		writeCacheDirTag(c.cacheDir())
		unlock, err := lockFile(ctx, cache.lockPath(meta.ETag))
		if err != nil {
			return "", err
		}
		defer unlock()
		// Another process may have finished the blob while we waited for the lock.
		if !fileExists(blob) {
			if err := c.fetchBlob(ctx, meta, blob, filename); err != nil {
				return "", err
			}
		}
	}
	if err := cache.link(blob, pointer); err != nil {
		return "", err
	}
	return pointer, nil
}

// headFailed decides what a failed HEAD means: a recorded absence, a definite error, or a
// reason to fall back to the cached copy.
func (c *Client) headFailed(ctx context.Context, cache repoCache, meta fileMeta, err error, repoID, revision, filename string) (string, error) {
	switch {
	case errors.Is(err, ErrEntryNotFound):
		// Remember the absence so offline runs (and fallbacks) can tell at once.
		if meta.Commit != "" && safeComponent("commit", meta.Commit) == nil {
			_ = cache.markNoExist(meta.Commit, filename)
			_ = cache.writeRef(revision, meta.Commit)
		}
		return "", err
	case errors.Is(err, ErrRevisionNotFound), errors.Is(ctx.Err(), context.Canceled):
		return "", err
	}
	p, state := cache.lookup(revision, filename)
	switch state {
	case cacheHit:
		return p, nil
	case cacheNoExists:
		return "", fmt.Errorf("%w: %s at revision %q of %s (recorded in the cache; the hub was not reachable: %v)",
			ErrEntryNotFound, filename, revision, repoID, err)
	}
	return "", err
}

// fromCache serves an offline request.
func (c *Client) fromCache(cache repoCache, repoID, revision, filename string) (string, error) {
	p, state := cache.lookup(revision, filename)
	switch state {
	case cacheHit:
		return p, nil
	case cacheNoExists:
		return "", fmt.Errorf("%w: %s at revision %q of %s (recorded in the cache %s)",
			ErrEntryNotFound, filename, revision, repoID, cache.root)
	}
	return "", fmt.Errorf("%w: %s at revision %q of %s is not in %s, and HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) forbids downloading it",
		ErrOffline, filename, revision, repoID, c.cacheDir())
}
