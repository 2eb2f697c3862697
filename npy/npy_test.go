package npy

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// NumPy requires the whole preamble (magic, version, length, dict) to be a multiple of 64
// bytes and to end in a newline.
func TestHeaderAlignment(t *testing.T) {
	for _, shape := range [][]int{{1, 2}, {20, 64}, {123456, 2048}, {7}} {
		h := Header(shape)
		if len(h)%64 != 0 || h[len(h)-1] != '\n' || string(h[:6]) != "\x93NUMPY" {
			t.Errorf("%v: header of %d bytes: %q", shape, len(h), h)
		}
		if n := int(binary.LittleEndian.Uint16(h[8:10])); n != len(h)-10 {
			t.Errorf("%v: header length field %d, actual %d", shape, n, len(h)-10)
		}
	}
	if !strings.Contains(string(Header([]int{7})), "'shape': (7,)") {
		t.Error("1-d shape needs a trailing comma")
	}
}

func TestWriteMatrix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.npy")
	rows := [][]float32{{1, -2.5, 3}, {4, 5, float32(math.Pi)}}
	if err := WriteMatrix(path, rows); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	h := Header([]int{2, 3})
	if string(b[:len(h)]) != string(h) || len(b) != len(h)+24 {
		t.Fatalf("file of %d bytes", len(b))
	}
	if v := math.Float32frombits(binary.LittleEndian.Uint32(b[len(h)+20:])); v != float32(math.Pi) {
		t.Errorf("last value %v", v)
	}
	if err := WriteMatrix(path, [][]float32{{1, 2}, {3}}); err == nil {
		t.Error("ragged rows accepted")
	}
}
