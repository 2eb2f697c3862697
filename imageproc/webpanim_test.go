package imageproc

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An animated WebP decodes as its first frame (TestConvertMatchesPillow checks the pixels
// against Pillow); a first frame that covers less than the canvas, frames before the VP8X
// header, an animation with no frame and a frame whose own chunk lies about its size are
// refused with an error that says so.
func TestAnimatedWebPRefusals(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "convert", "webp_anim_lossless.webp"))
	if err != nil {
		t.Fatal(err)
	}
	anmf := bytes.Index(data, []byte("ANMF"))
	if anmf < 0 {
		t.Fatal("no ANMF chunk in webp_anim_lossless.webp")
	}
	edit := func(f func(b []byte)) []byte {
		b := bytes.Clone(data)
		f(b)
		return b
	}
	vp8x := bytes.Index(data, []byte("VP8X"))
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"first frame narrower", edit(func(b []byte) { b[anmf+8+6]-- }), "does not cover its"},
		{"first frame offset", edit(func(b []byte) { b[anmf+8] = 1 }), "at 2,0"},
		{"no frames", edit(func(b []byte) {
			for i := anmf; i+4 <= len(b); i++ {
				if string(b[i:i+4]) == "ANMF" {
					copy(b[i:], "JUNK")
				}
			}
		}), "animated WebP without frames"},
		{"frame's chunk lies", edit(func(b []byte) {
			binary.LittleEndian.PutUint32(b[anmf+8+16+4:], 1<<30)
		}), "claims"},
	} {
		_, err := Decode(bytes.NewReader(c.data), 0)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
	// x/image/webp's header check refuses this one before firstFrame sees it.
	noHeader := edit(func(b []byte) { copy(b[vp8x:], "XXXX") })
	if _, err := firstFrame(noHeader); err == nil || !strings.Contains(err.Error(), "before the VP8X header") {
		t.Errorf("frame before VP8X: %v", err)
	}
}
