package datasets

import (
	"bufio"
	"compress/gzip"
	"embed"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Dataset is a data set held in memory as plain slices, one sample after
// another.
type Dataset struct {
	// Name identifies the data set, e.g. "iris" or "fashion-mnist-train".
	Name string
	// X holds the features, row-major: sample i is
	// X[i*NumFeatures : (i+1)*NumFeatures].
	X []float32
	// Pixels holds the features as bytes 0..255 instead of X, for image
	// data sets loaded with FashionMNISTPixels; nil otherwise.
	Pixels []uint8
	// NumSamples is the number of samples (rows of X).
	NumSamples int
	// NumFeatures is the number of features of one sample, the product of
	// FeatureShape.
	NumFeatures int
	// Y holds one regression target per sample; nil for classification
	// data sets.
	Y []float32
	// Labels holds one class label in [0, NumClasses) per sample; nil for
	// regression data sets.
	Labels []int
	// NumClasses is the number of classes; 0 for regression data sets.
	NumClasses int
	// FeatureShape is the shape of one sample, e.g. [8 8] for digits,
	// [4] for iris, [1 28 28] for (Fashion-)MNIST.
	FeatureShape []int
	// FeatureNames names the features where they have names (iris,
	// diabetes); nil otherwise.
	FeatureNames []string
	// ClassNames names the classes where they have names; nil otherwise.
	ClassNames []string
}

// Row returns the features of sample i, a sub-slice of X.
func (d *Dataset) Row(i int) []float32 {
	return d.X[i*d.NumFeatures : (i+1)*d.NumFeatures : (i+1)*d.NumFeatures]
}

// ClassCounts returns how many samples each class has; nil for regression
// data sets.
func (d *Dataset) ClassCounts() []int {
	if d.Labels == nil {
		return nil
	}
	counts := make([]int, d.NumClasses)
	for _, l := range d.Labels {
		if l >= 0 && l < d.NumClasses {
			counts[l]++
		}
	}
	return counts
}

//go:embed data/iris.csv.gz data/digits.csv.gz data/diabetes_data_raw.csv.gz data/diabetes_target.csv.gz
var files embed.FS

// readTable reads an embedded gzip-compressed text table of numbers,
// fields separated by commas or (when comma is false) runs of white
// space. If header is set, the first line is returned unparsed.
func readTable(name string, comma, header bool) (first []string, rows [][]float64, err error) {
	f, err := files.Open("data/" + name)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, nil, fmt.Errorf("datasets: %s: %w", name, err)
	}
	sc := bufio.NewScanner(zr)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var fields []string
		if comma {
			fields = strings.Split(text, ",")
		} else {
			fields = strings.Fields(text)
		}
		if header && first == nil {
			first = fields
			continue
		}
		row := make([]float64, len(fields))
		for j, s := range fields {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return nil, nil, fmt.Errorf("datasets: %s: line %d, column %d: %q is not a number", name, line, j+1, s)
			}
			row[j] = v
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("datasets: %s: %w", name, err)
	}
	if _, err := io.Copy(io.Discard, zr); err != nil { // verify the checksum
		return nil, nil, fmt.Errorf("datasets: %s: %w", name, err)
	}
	return first, rows, nil
}

// classification builds a classification data set from rows whose last
// column is the class label.
func classification(name string, rows [][]float64, numFeatures, numClasses int, shape []int) (*Dataset, error) {
	d := &Dataset{
		Name:         name,
		NumSamples:   len(rows),
		NumFeatures:  numFeatures,
		X:            make([]float32, 0, len(rows)*numFeatures),
		Labels:       make([]int, len(rows)),
		NumClasses:   numClasses,
		FeatureShape: shape,
	}
	for i, row := range rows {
		if len(row) != numFeatures+1 {
			return nil, fmt.Errorf("datasets: %s: row %d has %d columns, want %d", name, i+1, len(row), numFeatures+1)
		}
		for _, v := range row[:numFeatures] {
			d.X = append(d.X, float32(v))
		}
		label := row[numFeatures]
		if label != math.Trunc(label) || label < 0 || label >= float64(numClasses) {
			return nil, fmt.Errorf("datasets: %s: row %d: class label %v is not an integer in [0, %d)", name, i+1, label, numClasses)
		}
		d.Labels[i] = int(label)
	}
	return d, nil
}

// Iris returns Fisher's iris data set: 150 samples of 4 features (sepal
// length, sepal width, petal length, petal width, in cm) in 3 classes
// (setosa, versicolor, virginica) of 50 samples each. FeatureShape is [4].
func Iris() (*Dataset, error) {
	head, rows, err := readTable("iris.csv.gz", true, true)
	if err != nil {
		return nil, err
	}
	// The first line is "150,4,setosa,versicolor,virginica".
	if len(head) < 3 {
		return nil, fmt.Errorf("datasets: iris.csv.gz: bad first line %q", head)
	}
	n, err1 := strconv.Atoi(head[0])
	nf, err2 := strconv.Atoi(head[1])
	if err1 != nil || err2 != nil || n != len(rows) || nf != 4 {
		return nil, fmt.Errorf("datasets: iris.csv.gz: first line %q does not match %d rows of 4 features", head, len(rows))
	}
	d, err := classification("iris", rows, nf, len(head)-2, []int{nf})
	if err != nil {
		return nil, err
	}
	d.FeatureNames = []string{"sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"}
	d.ClassNames = append([]string(nil), head[2:]...)
	return d, nil
}

// Digits returns the optical recognition of handwritten digits data set:
// 1797 images of 8x8 pixels with integer values 0..16 (FeatureShape
// [8 8], 64 features) in 10 classes, the digits 0 to 9.
func Digits() (*Dataset, error) {
	_, rows, err := readTable("digits.csv.gz", true, false)
	if err != nil {
		return nil, err
	}
	d, err := classification("digits", rows, 64, 10, []int{8, 8})
	if err != nil {
		return nil, err
	}
	d.ClassNames = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	return d, nil
}

// diabetesFeatures names the ten diabetes features as scikit-learn does.
var diabetesFeatures = []string{"age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"}

// DiabetesRaw returns the diabetes regression data set with its features
// as recorded: 442 patients, 10 baseline variables (age in years, sex
// coded 1 or 2, body mass index, average blood pressure and six blood
// serum measurements s1..s6), and in Y a quantitative measure of disease
// progression one year after baseline (25..346).
func DiabetesRaw() (*Dataset, error) { return diabetes(false) }

// Diabetes returns the diabetes regression data set scaled as
// scikit-learn's load_diabetes does by default: each of the 10 feature
// columns is mean-centered and divided by its (population) standard
// deviation times the square root of the number of samples, so each
// column sums to 0 and its squares sum to 1. Y holds the unscaled targets.
// See [DiabetesRaw] for the features as recorded.
func Diabetes() (*Dataset, error) { return diabetes(true) }

func diabetes(scaled bool) (*Dataset, error) {
	_, rows, err := readTable("diabetes_data_raw.csv.gz", false, false)
	if err != nil {
		return nil, err
	}
	_, targets, err := readTable("diabetes_target.csv.gz", false, false)
	if err != nil {
		return nil, err
	}
	if len(rows) != len(targets) {
		return nil, fmt.Errorf("datasets: diabetes: %d samples but %d targets", len(rows), len(targets))
	}
	const nf = 10
	n := len(rows)
	for i, row := range rows {
		if len(row) != nf || len(targets[i]) != 1 {
			return nil, fmt.Errorf("datasets: diabetes: row %d has %d features and %d targets, want %d and 1", i+1, len(row), len(targets[i]), nf)
		}
	}
	if scaled {
		for j := 0; j < nf; j++ {
			var mean float64
			for _, row := range rows {
				mean += row[j]
			}
			mean /= float64(n)
			var ss float64
			for _, row := range rows {
				ss += (row[j] - mean) * (row[j] - mean)
			}
			norm := math.Sqrt(ss)
			if norm == 0 {
				norm = 1
			}
			for _, row := range rows {
				row[j] = (row[j] - mean) / norm
			}
		}
	}
	d := &Dataset{
		Name:         "diabetes",
		NumSamples:   n,
		NumFeatures:  nf,
		X:            make([]float32, 0, n*nf),
		Y:            make([]float32, n),
		FeatureShape: []int{nf},
		FeatureNames: append([]string(nil), diabetesFeatures...),
	}
	for i, row := range rows {
		for _, v := range row {
			d.X = append(d.X, float32(v))
		}
		d.Y[i] = float32(targets[i][0])
	}
	return d, nil
}
