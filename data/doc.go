// Package data feeds models: datasets, batching loaders, splits and
// scalers, and readers for the file formats data comes in.
//
// # Datasets and loaders
//
// A [Dataset] is an indexed collection of samples that copies sample i into
// buffers it is given; [TensorDataset] holds one in memory. A [Loader] cuts
// a dataset into batches epoch by epoch, as a Go iterator, shuffled from a
// seed so that every epoch's order is reproducible, with batches prepared
// ahead on another goroutine into reused tensors. [Split] makes a shuffled
// train/validation split, and a [Scaler] ([Standardize], [MinMaxScale],
// [Normalize]) learns per-feature statistics on one dataset and applies them
// to others.
//
// # File formats
//
//   - IDX, the format of MNIST and Fashion-MNIST, plain or gzip-compressed:
//     [ReadIDX], [ReadIDXFile] and [WriteIDX] work on an [IDX] array whose
//     elements can be had as float32s, float64s or ints.
//   - CSV with a header row of column names and numeric cells: [ReadCSV]
//     and [ReadCSVFile] return a [Table].
//
// The readers are meant for untrusted files: they never panic on malformed
// input, return errors that name the problem and where it is (the line and
// column of a CSV cell; the dimensions and byte counts of an IDX array),
// and never allocate memory for data the input does not actually hold.
package data
