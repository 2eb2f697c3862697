package imageproc

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestPooledYCbCrLayout(t *testing.T) {
	ratios := []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	}
	for _, r := range ratios {
		for _, sz := range [][2]int{{8, 8}, {16, 8}, {8, 16}, {24, 40}, {1, 1}, {3, 5}, {17, 9}, {512, 512}} {
			want := image.NewYCbCr(image.Rect(0, 0, sz[0], sz[1]), r)
			got, buf := pooledYCbCr(sz[0], sz[1], r)
			if len(got.Y) != len(want.Y) || cap(got.Y) != cap(want.Y) || len(got.Cb) != len(want.Cb) || cap(got.Cb) != cap(want.Cb) ||
				len(got.Cr) != len(want.Cr) || cap(got.Cr) != cap(want.Cr) || got.YStride != want.YStride || got.CStride != want.CStride ||
				got.Rect != want.Rect || got.SubsampleRatio != want.SubsampleRatio || len(buf) != len(got.Y)+len(got.Cb)+len(got.Cr) {
				t.Errorf("%v %dx%d: Y %d/%d Cb %d/%d strides %d,%d; image.NewYCbCr: Y %d/%d Cb %d/%d strides %d,%d",
					r, sz[0], sz[1], len(got.Y), cap(got.Y), len(got.Cb), cap(got.Cb), got.YStride, got.CStride,
					len(want.Y), cap(want.Y), len(want.Cb), cap(want.Cb), want.YStride, want.CStride)
			}
			planePool.put(buf)
		}
	}
}

// TestDecodeWithDirtyPools fills every decode pool with garbage, then decodes photos (the
// progressive ImageNet samples, a baseline JPEG, a PNG) several times, scribbling over each
// result after releasing it: every decode must still equal image/jpeg's (or image/png's)
// pixels, so no buffer carries data from one image into the next.
func TestDecodeWithDirtyPools(t *testing.T) {
	dir := filepath.Join(sharedDir(t), "data", "images")
	paths, _ := filepath.Glob(filepath.Join(dir, "imagenet-val-samples", "*.jpg"))
	if len(paths) < 20 {
		t.Fatalf("want the 20 ImageNet samples under %s", dir)
	}
	paths = append(paths[:6], filepath.Join(dir, "cat.jpg"), filepath.Join(dir, "000000039769.png"), paths[19])
	// One P, so that a buffer put into a pool is the one the next get on this goroutine sees.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))

	want := make([]*RGB, len(paths))
	data := make([][]byte, len(paths))
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data[i] = b
		img, _, err := image.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		want[i] = ToRGB(img).Clone()
	}
	dirty := func() {
		for range 4 {
			filePool.put(bytes.Repeat([]byte{0xa5}, 4<<20))
			planePool.put(bytes.Repeat([]byte{0x5a}, 4<<20))
			rgbPool.put(bytes.Repeat([]byte{0xc3}, 4<<20))
			blocks := make([]jBlock, 16384)
			for j := range blocks {
				for k := range blocks[j] {
					blocks[j][k] = int32(12345 * (k + 1))
				}
			}
			blockPool.put(blocks)
			nz := make([]uint64, 16384)
			for j := range nz {
				nz[j] = ^uint64(0)
			}
			nonzeroPool.put(nz)
		}
	}
	var reused int
	for round := range 3 {
		dirty()
		for i := range paths {
			probe, _ := rgbPool.p.Get().(*[]byte)
			var probeAddr *byte
			if probe != nil {
				probeAddr = &(*probe)[:1][0]
				rgbPool.p.Put(probe)
			}
			got, err := Decode(bytes.NewReader(data[i]), 0)
			if err != nil {
				t.Fatalf("%s: %v", paths[i], err)
			}
			if len(got.Pix) > 0 && &got.Pix[0] == probeAddr {
				reused++
			}
			if got.W != want[i].W || got.H != want[i].H || !bytes.Equal(got.Pix, want[i].Pix) {
				t.Fatalf("round %d, %s: decoded pixels differ from a fresh decode", round, filepath.Base(paths[i]))
			}
			pix := got.Pix
			got.Release()
			if got.W != 0 || got.H != 0 || got.Pix != nil {
				t.Fatalf("Release left %dx%d, %d bytes", got.W, got.H, len(got.Pix))
			}
			for j := range pix {
				pix[j] = byte(j)
			}
		}
	}
	if reused == 0 {
		t.Error("no decode reused a released RGB buffer: the test did not exercise the pools")
	}
	var nilRGB *RGB
	nilRGB.Release()
}

// A JPEG decoded straight after one of another size reuses nothing it should not: the
// pools hand out a buffer only when it is large enough.
func TestJPEGPoolsAcrossSizes(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var bufs [][]byte
	var want []*RGB
	for _, sz := range [][2]int{{64, 48}, {300, 200}, {17, 9}, {300, 200}, {64, 48}} {
		img := image.NewRGBA(image.Rect(0, 0, sz[0], sz[1]))
		for i := range img.Pix {
			img.Pix[i] = byte(i*7 + sz[0])
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		ref, err := jpeg.Decode(bytes.NewReader(b.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		bufs, want = append(bufs, b.Bytes()), append(want, ToRGB(ref).Clone())
	}
	for i, b := range bufs {
		got, err := Decode(bytes.NewReader(b), 0)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Pix, want[i].Pix) {
			t.Errorf("image %d (%dx%d) differs after the pools served others", i, got.W, got.H)
		}
		got.Release()
	}
}
