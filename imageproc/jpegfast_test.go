package imageproc

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/internal/isatest"
)

// jpegCorpus is every JPEG the tests can reach: the variants made by
// testdata/jpegvariants/gen.py, the chroma-layout and conversion fixtures,
// and the photos under ../shared/data/images (the ImageNet samples are
// progressive 4:2:0 camera JPEGs).
func jpegCorpus(t testing.TB) map[string][]byte {
	t.Helper()
	var paths []string
	for _, pat := range []string{"testdata/*/*.jpg", "testdata/*.jpg"} {
		p, _ := filepath.Glob(pat)
		paths = append(paths, p...)
	}
	images := filepath.Join(sharedDir(t), "data", "images")
	for _, pat := range []string{"*.jpg", "*.jpeg", "*/*.jpg"} {
		p, _ := filepath.Glob(filepath.Join(images, pat))
		paths = append(paths, p...)
	}
	files := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[p] = b
	}
	if len(files) < 200 {
		t.Fatalf("only %d JPEGs found", len(files))
	}
	return files
}

// sameJPEGImage describes how the fast decoder's image differs from
// image/jpeg's, or returns "".
func sameJPEGImage(got, want image.Image) string {
	switch w := want.(type) {
	case *image.YCbCr:
		g, ok := got.(*image.YCbCr)
		switch {
		case !ok:
			return fmt.Sprintf("got %T, want %T", got, want)
		case g.Rect != w.Rect || g.SubsampleRatio != w.SubsampleRatio || g.YStride != w.YStride || g.CStride != w.CStride:
			return fmt.Sprintf("layout %v %v %d %d, want %v %v %d %d", g.Rect, g.SubsampleRatio, g.YStride, g.CStride,
				w.Rect, w.SubsampleRatio, w.YStride, w.CStride)
		case !bytes.Equal(g.Y, w.Y):
			return "Y plane differs"
		case !bytes.Equal(g.Cb, w.Cb) || !bytes.Equal(g.Cr, w.Cr):
			return "chroma planes differ"
		}
	case *image.Gray:
		g, ok := got.(*image.Gray)
		switch {
		case !ok:
			return fmt.Sprintf("got %T, want %T", got, want)
		case g.Rect != w.Rect || g.Stride != w.Stride:
			return fmt.Sprintf("layout %v %d, want %v %d", g.Rect, g.Stride, w.Rect, w.Stride)
		case !bytes.Equal(g.Pix, w.Pix):
			return "pixels differ"
		}
	default:
		return fmt.Sprintf("fast decoder returned %T where image/jpeg gives %T", got, want)
	}
	return ""
}

// checkFastJPEG decodes data with both decoders. Where the fast one accepts
// the data, image/jpeg must decode it too, to the same image, unless the data
// has restart intervals in a non-interleaved scan of a subsampled component,
// which image/jpeg miscounts (TestFastJPEGRestartsPerBlock checks those). It
// reports whether the fast decoder accepted it.
func checkFastJPEG(t testing.TB, name string, data []byte) bool {
	t.Helper()
	d := &jpegDecoder{data: data, avx: useAVX2()}
	got, ok := d.decode()
	if !ok {
		return false
	}
	want, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil && d.restartsPerBlock {
		return true
	}
	if err != nil {
		t.Errorf("%s: fast decoder accepted data image/jpeg rejects (%v)", name, err)
		return true
	}
	if msg := sameJPEGImage(got, want); msg != "" {
		t.Errorf("%s: %s", name, msg)
	}
	return true
}

// The fast decoder gives image/jpeg's planes on every JPEG at hand, and
// decodes all of them itself except those image/jpeg rejects (arithmetic
// coding) and CMYK, left to image/jpeg by design.
func TestFastJPEGMatchesImageJPEG(t *testing.T) {
	files := jpegCorpus(t)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var declined []string
	for _, n := range names {
		if !checkFastJPEG(t, n, files[n]) {
			declined = append(declined, n)
		}
	}
	for _, n := range declined {
		_, err := jpeg.Decode(bytes.NewReader(files[n]))
		if err == nil && !strings.Contains(n, "cmyk") {
			t.Errorf("%s: decoded by image/jpeg, not the fast decoder", n)
		}
	}
	t.Logf("%d JPEGs, %d left to image/jpeg", len(names), len(declined))
}

// The same on every instruction-set path (the AVX2 IDCT, or Go's).
func TestFastJPEGEveryISA(t *testing.T) {
	isatest.Run(t, TestFastJPEGMatchesImageJPEG)
	isatest.Run(t, TestFastJPEGCorrupt)
	isatest.Run(t, TestFastJPEGRestartsPerBlock)
}

// Progressive JPEGs of subsampled layouts with restart intervals (cjpeg
// -progressive -restart): their non-interleaved AC scans count restart
// intervals in blocks, which image/jpeg gets wrong, rejecting the files, while
// libjpeg and Pillow read them. Restart markers change only the entropy
// coding, so each must decode to exactly the pixels of its twin from the same
// source without them (same coefficients), which image/jpeg decodes.
func TestFastJPEGRestartsPerBlock(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "jpegvariants", "*_prog_rst*.jpg"))
	perBlock := 0
	for _, f := range files {
		twin := f[:strings.Index(f, "_prog_rst")] + "_prog.jpg"
		if strings.Contains(f, "gray_") {
			twin = f[:strings.Index(f, "_prog_rst")] + ".jpg"
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tb, err := os.ReadFile(twin)
		if err != nil {
			t.Fatal(err)
		}
		want, err := jpeg.Decode(bytes.NewReader(tb))
		if err != nil {
			t.Fatalf("%s: %v", twin, err)
		}
		d := &jpegDecoder{data: data, avx: useAVX2()}
		got, ok := d.decode()
		if !ok {
			t.Errorf("%s: not decoded", f)
			continue
		}
		if msg := sameJPEGImage(got, want); msg != "" {
			t.Errorf("%s against %s: %s", f, twin, msg)
		}
		// Through the public decoder too, to RGB.
		img, err := Decode(bytes.NewReader(data), 0)
		if err != nil {
			t.Errorf("%s: Decode: %v", f, err)
		} else if ref, _ := Decode(bytes.NewReader(tb), 0); !bytes.Equal(img.Pix, ref.Pix) {
			t.Errorf("%s: Decode gives other pixels than for %s", f, twin)
		}
		if d.restartsPerBlock {
			perBlock++
			if _, err := jpeg.Decode(bytes.NewReader(data)); err == nil {
				t.Logf("%s: image/jpeg decodes it now", f)
			}
		}
	}
	if len(files) < 20 || perBlock < 15 {
		t.Fatalf("%d files, %d with restart intervals counted in blocks; want at least 20 and 15", len(files), perBlock)
	}
}

// Damaged JPEGs: truncated anywhere, bytes changed, markers inserted. The
// fast decoder may decline any of them, but what it accepts must be exactly
// image/jpeg's result.
func TestFastJPEGCorrupt(t *testing.T) {
	files := jpegCorpus(t)
	names := make([]string, 0, len(files))
	for n := range files {
		if strings.Contains(n, "jpegvariants") && !strings.HasSuffix(n, "_arith.jpg") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	rng := rand.New(rand.NewPCG(5, 6))
	per := 40
	if testing.Short() {
		per = 8
	}
	accepted, total := 0, 0
	for _, n := range names {
		data := files[n]
		for k := range per {
			b := bytes.Clone(data)
			switch k % 5 {
			case 0: // truncated
				b = b[:rng.IntN(len(b))]
			case 1: // one byte changed
				b[rng.IntN(len(b))] = byte(rng.IntN(256))
			case 2: // a few bits flipped in the entropy-coded data
				for range 1 + rng.IntN(3) {
					b[len(b)/2+rng.IntN(len(b)/2)] ^= 1 << rng.IntN(8)
				}
			case 3: // a marker or fill byte inserted
				i := 2 + rng.IntN(len(b)-2)
				ins := [][]byte{{0xff}, {0xff, 0xd0 + byte(rng.IntN(8))}, {0xff, 0xd9}, {0xff, 0x00}, {0xff, 0xff}}[rng.IntN(5)]
				b = append(b[:i:i], append(ins, b[i:]...)...)
			case 4: // a run of bytes dropped
				i := 2 + rng.IntN(len(b)-2)
				j := min(len(b), i+1+rng.IntN(16))
				b = append(b[:i:i], b[j:]...)
			}
			total++
			if checkFastJPEG(t, fmt.Sprintf("%s variant %d", n, k), b) {
				accepted++
			}
		}
	}
	t.Logf("%d damaged JPEGs, %d decoded by the fast decoder", total, accepted)
}

func FuzzFastJPEG(f *testing.F) {
	for _, name := range []string{"420_37x29_prog.jpg", "420_17x9_rst1.jpg", "gray_17x9_prog_rst.jpg", "420_37x29_scans.jpg", "411_17x9.jpg"} {
		b, err := os.ReadFile(filepath.Join("testdata", "jpegvariants", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if c, err := jpeg.DecodeConfig(bytes.NewReader(data)); err != nil || c.Width*c.Height > 1<<16 {
			return
		}
		checkFastJPEG(t, "fuzz input", data)
	})
}

// idctBlock's shortcuts for zero inputs give what the full transform
// (image/jpeg's loops) gives, on random blocks of every sparsity,
// including coefficients far outside the range of valid JPEGs (the int32
// arithmetic must wrap the same way).
func TestIDCTBlockMatchesFull(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for k := range 200000 {
		var b jBlock
		density := []int{0, 1, 2, 4, 8, 64}[k%6]
		for range density {
			v := int32(rng.IntN(2048)) - 1024
			switch rng.IntN(8) {
			case 0:
				v = int32(rng.Uint32())
			case 1:
				v = 0
			}
			// Low frequencies first: most real blocks have their
			// coefficients in the top-left corner.
			if rng.IntN(2) == 0 {
				b[rng.IntN(64)] = v
			} else {
				b[8*rng.IntN(2)+rng.IntN(3)] = v
			}
		}
		if k%7 == 0 {
			b[0] = int32(rng.IntN(4096)) - 2048
		}
		want := b
		for i := range 8 {
			idctRow((*[8]int32)(want[8*i : 8*i+8]))
		}
		for i := range 8 {
			idctCol(&want, i)
		}
		// The mask of non-zero coefficients, sometimes with extra bits
		// (the decoder's masks may mark coefficients that dequantized to 0).
		var m uint64
		for z, u := range jUnzig {
			if b[u] != 0 || rng.IntN(50) == 0 {
				m |= 1 << z
			}
		}
		got := b
		if idctBlock(&got, m) {
			for i, v := range want {
				if v != got[0] {
					t.Fatalf("block %v (mask %x) reported flat at %d, want %v", b, m, got[0], want[i])
				}
			}
		} else if got != want {
			t.Fatalf("block %v (mask %x): got %v, want %v", b, m, got, want)
		}
	}
}

// idctAVX2 gives reconstructBlock's Go result (dequantization, the full
// IDCT, level shift and clipping) on random blocks, coefficients and
// quantization tables far out of range included.
func TestIDCTAVX2MatchesGo(t *testing.T) {
	if !useAVX2() {
		t.Skip("the AVX2 kernels do not run here")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	const stride = 13
	for k := range 100000 {
		var b jBlock
		var q [64]int32
		for i := range q {
			q[i] = 1 + int32(rng.IntN(64))
			if k%5 == 0 {
				q[i] = int32(rng.Uint32())
			}
		}
		for range []int{1, 3, 10, 64}[k%4] {
			v := int32(rng.IntN(2048)) - 1024
			if k%7 == 0 {
				v = int32(rng.Uint32())
			}
			b[rng.IntN(64)] = v
		}
		want := b
		for i := range want {
			want[i] *= q[i]
		}
		for i := range 8 {
			idctRow((*[8]int32)(want[8*i : 8*i+8]))
		}
		for i := range 8 {
			idctCol(&want, i)
		}
		got := make([]byte, 7*stride+8)
		in := b
		idctAVX2(&in[0], &q[0], &got[0], stride)
		if in != b {
			t.Fatal("idctAVX2 changed its input")
		}
		for y := range 8 {
			for x := range 8 {
				if w := levelShift(want[8*y+x]); got[y*stride+x] != w {
					t.Fatalf("block %v q %v: (%d,%d) = %d, want %d", b, q, x, y, got[y*stride+x], w)
				}
			}
		}
	}
}

// A reader that fails part-way: Decode gives what image/jpeg gives on the
// same bytes followed by the same error (the fast decoder needs the whole
// file, so it steps aside).
func TestDecodeJPEGReadError(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "jpegvariants", "420_101x67_prog.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	errRead := errors.New("disk on fire")
	for _, n := range []int{len(data) / 3, len(data) / 2, len(data) - 3, len(data)} {
		got, gerr := Decode(io.MultiReader(bytes.NewReader(data[:n]), errReader{errRead}), DefaultMaxPixels)
		want, werr := jpeg.Decode(io.MultiReader(bytes.NewReader(data[:n]), errReader{errRead}))
		switch {
		case werr != nil:
			if gerr == nil || !strings.Contains(gerr.Error(), werr.Error()) {
				t.Errorf("cut at %d: error %v, want one containing %v", n, gerr, werr)
			}
		case gerr != nil:
			t.Errorf("cut at %d: %v, want an image", n, gerr)
		default:
			if msg, _ := diffRGB(got, ToRGB(want)); msg != "" {
				t.Errorf("cut at %d: %s", n, msg)
			}
		}
	}
}
