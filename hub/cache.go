package hub

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// repoCache knows huggingface_hub's layout of one repository in the cache:
//
//	<cache>/models--org--name/refs/<revision>               commit sha, no newline
//	<cache>/models--org--name/blobs/<etag>                  content (".incomplete" while downloading)
//	<cache>/models--org--name/snapshots/<commit>/<file>     -> ../../blobs/<etag>
//	<cache>/models--org--name/.no_exist/<commit>/<file>     empty: file absent at that commit
//	<cache>/.locks/models--org--name/<etag>.lock
type repoCache struct {
	cache, root, locks string
}

func newRepoCacheOf(kind repoType, cacheDir, repoID string) repoCache {
	folder := repoFolderNameOf(kind, repoID)
	return repoCache{
		cache: cacheDir,
		root:  filepath.Join(cacheDir, folder),
		locks: filepath.Join(cacheDir, ".locks", folder),
	}
}

func (r repoCache) refPath(rev string) string {
	return filepath.Join(r.root, "refs", filepath.FromSlash(rev))
}

func (r repoCache) snapshotPath(commit, file string) string {
	return filepath.Join(r.root, "snapshots", commit, filepath.FromSlash(file))
}

func (r repoCache) noExistPath(commit, file string) string {
	return filepath.Join(r.root, ".no_exist", commit, filepath.FromSlash(file))
}

func (r repoCache) blobPath(etag string) string { return filepath.Join(r.root, "blobs", etag) }

func (r repoCache) lockPath(etag string) string { return filepath.Join(r.locks, etag+".lock") }

// commitFor maps a revision to a commit using refs/ (a commit hash maps to itself).
func (r repoCache) commitFor(rev string) (string, bool) {
	if isCommitHash(rev) {
		return rev, true
	}
	b, err := os.ReadFile(r.refPath(rev))
	if err != nil {
		return "", false
	}
	commit := strings.TrimSpace(string(b))
	if safeComponent("commit", commit) != nil {
		return "", false
	}
	return commit, true
}

// cacheState is what the cache knows about one file at one revision.
type cacheState int

const (
	cacheMissing  cacheState = iota // nothing known
	cacheHit                        // snapshot file present
	cacheNoExists                   // recorded as absent
)

// lookup finds a file without the network: the snapshot file for the revision's commit, or the
// .no_exist marker an earlier online call left.
func (r repoCache) lookup(rev, file string) (string, cacheState) {
	commit, ok := r.commitFor(rev)
	if !ok {
		return "", cacheMissing
	}
	if p := r.snapshotPath(commit, file); fileExists(p) {
		return p, cacheHit
	}
	if fileExists(r.noExistPath(commit, file)) {
		return "", cacheNoExists
	}
	return "", cacheMissing
}

// writeRef records revision -> commit, atomically and without a newline, like huggingface_hub.
func (r repoCache) writeRef(rev, commit string) error {
	if rev == commit {
		return nil
	}
	p := r.refPath(rev)
	if b, err := os.ReadFile(p); err == nil && string(b) == commit {
		return nil
	}
	return writeFileAtomic(p, []byte(commit))
}

// markNoExist records that file is absent at commit, so offline lookups can say so.
func (r repoCache) markNoExist(commit, file string) error {
	p := r.noExistPath(commit, file)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// link makes snapshots/<commit>/<file> point at the blob with a relative symlink, replacing any
// stale entry atomically; where symlinks are unavailable it copies the blob instead.
func (r repoCache) link(blob, pointer string) error {
	dir := filepath.Dir(pointer)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("hub: creating snapshot folder: %w", err)
	}
	rel, err := filepath.Rel(dir, blob)
	if err != nil {
		return err
	}
	tmp, err := tempName(dir, filepath.Base(pointer))
	if err != nil {
		return err
	}
	if err := os.Symlink(rel, tmp); err == nil {
		if err := os.Rename(tmp, pointer); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("hub: creating snapshot link %s: %w", pointer, err)
		}
		return nil
	}
	if err := copyFile(blob, tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("hub: copying %s to snapshot %s: %w", blob, pointer, err)
	}
	if err := os.Rename(tmp, pointer); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("hub: creating snapshot file %s: %w", pointer, err)
	}
	return nil
}

// writeCacheDirTag marks the cache as regenerable for backup tools (best effort, once).
func writeCacheDirTag(cacheDir string) {
	p := filepath.Join(cacheDir, "CACHEDIR.TAG")
	if fileExists(p) {
		return
	}
	_ = writeFileAtomic(p, []byte("Signature: 8a477f597d28d172789f06886806bc55\n"+
		"# This file is a cache directory tag created by the Hugging Face hub cache.\n"+
		"# For information about cache directory tags, see: https://bford.info/cachedir/\n"))
}

// fileExists reports whether p exists, following symlinks (a dangling link does not count).
func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// tempName reserves an unused name in dir for a file that will be renamed into place.
func tempName(dir, base string) (string, error) {
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	return name, nil
}

// writeFileAtomic writes data to a temp file in the same folder and renames it over path.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Chmod(0o644) // CreateTemp makes 0600; cache files are shared like Python's
	}
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		os.Remove(f.Name())
		return fmt.Errorf("hub: writing %s: %w", path, werr)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
