package gradcam

import (
	"bytes"
	"fmt"
	"image/png"
	"math"
	"path/filepath"
	"testing"

	"github.com/resnet-go/resnet/imageproc"
	"github.com/resnet-go/resnet/weights"
)

func fixture(t *testing.T, name string) weights.StateDict {
	t.Helper()
	sd, _, err := weights.ReadSafetensors(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 tools/fixtures/gen_gradcam.py)", err)
	}
	return sd
}

// TestResizeMatchesOpenCV compares Resize with cv2.resize(INTER_LINEAR) of float32 maps:
// up by integer and non-integer factors, down, a 1-pixel side and the identity. The measured
// worst difference is 0 or a float32 rounding; the bound is 1e-6 on values in [0, 1].
func TestResizeMatchesOpenCV(t *testing.T) {
	sd := fixture(t, "resize.safetensors")
	for i := 0; ; i++ {
		src, ok := sd[fmt.Sprintf("resize/%d/src", i)]
		if !ok {
			if i == 0 {
				t.Fatal("no resize cases in the fixture")
			}
			break
		}
		dst := sd[fmt.Sprintf("resize/%d/dst", i)]
		t.Run(fmt.Sprintf("%v-to-%v", src.Shape, dst.Shape), func(t *testing.T) {
			got := Resize(src.Data, src.Shape[0], src.Shape[1], dst.Shape[0], dst.Shape[1])
			var worst float64
			for j := range got {
				worst = math.Max(worst, math.Abs(float64(got[j]-dst.Data[j])))
			}
			if worst > 1e-6 {
				t.Errorf("max difference from cv2.resize %.3g", worst)
			}
			t.Logf("max difference %.3g", worst)
		})
	}
}

// TestOverlayMatchesPytorchGradCAM: a raw map goes through Mask (scale_cam_image) and Overlay
// (show_cam_on_image, use_rgb=True, image weight 0.5); the bytes must equal the Python ones.
func TestOverlayMatchesPytorchGradCAM(t *testing.T) {
	sd := fixture(t, "overlay.safetensors")
	raw, imgs, masks, want := sd["raw"], sd["image"], sd["mask"], sd["overlay"]
	n, h, w := raw.Shape[0], raw.Shape[1], raw.Shape[2]
	ih, iw := imgs.Shape[1], imgs.Shape[2]
	for i := 0; i < n; i++ {
		t.Run(fmt.Sprint("image", i), func(t *testing.T) {
			mask, flat := Mask(raw.Data[i*h*w:(i+1)*h*w], h, w, ih, iw)
			if flat {
				t.Fatal("fixture map reported flat")
			}
			var worst float64
			for j, v := range mask {
				worst = math.Max(worst, math.Abs(float64(v-masks.Data[i*ih*iw+j])))
			}
			if worst > 1e-6 {
				t.Errorf("mask: max difference from scale_cam_image %.3g", worst)
			}
			// The overlay from the reference mask must match byte for byte.
			img := imageproc.NewRGB(iw, ih)
			for j := range img.Pix {
				img.Pix[j] = uint8(imgs.Data[i*len(img.Pix)+j])
			}
			out, err := Overlay(img, masks.Data[i*ih*iw:(i+1)*ih*iw], 0.5)
			if err != nil {
				t.Fatal(err)
			}
			diff := 0
			for j, v := range out.Pix {
				if float32(v) != want.Data[i*len(out.Pix)+j] {
					if diff < 5 {
						t.Errorf("byte %d (pixel %d, channel %d): %d, OpenCV %v", j, j/3, j%3, v, want.Data[i*len(out.Pix)+j])
					}
					diff++
				}
			}
			if diff > 0 {
				t.Errorf("%d of %d bytes differ", diff, len(out.Pix))
			}
			// And from our own mask: the same bytes unless a value sits on a truncation edge.
			mine, err := Overlay(img, mask, 0.5)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(mine.Pix, out.Pix) {
				t.Errorf("overlay of the Go mask differs from the overlay of OpenCV's mask")
			}
		})
	}
}

func TestJetTable(t *testing.T) {
	if len(jetRGB) != 768 {
		t.Fatalf("jet table has %d bytes, want 256×3", len(jetRGB))
	}
	// OpenCV's JET starts dark blue and ends dark red (RGB order).
	if r, g, b := Jet(0); r != 0 || g != 0 || b < 100 {
		t.Errorf("Jet(0) = %d,%d,%d, want dark blue", r, g, b)
	}
	if r, g, b := Jet(255); r < 100 || g != 0 || b != 0 {
		t.Errorf("Jet(255) = %d,%d,%d, want dark red", r, g, b)
	}
}

func TestScaleFlatMaps(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []float32
		flat bool
	}{
		{"all negative", []float32{-1, -2, -0.5}, true},
		{"all zero", []float32{0, 0, 0, 0}, true},
		{"constant positive", []float32{3, 3}, true},
		{"one positive", []float32{-1, 2, 0}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, flat := Scale(c.in)
			if flat != c.flat {
				t.Errorf("flat = %v, want %v", flat, c.flat)
			}
			for i, v := range out {
				if math.IsNaN(float64(v)) || v < 0 || v > 1 {
					t.Errorf("value %d = %v, want in [0, 1]", i, v)
				}
				if c.flat && v != 0 {
					t.Errorf("flat map value %d = %v, want 0", i, v)
				}
			}
		})
	}
}

func TestOverlayErrors(t *testing.T) {
	img := imageproc.NewRGB(2, 2)
	for _, c := range []struct {
		name   string
		mask   []float32
		weight float32
	}{
		{"short mask", []float32{0, 0, 0}, 0.5},
		{"NaN in mask", []float32{0, float32(math.NaN()), 0, 0}, 0.5},
		{"mask above 1", []float32{0, 1.5, 0, 0}, 0.5},
		{"weight above 1", []float32{0, 0, 0, 0}, 1.5},
	} {
		if _, err := Overlay(img, c.mask, c.weight); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
}

func TestEncodePNG(t *testing.T) {
	img := imageproc.NewRGB(3, 2)
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 13)
	}
	var buf bytes.Buffer
	if err := EncodePNG(&buf, img); err != nil {
		t.Fatal(err)
	}
	dec, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	back := imageproc.ToRGB(dec)
	if !bytes.Equal(back.Pix, img.Pix) {
		t.Errorf("PNG round trip changed the pixels")
	}
}
