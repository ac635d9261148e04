package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"
)

// ErrFormat is wrapped by every error that [Decode] and [ReadFile] return
// for a malformed file, and by every error that [Encode] and [WriteFile]
// return for invalid tensors or metadata (but not for I/O errors).
var ErrFormat = errors.New("safetensors: invalid")

// MaxHeaderSize is the largest header length, in bytes, that [Decode]
// accepts. It matches the limit of the reference implementation.
const MaxHeaderSize = 100_000_000

// metadataKey is the header entry that holds the free-form metadata.
const metadataKey = "__metadata__"

// Tensor is one named tensor: its element type, shape and raw little-endian
// data. A scalar has an empty (or nil) Shape and one element.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// File is a decoded safetensors file.
type File struct {
	// Tensors are in the order of their data in the file.
	Tensors []Tensor
	// Metadata is the header's "__metadata__" object, or nil if absent.
	Metadata map[string]string
}

// Get returns the tensor with the given name.
func (f *File) Get(name string) (Tensor, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}

// Names returns the tensor names in file order.
func (f *File) Names() []string {
	names := make([]string, len(f.Tensors))
	for i, t := range f.Tensors {
		names[i] = t.Name
	}
	return names
}

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrFormat}, args...)...)
}

// numElements returns the product of shape, or an error if a dimension is
// negative or the product (or the byte count for elemSize-byte elements)
// does not fit in an int.
func numElements(shape []int, elemSize int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d == 0 {
			n = 0
		}
	}
	if n == 0 {
		return 0, nil
	}
	limit := math.MaxInt / elemSize
	for _, d := range shape {
		if n > limit/d {
			return 0, fmt.Errorf("shape %v overflows: too many elements", shape)
		}
		n *= d
	}
	return n, nil
}

// checkTensor validates one tensor for writing.
func checkTensor(t *Tensor) error {
	if !utf8.ValidString(t.Name) {
		return formatErr("tensor name %q is not valid UTF-8", t.Name)
	}
	if t.Name == metadataKey {
		return formatErr("tensor name %q is reserved", t.Name)
	}
	size := t.DType.Size()
	if size == 0 {
		return formatErr("tensor %q: unknown dtype %q", t.Name, t.DType)
	}
	n, err := numElements(t.Shape, size)
	if err != nil {
		return formatErr("tensor %q: %v", t.Name, err)
	}
	if len(t.Data) != n*size {
		return formatErr("tensor %q: data has %d bytes, but dtype %s and shape %v need %d",
			t.Name, len(t.Data), t.DType, t.Shape, n*size)
	}
	return nil
}

// sortForWriting returns the tensors in file order: descending dtype rank
// (see writeOrder), then name in byte order, as the reference writer sorts.
func sortForWriting(tensors []Tensor) []*Tensor {
	order := make([]*Tensor, len(tensors))
	for i := range tensors {
		order[i] = &tensors[i]
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if ra, rb := a.DType.rank(), b.DType.rank(); ra != rb {
			return ra > rb
		}
		return a.Name < b.Name
	})
	return order
}

// appendJSONString appends s, valid UTF-8, as a JSON string literal
// escaped exactly as the reference implementation's JSON library
// (serde_json) and Python's json.dumps(ensure_ascii=False) escape it: '"'
// and '\' with a backslash, the control characters \b, \t, \n, \f and \r
// by those letters, the other ones below U+0020 as \u00xx, and everything
// else as it is. (encoding/json would also escape U+2028 and U+2029, which
// would change the header's bytes.)
func appendJSONString(buf *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	buf.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			buf.WriteByte('\\')
			buf.WriteByte(c)
		case c >= 0x20:
			buf.WriteByte(c)
		case c == '\b':
			buf.WriteString(`\b`)
		case c == '\t':
			buf.WriteString(`\t`)
		case c == '\n':
			buf.WriteString(`\n`)
		case c == '\f':
			buf.WriteString(`\f`)
		case c == '\r':
			buf.WriteString(`\r`)
		default:
			buf.WriteString(`\u00`)
			buf.WriteByte(hex[c>>4])
			buf.WriteByte(hex[c&0xf])
		}
	}
	buf.WriteByte('"')
}

// header builds the padded JSON header for tensors already in file order.
func header(order []*Tensor, metadata map[string]string) []byte {
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	if metadata != nil {
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		buf.WriteString(`"` + metadataKey + `":{`)
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			appendJSONString(&buf, k)
			buf.WriteByte(':')
			appendJSONString(&buf, metadata[k])
		}
		buf.WriteByte('}')
		first = false
	}
	var offset uint64
	for _, t := range order {
		if !first {
			buf.WriteByte(',')
		}
		first = false
		appendJSONString(&buf, t.Name)
		buf.WriteString(`:{"dtype":`)
		appendJSONString(&buf, string(t.DType))
		buf.WriteString(`,"shape":[`)
		for i, d := range t.Shape {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString(strconv.Itoa(d))
		}
		end := offset + uint64(len(t.Data))
		fmt.Fprintf(&buf, `],"data_offsets":[%d,%d]}`, offset, end)
		offset = end
	}
	buf.WriteByte('}')
	for buf.Len()%8 != 0 {
		buf.WriteByte(' ')
	}
	return buf.Bytes()
}

// Encode writes tensors and metadata (which may be nil) to w in the
// safetensors format. See the package documentation for the layout it
// produces. The tensors are validated before anything is written: names
// must be unique, valid UTF-8 and not "__metadata__", dtypes known, shapes
// non-negative and each Data exactly as long as its dtype and shape need;
// a violation gives an error wrapping [ErrFormat] and w is not written to.
func Encode(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	seen := make(map[string]bool, len(tensors))
	for i := range tensors {
		t := &tensors[i]
		if err := checkTensor(t); err != nil {
			return err
		}
		if seen[t.Name] {
			return formatErr("duplicate tensor name %q", t.Name)
		}
		seen[t.Name] = true
	}
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return formatErr("metadata entry %q is not valid UTF-8", k)
		}
	}
	order := sortForWriting(tensors)
	h := header(order, metadata)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(h)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(h); err != nil {
		return err
	}
	for _, t := range order {
		if len(t.Data) == 0 {
			continue
		}
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}

// rawInfo is one tensor entry of the header as it appears in the JSON.
// Pointers tell a missing field from a zero one.
type rawInfo struct {
	DType   *string   `json:"dtype"`
	Shape   *[]int64  `json:"shape"`
	Offsets *[]uint64 `json:"data_offsets"`
}

type entry struct {
	t          Tensor
	begin, end uint64
}

// Decode parses a safetensors file held in data and validates it
// completely. The returned tensors' Data fields are sub-slices of data
// (capacity-limited so that appending to one never overwrites another), so
// data must not be modified while they are in use. Malformed input gives an
// error wrapping [ErrFormat] that says what is wrong.
func Decode(data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, formatErr("file is %d bytes, shorter than the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data[:8])
	if n > uint64(len(data)-8) {
		return nil, formatErr("header length %d is larger than the %d bytes that follow it", n, len(data)-8)
	}
	if n > MaxHeaderSize {
		return nil, formatErr("header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	hdr := data[8 : 8+n]
	body := data[8+n:]
	entries, metadata, err := parseHeader(hdr, uint64(len(body)))
	if err != nil {
		return nil, err
	}
	if err := checkLayout(entries, uint64(len(body))); err != nil {
		return nil, err
	}
	f := &File{Tensors: make([]Tensor, len(entries)), Metadata: metadata}
	for i := range entries {
		e := &entries[i]
		e.t.Data = body[e.begin:e.end:e.end]
		f.Tensors[i] = e.t
	}
	return f, nil
}

// parseHeader parses the JSON header, checking each entry on its own.
func parseHeader(hdr []byte, bodyLen uint64) ([]entry, map[string]string, error) {
	if !utf8.Valid(hdr) {
		return nil, nil, formatErr("header is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, formatErr("header is not valid JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, formatErr("header is not a JSON object")
	}
	var (
		entries  []entry
		metadata map[string]string
		haveMeta bool
		seen     = make(map[string]bool)
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, formatErr("header is not valid JSON: %v", err)
		}
		name, ok := tok.(string)
		if !ok { // cannot happen for valid JSON: object keys are strings
			return nil, nil, formatErr("header is not valid JSON: key %v is not a string", tok)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, formatErr("header is not valid JSON: entry %q: %v", name, err)
		}
		if name == metadataKey {
			if haveMeta {
				return nil, nil, formatErr("duplicate %q entry", metadataKey)
			}
			haveMeta = true
			if err := json.Unmarshal(raw, &metadata); err != nil {
				return nil, nil, formatErr("%q must be an object of strings: %v", metadataKey, err)
			}
			continue
		}
		if seen[name] {
			return nil, nil, formatErr("duplicate tensor name %q", name)
		}
		seen[name] = true
		e, err := parseEntry(name, raw, bodyLen)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, nil, formatErr("header is not valid JSON: %v", err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, nil, formatErr("header has trailing data after the JSON object: %v", err)
		}
		return nil, nil, formatErr("header has trailing data after the JSON object: %v", tok)
	}
	return entries, metadata, nil
}

// parseEntry decodes and checks one tensor entry of the header.
func parseEntry(name string, raw json.RawMessage, bodyLen uint64) (entry, error) {
	var info rawInfo
	if len(raw) == 0 || raw[0] != '{' {
		return entry{}, formatErr("tensor %q: entry is not a JSON object", name)
	}
	if err := json.Unmarshal(raw, &info); err != nil {
		return entry{}, formatErr("tensor %q: %v", name, err)
	}
	switch {
	case info.DType == nil:
		return entry{}, formatErr("tensor %q: missing dtype", name)
	case info.Shape == nil:
		return entry{}, formatErr("tensor %q: missing shape", name)
	case info.Offsets == nil:
		return entry{}, formatErr("tensor %q: missing data_offsets", name)
	}
	dt := DType(*info.DType)
	size := dt.Size()
	if size == 0 {
		return entry{}, formatErr("tensor %q: unknown dtype %q", name, *info.DType)
	}
	shape := make([]int, len(*info.Shape))
	for i, d := range *info.Shape {
		if d < 0 {
			return entry{}, formatErr("tensor %q: negative dimension in shape %v", name, *info.Shape)
		}
		if uint64(d) > math.MaxInt {
			return entry{}, formatErr("tensor %q: shape %v overflows: dimension too large", name, *info.Shape)
		}
		shape[i] = int(d)
	}
	count, err := numElements(shape, size)
	if err != nil {
		return entry{}, formatErr("tensor %q: %v", name, err)
	}
	off := *info.Offsets
	if len(off) != 2 {
		return entry{}, formatErr("tensor %q: data_offsets must have 2 elements, has %d", name, len(off))
	}
	begin, end := off[0], off[1]
	if begin > end {
		return entry{}, formatErr("tensor %q: data_offsets [%d, %d] end before they begin", name, begin, end)
	}
	if end > bodyLen {
		return entry{}, formatErr("tensor %q: data_offsets [%d, %d] out of range: data section is %d bytes", name, begin, end, bodyLen)
	}
	if want := uint64(count) * uint64(size); end-begin != want {
		return entry{}, formatErr("tensor %q: data_offsets [%d, %d] hold %d bytes, but dtype %s and shape %v need %d",
			name, begin, end, end-begin, dt, shape, want)
	}
	return entry{t: Tensor{Name: name, DType: dt, Shape: shape}, begin: begin, end: end}, nil
}

// checkLayout sorts entries by offset and checks that they tile the data
// section exactly.
func checkLayout(entries []entry, bodyLen uint64) error {
	sort.Slice(entries, func(i, j int) bool {
		a, b := &entries[i], &entries[j]
		if a.begin != b.begin {
			return a.begin < b.begin
		}
		if a.end != b.end {
			return a.end < b.end
		}
		return a.t.Name < b.t.Name
	})
	var pos uint64
	prev := ""
	for i := range entries {
		e := &entries[i]
		if e.begin < pos {
			return formatErr("tensor %q (data_offsets [%d, %d]) overlaps tensor %q, which ends at %d",
				e.t.Name, e.begin, e.end, prev, pos)
		}
		if e.begin > pos {
			return formatErr("gap of %d bytes in the data section before tensor %q at offset %d",
				e.begin-pos, e.t.Name, pos)
		}
		pos = e.end
		prev = e.t.Name
	}
	if pos != bodyLen {
		return formatErr("%d bytes at the end of the data section belong to no tensor", bodyLen-pos)
	}
	return nil
}
