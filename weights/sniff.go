package weights

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ReadFile loads any supported checkpoint, choosing the reader from the content
// rather than the file name: safetensors, torch zip, or legacy torch.save stream.
func ReadFile(path string) (StateDict, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var sd StateDict
	if err = sniff(buf); err == nil {
		if looksLikeSafetensors(buf) {
			sd, _, err = ParseSafetensors(buf)
		} else {
			sd, err = parsePyTorch(buf)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sd, nil
}

// looksLikeSafetensors checks for the '{' that opens the JSON header after the
// 8-byte length. Byte 8 of a torch zip (compression method) or of a legacy stream
// (inside the magic number) is never '{'. The length itself is left for the parser
// to judge, so a bad one gets a precise error.
func looksLikeSafetensors(b []byte) bool { return len(b) >= 9 && b[8] == '{' }

// Sniff reports, from its first bytes, whether path holds a checkpoint format ReadFile or
// OpenSafetensors reads, so that an image or a text file given as a model is named as what
// it is not before anything else is asked of it (such as a config.json beside it).
func Sniff(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 512)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return err
	}
	if err := sniff(buf[:n]); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// sniff is Sniff on a file's first bytes (512 of them suffice: a tar header's magic ends
// at 262).
func sniff(buf []byte) error {
	if looksLikeSafetensors(buf) || isZip(buf) || len(buf) > 0 && buf[0] == 0x80 || isTar(buf) {
		return nil
	}
	n := min(len(buf), 8)
	return fmt.Errorf("unrecognised checkpoint format (first bytes % x): want safetensors, a torch zip or a legacy torch.save file", buf[:n])
}
