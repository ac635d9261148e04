package safetensors

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// ReadFileLimit is [ReadFile] for files that may be hostile: it fails,
// without reading the data, if the file is larger than limit bytes. The
// size of a regular file is checked before anything is read; anything else
// (a device such as /dev/zero, a pipe) is read through a limit and fails
// once limit bytes have been read.
func ReadFileLimit(path string, limit int64) (*File, error) {
	data, err := readLimit(path, limit)
	if err != nil {
		return nil, err
	}
	f, err := Decode(data)
	if err != nil {
		return nil, &os.PathError{Op: "decode", Path: path, Err: err}
	}
	return f, nil
}

// ReadHeaderFile reads only the header of the safetensors file at path: the
// tensors' names, dtypes and shapes, with nil Data, and the metadata. It
// checks the header as [Decode] does, against the real size of the file's
// data section, so a caller can compare the shapes with what it expects
// before it allocates anything for them. The file must be a regular file
// (its size is what the header is checked against); the header is at most
// [MaxHeaderSize] bytes.
func ReadHeaderFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &os.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: not a regular file", ErrFormat)}
	}
	bad := func(format string, a ...any) error {
		return &os.PathError{Op: "decode", Path: path, Err: formatErr(format, a...)}
	}
	size := st.Size()
	if size < 8 {
		return nil, bad("file is %d bytes, shorter than the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if _, err := io.ReadFull(fh, lenBuf[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > uint64(size-8) {
		return nil, bad("header length %d is larger than the %d bytes that follow it", n, size-8)
	}
	if n > MaxHeaderSize {
		return nil, bad("header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(fh, hdr); err != nil {
		return nil, bad("truncated header: %v", err)
	}
	bodyLen := uint64(size-8) - n
	entries, metadata, err := parseHeader(hdr, bodyLen)
	if err != nil {
		return nil, &os.PathError{Op: "decode", Path: path, Err: err}
	}
	if err := checkLayout(entries, bodyLen); err != nil {
		return nil, &os.PathError{Op: "decode", Path: path, Err: err}
	}
	f := &File{Tensors: make([]Tensor, len(entries)), Metadata: metadata}
	for i := range entries {
		f.Tensors[i] = entries[i].t
	}
	return f, nil
}

// readLimit reads the file at path, failing if it holds more than limit
// bytes: at once for a regular file, after limit bytes for anything else.
func readLimit(path string, limit int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	tooBig := &os.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: file is larger than the limit of %d bytes", ErrFormat, limit)}
	if st.Mode().IsRegular() {
		if st.Size() > limit {
			return nil, tooBig
		}
		data := make([]byte, st.Size())
		if _, err := io.ReadFull(fh, data); err != nil {
			return nil, err
		}
		return data, nil
	}
	data, err := io.ReadAll(io.LimitReader(fh, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, tooBig
	}
	return data, nil
}
