// Command regression fits a linear model and a small MLP (10-32-1, ReLU)
// to the diabetes data set embedded in package datasets (442 patients,
// 10 baseline measurements, disease progression after one year), holding
// out 20% for testing. It prints the test MSE and R² of both and plots the
// predicted against the actual progression.
//
//	go run ./examples/regression            # writes regression.png in the temporary folder
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/data"
	"github.com/nabla-go/nabla/datasets"
	"github.com/nabla-go/nabla/examples/internal/chart"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/optim"
)

func main() {
	steps := flag.Int("steps", 2000, "full-batch Adam steps per model")
	out := flag.String("out", chart.DefaultOut("regression.png"), "PNG file for the scatter plot (default in the temporary folder)")
	flag.Parse()
	if _, err := run(os.Stdout, *steps, *out); err != nil {
		fmt.Fprintln(os.Stderr, "regression:", err)
		os.Exit(1)
	}
}

// result is a fitted model's performance on the test set.
type result struct {
	name     string
	mse, r2  float64
	pred, yt []float64
}

func run(w io.Writer, steps int, out string) ([]result, error) {
	d, err := datasets.Diabetes() // features already centred and scaled
	if err != nil {
		return nil, err
	}
	all, err := data.FromFloat32s(d.X, []int{d.NumSamples, d.NumFeatures}, d.Y, []int{d.NumSamples, 1})
	if err != nil {
		return nil, err
	}
	train, test := data.Split(all, 0.8, 42)
	xTrain, yTrain := data.Collate(train, indices(train.Len()))
	xTest, yTest := data.Collate(test, indices(test.Len()))
	// Learn the standardised target; report errors in its own units.
	mean, std := yTrain.Mean().Item(), math.Sqrt(yTrain.Var(0).Item())
	yStd := yTrain.AddScalar(-mean).DivScalar(std)

	rng := rand.New(rand.NewPCG(7, 7))
	models := []struct {
		name string
		m    nn.Module
		lr   float64
	}{
		{"linear", nn.NewLinear(rng, 10, 1), 1e-2},
		{"MLP 10-32-1", nn.NewSequential(nn.NewLinear(rng, 10, 32), nn.ReLU{}, nn.NewLinear(rng, 32, 1)), 1e-3},
	}
	fmt.Fprintf(w, "diabetes: %d train, %d test patients, target %.0f ± %.0f\n", train.Len(), test.Len(), mean, std)
	var rs []result
	for _, mm := range models {
		opt := optim.NewAdam(mm.m.Params(), optim.AdamConfig{LR: mm.lr, WeightDecay: 1e-4})
		for range steps {
			loss := nn.MSE(mm.m.Forward(xTrain), yStd)
			opt.ZeroGrad()
			loss.Backward()
			opt.Step()
		}
		var pred *nabla.Tensor
		nn.NoGrad(mm.m, func() { pred = mm.m.Forward(xTest).MulScalar(std).AddScalar(mean) })
		r := result{name: mm.name, pred: pred.Float64s(), yt: yTest.Float64s()}
		r.mse = nn.MSE(pred, yTest).Item()
		r.r2 = 1 - r.mse/yTest.Var(0).Item()
		fmt.Fprintf(w, "%-12s test MSE %7.1f  RMSE %5.1f  R² %.3f\n", mm.name, r.mse, math.Sqrt(r.mse), r.r2)
		rs = append(rs, r)
	}

	p := chart.New("diabetes: predicted against actual progression (test set)", "actual progression after one year", "predicted progression")
	lo, hi := 0.0, 360.0
	diag, err := plotter.NewLine(plotter.XYs{{X: lo, Y: lo}, {X: hi, Y: hi}})
	if err != nil {
		return nil, err
	}
	diag.Color = chart.Colors[2]
	diag.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(diag)
	p.Legend.Add("perfect prediction", diag)
	shapes := []draw.GlyphDrawer{draw.CircleGlyph{}, draw.TriangleGlyph{}}
	for i, r := range rs {
		xys := make(plotter.XYs, len(r.pred))
		for j := range xys {
			xys[j] = plotter.XY{X: r.yt[j], Y: r.pred[j]}
		}
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, err
		}
		s.Color = chart.Colors[i]
		s.Shape = shapes[i]
		s.Radius = vg.Points(2.5)
		p.Add(s)
		p.Legend.Add(fmt.Sprintf("%s (R² %.2f)", r.name, r.r2), s)
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs = vg.Points(8)
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = lo, hi, lo, hi
	if err := chart.Save(out, 6*vg.Inch, 5.2*vg.Inch, p); err != nil {
		return nil, err
	}
	fmt.Fprintln(w, "wrote", out)
	return rs, nil
}

func indices(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}
