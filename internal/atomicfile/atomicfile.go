// Package atomicfile writes files so that readers see either the old file or the complete new
// one, never a part: the data goes to a temporary file in the same directory, is synced, and
// is renamed into place. Every file the project writes for users goes through here.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// tempPrefix is how the temporary file for path starts: ".name.tmp", then CreateTemp's digits.
func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp" }

// WriteFunc writes path through write, atomically, with mode 0644, creating the folders
// that lead to it (as `train --out` does: `classify --output out/top.jsonl` failed on a fresh
// folder, and so did the Kubernetes jobs writing under /data/out). A path that is a
// directory is refused before anything is written (the rename would fail only after all the
// work, with "file exists").
func WriteFunc(path string, write func(w io.Writer) error) (err error) {
	if err := CheckTarget(path); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), tempPrefix(path)+"*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// CheckTarget reports why path could not be written, if it can tell before any work: a
// directory at path, or a file where a folder leading to it would be (missing folders are
// created by the write). Commands that write their results at the end call it first, so that
// a mistyped --output fails at once, not after the work.
func CheckTarget(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory; name a file to write", path)
	}
	// The nearest folder on the way that exists must be one.
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		switch {
		case err == nil && !fi.IsDir():
			return fmt.Errorf("cannot write %s: %s is not a directory", path, dir)
		case err == nil:
			return nil
		case !errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("cannot write %s: %w", path, err)
		case filepath.Dir(dir) == dir:
			return fmt.Errorf("cannot write %s: %w", path, err)
		}
	}
}

// Write writes data to path atomically.
func Write(path string, data []byte) error {
	return WriteFunc(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// RemoveTemps deletes the temporary files that writes of path killed before their rename
// (kill -9, power loss) left beside it; each is as large as the file, so a training run
// preempted mid-checkpoint would otherwise leave one checkpoint's worth of hidden bytes per
// kill. Call it only when no other process is writing path.
func RemoveTemps(path string) error {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if rest, ok := strings.CutPrefix(e.Name(), tempPrefix(path)); ok && rest != "" && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(filepath.Dir(path), e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
