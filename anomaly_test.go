package nabla_test

import (
	"math"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/nabla-go/nabla"
)

// line returns "file.go:N" of its caller.
func line() string {
	_, file, l, _ := runtime.Caller(1)
	return file[strings.LastIndex(file, "/")+1:] + ":" + strconv.Itoa(l)
}

func TestDetectAnomalyNamesOpAndLine(t *testing.T) {
	for _, c := range []struct {
		op, bad string
		x       []float64
		f       func(x *nabla.Tensor) (*nabla.Tensor, string)
	}{
		{"Log", "Inf", []float64{0, 1}, func(x *nabla.Tensor) (*nabla.Tensor, string) {
			return x.Log(), line()
		}},
		{"Sqrt", "NaN", []float64{-1, 4}, func(x *nabla.Tensor) (*nabla.Tensor, string) {
			return x.Sqrt(), line()
		}},
	} {
		t.Run(c.op, func(t *testing.T) {
			x := nabla.FromSlice(c.x).RequireGrad()
			end := nabla.AnomalyMode()
			y, where := c.f(x)
			// later ops with finite gradients are not blamed
			loss := y.MulScalar(2).Sum()
			end()
			wantPanic[*nabla.GradError](t, func() { loss.Backward(nabla.DetectAnomaly()) },
				"anomaly", "backward rule of "+c.op+" returned "+c.bad, "called at ", where)

			// The same option for Gradients.
			end = nabla.AnomalyMode()
			y, where = c.f(x)
			end()
			wantPanic[*nabla.GradError](t, func() { nabla.Gradients(y.Sum(), []*nabla.Tensor{x}, nabla.DetectAnomaly()) },
				c.op, where)

			// Without AnomalyMode the op is named and the message says how
			// to learn the line.
			y, _ = c.f(x)
			wantPanic[*nabla.GradError](t, func() { y.Sum().Backward(nabla.DetectAnomaly()) },
				"backward rule of "+c.op, "AnomalyMode")

			// Without DetectAnomaly nothing is checked, as before.
			y, _ = c.f(x)
			if err := nabla.Maybe(func() { y.Sum().Backward() }); err != nil {
				t.Errorf("Backward without DetectAnomaly: %v", err)
			}
		})
	}
}

func TestDetectAnomalyQuietOnFiniteGradients(t *testing.T) {
	defer nabla.AnomalyMode()()
	// d/dx exp(sqrt(log x)) = exp(s) / (2 s x) with s = sqrt(log x)
	x := nabla.FromSlice([]float64{1.5, 2}).RequireGrad()
	x.Log().Sqrt().Exp().Sum().Backward(nabla.DetectAnomaly(), nabla.CreateGraph())
	var want []float64
	for _, v := range []float64{1.5, 2} {
		s := math.Sqrt(math.Log(v))
		want = append(want, math.Exp(s)/(2*s*v))
	}
	wantValues(t, "grad", x.Grad(), want...)
}
