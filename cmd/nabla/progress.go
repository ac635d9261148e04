package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress reports training as it runs.
type progress interface {
	startEpoch(epoch, epochs, batches, samples int)
	// step reports a finished batch of n samples and the running
	// averages of the epoch's loss and accuracy.
	step(batch, n int, loss, acc float64)
	endEpoch(m epochMetrics, samplesPerSec float64)
	// stop removes a live display before an early return.
	stop()
}

// newProgress returns a live progress bar on stderr when it is a
// terminal; either way one plain line per epoch goes to stdout.
func newProgress(stdout, stderr io.Writer, regression bool) progress {
	lines := &lineProgress{w: stdout, regression: regression}
	if isTerminal(stderr) {
		return &barProgress{lineProgress: lines, w: stderr}
	}
	return lines
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// lineProgress prints one line per epoch, for logs, pipes and CI.
type lineProgress struct {
	w          io.Writer
	regression bool
	epochs     int
}

func (p *lineProgress) startEpoch(epoch, epochs, batches, samples int) { p.epochs = epochs }
func (p *lineProgress) step(batch, n int, loss, acc float64)           {}
func (p *lineProgress) stop()                                          {}

func (p *lineProgress) endEpoch(m epochMetrics, sps float64) {
	width := len(fmt.Sprint(p.epochs))
	if p.regression {
		fmt.Fprintf(p.w, "epoch %*d/%d  train_mse %-8.4g train_r2 %6.4f  test_mse %-8.4g test_r2 %6.4f  %5.2fs  %.0f samples/s\n",
			width, m.Epoch, p.epochs, m.TrainLoss, m.TrainAcc, m.TestLoss, m.TestAcc, m.Seconds, sps)
		return
	}
	fmt.Fprintf(p.w, "epoch %*d/%d  train_loss %.4f train_acc %.4f  test_loss %.4f test_acc %.4f  %5.2fs  %.0f samples/s\n",
		width, m.Epoch, p.epochs, m.TrainLoss, m.TrainAcc, m.TestLoss, m.TestAcc, m.Seconds, sps)
}

// barProgress draws a progress bar over the samples of each epoch, with
// the batch, running loss and accuracy, samples per second and the time
// left, and prints the epoch's line when it ends.
type barProgress struct {
	*lineProgress
	w              io.Writer
	bar            *progressbar.ProgressBar
	epoch, batches int
}

func (p *barProgress) startEpoch(epoch, epochs, batches, samples int) {
	p.lineProgress.startEpoch(epoch, epochs, batches, samples)
	p.epoch, p.batches = epoch, batches
	p.bar = progressbar.NewOptions(samples,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(fmt.Sprintf("epoch %d/%d", epoch, epochs)),
		progressbar.OptionSetWidth(20),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("samples"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionUseANSICodes(true),
	)
}

func (p *barProgress) step(batch, n int, loss, acc float64) {
	what := fmt.Sprintf("loss %.4f acc %.4f", loss, acc)
	if p.regression {
		what = fmt.Sprintf("loss %.4f", loss)
	}
	p.bar.Describe(fmt.Sprintf("epoch %d/%d batch %d/%d %s", p.epoch, p.epochs, batch, p.batches, what))
	p.bar.Add(n)
}

func (p *barProgress) stop() {
	if p.bar != nil {
		p.bar.Clear()
		p.bar = nil
	}
}

func (p *barProgress) endEpoch(m epochMetrics, sps float64) {
	if p.bar != nil {
		p.bar.Finish()
		p.bar.Clear()
		p.bar = nil
	}
	if isTerminal(p.lineProgress.w) {
		// Both on one terminal: the bar's line was cleared, write over it.
		fmt.Fprint(p.w, "\r")
	}
	p.lineProgress.endEpoch(m, sps)
}
