// Package chart draws the small line and scatter charts of the examples
// with gonum.org/v1/plot: a title, labelled axes, a legend, fonts large
// enough to read.
package chart

import (
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Colors are the colors of successive series.
var Colors = []color.RGBA{
	{R: 31, G: 119, B: 180, A: 255}, // blue
	{R: 214, G: 39, B: 40, A: 255},  // red
	{R: 44, G: 160, B: 44, A: 255},  // green
	{R: 255, G: 127, B: 14, A: 255}, // orange
}

// Series is one named line of a chart.
type Series struct {
	Name   string
	Points plotter.XYs
	Dashed bool
}

// New returns a plot with a title, axis labels, a grid and readable fonts.
func New(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text, p.Y.Label.Text = x, y
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = vg.Points(12)
		a.Tick.Label.Font.Size = vg.Points(10)
	}
	p.Legend.TextStyle.Font.Size = vg.Points(11)
	p.Legend.ThumbnailWidth = vg.Points(24)
	p.Add(plotter.NewGrid())
	return p
}

// AddLines adds the series as lines, in Colors order, with a legend entry
// each.
func AddLines(p *plot.Plot, ss ...Series) error {
	for i, s := range ss {
		l, err := plotter.NewLine(s.Points)
		if err != nil {
			return err
		}
		l.Color = Colors[i%len(Colors)]
		l.Width = vg.Points(2)
		if s.Dashed {
			l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		}
		p.Add(l)
		p.Legend.Add(s.Name, l)
	}
	return nil
}

// Save writes plots side by side into one PNG of the given size.
func Save(path string, w, h vg.Length, plots ...*plot.Plot) error {
	img := vgimg.New(w, h)
	tiles := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Points(16), PadTop: vg.Points(4),
		PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
	cs := plot.Align([][]*plot.Plot{plots}, tiles, draw.New(img))
	for i, p := range plots {
		p.Draw(cs[0][i])
	}
	f, err := createFile(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
