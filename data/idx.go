package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
)

// The element types of the IDX format, the value of [IDX].Type.
const (
	IDXUint8   byte = 0x08 // unsigned byte
	IDXInt8    byte = 0x09 // signed byte
	IDXInt16   byte = 0x0B // big-endian signed 16-bit integer ("short")
	IDXInt32   byte = 0x0C // big-endian signed 32-bit integer ("int")
	IDXFloat32 byte = 0x0D // big-endian IEEE-754 single precision ("float")
	IDXFloat64 byte = 0x0E // big-endian IEEE-754 double precision ("double")
)

// idxTypeSize returns the element size of an IDX type, or 0 if unknown.
func idxTypeSize(t byte) int {
	switch t {
	case IDXUint8, IDXInt8:
		return 1
	case IDXInt16:
		return 2
	case IDXInt32, IDXFloat32:
		return 4
	case IDXFloat64:
		return 8
	}
	return 0
}

// idxTypeName names an IDX type for error messages.
func idxTypeName(t byte) string {
	switch t {
	case IDXUint8:
		return "ubyte"
	case IDXInt8:
		return "byte"
	case IDXInt16:
		return "short"
	case IDXInt32:
		return "int"
	case IDXFloat32:
		return "float"
	case IDXFloat64:
		return "double"
	}
	return fmt.Sprintf("0x%02x", t)
}

// IDX is an array read from an IDX file, the format of MNIST and
// Fashion-MNIST: a 4-byte magic number (two zero bytes, the element type,
// the number of dimensions), the dimensions as big-endian uint32 values,
// then the elements in row-major order, big-endian.
type IDX struct {
	// Type is the element type, one of the IDX* constants.
	Type byte
	// Dims are the dimensions, outermost first; MNIST training images are
	// [60000 28 28].
	Dims []int
	// Data holds the elements as stored in the file: row-major,
	// big-endian, len(Data) == Len() * element size.
	Data []byte
}

// Len returns the number of elements, the product of Dims.
func (x *IDX) Len() int {
	if size := idxTypeSize(x.Type); size > 0 {
		return len(x.Data) / size
	}
	return 0
}

// value returns element i as a float64; x.Type must be known.
func (x *IDX) value(i int) float64 {
	be := binary.BigEndian
	switch x.Type {
	case IDXUint8:
		return float64(x.Data[i])
	case IDXInt8:
		return float64(int8(x.Data[i]))
	case IDXInt16:
		return float64(int16(be.Uint16(x.Data[2*i:])))
	case IDXInt32:
		return float64(int32(be.Uint32(x.Data[4*i:])))
	case IDXFloat32:
		return float64(math.Float32frombits(be.Uint32(x.Data[4*i:])))
	}
	return math.Float64frombits(be.Uint64(x.Data[8*i:]))
}

// Float32s returns the elements converted to float32, unscaled (MNIST
// pixels come out as 0..255). Doubles are rounded to the nearest float32.
// It returns nil if Type is unknown.
func (x *IDX) Float32s() []float32 {
	n := x.Len()
	if n == 0 {
		return nil
	}
	out := make([]float32, n)
	if x.Type == IDXUint8 {
		for i, b := range x.Data {
			out[i] = float32(b)
		}
		return out
	}
	for i := range out {
		out[i] = float32(x.value(i))
	}
	return out
}

// Float64s returns the elements converted to float64, exactly. It returns
// nil if Type is unknown.
func (x *IDX) Float64s() []float64 {
	n := x.Len()
	if n == 0 {
		return nil
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = x.value(i)
	}
	return out
}

// Ints returns the elements of an integer-typed IDX (ubyte, byte, short or
// int) as ints, e.g. MNIST labels. It fails for float and double data and
// for an unknown Type.
func (x *IDX) Ints() ([]int, error) {
	switch x.Type {
	case IDXUint8, IDXInt8, IDXInt16, IDXInt32:
	default:
		return nil, fmt.Errorf("idx: Ints needs integer data, not %s", idxTypeName(x.Type))
	}
	out := make([]int, x.Len())
	for i := range out {
		out[i] = int(x.value(i))
	}
	return out, nil
}

// remaining returns how many bytes r still holds when that is cheap to
// know (a *bytes.Reader, *strings.Reader or *bytes.Buffer, or a regular
// *os.File), and -1 otherwise.
func remaining(r io.Reader) int64 {
	switch v := r.(type) {
	case *bytes.Reader:
		return int64(v.Len())
	case *strings.Reader:
		return int64(v.Len())
	case *bytes.Buffer:
		return int64(v.Len())
	case *os.File:
		fi, err := v.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return -1
		}
		pos, err := v.Seek(0, io.SeekCurrent)
		if err != nil || pos > fi.Size() {
			return -1
		}
		return fi.Size() - pos
	}
	return -1
}

// chunk is the first allocation for IDX data of unknown length.
const chunk = 64 << 10

// ReadIDX reads one IDX array from r, which may be gzip-compressed
// (detected by the gzip magic bytes 1f 8b). It reads r to its end and
// fails, with an error naming the problem, on a bad magic number, an
// unknown element type, zero dimensions, dimensions whose product
// overflows, data shorter than the dimensions need (truncated), bytes left
// after the data (trailing garbage), or a corrupt gzip stream.
//
// Memory is allocated only as data actually arrives (or, when r's size is
// known, after checking the dimensions against it), so a header claiming
// huge dimensions costs nothing.
func ReadIDX(r io.Reader) (*IDX, error) { return ReadIDXLimit(r, math.MaxInt) }

// ReadIDXLimit is [ReadIDX] that also fails, before reading the data, when
// the dimensions need more than limit bytes of data (after decompression):
// a bound on the memory a gzip-compressed or endless input can take.
func ReadIDXLimit(r io.Reader, limit int) (*IDX, error) {
	hint := remaining(r)
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("idx: bad gzip header: %w", err)
		}
		defer gz.Close()
		src = gz
		hint = -1
	}

	var head [4]byte
	if n, err := io.ReadFull(src, head[:]); err != nil {
		if n == 0 && err == io.EOF {
			return nil, errors.New("idx: empty input")
		}
		return nil, fmt.Errorf("idx: truncated header: %w", err)
	}
	if head[0] != 0 || head[1] != 0 {
		return nil, fmt.Errorf("idx: bad magic number %02x %02x %02x %02x: must start with 00 00", head[0], head[1], head[2], head[3])
	}
	typ, nd := head[2], int(head[3])
	size := idxTypeSize(typ)
	if size == 0 {
		return nil, fmt.Errorf("idx: unknown data type 0x%02x", typ)
	}
	if nd == 0 {
		return nil, errors.New("idx: zero dimensions")
	}
	raw := make([]byte, 4*nd)
	if _, err := io.ReadFull(src, raw); err != nil {
		return nil, fmt.Errorf("idx: truncated header reading %d dimensions: %w", nd, err)
	}
	dims := make([]int, nd)
	count := 1
	overflow := false
	for i := range dims {
		d := binary.BigEndian.Uint32(raw[4*i:])
		if uint64(d) > math.MaxInt {
			overflow = true
		}
		dims[i] = int(d)
	}
	if !overflow {
		count, overflow = product(dims, size)
	}
	if overflow {
		return nil, fmt.Errorf("idx: dimensions %v overflow: too many elements", dims)
	}
	nbytes := count * size
	if nbytes > limit {
		return nil, fmt.Errorf("idx: dimensions %v of %s need %d bytes, more than the limit of %d", dims, idxTypeName(typ), nbytes, limit)
	}
	if hint >= 0 {
		left := hint - int64(4+4*nd)
		if int64(nbytes) > left {
			return nil, fmt.Errorf("idx: truncated data: dimensions %v of %s need %d bytes, only %d remain", dims, idxTypeName(typ), nbytes, left)
		}
	}
	data, err := readN(src, nbytes, hint >= 0)
	if err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return nil, fmt.Errorf("idx: truncated data: dimensions %v of %s need %d bytes, got %d", dims, idxTypeName(typ), nbytes, len(data))
		}
		return nil, fmt.Errorf("idx: reading data: %w", err)
	}
	var extra [1]byte
	if k, err := io.ReadAtLeast(src, extra[:], 1); k > 0 {
		return nil, fmt.Errorf("idx: trailing garbage after the %d data bytes that dimensions %v need", nbytes, dims)
	} else if err != io.EOF {
		return nil, fmt.Errorf("idx: after data: %w", err)
	}
	return &IDX{Type: typ, Dims: dims, Data: data}, nil
}

// product returns the product of dims and whether it, or the product times
// elemSize, overflows an int. A zero dimension gives 0.
func product(dims []int, elemSize int) (int, bool) {
	for _, d := range dims {
		if d == 0 {
			return 0, false
		}
	}
	n := 1
	limit := math.MaxInt / elemSize
	for _, d := range dims {
		if n > limit/d {
			return 0, true
		}
		n *= d
	}
	return n, false
}

// readN reads exactly n bytes from r. Unless known is set (n has been
// checked against r's size), it grows its buffer only as data arrives. On
// error it returns what it read.
func readN(r io.Reader, n int, known bool) ([]byte, error) {
	first := min(n, chunk)
	if known {
		first = n
	}
	buf := make([]byte, 0, first)
	for len(buf) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(n, 2*cap(buf)))
			copy(grown, buf)
			buf = grown
		}
		k, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// ReadIDXFile reads the IDX file at path, gzip-compressed or not; see
// [ReadIDX].
func ReadIDXFile(path string) (*IDX, error) { return ReadIDXFileLimit(path, math.MaxInt) }

// ReadIDXFileLimit is [ReadIDXFile] with the bound of [ReadIDXLimit].
func ReadIDXFileLimit(path string, limit int) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	x, err := ReadIDXLimit(f, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return x, nil
}

// WriteIDX writes x to w in the (uncompressed) IDX format. It fails if
// x.Type is unknown, x has no dimensions or more than 255, a dimension
// does not fit in a uint32, or len(x.Data) does not match Dims and Type.
func WriteIDX(w io.Writer, x *IDX) error {
	size := idxTypeSize(x.Type)
	if size == 0 {
		return fmt.Errorf("idx: unknown data type 0x%02x", x.Type)
	}
	if len(x.Dims) == 0 || len(x.Dims) > 255 {
		return fmt.Errorf("idx: %d dimensions: must be 1 to 255", len(x.Dims))
	}
	head := []byte{0, 0, x.Type, byte(len(x.Dims))}
	for _, d := range x.Dims {
		if d < 0 || uint64(d) > math.MaxUint32 {
			return fmt.Errorf("idx: dimension %d out of range", d)
		}
		head = binary.BigEndian.AppendUint32(head, uint32(d))
	}
	n, overflow := product(x.Dims, size)
	if overflow || n*size != len(x.Data) {
		return fmt.Errorf("idx: data has %d bytes, but dimensions %v of %s need %d", len(x.Data), x.Dims, idxTypeName(x.Type), n*size)
	}
	if _, err := w.Write(head); err != nil {
		return err
	}
	_, err := w.Write(x.Data)
	return err
}
