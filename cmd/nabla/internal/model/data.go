package model

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nabla-go/nabla/data"
	"github.com/nabla-go/nabla/datasets"
)

// Builtin lists the data sets known by name, in the order --help shows them.
var Builtin = []string{"digits", "iris", "diabetes", "fashion-mnist", "mnist"}

// Source says where a data set comes from and how it is split, so that
// eval can rebuild the same held-out test set.
type Source struct {
	// Name is one of Builtin, or "csv" or "idx" for files.
	Name string `json:"name"`
	// Path is the CSV or IDX images file, or the folder of the IDX files
	// (fashion-mnist, mnist, or a folder of MNIST-named files); "" for the
	// embedded sets and for Debian's Fashion-MNIST folder.
	Path string `json:"path,omitempty"`
	// Labels is the IDX labels file that goes with the images in Path.
	Labels string `json:"labels,omitempty"`
	// Target is the CSV column that holds the label or regression target.
	Target string `json:"target,omitempty"`
	// TestFrac is the fraction held out for testing by a seeded shuffle,
	// for data sets without a test set of their own.
	TestFrac float64 `json:"test_frac"`
	Seed     uint64  `json:"split_seed"`
	// Limit, when positive, keeps only the first Limit samples of each
	// split (for quick runs).
	Limit int `json:"limit,omitempty"`
}

// ParseSource turns the --data flag (a name or a path) into a Source.
// dataDir is --data-dir, the folder of the IDX files for fashion-mnist and
// mnist. It checks only the syntax; Load reads the files.
func ParseSource(name, dataDir, labels, target string) (Source, error) {
	s := Source{Name: name, Labels: labels, Target: target}
	switch {
	case slices.Contains(Builtin, name):
		if name == "mnist" || name == "fashion-mnist" {
			s.Path = dataDir
		}
		return s, nil
	case strings.HasSuffix(strings.ToLower(name), ".csv"):
		s.Name = "csv"
	case strings.ContainsAny(name, `/\.`):
		s.Name = "idx"
	default:
		return s, fmt.Errorf("unknown data %q (want %s, or a path to a .csv file, an IDX file or a folder of IDX files)", name, strings.Join(Builtin, ", "))
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return s, err
	}
	s.Path = abs
	if s.Labels != "" {
		if s.Labels, err = filepath.Abs(s.Labels); err != nil {
			return s, err
		}
	}
	return s, nil
}

// Set is a data set loaded for training: the train and test splits and
// what the model needs to know about them.
type Set struct {
	Train, Test *datasets.Dataset
	Task        string
	PixelMax    float64 // 0 unless the samples are images
}

// MaxInferredClasses bounds the number of classes inferred from the
// largest label when --classes is not given: one stray label (999999)
// must not build a model of a million classes.
const MaxInferredClasses = 1000

// Load reads the data set s describes and splits it. task is
// Classification or Regression; it matters only for CSV files, whose
// target column may be either. classes, when positive, is the number of
// classes of a CSV or IDX file (--classes); otherwise it is the largest
// label plus one, at most MaxInferredClasses.
func Load(s Source, task string, classes int) (*Set, error) {
	var (
		all, train, test *datasets.Dataset
		err              error
	)
	set := &Set{Task: Classification}
	switch s.Name {
	case "digits":
		all, err = datasets.Digits()
		set.PixelMax = 16
	case "iris":
		all, err = datasets.Iris()
	case "diabetes":
		all, err = datasets.Diabetes()
		set.Task = Regression
	case "fashion-mnist":
		if train, err = datasets.FashionMNIST(s.Path, true); err == nil {
			test, err = datasets.FashionMNIST(s.Path, false)
		}
		set.PixelMax = 1
	case "mnist":
		if s.Path == "" {
			return nil, errors.New("mnist: no folder given: pass --data-dir with train-images-idx3-ubyte.gz and the three other files of the original distribution")
		}
		if train, err = datasets.MNIST(s.Path, true); err == nil {
			test, err = datasets.MNIST(s.Path, false)
		}
		set.PixelMax = 1
	case "csv":
		set.Task = task
		all, err = loadCSV(s.Path, s.Target, task, classes)
	case "idx":
		var st os.FileInfo
		if st, err = os.Stat(s.Path); err == nil && st.IsDir() {
			if train, err = datasets.MNIST(s.Path, true); err == nil {
				test, err = datasets.MNIST(s.Path, false)
			}
		} else if err == nil {
			all, err = loadIDX(s.Path, s.Labels, classes)
		}
		set.PixelMax = 1
	default:
		return nil, fmt.Errorf("unknown data %q", s.Name)
	}
	if err != nil {
		return nil, err
	}
	for _, d := range []*datasets.Dataset{all, train, test} {
		if d != nil && d.NumSamples == 0 {
			return nil, fmt.Errorf("%s: no samples", d.Name)
		}
		if err := checkFinite(d); err != nil {
			return nil, err
		}
	}
	if all != nil {
		if all.NumSamples < 2 {
			return nil, fmt.Errorf("%s: %d samples are too few to split into train and test", all.Name, all.NumSamples)
		}
		train, test = Split(all, s.TestFrac, s.Seed)
	}
	if set.Task == Classification && train.Labels == nil {
		return nil, fmt.Errorf("%s is a regression data set", train.Name)
	}
	if s.Limit > 0 {
		train, test = Head(train, s.Limit), Head(test, s.Limit)
	}
	if len(train.FeatureShape) < 2 {
		set.PixelMax = 0 // feature rows, not images
	}
	set.Train, set.Test = train, test
	return set, nil
}

// Split shuffles the samples of d with a generator seeded by seed and
// holds out the fraction frac of them (at least one) as the test set.
func Split(d *datasets.Dataset, frac float64, seed uint64) (train, test *datasets.Dataset) {
	perm := rand.New(rand.NewPCG(seed, 0x5eed)).Perm(d.NumSamples)
	nt := int(math.Round(frac * float64(d.NumSamples)))
	nt = min(max(nt, 1), d.NumSamples-1)
	test, train = Subset(d, perm[:nt]), Subset(d, perm[nt:])
	test.Name += "-test"
	train.Name += "-train"
	return train, test
}

// Head returns the first n samples of d (d itself if it has no more).
func Head(d *datasets.Dataset, n int) *datasets.Dataset {
	if n >= d.NumSamples {
		return d
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return Subset(d, idx)
}

// Subset returns a copy of d holding the samples idx, in that order.
func Subset(d *datasets.Dataset, idx []int) *datasets.Dataset {
	s := *d
	s.NumSamples = len(idx)
	s.X = make([]float32, 0, len(idx)*d.NumFeatures)
	if d.Labels != nil {
		s.Labels = make([]int, 0, len(idx))
	}
	if d.Y != nil {
		s.Y = make([]float32, 0, len(idx))
	}
	for _, i := range idx {
		s.X = append(s.X, d.Row(i)...)
		if d.Labels != nil {
			s.Labels = append(s.Labels, d.Labels[i])
		}
		if d.Y != nil {
			s.Y = append(s.Y, d.Y[i])
		}
	}
	return &s
}

// loadCSV reads a CSV file whose column target (the last column when
// target is empty) is the label or the regression target, and whose other
// columns are the features.
func loadCSV(path, target, task string, classes int) (*datasets.Dataset, error) {
	t, err := readCSV(path)
	if err != nil {
		return nil, err
	}
	return FromTable(t, filepath.Base(path), target, task, classes)
}

// readCSV reads the CSV file at path within the limits of OpenLimited.
func readCSV(path string) (*data.Table, error) {
	f, err := OpenLimited(path, MaxFileBytes)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := data.ReadCSV(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// checkFinite reports the first sample feature of d that is NaN or
// infinite (nil d is fine).
func checkFinite(d *datasets.Dataset) error {
	if d == nil {
		return nil
	}
	for i, v := range d.X {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%s: sample %d, feature %d: the value %v is not finite", d.Name, i/d.NumFeatures+1, i%d.NumFeatures+1, v)
		}
	}
	return nil
}

// labelError is the error of a label beyond the classes: where it is, and
// what to do about it.
func labelError(where string, y, classes int) error {
	if classes > 0 {
		return fmt.Errorf("%s: label %d out of range: --classes %d takes labels 0 to %d", where, y, classes, classes-1)
	}
	return fmt.Errorf("%s: label %d would make %d classes, more than the %d inferred at most: pass --classes N if the labels really run from 0 to N-1 (at most %d)",
		where, y, y+1, MaxInferredClasses, MaxClasses)
}

// FromTable turns a CSV table into a data set, the column target holding
// the labels (task Classification) or the regression target. For
// classification, numClasses > 0 bounds the labels; otherwise the number of
// classes is the largest label plus one, at most MaxInferredClasses. A
// label that is not a whole number in range, and a feature or target that
// is not finite as a float32 (NaN, or 1e39, which overflows), is an error
// naming its row and column.
func FromTable(t *data.Table, name, target, task string, numClasses int) (*datasets.Dataset, error) {
	ti := len(t.Header) - 1
	if target != "" {
		if ti = t.ColumnIndex(target); ti < 0 {
			return nil, fmt.Errorf("%s: no column %q (columns: %s)", name, target, strings.Join(t.Header, ", "))
		}
	}
	if len(t.Header) < 2 {
		return nil, fmt.Errorf("%s: need at least one feature column and a target column, got %d column(s)", name, len(t.Header))
	}
	if len(t.Rows) == 0 {
		return nil, fmt.Errorf("%s: no data rows", name)
	}
	nf := len(t.Header) - 1
	d := &datasets.Dataset{Name: strings.TrimSuffix(name, filepath.Ext(name)), NumSamples: len(t.Rows), NumFeatures: nf, FeatureShape: []int{nf}}
	d.FeatureNames = slices.Delete(slices.Clone(t.Header), ti, ti+1)
	d.X = make([]float32, 0, nf*len(t.Rows))
	for i, r := range t.Rows {
		for j, v := range r {
			if j == ti {
				continue
			}
			if f := float64(float32(v)); math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("%s: row %d (line %d), column %d (%q): the feature is %v, not a finite float32", name, i+1, i+2, j+1, t.Header[j], f)
			}
			d.X = append(d.X, float32(v))
		}
		y := r[ti]
		if task == Regression {
			if f := float64(float32(y)); math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("%s: row %d (line %d), column %d (%q): the target is %v, not a finite float32", name, i+1, i+2, ti+1, t.Header[ti], f)
			}
			d.Y = append(d.Y, float32(y))
			continue
		}
		if y != math.Trunc(y) || y < 0 {
			return nil, fmt.Errorf("%s: row %d (line %d): label %v out of range: column %q must hold whole numbers ≥ 0", name, i+1, i+2, y, t.Header[ti])
		}
		if numClasses > 0 && y >= float64(numClasses) || numClasses <= 0 && y >= MaxInferredClasses {
			return nil, labelError(fmt.Sprintf("%s: row %d (line %d), column %q", name, i+1, i+2, t.Header[ti]), int(min(y, 1e15)), numClasses)
		}
		d.Labels = append(d.Labels, int(y))
		d.NumClasses = max(d.NumClasses, int(y)+1)
	}
	if task == Classification {
		d.NumClasses = max(d.NumClasses, numClasses)
		for k := range d.NumClasses {
			d.ClassNames = append(d.ClassNames, strconv.Itoa(k))
		}
	}
	return d, nil
}

// loadIDX reads an IDX images file (N×H×W bytes, or N×F feature rows) and
// its labels file, given or guessed from the images' name
// (train-images-idx3-ubyte → train-labels-idx1-ubyte).
func loadIDX(path, labels string, classes int) (*datasets.Dataset, error) {
	if labels == "" {
		base := filepath.Base(path)
		guess := strings.Replace(strings.Replace(base, "images", "labels", 1), "idx3", "idx1", 1)
		if guess == base {
			return nil, fmt.Errorf("%s: which file holds the labels? pass --labels FILE", path)
		}
		labels = filepath.Join(filepath.Dir(path), guess)
	}
	img, err := readIDX(path)
	if err != nil {
		return nil, err
	}
	lab, err := readIDX(labels)
	if err != nil {
		return nil, err
	}
	ys, err := lab.Ints()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", labels, err)
	}
	if len(img.Dims) < 2 || len(lab.Dims) != 1 || img.Dims[0] != lab.Dims[0] {
		return nil, fmt.Errorf("%s has dimensions %v but %s has %v: want N samples and N labels", path, img.Dims, labels, lab.Dims)
	}
	n := img.Dims[0]
	if n == 0 || img.Len() == 0 {
		return nil, fmt.Errorf("%s has dimensions %v: no samples", path, img.Dims)
	}
	d := &datasets.Dataset{Name: strings.SplitN(filepath.Base(path), ".", 2)[0], NumSamples: n, NumFeatures: img.Len() / n, X: img.Float32s(), Labels: ys}
	if len(img.Dims) == 3 {
		d.FeatureShape = []int{1, img.Dims[1], img.Dims[2]}
	} else {
		d.FeatureShape = slices.Clone(img.Dims[1:])
	}
	if img.Type == data.IDXUint8 {
		for i := range d.X {
			d.X[i] /= 255
		}
	}
	for i, y := range ys {
		if y < 0 {
			return nil, fmt.Errorf("%s: sample %d: label %d out of range: want whole numbers ≥ 0", labels, i+1, y)
		}
		if classes > 0 && int(y) >= classes || classes <= 0 && int(y) >= MaxInferredClasses {
			return nil, labelError(fmt.Sprintf("%s: sample %d", labels, i+1), int(y), classes)
		}
		d.NumClasses = max(d.NumClasses, int(y)+1)
	}
	d.NumClasses = max(d.NumClasses, classes)
	for k := range d.NumClasses {
		d.ClassNames = append(d.ClassNames, strconv.Itoa(k))
	}
	return d, nil
}

// readIDX reads the IDX file at path within the limits of OpenLimited
// and MaxIDXBytes.
func readIDX(path string) (*data.IDX, error) {
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		// A device or pipe: read a bounded copy.
		b, err := ReadLimited(path, MaxStreamBytes)
		if err != nil {
			return nil, err
		}
		x, err := data.ReadIDXLimit(bytes.NewReader(b), MaxIDXBytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return x, nil
	} else if err == nil && st.Size() > MaxFileBytes {
		return nil, tooLarge(path, MaxFileBytes)
	}
	return data.ReadIDXFileLimit(path, MaxIDXBytes)
}

// IsNotExist reports whether err means that a file or folder is missing.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// LoadEval loads the samples a model is evaluated on. With whole set, a CSV
// or IDX file is used whole (its labels checked against numClasses) and
// a folder of IDX files gives its test set; otherwise it is the test split
// of the training data.
func LoadEval(s Source, task string, numClasses int, whole bool) (*datasets.Dataset, error) {
	if whole {
		switch s.Name {
		case "csv":
			t, err := readCSV(s.Path)
			if err != nil {
				return nil, err
			}
			d, err := FromTable(t, filepath.Base(s.Path), s.Target, task, numClasses)
			if err != nil {
				return nil, err
			}
			return d, checkFinite(d)
		case "idx":
			if st, err := os.Stat(s.Path); err == nil && !st.IsDir() {
				d, err := loadIDX(s.Path, s.Labels, numClasses)
				if err != nil {
					return nil, err
				}
				return d, checkFinite(d)
			}
		}
	}
	set, err := Load(s, task, numClasses)
	if err != nil {
		return nil, err
	}
	return set.Test, nil
}
