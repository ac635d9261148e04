// Package datasets loads small standard data sets into plain Go slices.
//
// Three classic scikit-learn data sets are embedded in the package (about
// 62 KB, gzip-compressed), so they need no download and no files at run
// time:
//
//   - [Iris]: Fisher's iris flowers, 150 samples, 4 features, 3 classes.
//   - [Digits]: optical recognition of handwritten digits, 1797 images of
//     8x8 pixels valued 0..16, 10 classes.
//   - [Diabetes] and [DiabetesRaw]: 442 patients, 10 features, a
//     regression target.
//
// [FashionMNIST] and [MNIST] read the 28x28 image sets from their IDX
// files in a folder; Debian's dataset-fashion-mnist package installs
// Fashion-MNIST in [FashionMNISTDir].
//
// Every loader returns a fresh [Dataset], which the caller may modify.
//
// # Sources and licences
//
// The embedded files are scikit-learn's own data files
// (sklearn/datasets/data/ in scikit-learn 1.2.1, as packaged by Debian in
// python3-sklearn), distributed under scikit-learn's BSD-3-Clause licence,
// whose text is in data/LICENSE-scikit-learn.txt. The data sets themselves
// come from:
//
//   - Iris: R.A. Fisher, "The use of multiple measurements in taxonomic
//     problems", Annual Eugenics 7, Part II, 179-188 (1936); creator R.A.
//     Fisher, donor Michael Marshall, July 1988. As scikit-learn notes, it
//     is the same as in R, but not as in the UCI Machine Learning
//     Repository, which has two wrong data points.
//   - Digits: a copy of the test set of the UCI ML Repository's "Optical
//     Recognition of Handwritten Digits" data set; creator E. Alpaydin,
//     July 1998 (see also C. Kaynak, 1995, MSc thesis, Bogazici
//     University; E. Alpaydin and C. Kaynak, 1998, "Cascading
//     Classifiers", Kybernetika), built with NIST preprocessing programs.
//   - Diabetes: Bradley Efron, Trevor Hastie, Iain Johnstone and Robert
//     Tibshirani (2004), "Least Angle Regression", Annals of Statistics
//     (with discussion), 407-499.
//   - Fashion-MNIST (not embedded): Zalando SE, 2017, MIT (Expat) licence.
//
// See README.md in this folder for more.
package datasets
