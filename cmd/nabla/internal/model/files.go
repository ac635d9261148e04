package model

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Limits on what the command reads, so that a hostile or broken file (one
// linked to /dev/zero, a header claiming 10¹⁰ pixels) is an error instead
// of gigabytes of memory. A regular file's size is checked before it is
// read; anything else (a device, a pipe, stdin) is read up to the stream
// limit.
const (
	MaxFileBytes   = 1 << 30  // a CSV, IDX or image file
	MaxStreamBytes = 32 << 20 // the same read from a device or pipe, and an image
	MaxIDXBytes    = 1 << 30  // the data an IDX header claims, after decompression
	MaxConfigBytes = 16 << 20 // config.json
	MaxPixels      = 1 << 24  // an image to predict, 4096×4096
)

// tooLarge is the error of a file beyond its limit.
func tooLarge(path string, limit int64) error {
	return fmt.Errorf("%s is larger than the limit of %d MiB", path, limit>>20)
}

// limitedReader reads from r and fails once more than n bytes have come.
type limitedReader struct {
	r    io.Reader
	n    int64
	path string
	lim  int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return 0, tooLarge(l.path, l.lim)
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	k, err := l.r.Read(p)
	l.n -= int64(k)
	if l.n < 0 {
		return k, tooLarge(l.path, l.lim)
	}
	return k, err
}

// Bounded returns r read through the stream limit: reading more than limit
// bytes from it fails with an error naming name.
func Bounded(r io.Reader, name string, limit int64) io.Reader {
	return &limitedReader{r: r, n: limit, path: name, lim: limit}
}

// OpenLimited opens the file at path for reading: a regular file of at
// most limit bytes, or anything else read through MaxStreamBytes. The
// caller closes it.
func OpenLimited(path string, limit int64) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s is a folder, not a file", path)
	}
	if st.Mode().IsRegular() {
		if st.Size() > limit {
			f.Close()
			return nil, tooLarge(path, limit)
		}
		return f, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{Bounded(f, path, min(limit, MaxStreamBytes)), f}, nil
}

// ReadLimited reads the whole file at path within the limits of
// OpenLimited.
func ReadLimited(path string, limit int64) ([]byte, error) {
	f, err := OpenLimited(path, limit)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// SkipBOM returns r without a leading UTF-8 byte-order mark.
func SkipBOM(r io.Reader) io.Reader {
	br := bufio.NewReader(r)
	if b, _ := br.Peek(3); bytes.Equal(b, []byte("\ufeff")) {
		br.Discard(3)
	}
	return br
}

// WriteAtomic writes the file at path through write, atomically: into a
// temporary file in the same folder (named .BASE.tmp-*), synced to disk,
// renamed over path, and the folder synced so that the rename itself is
// durable. A crash at any moment leaves either the old file or the new
// one, never a mix; on an error the temporary file is removed.
func WriteAtomic(path string, write func(w io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<16)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// SyncDir flushes the folder dir (its renames) to disk.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !strings.Contains(err.Error(), "invalid argument") {
		return err
	}
	return nil
}

// RemoveStaleTemps removes the temporary files that an interrupted
// WriteAtomic or nn.Save of one of names left in dir (.NAME.tmp-*).
func RemoveStaleTemps(dir string, names ...string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		for _, n := range names {
			if strings.HasPrefix(e.Name(), "."+n+".tmp-") {
				if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !os.IsNotExist(err) {
					return err
				}
			}
		}
	}
	return nil
}
