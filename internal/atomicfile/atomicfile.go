// Package atomicfile writes files so that readers see either the old file or the complete new
// one, never a part: the data goes to a temporary file in the same directory, is synced, and
// is renamed into place. Every file the project writes for users goes through here.
package atomicfile

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// tempPrefix is how the temporary file for path starts: ".name.tmp", then CreateTemp's digits.
func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp" }

// WriteFunc writes path through write, atomically, with mode 0644.
func WriteFunc(path string, write func(w io.Writer) error) (err error) {
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
