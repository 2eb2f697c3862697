package resnet

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/resnet-go/resnet/imageproc"
)

// The last stage's closed form (Model.Explain) and the backward pass (Explainer.Explain) give
// the same explanation of the COCO cats photo, and the overlay has the photo's size.
func TestExplainBuiltInModel(t *testing.T) {
	ck, err := DefaultCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	e, err := ck.BuildExplainer()
	if err != nil {
		t.Fatal(err)
	}
	img, err := imageproc.DecodeFile(filepath.Join(sharedDir(t), "data", "images", "000000039769.png"), 0)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := e.Model.Explain(img, -1, "", "")
	if err != nil {
		t.Fatal(err)
	}
	e.CAM.Analytic = false
	slow, err := e.Explain(img, -1, "stage3", "")
	if err != nil {
		t.Fatal(err)
	}
	if fast.Class != slow.Class || fast.Layer != slow.Layer || fast.Layer != "resnet.encoder.stages.2.layers.2" {
		t.Fatalf("fast %d at %s, backward %d at %s", fast.Class, fast.Layer, slow.Class, slow.Layer)
	}
	if fast.Overlay.W != img.W || fast.Overlay.H != img.H || len(fast.Mask) != img.W*img.H {
		t.Fatalf("overlay %dx%d, mask %d values, for a %dx%d image", fast.Overlay.W, fast.Overlay.H, len(fast.Mask), img.W, img.H)
	}
	if fast.MapH != 8 || fast.MapW != 8 {
		t.Errorf("map %dx%d, want 8x8 for a 32x32 input", fast.MapH, fast.MapW)
	}
	// Maps agree to float32 rounding; the overlays may differ only where a mask value sits on a
	// uint8 truncation edge.
	for i := range fast.Map {
		if d := fast.Map[i] - slow.Map[i]; d > 1e-5 || d < -1e-5 {
			t.Fatalf("map value %d: %g vs %g", i, fast.Map[i], slow.Map[i])
		}
	}
	diff := 0
	for i := range fast.Overlay.Pix {
		if fast.Overlay.Pix[i] != slow.Overlay.Pix[i] {
			diff++
		}
	}
	if diff > len(fast.Overlay.Pix)/1000 {
		t.Errorf("%d overlay bytes differ", diff)
	}
	// Other layers need the Explainer.
	if _, err := e.Model.Explain(img, 3, "stage1", ""); err == nil {
		t.Error("Model.Explain at stage1 worked without the plain weights")
	}
	st1, err := e.Explain(img, 3, "stage1", "gradcam++")
	if err != nil {
		t.Fatal(err)
	}
	if st1.Class != 3 || st1.Label != "cat" || st1.MapH != 32 || bytes.Equal(st1.Overlay.Pix, fast.Overlay.Pix) {
		t.Errorf("stage1: class %d %q, map %dx%d", st1.Class, st1.Label, st1.MapH, st1.MapW)
	}
}

func TestClassIndex(t *testing.T) {
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	m.Config.SetLabels([]string{"airplane", "automobile", "bird", "tiger cat, Felis", "deer", "dog", "frog", "horse", "ship", "truck"})
	for _, c := range []struct {
		in   string
		want int
	}{{"3", 3}, {"ship", 8}, {"Ship", 8}, {"tiger cat", 3}, {"tiger cat, Felis", 3}} {
		if got, err := m.ClassIndex(c.in); err != nil || got != c.want {
			t.Errorf("ClassIndex(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"10", "-1", "zebra", ""} {
		if _, err := m.ClassIndex(bad); err == nil {
			t.Errorf("ClassIndex(%q) accepted", bad)
		}
	}
}

func TestCropWindow(t *testing.T) {
	// ResNet-50's processor: shortest_edge 224, crop_pct 0.875 → resize the short side to 256,
	// keep the centre 224: 7/8 of the short side.
	p := &imageproc.Processor{DoResize: true, ShortestEdge: 224, CropPct: 0.875}
	for _, c := range []struct{ w, h, left, top, cw, ch int }{
		{640, 480, 110, 30, 420, 420},
		{256, 256, 16, 16, 224, 224},
		{480, 640, 30, 110, 420, 420},
	} {
		l, tp, cw, ch := cropWindow(p, c.w, c.h)
		if l != c.left || tp != c.top || cw != c.cw || ch != c.ch {
			t.Errorf("%dx%d: window (%d,%d) %dx%d, want (%d,%d) %dx%d", c.w, c.h, l, tp, cw, ch, c.left, c.top, c.cw, c.ch)
		}
	}
	warp := &imageproc.Processor{DoResize: true, Height: 32, Width: 32}
	if l, tp, cw, ch := cropWindow(warp, 640, 480); l != 0 || tp != 0 || cw != 640 || ch != 480 {
		t.Errorf("warping processor: window (%d,%d) %dx%d, want the whole image", l, tp, cw, ch)
	}
}
