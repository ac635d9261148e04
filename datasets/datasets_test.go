package datasets

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// checkShape checks the fields every data set must keep consistent.
func checkShape(t *testing.T, d *Dataset, n, nf int) {
	t.Helper()
	if d.NumSamples != n || d.NumFeatures != nf || len(d.X) != n*nf {
		t.Fatalf("%s: %d samples x %d features, len(X) = %d; want %d x %d", d.Name, d.NumSamples, d.NumFeatures, len(d.X), n, nf)
	}
	prod := 1
	for _, s := range d.FeatureShape {
		prod *= s
	}
	if prod != nf {
		t.Errorf("%s: FeatureShape %v does not hold %d features", d.Name, d.FeatureShape, nf)
	}
	if d.Labels != nil {
		if len(d.Labels) != n || d.Y != nil {
			t.Errorf("%s: %d labels, Y %v", d.Name, len(d.Labels), d.Y != nil)
		}
		for i, l := range d.Labels {
			if l < 0 || l >= d.NumClasses {
				t.Fatalf("%s: label %d of sample %d out of range", d.Name, l, i)
			}
		}
	}
}

func near(a, b float32) bool { return math.Abs(float64(a-b)) <= 1e-6*math.Max(1, math.Abs(float64(b))) }

func TestIris(t *testing.T) {
	d, err := Iris()
	if err != nil {
		t.Fatal(err)
	}
	checkShape(t, d, 150, 4)
	if !reflect.DeepEqual(d.FeatureShape, []int{4}) || d.NumClasses != 3 {
		t.Errorf("FeatureShape %v, NumClasses %d", d.FeatureShape, d.NumClasses)
	}
	if !reflect.DeepEqual(d.Row(0), []float32{5.1, 3.5, 1.4, 0.2}) || d.Labels[0] != 0 {
		t.Errorf("first sample = %v class %d", d.Row(0), d.Labels[0])
	}
	if !reflect.DeepEqual(d.Row(149), []float32{5.9, 3.0, 5.1, 1.8}) || d.Labels[149] != 2 {
		t.Errorf("last sample = %v class %d", d.Row(149), d.Labels[149])
	}
	if got := d.ClassCounts(); !reflect.DeepEqual(got, []int{50, 50, 50}) {
		t.Errorf("class counts = %v", got)
	}
	if !reflect.DeepEqual(d.ClassNames, []string{"setosa", "versicolor", "virginica"}) || len(d.FeatureNames) != 4 {
		t.Errorf("names: %q %q", d.ClassNames, d.FeatureNames)
	}
	var sum float64
	for _, v := range d.X {
		if v < 0.1 || v > 7.9 {
			t.Fatalf("value %v out of the documented range 0.1..7.9", v)
		}
		sum += float64(v)
	}
	if math.Abs(sum-2078.7) > 1e-3 {
		t.Errorf("sum of X = %v, want 2078.7", sum)
	}
}

func TestDigits(t *testing.T) {
	d, err := Digits()
	if err != nil {
		t.Fatal(err)
	}
	checkShape(t, d, 1797, 64)
	if !reflect.DeepEqual(d.FeatureShape, []int{8, 8}) || d.NumClasses != 10 {
		t.Errorf("FeatureShape %v, NumClasses %d", d.FeatureShape, d.NumClasses)
	}
	if got := d.ClassCounts(); !reflect.DeepEqual(got, []int{178, 182, 177, 183, 181, 182, 181, 179, 174, 180}) {
		t.Errorf("class counts = %v", got)
	}
	for _, v := range d.X {
		if v < 0 || v > 16 || v != float32(math.Trunc(float64(v))) {
			t.Fatalf("value %v is not an integer in 0..16", v)
		}
	}
	first := []float32{0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0}
	if !reflect.DeepEqual(d.Row(0)[:16], first) || d.Labels[0] != 0 {
		t.Errorf("first sample = %v class %d", d.Row(0)[:16], d.Labels[0])
	}
	last := d.Row(1796)
	if last[2] != 10 || last[3] != 14 || last[62] != 1 || d.Labels[1796] != 8 {
		t.Errorf("last sample = %v class %d", last, d.Labels[1796])
	}
}

func TestDiabetes(t *testing.T) {
	raw, err := DiabetesRaw()
	if err != nil {
		t.Fatal(err)
	}
	checkShape(t, raw, 442, 10)
	if raw.Labels != nil || raw.NumClasses != 0 || len(raw.Y) != 442 || len(raw.FeatureNames) != 10 {
		t.Fatalf("labels %v, classes %d, %d targets", raw.Labels, raw.NumClasses, len(raw.Y))
	}
	if want := []float32{59, 2, 32.1, 101, 157, 93.2, 38, 4, 4.8598, 87}; !reflect.DeepEqual(raw.Row(0), want) {
		t.Errorf("raw first row = %v, want %v", raw.Row(0), want)
	}
	if raw.Y[0] != 151 || raw.Y[1] != 75 {
		t.Errorf("Y[:2] = %v", raw.Y[:2])
	}
	minY, maxY := raw.Y[0], raw.Y[0]
	for _, y := range raw.Y {
		minY, maxY = min(minY, y), max(maxY, y)
	}
	if minY != 25 || maxY != 346 {
		t.Errorf("Y ranges over %v..%v, want 25..346", minY, maxY)
	}

	d, err := Diabetes()
	if err != nil {
		t.Fatal(err)
	}
	checkShape(t, d, 442, 10)
	if !reflect.DeepEqual(d.Y, raw.Y) {
		t.Error("scaling changed Y")
	}
	// Reference values from scikit-learn 1.2.1's load_diabetes().
	want0 := []float32{0.038075906, 0.050680119, 0.061696207, 0.021872386, -0.044223498, -0.034820763, -0.043400846, -0.002592262, 0.019907486, -0.017646125}
	want441 := []float32{-0.045472478, -0.044641637, -0.073030303, -0.081413144, 0.083740117, 0.027808930, 0.17381578, -0.039493383, -0.004221514, 0.0030644094}
	for j := range want0 {
		if !near(d.Row(0)[j], want0[j]) || !near(d.Row(441)[j], want441[j]) {
			t.Errorf("column %d: rows 0 and 441 = %v, %v; want %v, %v", j, d.Row(0)[j], d.Row(441)[j], want0[j], want441[j])
		}
	}
	for j := 0; j < 10; j++ {
		var sum, sq float64
		for i := 0; i < 442; i++ {
			v := float64(d.X[i*10+j])
			sum += v
			sq += v * v
		}
		if math.Abs(sum) > 1e-5 || math.Abs(sq-1) > 1e-5 {
			t.Errorf("column %d: sum %v, sum of squares %v; want 0 and 1", j, sum, sq)
		}
	}
}

func TestLoadersReturnFreshData(t *testing.T) {
	a, _ := Iris()
	a.X[0] = 100
	b, _ := Iris()
	if b.X[0] != 5.1 {
		t.Error("modifying one Iris() result changed another")
	}
}

// writeIDX writes an IDX file of the given type by hand, gzip-compressed
// if the name ends in .gz.
func writeIDX(t *testing.T, path string, typ byte, dims []int, payload []byte) {
	t.Helper()
	b := []byte{0, 0, typ, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	b = append(b, payload...)
	if strings.HasSuffix(path, ".gz") {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		b = buf.Bytes()
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestMNISTFromFolder(t *testing.T) {
	dir := t.TempDir()
	n := 3
	pixels := make([]byte, n*28*28)
	for i := range pixels {
		pixels[i] = byte(i % 256)
	}
	writeIDX(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), 0x08, []int{n, 28, 28}, pixels)
	writeIDX(t, filepath.Join(dir, "t10k-labels-idx1-ubyte"), 0x08, []int{n}, []byte{7, 0, 9})
	d, err := MNIST(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	checkShape(t, d, n, 784)
	if !reflect.DeepEqual(d.FeatureShape, []int{1, 28, 28}) || !reflect.DeepEqual(d.Labels, []int{7, 0, 9}) || d.Name != "mnist-test" {
		t.Errorf("got %s shape %v labels %v", d.Name, d.FeatureShape, d.Labels)
	}
	if d.X[0] != 0 || d.X[255] != 1 || d.X[256] != 0 || !near(d.X[128], 128.0/255) {
		t.Errorf("pixels not scaled to [0,1]: %v", d.X[:4])
	}
	fm, err := FashionMNIST(dir, false)
	if err != nil || fm.ClassNames[9] != "Ankle boot" || fm.Name != "fashion-mnist-test" {
		t.Errorf("FashionMNIST from the folder: %v, %v", fm, err)
	}

	// The training files are missing.
	if _, err := MNIST(dir, true); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "train-images-idx3-ubyte") {
		t.Errorf("MNIST(train) = %v", err)
	}
	// A label out of range.
	writeIDX(t, filepath.Join(dir, "t10k-labels-idx1-ubyte"), 0x08, []int{n}, []byte{7, 10, 9})
	if _, err := MNIST(dir, false); err == nil || !strings.Contains(err.Error(), "label 10") {
		t.Errorf("bad label: %v", err)
	}
	// Counts that do not match.
	writeIDX(t, filepath.Join(dir, "t10k-labels-idx1-ubyte"), 0x08, []int{2}, []byte{7, 1})
	if _, err := MNIST(dir, false); err == nil || !strings.Contains(err.Error(), "3 images but 2 labels") {
		t.Errorf("count mismatch: %v", err)
	}
	// Images of the wrong type.
	writeIDX(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), 0x0B, []int{1, 1, 1}, []byte{0, 1})
	if _, err := MNIST(dir, false); err == nil || !strings.Contains(err.Error(), "want 0x08 (unsigned byte)") {
		t.Errorf("wrong type: %v", err)
	}
	// Images of the wrong rank.
	writeIDX(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), 0x08, []int{3, 784}, pixels)
	if _, err := MNIST(dir, false); err == nil || !strings.Contains(err.Error(), "want images of 3 dimensions") {
		t.Errorf("wrong rank: %v", err)
	}
	// A header claiming 4 GiB of pixels: refused before any allocation.
	writeIDX(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), 0x08, []int{1 << 16, 256, 256}, pixels[:10])
	if _, err := MNIST(dir, false); err == nil || !strings.Contains(err.Error(), "more than the limit") {
		t.Errorf("a lying header: %v", err)
	}
	if _, err := MNIST("", false); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("MNIST(\"\") = %v", err)
	}
}

func TestFashionMNISTMissingFolder(t *testing.T) {
	_, err := FashionMNIST(filepath.Join(t.TempDir(), "nope"), true)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "apt-get install dataset-fashion-mnist") || !strings.Contains(err.Error(), "pass the folder") {
		t.Errorf("error = %v", err)
	}
}

func TestFashionMNIST(t *testing.T) {
	if _, err := os.Stat(FashionMNISTDir); err != nil {
		t.Skipf("%s absent (apt-get install dataset-fashion-mnist): %v", FashionMNISTDir, err)
	}
	for _, tc := range []struct {
		train bool
		n     int
	}{{false, 10000}, {true, 60000}} {
		if tc.train && (testing.Short() || raceEnabled) {
			// Check only the training labels: decoding all the images
			// takes over 10 s under the race detector.
			labels, err := readUbyteIDX(filepath.Join(FashionMNISTDir, "train-labels-idx1-ubyte.gz"))
			if err != nil || len(labels.data) != tc.n {
				t.Fatalf("training labels: %v", err)
			}
			for _, l := range labels.data {
				if l > 9 {
					t.Fatalf("training label %d", l)
				}
			}
			continue
		}
		d, err := FashionMNIST("", tc.train)
		if err != nil {
			t.Fatal(err)
		}
		checkShape(t, d, tc.n, 784)
		if !reflect.DeepEqual(d.FeatureShape, []int{1, 28, 28}) || d.NumClasses != 10 {
			t.Errorf("FeatureShape %v, NumClasses %d", d.FeatureShape, d.NumClasses)
		}
		for _, c := range d.ClassCounts() {
			if c != tc.n/10 { // Fashion-MNIST is balanced
				t.Errorf("class counts = %v", d.ClassCounts())
				break
			}
		}
		lo, hi := d.X[0], d.X[0]
		for _, v := range d.X {
			lo, hi = min(lo, v), max(hi, v)
		}
		if lo != 0 || hi != 1 {
			t.Errorf("pixels range over %v..%v, want 0..1", lo, hi)
		}
	}
}

func TestFashionMNISTPixels(t *testing.T) {
	px, err := FashionMNISTPixels("", false)
	if err != nil {
		t.Skip("Fashion-MNIST not installed:", err)
	}
	f, err := FashionMNIST("", false)
	if err != nil {
		t.Fatal(err)
	}
	if px.X != nil || len(px.Pixels) != len(f.X) {
		t.Fatalf("Pixels: X %d values, Pixels %d; want nil and %d", len(px.X), len(px.Pixels), len(f.X))
	}
	for i := 0; i < len(f.X); i += 997 {
		if got := float32(px.Pixels[i]) / 255; got != f.X[i] {
			t.Fatalf("pixel %d: %v/255 = %v; FashionMNIST has %v", i, px.Pixels[i], got, f.X[i])
		}
	}
	if px.Labels[7] != f.Labels[7] || px.NumSamples != 10000 {
		t.Errorf("labels or counts differ")
	}
}
