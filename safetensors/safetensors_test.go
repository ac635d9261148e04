package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func sampleTensors() []Tensor {
	return []Tensor{
		FromFloat32s("weight", []int{2, 3}, []float32{1, 2, 3, 4, 5, 6.5}),
		FromFloat64s("bias", []int{3}, []float64{-1, 0, math.Pi}),
		FromInt64s("steps", nil, []int64{42}),
		{Name: "mask", DType: Bool, Shape: []int{3}, Data: []byte{1, 0, 1}},
		{Name: "half", DType: F16, Shape: []int{2}, Data: []byte{0x00, 0x3c, 0x00, 0xc0}}, // 1, -2
		{Name: "empty", DType: F32, Shape: []int{0, 5}, Data: nil},
	}
}

func encode(t *testing.T, tensors []Tensor, meta map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, tensors, meta); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	in := sampleTensors()
	meta := map[string]string{"format": "pt", "note": `quotes " and <html> & ünïcode`}
	f, err := Decode(encode(t, in, meta))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if !reflect.DeepEqual(f.Metadata, meta) {
		t.Errorf("metadata = %v, want %v", f.Metadata, meta)
	}
	if len(f.Tensors) != len(in) {
		t.Fatalf("got %d tensors, want %d", len(f.Tensors), len(in))
	}
	for _, want := range in {
		got, ok := f.Get(want.Name)
		if !ok {
			t.Errorf("tensor %q missing", want.Name)
			continue
		}
		if got.DType != want.DType || len(got.Shape) != len(want.Shape) || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("tensor %q = %+v, want %+v", want.Name, got, want)
		}
		for i := range want.Shape {
			if got.Shape[i] != want.Shape[i] {
				t.Errorf("tensor %q shape = %v, want %v", want.Name, got.Shape, want.Shape)
			}
		}
	}
	if _, ok := f.Get("nope"); ok {
		t.Error("Get of a missing name succeeded")
	}
	w, _ := f.Get("weight")
	v, err := Float32s(w)
	if err != nil || !reflect.DeepEqual(v, []float32{1, 2, 3, 4, 5, 6.5}) {
		t.Errorf("Float32s(weight) = %v, %v", v, err)
	}
	h, _ := f.Get("half")
	if v, err := Float32s(h); err != nil || !reflect.DeepEqual(v, []float32{1, -2}) {
		t.Errorf("Float32s(half) = %v, %v", v, err)
	}
	b, _ := f.Get("bias")
	if v, err := Float64s(b); err != nil || !reflect.DeepEqual(v, []float64{-1, 0, math.Pi}) {
		t.Errorf("Float64s(bias) = %v, %v", v, err)
	}
	s, _ := f.Get("steps")
	if v, err := Int64s(s); err != nil || !reflect.DeepEqual(v, []int64{42}) {
		t.Errorf("Int64s(steps) = %v, %v", v, err)
	}
	// Without metadata, Metadata stays nil.
	f, err = Decode(encode(t, in[:1], nil))
	if err != nil || f.Metadata != nil {
		t.Errorf("no metadata: %v, %v", f, err)
	}
	// No tensors at all is a valid file.
	f, err = Decode(encode(t, nil, nil))
	if err != nil || len(f.Tensors) != 0 {
		t.Errorf("empty file: %v, %v", f, err)
	}
}

// TestLayout checks the bytes the writer produces independently of Decode.
func TestLayout(t *testing.T) {
	data := encode(t, sampleTensors(), map[string]string{"b": "2", "a": "1"})
	n := binary.LittleEndian.Uint64(data[:8])
	if n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	hdr := data[8 : 8+n]
	trimmed := bytes.TrimRight(hdr, " ")
	if len(hdr)-len(trimmed) >= 8 {
		t.Errorf("header has %d bytes of padding", len(hdr)-len(trimmed))
	}
	if !bytes.HasPrefix(trimmed, []byte(`{"__metadata__":{"a":"1","b":"2"},`)) {
		t.Errorf("header does not start with the sorted metadata: %s", trimmed)
	}
	// Tensor order: descending dtype rank as the reference writer sorts
	// (I64 before F64), then name.
	wantOrder := []string{"steps", "bias", "empty", "weight", "half", "mask"}
	pos := -1
	for _, name := range wantOrder {
		i := bytes.Index(trimmed, []byte(`"`+name+`":{`))
		if i < pos {
			t.Errorf("tensor %q is out of order in header %s", name, trimmed)
		}
		pos = i
	}
	var hdrMap map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &hdrMap); err != nil {
		t.Fatalf("header JSON: %v", err)
	}
	body := data[8+n:]
	var info struct {
		DType   string   `json:"dtype"`
		Shape   []int    `json:"shape"`
		Offsets []uint64 `json:"data_offsets"`
	}
	var off uint64
	for _, name := range wantOrder {
		if err := json.Unmarshal(hdrMap[name], &info); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if info.Offsets[0] != off {
			t.Errorf("%s begins at %d, want %d", name, info.Offsets[0], off)
		}
		if size := uint64(DType(info.DType).Size()); (8+n+off)%size != 0 {
			t.Errorf("%s at file offset %d is not aligned to %d", name, 8+n+off, size)
		}
		off = info.Offsets[1]
	}
	if off != uint64(len(body)) {
		t.Errorf("tensors cover %d bytes of a %d-byte data section", off, len(body))
	}
	json.Unmarshal(hdrMap["bias"], &info)
	if got := math.Float64frombits(binary.LittleEndian.Uint64(body[info.Offsets[0]+16:])); got != math.Pi {
		t.Errorf("bias[2] = %v, want pi", got)
	}
	if !reflect.DeepEqual(info.Shape, []int{3}) || info.DType != "F64" {
		t.Errorf("bias info = %+v", info)
	}
	json.Unmarshal(hdrMap["steps"], &info)
	if len(info.Shape) != 0 || info.Shape == nil {
		t.Errorf("scalar shape = %#v, want []", info.Shape)
	}
	// Same input, same bytes.
	if again := encode(t, sampleTensors(), map[string]string{"a": "1", "b": "2"}); !bytes.Equal(again, data) {
		t.Error("encoding is not deterministic")
	}
}

// file assembles a safetensors file from a header string and a data section.
func file(header string, body []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	out = append(out, header...)
	return append(out, body...)
}

// decodeErrorCases are malformed files and the error each must give.
var decodeErrorCases = []struct {
	name string
	data []byte
	want string
}{
	{"empty", nil, "shorter than the 8-byte header length"},
	{"short", []byte{1, 0, 0}, "shorter than the 8-byte header length"},
	{"header too long", file("{}", nil)[:9], "larger than the 1 bytes"},
	{"header length max uint64", append(binary.LittleEndian.AppendUint64(nil, math.MaxUint64), "{}"...), "header length 18446744073709551615 is larger"},
	{"not json", file("{nope", nil), "not valid JSON"},
	{"truncated json", file(`{"a":{"dtype":"F32"`, nil), "not valid JSON"},
	{"not an object", file(`[1,2]`, nil), "not a JSON object"},
	{"empty header", file(``, nil), "not valid JSON"},
	{"trailing junk", file(`{} {}`, nil), "trailing data"},
	{"invalid utf8", file("{\"\xff\":1}", nil), "not valid UTF-8"},
	{"entry not object", file(`{"a":[1]}`, nil), `tensor "a": entry is not a JSON object`},
	{"missing dtype", file(`{"a":{"shape":[],"data_offsets":[0,0]}}`, nil), "missing dtype"},
	{"missing shape", file(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, make([]byte, 4)), "missing shape"},
	{"missing offsets", file(`{"a":{"dtype":"F32","shape":[]}}`, nil), "missing data_offsets"},
	{"unknown dtype", file(`{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}`, make([]byte, 16)), `unknown dtype "F128"`},
	{"dtype not string", file(`{"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), `tensor "a"`},
	{"negative dim", file(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)), "negative dimension"},
	{"fractional dim", file(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, make([]byte, 4)), `tensor "a"`},
	{"dim beyond int64", file(`{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}`, make([]byte, 4)), `tensor "a"`},
	{"shape overflow", file(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, make([]byte, 4)), "overflows"},
	{"byte count overflow", file(`{"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]}}`, make([]byte, 8)), "overflows"},
	{"offsets size mismatch", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)), "hold 4 bytes, but dtype F32 and shape [2] need 8"},
	{"offsets wrong count", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}`, make([]byte, 4)), "must have 2 elements"},
	{"offsets negative", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, make([]byte, 4)), `tensor "a"`},
	{"offsets reversed", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, make([]byte, 4)), "end before they begin"},
	{"offsets out of range", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 4)), "out of range"},
	{"overlap", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), `"b" (data_offsets [4, 8]) overlaps tensor "a"`},
	{"gap", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, make([]byte, 12)), `gap of 4 bytes in the data section before tensor "b"`},
	{"leading gap", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, make([]byte, 2)), "gap of 1 bytes"},
	{"trailing bytes", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 6)), "2 bytes at the end of the data section belong to no tensor"},
	{"data without tensors", file(`{}`, make([]byte, 1)), "1 bytes at the end"},
	{"duplicate name", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, make([]byte, 2)), `duplicate tensor name "a"`},
	{"duplicate metadata", file(`{"__metadata__":{},"__metadata__":{}}`, nil), `duplicate "__metadata__"`},
	{"bad metadata", file(`{"__metadata__":{"a":1}}`, nil), "must be an object of strings"},
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range decodeErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Decode(tc.data)
			if err == nil {
				t.Fatalf("Decode succeeded: %+v", f)
			}
			if !errors.Is(err, ErrFormat) {
				t.Errorf("error %v does not wrap ErrFormat", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	tests := []struct {
		name   string
		data   []byte
		tensor string
		shape  []int
	}{
		{"scalar", file(`{"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, make([]byte, 4)), "s", []int{}},
		{"zero dim beside huge dims", file(`{"z":{"dtype":"F32","shape":[2147483647,2147483647,0],"data_offsets":[0,0]}}`, nil), "z", []int{2147483647, 2147483647, 0}},
		{"whitespace and null metadata", file(" {\n \"__metadata__\" : null , \"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1], \"extra\":true}}\n  ", []byte{7}), "a", []int{1}},
		{"two empty tensors share an offset", file(`{"e1":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"e2":{"dtype":"I8","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{1}), "e2", []int{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Decode(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := f.Get(tc.tensor)
			if !ok || !reflect.DeepEqual(got.Shape, tc.shape) {
				t.Errorf("tensor %q = %+v (found %v), want shape %v", tc.tensor, got, ok, tc.shape)
			}
		})
	}
}

func TestDecodedDataCapacity(t *testing.T) {
	data := encode(t, []Tensor{
		{Name: "a", DType: U8, Shape: []int{2}, Data: []byte{1, 2}},
		{Name: "b", DType: U8, Shape: []int{2}, Data: []byte{3, 4}},
	}, nil)
	f, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := f.Get("a")
	_ = append(a.Data, 99) // must not overwrite b
	b, _ := f.Get("b")
	if !bytes.Equal(b.Data, []byte{3, 4}) {
		t.Errorf("appending to a clobbered b: %v", b.Data)
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		want    string
	}{
		{"short data", []Tensor{{Name: "a", DType: F32, Shape: []int{2}, Data: make([]byte, 4)}}, nil, "data has 4 bytes, but dtype F32 and shape [2] need 8"},
		{"unknown dtype", []Tensor{{Name: "a", DType: "F128", Shape: []int{1}, Data: make([]byte, 16)}}, nil, "unknown dtype"},
		{"negative shape", []Tensor{{Name: "a", DType: U8, Shape: []int{-1}}}, nil, "negative dimension"},
		{"overflow", []Tensor{{Name: "a", DType: U8, Shape: []int{math.MaxInt, 2}}}, nil, "overflows"},
		{"duplicate", []Tensor{FromFloat32s("a", []int{1}, []float32{1}), FromFloat32s("a", []int{1}, []float32{2})}, nil, `duplicate tensor name "a"`},
		{"reserved name", []Tensor{FromFloat32s("__metadata__", []int{1}, []float32{1})}, nil, "reserved"},
		{"bad utf8 name", []Tensor{FromFloat32s("\xff", []int{1}, []float32{1})}, nil, "not valid UTF-8"},
		{"bad utf8 metadata", nil, map[string]string{"k": "\xfe"}, "not valid UTF-8"},
		{"shape/len mismatch", []Tensor{FromFloat32s("a", []int{3}, []float32{1})}, nil, "need 12"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Encode(&buf, tc.tensors, tc.meta)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrFormat) {
				t.Errorf("Encode error = %v, want one containing %q", err, tc.want)
			}
			if buf.Len() != 0 {
				t.Errorf("Encode wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

func TestConversions(t *testing.T) {
	le := binary.LittleEndian
	tests := []struct {
		dtype DType
		data  []byte
		want  []float64
	}{
		{Bool, []byte{0, 1}, []float64{0, 1}},
		{U8, []byte{0, 255}, []float64{0, 255}},
		{I8, []byte{0x80, 0x7f}, []float64{-128, 127}},
		{I16, le.AppendUint16(nil, 0x8000), []float64{-32768}},
		{U16, le.AppendUint16(nil, 0xffff), []float64{65535}},
		{I32, le.AppendUint32(nil, 0xffffffff), []float64{-1}},
		{U32, le.AppendUint32(nil, 0xffffffff), []float64{4294967295}},
		{I64, le.AppendUint64(nil, math.MaxUint64), []float64{-1}},
		{U64, le.AppendUint64(nil, 1<<40), []float64{1 << 40}},
		{F16, le.AppendUint16(le.AppendUint16(le.AppendUint16(nil, 0x7bff), 0x0001), 0x8000), []float64{65504, math.Ldexp(1, -24), math.Copysign(0, -1)}},
		{BF16, le.AppendUint16(nil, 0x3fc0), []float64{1.5}},
		{F8E5M2, []byte{0x3c, 0xc0, 0x7c, 0x01}, []float64{1, -2, math.Inf(1), math.Ldexp(1, -16)}},
		{F8E4M3, []byte{0x38, 0xc0, 0x7e, 0x01}, []float64{1, -2, 448, math.Ldexp(1, -9)}},
		{F32, le.AppendUint32(nil, math.Float32bits(-0.25)), []float64{-0.25}},
		{F64, le.AppendUint64(nil, math.Float64bits(1e300)), []float64{1e300}},
	}
	for _, tc := range tests {
		tn := Tensor{Name: "x", DType: tc.dtype, Shape: []int{len(tc.want)}, Data: tc.data}
		got, err := Float64s(tn)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Float64s(%s) = %v, %v; want %v", tc.dtype, got, err, tc.want)
		}
		if got32, err := Float32s(tn); err != nil || len(got32) != len(tc.want) || got32[0] != float32(tc.want[0]) {
			t.Errorf("Float32s(%s) = %v, %v; want %v", tc.dtype, got32, err, tc.want)
		}
	}
	nan, err := Float32s(Tensor{DType: F8E4M3, Shape: []int{1}, Data: []byte{0x7f}})
	if err != nil || !math.IsNaN(float64(nan[0])) {
		t.Errorf("F8_E4M3 0x7f = %v, %v; want NaN", nan, err)
	}
	if _, err := Int64s(Tensor{Name: "f", DType: F32, Shape: []int{0}}); err == nil {
		t.Error("Int64s of F32 succeeded")
	}
	if _, err := Int64s(Tensor{Name: "u", DType: U64, Shape: []int{1}, Data: le.AppendUint64(nil, math.MaxUint64)}); err == nil {
		t.Error("Int64s of a huge U64 succeeded")
	}
	if v, err := Int64s(Tensor{Name: "i", DType: I16, Shape: []int{1}, Data: le.AppendUint16(nil, 0xfffe)}); err != nil || v[0] != -2 {
		t.Errorf("Int64s(I16) = %v, %v", v, err)
	}
	if _, err := Float32s(Tensor{Name: "bad", DType: F32, Shape: []int{2}, Data: make([]byte, 4)}); err == nil {
		t.Error("Float32s of short data succeeded")
	}
	if _, err := Float64s(Tensor{Name: "bad", DType: "X", Shape: []int{1}}); err == nil {
		t.Error("Float64s of an unknown dtype succeeded")
	}
	if n, err := (Tensor{DType: F32, Shape: []int{2, 3}}).NumElements(); n != 6 || err != nil {
		t.Errorf("NumElements = %d, %v", n, err)
	}
}

func TestReadWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	in := sampleTensors()
	if err := WriteFile(path, in, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tensors) != len(in) || f.Metadata["k"] != "v" {
		t.Errorf("ReadFile = %+v", f)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, %v; want 0644", fi.Mode(), err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadFile(missing) = %v", err)
	}
	os.WriteFile(filepath.Join(dir, "bad"), []byte("xx"), 0o644)
	if _, err := ReadFile(filepath.Join(dir, "bad")); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "bad") {
		t.Errorf("ReadFile(bad) = %v", err)
	}
}

// TestWriteFileAtomic checks that a failed write leaves an existing file
// untouched and no temporary file behind.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	if err := WriteFile(path, sampleTensors(), nil); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path)
	check := func(what string) {
		t.Helper()
		now, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(now, old) {
			t.Errorf("%s: the old file changed (%v)", what, err)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("%s: directory holds %v, want only the old file", what, names)
		}
	}

	// A tensor whose data does not match its shape, after valid ones.
	bad := append(sampleTensors(), Tensor{Name: "zz", DType: F32, Shape: []int{4}, Data: make([]byte, 12)})
	if err := WriteFile(path, bad, nil); err == nil || !strings.Contains(err.Error(), "zz") {
		t.Errorf("WriteFile with a bad tensor = %v", err)
	}
	check("bad tensor")

	// A failure after all the data has reached the temporary file.
	syncFile = func(*os.File) error { return errors.New("disk on fire") }
	defer func() { syncFile = (*os.File).Sync }()
	if err := WriteFile(path, []Tensor{FromFloat32s("new", []int{1}, []float32{1})}, nil); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("WriteFile with a failing sync = %v", err)
	}
	check("failing sync")

	// A directory that does not exist.
	if err := WriteFile(filepath.Join(dir, "no", "such", "dir"), nil, nil); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
}

func TestWriteFileKeepsMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, nil, nil); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, %v; want 0600", fi.Mode(), err)
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n <= 0 {
		return 0, errors.New("write failed")
	}
	w.n--
	return len(p), nil
}

func TestEncodeWriteError(t *testing.T) {
	for n := 0; n < 3; n++ {
		if err := Encode(&failWriter{n: n}, sampleTensors(), nil); err == nil || err.Error() != "write failed" {
			t.Errorf("after %d writes: Encode = %v", n, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	var buf bytes.Buffer
	Encode(&buf, sampleTensors(), map[string]string{"format": "pt"})
	f.Add(buf.Bytes())
	f.Add(file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)))
	f.Add(file(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, make([]byte, 4)))
	for _, tc := range decodeErrorCases {
		f.Add(tc.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		// A decoded file re-encodes, and decodes again to the same tensors.
		var buf bytes.Buffer
		if err := Encode(&buf, file.Tensors, file.Metadata); err != nil {
			t.Fatalf("re-encoding a decoded file: %v", err)
		}
		again, err := Decode(buf.Bytes())
		if err != nil {
			t.Fatalf("decoding a re-encoded file: %v", err)
		}
		if len(again.Tensors) != len(file.Tensors) {
			t.Fatalf("%d tensors became %d", len(file.Tensors), len(again.Tensors))
		}
		for _, want := range file.Tensors {
			got, ok := again.Get(want.Name)
			if !ok || got.DType != want.DType || !bytes.Equal(got.Data, want.Data) || !reflect.DeepEqual(got.Shape, want.Shape) {
				t.Fatalf("tensor %q changed: %+v -> %+v", want.Name, want, got)
			}
			if _, err := Float32s(got); err != nil {
				t.Fatalf("Float32s(%q): %v", want.Name, err)
			}
		}
	})
}
