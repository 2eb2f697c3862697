// Package plots draws training curves: error against epoch for one run, and the two-panel
// figure of He et al. Figure 6 (plain networks left, residual right; training error solid,
// test error dashed) for the degradation experiment. Files are written atomically.
package plots

import (
	"bytes"
	"fmt"
	"image/color"

	"github.com/resnet-go/resnet/internal/atomicfile"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Curve is one network's error per epoch, in percent.
type Curve struct {
	Name  string
	Train []float64 // training error by epoch (index 0 = epoch 1)
	Test  []float64 // test error by epoch; may be shorter or empty
}

// palette gives each network of a panel its own colour, the same one for its two lines.
var palette = []color.RGBA{
	{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, // red
	{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, // blue
	{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, // green
	{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, // orange
	{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, // purple
}

// panel draws curves on one plot: solid training error, dashed test error.
func panel(title string, curves []Curve, yMax float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = "error (%)"
	p.Y.Min, p.Y.Max = 0, yMax
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	for i, c := range curves {
		col := palette[i%len(palette)]
		for _, s := range []struct {
			vals   []float64
			label  string
			dashes []vg.Length
		}{{c.Train, c.Name + " train", nil}, {c.Test, c.Name + " test", []vg.Length{vg.Points(5), vg.Points(3)}}} {
			if len(s.vals) == 0 {
				continue
			}
			pts := make(plotter.XYs, len(s.vals))
			for e, v := range s.vals {
				pts[e] = plotter.XY{X: float64(e + 1), Y: v}
			}
			l, err := plotter.NewLine(pts)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.label, err)
			}
			l.Color, l.Width, l.Dashes = col, vg.Points(1.5), s.dashes
			p.Add(l)
			p.Legend.Add(s.label, l)
		}
	}
	return p, nil
}

// yLimit leaves headroom above the highest error shown.
func yLimit(groups ...[]Curve) float64 {
	top := 10.0
	for _, g := range groups {
		for _, c := range g {
			for _, v := range append(append([]float64(nil), c.Train...), c.Test...) {
				top = max(top, v)
			}
		}
	}
	return min(100, top*1.1)
}

// Training writes a PNG of one run's training and test error against epochs.
func Training(path, title string, c Curve) error {
	p, err := panel(title, []Curve{c}, yLimit([]Curve{c}))
	if err != nil {
		return err
	}
	return save(path, 16*vg.Centimeter, 10*vg.Centimeter, func(dc draw.Canvas) { p.Draw(dc) })
}

// Degradation writes the Figure 6 style PNG: plain networks on the left, residual networks on
// the right, on a shared error axis so the panels compare at a glance.
func Degradation(path string, plain, residual []Curve) error {
	y := yLimit(plain, residual)
	left, err := panel("plain networks", plain, y)
	if err != nil {
		return err
	}
	right, err := panel("residual networks", residual, y)
	if err != nil {
		return err
	}
	return save(path, 30*vg.Centimeter, 11*vg.Centimeter, func(dc draw.Canvas) {
		tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Centimeter, PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3, PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 3}
		canvases := plot.Align([][]*plot.Plot{{left, right}}, tiles, dc)
		left.Draw(canvases[0][0])
		right.Draw(canvases[0][1])
	})
}

// save renders at 150 dpi to PNG and writes it atomically.
func save(path string, w, h vg.Length, render func(draw.Canvas)) error {
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(150))
	render(draw.New(img))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return err
	}
	return atomicfile.Write(path, buf.Bytes())
}
