package hub

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// repoIDPattern follows huggingface_hub's validate_repo_id (ASCII word characters): an
// optional namespace and a name, each made of letters, digits, "_", "-", "." and starting and
// ending with a letter, digit or "_".
var repoIDPattern = regexp.MustCompile(`^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?/)?[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?$`)

var commitPattern = regexp.MustCompile(`^[0-9a-f]{40}$`)

// IsRepoID reports whether s names a hub repository ("org/name" or "name") rather than a local
// path: it must be a valid repo id and must not exist on disk.
func IsRepoID(s string) bool {
	if validateRepoID(s) != nil {
		return false
	}
	_, err := os.Stat(s)
	return os.IsNotExist(err)
}

func validateRepoID(id string) error {
	switch {
	case !repoIDPattern.MatchString(id):
		return fmt.Errorf("hub: invalid repo id %q: want \"name\" or \"org/name\" of letters, digits, '-', '_', '.'", id)
	case strings.Contains(id, "--") || strings.Contains(id, ".."):
		return fmt.Errorf("hub: invalid repo id %q: '--' and '..' are not allowed", id)
	case strings.HasSuffix(id, ".git"):
		return fmt.Errorf("hub: invalid repo id %q: must not end in .git", id)
	}
	return nil
}

// isCommitHash reports whether rev is a full commit sha, which is immutable and needs no refs/.
func isCommitHash(rev string) bool { return commitPattern.MatchString(rev) }

// validatePathish rejects names that would escape the cache folder they are joined to.
func validatePathish(kind, s string) error {
	if s == "" {
		return fmt.Errorf("hub: empty %s", kind)
	}
	if strings.HasPrefix(s, "/") || strings.ContainsAny(s, "\\\x00") {
		return fmt.Errorf("hub: invalid %s %q", kind, s)
	}
	for _, part := range strings.Split(s, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("hub: invalid %s %q: empty, '.' or '..' path element", kind, s)
		}
	}
	return nil
}

// safeComponent checks a server-provided value (commit, etag) used as one file name.
func safeComponent(kind, s string) error {
	if s == "" || s == "." || s == ".." || len(s) > 255 || strings.ContainsAny(s, "/\\\x00") {
		return fmt.Errorf("hub: server sent an unusable %s %q", kind, s)
	}
	return nil
}

// repoFolderName is huggingface_hub's folder name of a model repo: "models--org--name".
func repoFolderName(repoID string) string { return repoFolderNameOf(modelRepo, repoID) }

// repoFolderNameOf is the cache folder of a repo of either type: "models--org--name" or
// "datasets--org--name".
func repoFolderNameOf(kind repoType, repoID string) string {
	return string(kind) + "s--" + strings.ReplaceAll(repoID, "/", "--")
}

// quote percent-encodes like Python's urllib.parse.quote with the given safe characters.
func quote(s, safe string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9',
			ch == '-', ch == '.', ch == '_', ch == '~', strings.IndexByte(safe, ch) >= 0:
			b.WriteByte(ch)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[ch>>4])
			b.WriteByte(hex[ch&15])
		}
	}
	return b.String()
}

// fileURL is {endpoint}/{repo}/resolve/{revision, fully quoted}/{filename, "/" kept}.
func (c *Client) fileURL(repoID, revision, filename string) string {
	return c.fileURLOf(modelRepo, repoID, revision, filename)
}

// fileURLOf adds the "datasets/" segment for dataset repos, as huggingface_hub's hf_hub_url.
func (c *Client) fileURLOf(kind repoType, repoID, revision, filename string) string {
	return c.endpoint() + "/" + kind.urlPrefix() + repoID + "/resolve/" + quote(revision, "") + "/" + quote(filename, "/")
}

// repoType is huggingface_hub's repo_type: the model and dataset repos differ only in the
// cache folder prefix and the URL segments.
type repoType string

const (
	modelRepo   repoType = "model"
	datasetRepo repoType = "dataset"
)

// urlPrefix is REPO_TYPES_URL_PREFIXES: "" for models, "datasets/" for datasets.
func (k repoType) urlPrefix() string {
	if k == modelRepo {
		return ""
	}
	return string(k) + "s/"
}
