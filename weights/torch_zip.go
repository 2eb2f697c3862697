package weights

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// parseTorchZip reads the torch >= 1.6 format: a zip whose entries share one
// top-level folder (any name) holding data.pkl and data/<storage key>.
func parseTorchZip(buf []byte) (StateDict, error) {
	zr, err := zip.NewReader(bytes.NewReader(buf), int64(len(buf)))
	if err != nil {
		return nil, fmt.Errorf("torch zip: %w", err)
	}
	if len(zr.File) == 0 {
		return nil, fmt.Errorf("torch zip: archive is empty")
	}
	first := zr.File[0].Name
	slash := strings.IndexByte(first, '/')
	if slash <= 0 {
		return nil, fmt.Errorf("torch zip: first entry %q is not inside a top-level folder", first)
	}
	prefix := first[:slash+1]
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		files[f.Name] = f
	}
	if f := files[prefix+"byteorder"]; f != nil {
		b, err := readZipEntry(f, 16)
		if err != nil {
			return nil, fmt.Errorf("torch zip: %w", err)
		}
		if s := strings.TrimSpace(string(b)); s != "little" {
			return nil, fmt.Errorf("torch zip: byteorder %q is not supported (only little)", s)
		}
	}
	pklFile := files[prefix+"data.pkl"]
	if pklFile == nil {
		hint := ""
		if files[prefix+"constants.pkl"] != nil {
			hint = " (a TorchScript archive? save the state_dict instead)"
		}
		return nil, fmt.Errorf("torch zip: no %sdata.pkl entry%s", prefix, hint)
	}
	pkl, err := readZipEntry(pklFile, maxPickleBytes)
	if err != nil {
		return nil, fmt.Errorf("torch zip: %w", err)
	}
	st := &torchStorages{byKey: map[string]*storageRef{}}
	top, _, err := unpickle(pkl, 0, st.persistentLoad)
	if err != nil {
		return nil, fmt.Errorf("torch zip: data.pkl: %w", err)
	}
	refs, err := stateDictRefs(top)
	if err != nil {
		return nil, fmt.Errorf("torch zip: %w", err)
	}
	sd, err := buildStateDict(refs, func(s *storageRef) ([]byte, error) {
		f := files[prefix+"data/"+s.key]
		if f == nil {
			return nil, fmt.Errorf("storage record %sdata/%s is missing", prefix, s.key)
		}
		want := s.numel * dtypeSizes[s.dtype]
		if f.UncompressedSize64 != uint64(want) {
			return nil, fmt.Errorf("storage record %s has %d bytes, but %s[%d] needs %d",
				f.Name, f.UncompressedSize64, s.dtype, s.numel, want)
		}
		return readZipEntry(f, want)
	})
	if err != nil {
		return nil, fmt.Errorf("torch zip: %w", err)
	}
	return sd, nil
}

// maxPickleBytes bounds data.pkl; a ResNet's is tens of kilobytes.
const maxPickleBytes = 64 << 20

// readZipEntry reads a whole entry of at most limit bytes. archive/zip checks the
// declared size and CRC as it reads, so a lying or corrupt entry is an error.
func readZipEntry(f *zip.File, limit int) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d expected", f.Name, f.UncompressedSize64, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, int64(limit)+1))
	if err == nil && len(b) != int(f.UncompressedSize64) {
		err = fmt.Errorf("read %d bytes, header says %d", len(b), f.UncompressedSize64)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	return b, nil
}
