package datasets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/nabla-go/nabla/data"
)

// FashionMNISTDir is where Debian's dataset-fashion-mnist package installs
// Fashion-MNIST; [FashionMNIST] reads from it when given an empty dir.
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// fashionClasses are the Fashion-MNIST class names, by label.
var fashionClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// FashionMNIST reads the Fashion-MNIST training set (60000 images, when
// train is set) or test set (10000 images) from dir, or from
// [FashionMNISTDir] if dir is empty. The folder holds the four files of
// the original distribution, train-images-idx3-ubyte.gz,
// train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and
// t10k-labels-idx1-ubyte.gz (each may also be stored without the .gz).
// The 28x28 grayscale images come as FeatureShape [1 28 28] with pixel
// values scaled from 0..255 to [0, 1]; Labels are in 0..9 and ClassNames
// name them.
//
// If the files are missing, the error (which wraps fs.ErrNotExist) says
// to run `apt-get install dataset-fashion-mnist` or to pass a folder.
func FashionMNIST(dir string, train bool) (*Dataset, error) {
	return fashionMNIST(dir, train, false)
}

// FashionMNISTPixels is [FashionMNIST] with the pixels kept as bytes: the
// Dataset's Pixels holds the values 0..255 and X is nil, a quarter of the
// memory (47 MB instead of 188 MB for the training set). Scale each pixel
// by 1/255 as it is used to get FashionMNIST's values.
func FashionMNISTPixels(dir string, train bool) (*Dataset, error) {
	return fashionMNIST(dir, train, true)
}

func fashionMNIST(dir string, train, pixels bool) (*Dataset, error) {
	if dir == "" {
		dir = FashionMNISTDir
	}
	d, err := readMNIST("fashion-mnist", dir, train, pixels)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w; install it with `apt-get install dataset-fashion-mnist` (which puts it in %s) or pass the folder that holds it", err, FashionMNISTDir)
		}
		return nil, err
	}
	d.ClassNames = append([]string(nil), fashionClasses...)
	return d, nil
}

// MNIST reads the MNIST handwritten digits training set (60000 images,
// when train is set) or test set (10000 images) from dir, which holds the
// files named as for [FashionMNIST]. Images come as FeatureShape
// [1 28 28] with pixel values scaled to [0, 1]; Labels are the digits
// 0..9. A missing folder or file gives an error wrapping fs.ErrNotExist.
func MNIST(dir string, train bool) (*Dataset, error) {
	if dir == "" {
		return nil, fmt.Errorf("datasets: mnist: no folder given: pass the folder holding train-images-idx3-ubyte.gz and the other MNIST files: %w", fs.ErrNotExist)
	}
	d, err := readMNIST("mnist", dir, train, false)
	if err != nil {
		return nil, err
	}
	d.ClassNames = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	return d, nil
}

// findFile returns the path of name.gz or name in dir.
func findFile(dir, name string) (string, error) {
	for _, candidate := range []string{name + ".gz", name} {
		path := filepath.Join(dir, candidate)
		if _, err := os.Stat(path); err == nil {
			return path, nil
		}
	}
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("folder %s: %w", dir, fs.ErrNotExist)
	}
	return "", fmt.Errorf("neither %s.gz nor %s in %s: %w", name, name, dir, fs.ErrNotExist)
}

// readMNIST reads an MNIST-style image and label file pair, keeping the
// pixels as bytes in Pixels when pixels is set, or scaled into X.
func readMNIST(name, dir string, train, pixels bool) (*Dataset, error) {
	prefix, split := "t10k", "test"
	if train {
		prefix, split = "train", "train"
	}
	name += "-" + split
	imgPath, err := findFile(dir, prefix+"-images-idx3-ubyte")
	if err != nil {
		return nil, fmt.Errorf("datasets: %s: %w", name, err)
	}
	lblPath, err := findFile(dir, prefix+"-labels-idx1-ubyte")
	if err != nil {
		return nil, fmt.Errorf("datasets: %s: %w", name, err)
	}
	images, err := readUbyteIDX(imgPath)
	if err != nil {
		return nil, fmt.Errorf("datasets: %s: %w", name, err)
	}
	labels, err := readUbyteIDX(lblPath)
	if err != nil {
		return nil, fmt.Errorf("datasets: %s: %w", name, err)
	}
	if len(images.dims) != 3 {
		return nil, fmt.Errorf("datasets: %s: %s: want images of 3 dimensions [N H W], got %v", name, imgPath, images.dims)
	}
	if len(labels.dims) != 1 {
		return nil, fmt.Errorf("datasets: %s: %s: want labels of 1 dimension [N], got %v", name, lblPath, labels.dims)
	}
	n, h, w := images.dims[0], images.dims[1], images.dims[2]
	if labels.dims[0] != n {
		return nil, fmt.Errorf("datasets: %s: %d images but %d labels", name, n, labels.dims[0])
	}
	d := &Dataset{
		Name:         name,
		NumSamples:   n,
		NumFeatures:  h * w,
		Labels:       make([]int, n),
		NumClasses:   10,
		FeatureShape: []int{1, h, w},
	}
	for i, b := range labels.data {
		if b >= 10 {
			return nil, fmt.Errorf("datasets: %s: %s: label %d of sample %d is not in 0..9", name, lblPath, b, i)
		}
		d.Labels[i] = int(b)
	}
	if pixels {
		d.Pixels = images.data
		return d, nil
	}
	d.X = make([]float32, len(images.data))
	for i, b := range images.data {
		d.X[i] = float32(b) / 255
	}
	return d, nil
}

// ubyteIDX is an unsigned-byte IDX array.
type ubyteIDX struct {
	dims []int
	data []byte
}

// MaxIDXBytes bounds the data an MNIST-style IDX header may claim (after
// decompression): Fashion-MNIST's training images are 47 MB, so a header
// claiming more than 1 GiB is a corrupt or hostile file, refused before
// anything is allocated.
const MaxIDXBytes = 1 << 30

// readUbyteIDX reads an IDX file of unsigned bytes (type 0x08), plain or
// gzip-compressed, with package data's reader.
func readUbyteIDX(path string) (*ubyteIDX, error) {
	x, err := data.ReadIDXFileLimit(path, MaxIDXBytes)
	if err != nil {
		return nil, err
	}
	if x.Type != data.IDXUint8 {
		return nil, fmt.Errorf("%s: IDX data type 0x%02x, want 0x08 (unsigned byte)", path, x.Type)
	}
	return &ubyteIDX{dims: x.Dims, data: x.Data}, nil
}
