//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package hub

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// lockStale is how old an unrefreshed lock file must be before it is taken over; holders
// refresh theirs every lockStale/4, so only a crashed holder's lock gets this old.
const lockStale = time.Minute

// lockFile creates path exclusively (O_EXCL) for systems without flock, waiting while a live
// holder refreshes it and taking over a lock left behind by a crashed process.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("hub: creating lock folder: %w", err)
	}
	for {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			f.Close()
			stop := make(chan struct{})
			go func() {
				t := time.NewTicker(lockStale / 4)
				defer t.Stop()
				for {
					select {
					case <-stop:
						return
					case now := <-t.C:
						os.Chtimes(path, now, now)
					}
				}
			}()
			return func() { close(stop); os.Remove(path) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("hub: creating lock %s: %w", path, err)
		}
		if fi, err := os.Stat(path); err == nil && time.Since(fi.ModTime()) > lockStale {
			os.Remove(path)
			continue
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("hub: waiting for lock %s: %w", path, context.Cause(ctx))
		case <-time.After(lockPoll):
		}
	}
}
