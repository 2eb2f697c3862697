package plots

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestPNGs(t *testing.T) {
	dir := t.TempDir()
	c20 := Curve{Name: "plain-20", Train: []float64{60, 40, 30, 25}, Test: []float64{55, 42, 33, 30}}
	c56 := Curve{Name: "plain-56", Train: []float64{80, 60, 45, 38}, Test: []float64{78, 61, 48, 41}}
	r20 := Curve{Name: "ResNet-20", Train: []float64{50, 30, 20, 15}, Test: []float64{48, 33, 25, 22}}
	r56 := Curve{Name: "ResNet-56", Train: []float64{52, 28, 18, 12}, Test: []float64{50, 31, 23, 20}}
	cases := []struct {
		name string
		draw func(string) error
		minW int
	}{
		{"training.png", func(p string) error { return Training(p, "cifar-resnet20", r20) }, 800},
		{"degradation.png", func(p string) error { return Degradation(p, []Curve{c20, c56}, []Curve{r20, r56}) }, 1600},
		{"no test yet.png", func(p string) error { return Training(p, "x", Curve{Name: "x", Train: []float64{10}}) }, 800},
	}
	for _, c := range cases {
		p := filepath.Join(dir, c.name)
		if err := c.draw(p); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: not a PNG: %v", c.name, err)
		}
		if img.Bounds().Dx() < c.minW {
			t.Errorf("%s: %d pixels wide", c.name, img.Bounds().Dx())
		}
	}
	// Folders that lead to the file are made (atomicfile), but a file is not a folder.
	if err := Training(filepath.Join(dir, "missing", "x.png"), "x", r20); err != nil {
		t.Errorf("into a folder still to make: %v", err)
	}
	if err := Training(filepath.Join(dir, "missing", "x.png", "y.png"), "x", r20); err == nil {
		t.Error("wrote under a file as if it were a folder")
	}
}
