package imageproc

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"strconv"
	"testing"

	"github.com/resnet-go/resnet/internal/testenv"
)

// readJSON loads a testdata manifest written by tools/fixtures/gen_resize.py.
func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (regenerate with: /usr/bin/python3 tools/fixtures/gen_resize.py)", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func mustDecode(t testing.TB, path string) *RGB {
	t.Helper()
	m, err := DecodeFile(path, DefaultMaxPixels)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// diffRGB describes how two images differ, or returns "" when identical.
func diffRGB(got, want *RGB) (msg string, maxDiff int) {
	if got.W != want.W || got.H != want.H {
		return "size " + itoa(got.W) + "x" + itoa(got.H) + ", want " + itoa(want.W) + "x" + itoa(want.H), 256
	}
	n, first := 0, -1
	for i := range got.Pix {
		d := int(got.Pix[i]) - int(want.Pix[i])
		if d != 0 {
			n++
			if first < 0 {
				first = i
			}
			maxDiff = max(maxDiff, d, -d)
		}
	}
	if n == 0 {
		return "", 0
	}
	p := first / 3
	return itoa(n) + " bytes differ (max " + itoa(maxDiff) + "), first at x=" + itoa(p%got.W) + " y=" + itoa(p/got.W) +
		" channel " + itoa(first%3) + ": got " + itoa(int(got.Pix[first])) + " want " + itoa(int(want.Pix[first])), maxDiff
}

func itoa(i int) string { return strconv.Itoa(i) }

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// float32LE is the little-endian bytes numpy's astype("<f4").tobytes() gives.
func float32LE(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// randRGB is a deterministic noise image.
func randRGB(w, h int, seed uint32) *RGB {
	m := NewRGB(w, h)
	s := seed*2654435761 + 1
	for i := range m.Pix {
		s ^= s << 13
		s ^= s >> 17
		s ^= s << 5
		m.Pix[i] = uint8(s >> 7)
	}
	return m
}

// sharedDir is ../shared beside the repository root.
func sharedDir(t testing.TB) string { return testenv.SharedDir(t) }
