package weights

import (
	"fmt"
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
	switch {
	case looksLikeSafetensors(buf):
		sd, _, err = ParseSafetensors(buf)
	case isZip(buf), len(buf) > 0 && buf[0] == 0x80, isTar(buf):
		sd, err = parsePyTorch(buf)
	default:
		n := min(len(buf), 8)
		err = fmt.Errorf("unrecognised checkpoint format (first bytes % x): want safetensors, a torch zip or a legacy torch.save file", buf[:n])
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
