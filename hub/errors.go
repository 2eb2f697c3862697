package hub

import "errors"

// Sentinel errors; every error returned by Download that falls in one of these classes wraps it,
// so callers branch with errors.Is and still show users the detailed message.
var (
	// ErrEntryNotFound: the repository exists but has no such file at that revision. Callers use
	// it to fall back, for example from model.safetensors to pytorch_model.bin. Offline, it is
	// returned when an earlier online lookup recorded the absence (.no_exist marker).
	ErrEntryNotFound = errors.New("hub: file not found in repository")
	// ErrRepoNotFound: the repository does not exist (or is private and no valid token was sent;
	// the hub does not tell these apart).
	ErrRepoNotFound = errors.New("hub: repository not found")
	// ErrRevisionNotFound: the branch, tag or commit does not exist in the repository.
	ErrRevisionNotFound = errors.New("hub: revision not found")
	// ErrUnauthorized: 401/403; the repository is private or gated and needs HF_TOKEN.
	ErrUnauthorized = errors.New("hub: not authorized")
	// ErrOffline: offline mode is on and the file is not in the cache.
	ErrOffline = errors.New("hub: offline mode and file not in cache")
	// ErrConnection: the hub could not be reached (DNS, refused connection, timeout) and the
	// file is not in the cache.
	ErrConnection = errors.New("hub: cannot reach the hub")
	// ErrIntegrity: the downloaded bytes do not match the size or sha256 the hub announced; the
	// partial file has been deleted.
	ErrIntegrity = errors.New("hub: downloaded file failed verification")
)

// multiKind is an error that belongs to several classes at once.
type multiKind struct {
	msg   string
	kinds []error
}

func (e *multiKind) Error() string   { return e.msg }
func (e *multiKind) Unwrap() []error { return e.kinds }
