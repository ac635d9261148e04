// Command poly differentiates f(x) = x³ twice with nabla and plots the
// function with its first and second derivatives on [-7, 7], as the seed's
// polynomial example does: nabla.Grad(f) gives f′(x) = 3x² and
// nabla.Grad(nabla.Grad(f)) gives f″(x) = 6x, both computed by automatic
// differentiation, one point at a time, and checked against the formulas.
//
//	go run ./examples/poly              # writes poly.png in the temporary folder
//	go run ./examples/poly -out /tmp/plot.png -n 50
package main

import (
	"flag"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/examples/internal/chart"
)

func main() {
	out := flag.String("out", chart.DefaultOut("poly.png"), "PNG file to write (default in the temporary folder)")
	n := flag.Int("n", 141, "number of points on [-7, 7]")
	flag.Parse()
	if err := run(os.Stdout, *out, *n); err != nil {
		fmt.Fprintln(os.Stderr, "poly:", err)
		os.Exit(1)
	}
}

// cube is f(x) = x³, written with tensor ops so that nabla can
// differentiate it to any order.
func cube(x *nabla.Tensor) *nabla.Tensor { return x.Mul(x).Mul(x) }

func run(w io.Writer, out string, n int) error {
	if n < 2 {
		return fmt.Errorf("need at least 2 points, got %d", n)
	}
	df := nabla.Grad(cube)              // f′
	d2f := nabla.Grad(nabla.Grad(cube)) // f″

	var f, f1, f2 plotter.XYs
	worst := 0.0
	for _, x := range nabla.Linspace(-7, 7, n).Float64s() {
		xt := nabla.FromSlice([]float64{x}).Reshape() // a 0-d float64 scalar
		y, y1, y2 := cube(xt).Item(), df(xt).Item(), d2f(xt).Item()
		worst = max(worst, math.Abs(y1-3*x*x), math.Abs(y2-6*x))
		f = append(f, plotter.XY{X: x, Y: y})
		f1 = append(f1, plotter.XY{X: x, Y: y1})
		f2 = append(f2, plotter.XY{X: x, Y: y2})
	}
	fmt.Fprintf(w, "f(x) = x³ on [-7, 7], %d points\n", n)
	for _, x := range []float64{-2, 0, 1, 3} {
		xt := nabla.Scalar(x)
		fmt.Fprintf(w, "x = %2g: f = %4g  f′ = %3g  f″ = %3g\n", x, cube(xt).Item(), df(xt).Item(), d2f(xt).Item())
	}
	fmt.Fprintf(w, "largest difference from 3x² and 6x: %.3g\n", worst)
	if worst > 1e-9 {
		return fmt.Errorf("derivatives differ from 3x² and 6x by %g", worst)
	}

	p := plot.New()
	p.Title.Text = "f(x) = x³ and its derivatives, computed by nabla.Grad"
	p.X.Label.Text = "x"
	p.Y.Label.Text = "y"
	p.Title.TextStyle.Font.Size = vg.Points(14)
	p.Title.Padding = vg.Points(8)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = vg.Points(13)
		a.Tick.Label.Font.Size = vg.Points(11)
	}
	p.Legend.TextStyle.Font.Size = vg.Points(12)
	p.Add(plotter.NewGrid())
	for _, s := range []struct {
		name string
		xys  plotter.XYs
		c    color.RGBA
		dash []vg.Length
	}{
		{"f(x) = x³", f, color.RGBA{R: 31, G: 119, B: 180, A: 255}, nil},
		{"f′(x) = Grad(f) = 3x²", f1, color.RGBA{R: 255, G: 127, B: 14, A: 255}, []vg.Length{vg.Points(6), vg.Points(3)}},
		{"f″(x) = Grad(Grad(f)) = 6x", f2, color.RGBA{R: 44, G: 160, B: 44, A: 255}, []vg.Length{vg.Points(2), vg.Points(2)}},
	} {
		l, err := plotter.NewLine(s.xys)
		if err != nil {
			return err
		}
		l.Color = s.c
		l.Width = vg.Points(2)
		l.Dashes = s.dash
		p.Add(l)
		p.Legend.Add(s.name, l)
	}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(10)
	p.Legend.YOffs = -vg.Points(10)
	p.Legend.ThumbnailWidth = vg.Points(30)
	p.Legend.Padding = vg.Points(2)
	if err := p.Save(7*vg.Inch, 4.5*vg.Inch, out); err != nil {
		return err
	}
	fmt.Fprintln(w, "wrote", out)
	return nil
}
