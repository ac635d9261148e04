package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The files in testdata are written by
// bench/reference/make_safetensors_fixtures.py, which assembles the bytes by
// hand in the reference implementation's layout. These tests spell out the
// same tensors in Go and check both directions: decoding each file gives
// these values, and encoding these values gives each file byte for byte.

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// fixtureDTypes are the tensors of testdata/dtypes.safetensors, one or more
// of every dtype, in the file's (the reference writer's) order.
func fixtureDTypes() []Tensor {
	le := binary.LittleEndian
	u16 := func(v ...uint16) []byte {
		var b []byte
		for _, x := range v {
			b = le.AppendUint16(b, x)
		}
		return b
	}
	return []Tensor{
		{Name: "u64", DType: U64, Shape: []int{2}, Data: le.AppendUint64(le.AppendUint64(nil, 0), math.MaxUint64)},
		FromInt64s("i64", []int{2, 2}, []int64{math.MinInt64, -1, 0, math.MaxInt64}),
		FromInt64s("scalar", []int{}, []int64{42}),
		FromFloat64s("f64", []int{3}, []float64{math.Pi, math.Copysign(0, -1), 5e-324}),
		FromFloat32s("empty", []int{0, 3}, nil),
		FromFloat32s("f32", []int{2}, []float32{1.5, float32(math.Inf(-1))}),
		{Name: "u32", DType: U32, Shape: []int{1}, Data: le.AppendUint32(nil, math.MaxUint32)},
		FromInt32s("i32", []int{3}, []int32{math.MinInt32, 7, math.MaxInt32}),
		// 1, -Inf, 1/3 rounded to nearest even (0x3eaaaaab -> 0x3eab), NaN.
		FromBFloat16Bits("bf16", []int{2, 2}, []uint16{0x3f80, 0xff80, 0x3eab, 0x7fc0}),
		// 65504 (the largest), 2^-24 (the smallest subnormal), -2, 1/3.
		FromFloat16Bits("f16", []int{4}, []uint16{0x7bff, 0x0001, 0xc000, 0x3555}),
		{Name: "u16", DType: U16, Shape: []int{1}, Data: u16(0xffff)},
		{Name: "i16", DType: I16, Shape: []int{2}, Data: u16(0x8000, 0x7fff)},
		{Name: "f8_e4m3", DType: F8E4M3, Shape: []int{2}, Data: []byte{0x38, 0xc0}},
		{Name: "f8_e5m2", DType: F8E5M2, Shape: []int{2}, Data: []byte{0x3c, 0x7c}},
		{Name: "i8", DType: I8, Shape: []int{2}, Data: []byte{0x80, 0x7f}},
		FromUint8s("u8", []int{3}, []uint8{0, 128, 255}),
		FromBools("bool", []int{4}, []bool{true, false, false, true}),
	}
}

// TestFixturesEncode encodes Go values and compares with the bytes the
// Python script assembled in the reference layout.
func TestFixturesEncode(t *testing.T) {
	x := FromFloat32s("x", []int{1}, []float32{1})
	unordered := []Tensor{
		FromUint8s("a", []int{1}, []uint8{9}),
		FromFloat64s("b", []int{1}, []float64{2.5}),
		FromInt32s("c", []int{2}, []int32{-1, 1}),
		FromFloat32s("d", []int{1}, []float32{0.25}),
	}
	tests := []struct {
		file    string
		tensors []Tensor
		meta    map[string]string
	}{
		{"dtypes.safetensors", fixtureDTypes(), map[string]string{"format": "pt"}},
		{"metadata.safetensors", []Tensor{x}, map[string]string{
			"format":  "pt",
			"quote":   `say "hi" \ bye`,
			"control": "\x00\x01\b\t\n\x0b\f\r\x1f\x7f",
			"unicode": "ünï ✓ \u2028\u2029 <&> 😀",
			"config":  `{"hidden": [4, 3], "act": "relu"}`,
		}},
		{"empty.safetensors", nil, nil},
		{"empty_metadata.safetensors", nil, map[string]string{}},
		{"unordered_canonical.safetensors", unordered, nil},
		// The input order does not matter.
		{"unordered_canonical.safetensors", []Tensor{unordered[3], unordered[1], unordered[0], unordered[2]}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			want := readFixture(t, tc.file)
			if got := encode(t, tc.tensors, tc.meta); !bytes.Equal(got, want) {
				t.Errorf("Encode gave\n%q\nwant\n%q", got, want)
			}
		})
	}
}

// TestFixturesDecode decodes every valid fixture, checks that decoding and
// encoding again gives the same bytes (unordered.safetensors, another
// writer's valid layout, becomes the canonical one), and checks the
// tensors.
func TestFixturesDecode(t *testing.T) {
	tests := []struct{ file, reencoded string }{
		{"dtypes.safetensors", "dtypes.safetensors"},
		{"metadata.safetensors", "metadata.safetensors"},
		{"empty.safetensors", "empty.safetensors"},
		{"empty_metadata.safetensors", "empty_metadata.safetensors"},
		{"unordered.safetensors", "unordered_canonical.safetensors"},
		{"unordered_canonical.safetensors", "unordered_canonical.safetensors"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			f, err := Decode(readFixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := encode(t, f.Tensors, f.Metadata), readFixture(t, tc.reencoded); !bytes.Equal(got, want) {
				t.Errorf("re-encoded\n%q\nwant %s:\n%q", got, tc.reencoded, want)
			}
		})
	}
	f, err := Decode(readFixture(t, "empty_metadata.safetensors"))
	if err != nil || f.Metadata == nil || len(f.Metadata) != 0 {
		t.Errorf("empty_metadata: Metadata = %#v, %v; want an empty map", f.Metadata, err)
	}

	f, err = Decode(readFixture(t, "dtypes.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	want := fixtureDTypes()
	var names []string
	for _, w := range want {
		names = append(names, w.Name)
	}
	if !reflect.DeepEqual(f.Names(), names) {
		t.Errorf("file order %v, want %v", f.Names(), names)
	}
	for _, w := range want {
		got, ok := f.Get(w.Name)
		if !ok || got.DType != w.DType || !reflect.DeepEqual(got.Shape, w.Shape) || !bytes.Equal(got.Data, w.Data) {
			t.Errorf("%s = %+v, want %+v", w.Name, got, w)
		}
	}
	if !reflect.DeepEqual(f.Metadata, map[string]string{"format": "pt"}) {
		t.Errorf("metadata = %v", f.Metadata)
	}
}

// TestFixtureValues reads each tensor of dtypes.safetensors with the typed
// readers.
func TestFixtureValues(t *testing.T) {
	f, err := Decode(readFixture(t, "dtypes.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	get := func(name string) Tensor {
		x, ok := f.Get(name)
		if !ok {
			t.Fatalf("no tensor %q", name)
		}
		return x
	}
	inf := math.Inf(1)
	tests := []struct {
		name string
		read func(Tensor) (any, error)
		want any
	}{
		{"i64", ints64, []int64{math.MinInt64, -1, 0, math.MaxInt64}},
		{"scalar", ints64, []int64{42}},
		{"u32", ints64, []int64{math.MaxUint32}},
		{"i16", ints64, []int64{-32768, 32767}},
		{"u16", ints64, []int64{65535}},
		{"i8", ints64, []int64{-128, 127}},
		{"bool", ints64, []int64{1, 0, 0, 1}},
		{"i32", ints32, []int32{math.MinInt32, 7, math.MaxInt32}},
		{"i16", ints32, []int32{-32768, 32767}},
		{"u8", ints32, []int32{0, 128, 255}},
		{"u8", uints8, []uint8{0, 128, 255}},
		{"bool", uints8, []uint8{1, 0, 0, 1}},
		{"bool", bools, []bool{true, false, false, true}},
		{"bf16", bitsBF16, []uint16{0x3f80, 0xff80, 0x3eab, 0x7fc0}},
		{"f16", bitsF16, []uint16{0x7bff, 0x0001, 0xc000, 0x3555}},
		{"f64", floats64, []float64{math.Pi, math.Copysign(0, -1), 5e-324}},
		{"f32", floats64, []float64{1.5, -inf}},
		{"u64", floats64, []float64{0, 18446744073709551615}},
		{"f16", floats64, []float64{65504, math.Ldexp(1, -24), -2, 0.333251953125}},
		{"f8_e4m3", floats64, []float64{1, -2}},
		{"f8_e5m2", floats64, []float64{1, inf}},
		{"bf16", floats32, []float32{1, float32(-inf), 0.333984375, float32(math.NaN())}},
		{"empty", floats32, []float32{}},
	}
	for _, tc := range tests {
		got, err := tc.read(get(tc.name))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !sameValues(got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// sameValues is reflect.DeepEqual, except that NaN equals NaN and the sign
// of a float zero counts.
func sameValues(got, want any) bool {
	switch w := want.(type) {
	case []float64:
		g := got.([]float64)
		if len(g) != len(w) {
			return false
		}
		for i := range w {
			if math.Float64bits(g[i]) != math.Float64bits(w[i]) && !(math.IsNaN(g[i]) && math.IsNaN(w[i])) {
				return false
			}
		}
		return true
	case []float32:
		g := got.([]float32)
		if len(g) != len(w) {
			return false
		}
		for i := range w {
			if math.Float32bits(g[i]) != math.Float32bits(w[i]) && !(g[i] != g[i] && w[i] != w[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(got, want)
}

func ints64(t Tensor) (any, error)   { return Int64s(t) }
func ints32(t Tensor) (any, error)   { return Int32s(t) }
func uints8(t Tensor) (any, error)   { return Uint8s(t) }
func bools(t Tensor) (any, error)    { return Bools(t) }
func bitsF16(t Tensor) (any, error)  { return Float16Bits(t) }
func bitsBF16(t Tensor) (any, error) { return BFloat16Bits(t) }
func floats64(t Tensor) (any, error) { return Float64s(t) }
func floats32(t Tensor) (any, error) { return Float32s(t) }

// TestTypedReaderErrors checks that each typed reader rejects the dtypes
// it does not read, saying which.
func TestTypedReaderErrors(t *testing.T) {
	f, err := Decode(readFixture(t, "dtypes.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	get := func(name string) Tensor { x, _ := f.Get(name); return x }
	tests := []struct {
		tensor string
		read   func(Tensor) (any, error)
		want   string
	}{
		{"u64", ints64, `tensor "u64": element 1 (18446744073709551615) overflows int64`},
		{"f32", ints64, `tensor "f32": Int64s needs an integer dtype, not F32`},
		{"i64", ints32, `tensor "i64": Int32s needs I32 or a narrower integer dtype, not I64`},
		{"u32", ints32, `not U32`},
		{"i8", uints8, `tensor "i8": Uint8s needs dtype U8 or BOOL, not I8`},
		{"u8", bools, `tensor "u8": Bools needs dtype BOOL, not U8`},
		{"bf16", bitsF16, `tensor "bf16": Float16Bits needs dtype F16, not BF16`},
		{"f16", bitsBF16, `tensor "f16": BFloat16Bits needs dtype BF16, not F16`},
		{"i16", bitsF16, `not I16`},
	}
	for _, tc := range tests {
		if v, err := tc.read(get(tc.tensor)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, %v; want an error containing %q", tc.tensor, v, err, tc.want)
		}
	}
	// A tensor built by hand with too few bytes for its shape.
	short := Tensor{Name: "s", DType: BF16, Shape: []int{2}, Data: []byte{0x80, 0x3f}}
	if _, err := BFloat16Bits(short); err == nil || !strings.Contains(err.Error(), `tensor "s": data has 2 bytes, but dtype BF16 and shape [2] need 4`) {
		t.Errorf("BFloat16Bits(short) = %v", err)
	}
	if _, err := Bools(Tensor{Name: "b", DType: Bool, Shape: []int{3}, Data: []byte{1}}); err == nil {
		t.Error("Bools of short data succeeded")
	}
	if _, err := Uint8s(Tensor{Name: "u", DType: U8, Shape: []int{3}, Data: []byte{1}}); err == nil {
		t.Error("Uint8s of short data succeeded")
	}
}

// TestBadFixtures checks the errors for files that declare a dtype whose
// byte count does not match the shape, and a BOOL byte that is not 0 or 1.
func TestBadFixtures(t *testing.T) {
	tests := []struct{ file, want string }{
		{"bad_bf16_bytes.safetensors", `tensor "w": data_offsets [0, 8] hold 8 bytes, but dtype BF16 and shape [3] need 6`},
		{"bad_i64_bytes.safetensors", `tensor "num_batches_tracked": data_offsets [0, 4] hold 4 bytes, but dtype I64 and shape [] need 8`},
	}
	for _, tc := range tests {
		_, err := Decode(readFixture(t, tc.file))
		if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Decode = %v, want an error containing %q", tc.file, err, tc.want)
		}
	}
	f, err := Decode(readFixture(t, "bad_bool_byte.safetensors"))
	if err != nil {
		t.Fatal(err) // the layout is valid; only the value is not
	}
	m, _ := f.Get("mask")
	if v, err := Bools(m); err == nil || !strings.Contains(err.Error(), `tensor "mask": BOOL element 1 is 2, not 0 or 1`) {
		t.Errorf("Bools(mask) = %v, %v", v, err)
	}
}

// TestTypedRoundTrip writes every Go element type and reads it back.
func TestTypedRoundTrip(t *testing.T) {
	i32 := []int32{math.MinInt32, -1, 0, 1, math.MaxInt32}
	u8 := []uint8{0, 1, 127, 128, 255}
	bs := []bool{true, false, true}
	h := []uint16{0, 0x8000, 0x3c00, 0x7c00, 0xfc00, 0x7e01, 0x0001, 0xffff}
	f, err := Decode(encode(t, []Tensor{
		FromInt32s("i32", []int{5}, i32),
		FromUint8s("u8", []int{5}, u8),
		FromBools("b", []int{3}, bs),
		FromFloat16Bits("h", []int{2, 4}, h),
		FromBFloat16Bits("bh", []int{8}, h),
	}, nil))
	if err != nil {
		t.Fatal(err)
	}
	get := func(name string) Tensor { x, _ := f.Get(name); return x }
	if v, err := Int32s(get("i32")); err != nil || !reflect.DeepEqual(v, i32) {
		t.Errorf("Int32s = %v, %v", v, err)
	}
	if v, err := Uint8s(get("u8")); err != nil || !reflect.DeepEqual(v, u8) {
		t.Errorf("Uint8s = %v, %v", v, err)
	}
	if v, err := Bools(get("b")); err != nil || !reflect.DeepEqual(v, bs) {
		t.Errorf("Bools = %v, %v", v, err)
	}
	if v, err := Float16Bits(get("h")); err != nil || !reflect.DeepEqual(v, h) {
		t.Errorf("Float16Bits = %v, %v", v, err)
	}
	if v, err := BFloat16Bits(get("bh")); err != nil || !reflect.DeepEqual(v, h) {
		t.Errorf("BFloat16Bits = %v, %v", v, err)
	}
	// The readers copy: changing a result leaves the file's bytes alone.
	v, _ := Uint8s(get("u8"))
	v[0] = 42
	if get("u8").Data[0] != 0 {
		t.Error("Uint8s returned the file's own bytes")
	}
}
