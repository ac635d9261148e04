package datasets

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// This file holds a minimal reader for the unsigned-byte IDX files of
// (Fashion-)MNIST. Package data has the general IDX reader, but it also
// holds code built on the root nabla package, which this package must not
// depend on.

// ubyteIDX is an unsigned-byte IDX array.
type ubyteIDX struct {
	dims []int
	data []byte
}

// readUbyteIDX reads an IDX file of unsigned bytes (type 0x08), plain or
// gzip-compressed, checking that the data matches the dimensions exactly.
// Memory grows only as data arrives.
func readUbyteIDX(path string) (*ubyteIDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	x, err := decodeUbyteIDX(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return x, nil
}

func decodeUbyteIDX(r io.Reader) (*ubyteIDX, error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("bad gzip header: %w", err)
		}
		defer gz.Close()
		src = gz
	}
	var head [4]byte
	if _, err := io.ReadFull(src, head[:]); err != nil {
		return nil, fmt.Errorf("truncated IDX header: %w", err)
	}
	if head[0] != 0 || head[1] != 0 {
		return nil, fmt.Errorf("bad IDX magic number %02x %02x", head[0], head[1])
	}
	if head[2] != 0x08 {
		return nil, fmt.Errorf("IDX data type 0x%02x, want 0x08 (unsigned byte)", head[2])
	}
	nd := int(head[3])
	if nd == 0 {
		return nil, errors.New("IDX array has zero dimensions")
	}
	raw := make([]byte, 4*nd)
	if _, err := io.ReadFull(src, raw); err != nil {
		return nil, fmt.Errorf("truncated IDX header: %w", err)
	}
	dims := make([]int, nd)
	n := 1
	for i := range dims {
		d := uint64(binary.BigEndian.Uint32(raw[4*i:]))
		if d > math.MaxInt {
			return nil, fmt.Errorf("IDX dimension %d overflows an int", d)
		}
		dims[i] = int(d)
	}
	for _, d := range dims {
		if d == 0 {
			n = 0
			break
		}
		if n > math.MaxInt/d {
			return nil, fmt.Errorf("IDX dimensions %v overflow", dims)
		}
		n *= d
	}
	data := make([]byte, 0, min(n, 1<<20))
	for len(data) < n {
		if len(data) == cap(data) {
			grown := make([]byte, len(data), min(n, 2*cap(data)))
			copy(grown, data)
			data = grown
		}
		k, err := io.ReadFull(src, data[len(data):cap(data)])
		data = data[:len(data)+k]
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("truncated IDX data: dimensions %v need %d bytes, got %d", dims, n, len(data))
		}
		if err != nil {
			return nil, err
		}
	}
	var extra [1]byte
	if k, err := io.ReadAtLeast(src, extra[:], 1); k > 0 {
		return nil, fmt.Errorf("trailing garbage after the %d bytes of IDX data", n)
	} else if err != io.EOF {
		return nil, err
	}
	return &ubyteIDX{dims: dims, data: data}, nil
}
