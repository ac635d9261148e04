package main

import (
	"fmt"
	"image/color"
	"io"
	"math"

	"github.com/nabla-go/nabla/cmd/nabla/internal/model"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/brewer"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var (
	trainColor = color.RGBA{R: 31, G: 119, B: 180, A: 255} // blue
	testColor  = color.RGBA{R: 214, G: 39, B: 40, A: 255}  // red
)

// newPlot returns a plot with a title, axis labels and fonts large enough
// to read in a README.
func newPlot(title, x, y string) *plot.Plot {
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
	return p
}

// addLine adds a named line with dots at its points.
func addLine(p *plot.Plot, name string, xys plotter.XYs, c color.Color, dashed bool) error {
	l, s, err := plotter.NewLinePoints(xys)
	if err != nil {
		return err
	}
	l.Color, l.Width = c, vg.Points(1.8)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	s.Color, s.Radius = c, vg.Points(2)
	if len(xys) > 40 {
		s.Radius = 0
	}
	p.Add(l, s)
	p.Legend.Add(name, l, s)
	return nil
}

// plotCurves writes the learning curves of a run as a PNG: loss on the
// left, accuracy (or R² for regression) on the right, train and test in
// each.
func plotCurves(path, title string, ms []epochMetrics, regression bool) error {
	var trL, teL, trA, teA plotter.XYs
	for _, m := range ms {
		x := float64(m.Epoch)
		trL = append(trL, plotter.XY{X: x, Y: m.TrainLoss})
		teL = append(teL, plotter.XY{X: x, Y: m.TestLoss})
		trA = append(trA, plotter.XY{X: x, Y: m.TrainAcc})
		teA = append(teA, plotter.XY{X: x, Y: m.TestAcc})
	}
	lossName, accName := "cross-entropy loss", "accuracy"
	if regression {
		lossName, accName = "mean squared error", "R²"
	}
	pl := newPlot(title+": loss", "epoch", lossName)
	pa := newPlot(title+": "+accName, "epoch", accName)
	for _, p := range []*plot.Plot{pl, pa} {
		p.Add(plotter.NewGrid())
		p.X.Tick.Marker = intTicks{}
	}
	if err := addLine(pl, "train", trL, trainColor, false); err != nil {
		return err
	}
	if err := addLine(pl, "test", teL, testColor, true); err != nil {
		return err
	}
	if err := addLine(pa, "train", trA, trainColor, false); err != nil {
		return err
	}
	if err := addLine(pa, "test", teA, testColor, true); err != nil {
		return err
	}
	pl.Legend.Top = true // losses fall: the top right is empty
	pa.Legend.Top = false
	pl.Y.Min = 0
	if !regression {
		pa.Y.Max = 1
	}
	const w, h = 9 * vg.Inch, 3.6 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(16), PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
	cs := plot.Align([][]*plot.Plot{{pl, pa}}, tiles, dc)
	pl.Draw(cs[0][0])
	pa.Draw(cs[0][1])
	return writePNG(path, img)
}

// writePNG writes img to path atomically.
func writePNG(path string, img *vgimg.Canvas) error {
	return model.WriteAtomic(path, func(w io.Writer) error {
		_, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(w)
		return err
	})
}

// intTicks marks whole numbers only, for epoch axes.
type intTicks struct{}

func (intTicks) Ticks(lo, hi float64) []plot.Tick {
	step := math.Max(1, math.Ceil((hi-lo)/8))
	var ts []plot.Tick
	for v := math.Ceil(lo); v <= hi; v += step {
		ts = append(ts, plot.Tick{Value: v, Label: fmt.Sprint(v)})
	}
	return ts
}

// confusionGrid is a confusion matrix as a gonum heat map grid: column c
// is the predicted class, row r the true class, drawn top to bottom.
type confusionGrid struct {
	m   [][]int
	max float64
}

func (g confusionGrid) Dims() (c, r int)   { return len(g.m), len(g.m) }
func (g confusionGrid) X(c int) float64    { return float64(c) }
func (g confusionGrid) Y(r int) float64    { return float64(r) }
func (g confusionGrid) Z(c, r int) float64 { return float64(g.m[len(g.m)-1-r][c]) }

// plotConfusion writes the confusion matrix m (m[true][predicted]) as a
// heat map PNG with the count in every cell.
func plotConfusion(path, title string, m [][]int, classes []string) error {
	n := len(m)
	mx := 1.0
	for _, row := range m {
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
	}
	pal, err := brewer.GetPalette(brewer.TypeSequential, "Blues", 9)
	if err != nil {
		return err
	}
	p := newPlot(title, "predicted class", "true class")
	hm := plotter.NewHeatMap(confusionGrid{m, mx}, pal)
	hm.Min, hm.Max = 0, mx
	p.Add(hm)

	var dark, light plotter.XYLabels // counts on light and on dark cells
	for r := range n {
		for c := range n {
			v := m[r][c]
			xy := plotter.XY{X: float64(c), Y: float64(n - 1 - r)}
			if float64(v) > 0.55*mx {
				light.XYs = append(light.XYs, xy)
				light.Labels = append(light.Labels, fmt.Sprint(v))
			} else {
				dark.XYs = append(dark.XYs, xy)
				dark.Labels = append(dark.Labels, fmt.Sprint(v))
			}
		}
	}
	size := vg.Points(math.Max(6, math.Min(11, 110/float64(n))))
	for _, l := range []struct {
		xyl plotter.XYLabels
		c   color.Color
	}{{dark, color.Black}, {light, color.White}} {
		if len(l.xyl.XYs) == 0 {
			continue
		}
		labels, err := plotter.NewLabels(l.xyl)
		if err != nil {
			return err
		}
		for i := range labels.TextStyle {
			labels.TextStyle[i].Color = l.c
			labels.TextStyle[i].Font.Size = size
			labels.TextStyle[i].XAlign = draw.XCenter
			labels.TextStyle[i].YAlign = draw.YCenter
		}
		p.Add(labels)
	}
	long := false
	var xt, yt []plot.Tick
	for i, name := range classes {
		long = long || len(name) > 3
		xt = append(xt, plot.Tick{Value: float64(i), Label: name})
		yt = append(yt, plot.Tick{Value: float64(n - 1 - i), Label: name})
	}
	p.X.Tick.Marker = plot.ConstantTicks(xt)
	p.Y.Tick.Marker = plot.ConstantTicks(yt)
	if long {
		p.X.Tick.Label.Rotation = math.Pi / 5
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
	}
	p.X.Min, p.X.Max = -0.5, float64(n)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(n)-0.5
	p.X.Padding, p.Y.Padding = 0, 0
	side := vg.Length(math.Max(4.5, math.Min(7, 2.5+0.4*float64(n)))) * vg.Inch
	img := vgimg.New(side+vg.Inch/2, side)
	p.Draw(draw.New(img))
	return writePNG(path, img)
}
