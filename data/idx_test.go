package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

// idxBytes builds an IDX file by hand: magic, dims, then payload.
func idxBytes(typ byte, dims []uint32, payload []byte) []byte {
	b := []byte{0, 0, typ, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, payload...)
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// onlyReader hides Len and other methods so ReadIDX cannot know the size.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestReadIDXTypes(t *testing.T) {
	be := binary.BigEndian
	f32 := be.AppendUint32(be.AppendUint32(nil, math.Float32bits(1.5)), math.Float32bits(-2))
	f64 := be.AppendUint64(be.AppendUint64(nil, math.Float64bits(0.25)), math.Float64bits(-1e10))
	tests := []struct {
		name    string
		typ     byte
		dims    []uint32
		payload []byte
		want    []float64
		ints    bool
	}{
		{"ubyte", IDXUint8, []uint32{2, 3}, []byte{0, 1, 2, 253, 254, 255}, []float64{0, 1, 2, 253, 254, 255}, true},
		{"byte", IDXInt8, []uint32{3}, []byte{0x80, 0xff, 0x7f}, []float64{-128, -1, 127}, true},
		{"short", IDXInt16, []uint32{2}, []byte{0x80, 0x00, 0x01, 0x02}, []float64{-32768, 258}, true},
		{"int", IDXInt32, []uint32{1, 2}, []byte{0xff, 0xff, 0xff, 0xfe, 0, 1, 0, 0}, []float64{-2, 65536}, true},
		{"float", IDXFloat32, []uint32{2}, f32, []float64{1.5, -2}, false},
		{"double", IDXFloat64, []uint32{2, 1}, f64, []float64{0.25, -1e10}, false},
		{"empty", IDXUint8, []uint32{0, 28, 28}, nil, []float64{}, true},
	}
	for _, tc := range tests {
		raw := idxBytes(tc.typ, tc.dims, tc.payload)
		for _, variant := range []struct {
			name string
			r    io.Reader
		}{
			{"plain", bytes.NewReader(raw)},
			{"plain unknown size", onlyReader{bytes.NewReader(raw)}},
			{"one byte at a time", iotest.OneByteReader(bytes.NewReader(raw))},
			{"gzip", bytes.NewReader(gzipped(t, raw))},
		} {
			t.Run(tc.name+"/"+variant.name, func(t *testing.T) {
				x, err := ReadIDX(variant.r)
				if err != nil {
					t.Fatal(err)
				}
				if x.Type != tc.typ || len(x.Dims) != len(tc.dims) || x.Len() != len(tc.want) {
					t.Fatalf("got type %x dims %v len %d", x.Type, x.Dims, x.Len())
				}
				for i, d := range tc.dims {
					if x.Dims[i] != int(d) {
						t.Errorf("dims = %v, want %v", x.Dims, tc.dims)
					}
				}
				if got := x.Float64s(); len(tc.want) > 0 && !reflect.DeepEqual(got, tc.want) {
					t.Errorf("Float64s = %v, want %v", got, tc.want)
				}
				f32 := x.Float32s()
				for i, w := range tc.want {
					if f32[i] != float32(w) {
						t.Errorf("Float32s = %v, want %v", f32, tc.want)
						break
					}
				}
				ints, err := x.Ints()
				if tc.ints != (err == nil) {
					t.Errorf("Ints error = %v", err)
				}
				for i := range ints {
					if float64(ints[i]) != tc.want[i] {
						t.Errorf("Ints = %v, want %v", ints, tc.want)
						break
					}
				}
				var buf bytes.Buffer
				if err := WriteIDX(&buf, x); err != nil || !bytes.Equal(buf.Bytes(), raw) {
					t.Errorf("WriteIDX = %x, %v; want %x", buf.Bytes(), err, raw)
				}
			})
		}
	}
}

func TestReadIDXErrors(t *testing.T) {
	good := idxBytes(IDXUint8, []uint32{2, 2}, []byte{1, 2, 3, 4})
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty input"},
		{"short header", []byte{0, 0, 8}, "truncated header"},
		{"bad magic", append([]byte{0x12, 0x34}, good[2:]...), "bad magic number 12 34"},
		{"bad magic second byte", append([]byte{0x00, 0x01}, good[2:]...), "bad magic number"},
		{"unknown type", idxBytes(0x0A, []uint32{1}, []byte{0}), "unknown data type 0x0a"},
		{"zero dims", idxBytes(IDXUint8, nil, nil), "zero dimensions"},
		{"truncated dims", good[:9], "truncated header reading 2 dimensions"},
		{"overflow", idxBytes(IDXFloat64, []uint32{math.MaxUint32, math.MaxUint32, math.MaxUint32}, nil), "overflow"},
		{"huge dims, little data", idxBytes(IDXUint8, []uint32{60000, 28, 28}, []byte{1, 2, 3}), "truncated data: dimensions [60000 28 28] of ubyte need 47040000 bytes"},
		{"truncated data", good[:len(good)-1], "truncated data"},
		{"trailing garbage", append(append([]byte{}, good...), 9), "trailing garbage"},
		{"short type", idxBytes(IDXInt16, []uint32{2}, []byte{1, 2, 3}), "need 4 bytes"},
	}
	for _, tc := range tests {
		for _, variant := range []struct {
			name string
			data []byte
			wrap func(io.Reader) io.Reader
		}{
			{"plain", tc.data, func(r io.Reader) io.Reader { return r }},
			{"unknown size", tc.data, func(r io.Reader) io.Reader { return onlyReader{r} }},
			{"gzip", gzipped(t, tc.data), func(r io.Reader) io.Reader { return r }},
		} {
			t.Run(tc.name+"/"+variant.name, func(t *testing.T) {
				x, err := ReadIDX(variant.wrap(bytes.NewReader(variant.data)))
				if err == nil {
					t.Fatalf("ReadIDX succeeded: %+v", x)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %q does not contain %q", err, tc.want)
				}
			})
		}
	}
}

func TestReadIDXGzipErrors(t *testing.T) {
	raw := idxBytes(IDXUint8, []uint32{4}, []byte{1, 2, 3, 4})
	z := gzipped(t, raw)
	corrupt := append([]byte{}, z...)
	corrupt[len(corrupt)-8] ^= 0xff // CRC-32 in the trailer
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"bad checksum", corrupt, "checksum"},
		{"truncated stream", z[:len(z)-4], "idx:"},
		{"only gzip magic", []byte{0x1f, 0x8b}, "bad gzip header"},
		{"garbage after stream", append(append([]byte{}, z...), "junk"...), "idx:"},
		{"second member with data", append(append([]byte{}, z...), gzipped(t, []byte{5})...), "trailing garbage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadIDX(bytes.NewReader(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestReadIDXHugeClaimAllocatesLittle feeds a header that claims a huge
// array followed by little data, and checks that ReadIDX does not allocate
// for the claim.
func TestReadIDXHugeClaimAllocatesLittle(t *testing.T) {
	claim := idxBytes(IDXUint8, []uint32{1 << 15, 1 << 15}, make([]byte, 1000)) // claims 1 GiB
	z := gzipped(t, claim)
	for name, r := range map[string]func() io.Reader{
		"known size":   func() io.Reader { return bytes.NewReader(claim) },
		"unknown size": func() io.Reader { return onlyReader{bytes.NewReader(claim)} },
		"gzip":         func() io.Reader { return bytes.NewReader(z) },
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := ReadIDX(r())
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), "truncated data") {
			t.Errorf("%s: error = %v", name, err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
			t.Errorf("%s: allocated %d bytes", name, n)
		}
	}
}

func TestReadIDXFile(t *testing.T) {
	dir := t.TempDir()
	raw := idxBytes(IDXUint8, []uint32{3}, []byte{7, 8, 9})
	for name, content := range map[string][]byte{"x-idx1-ubyte": raw, "x-idx1-ubyte.gz": gzipped(t, raw)} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
		x, err := ReadIDXFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if ints, _ := x.Ints(); !reflect.DeepEqual(ints, []int{7, 8, 9}) {
			t.Errorf("%s: Ints = %v", name, ints)
		}
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, idxBytes(IDXUint8, []uint32{5}, []byte{1}), 0o644)
	if _, err := ReadIDXFile(bad); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "only 1 remain") {
		t.Errorf("ReadIDXFile(bad) = %v", err)
	}
	if _, err := ReadIDXFile(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("ReadIDXFile(missing) = %v", err)
	}
}

func TestWriteIDXErrors(t *testing.T) {
	for _, x := range []*IDX{
		{Type: 0x07, Dims: []int{1}, Data: []byte{1}},
		{Type: IDXUint8, Dims: nil},
		{Type: IDXUint8, Dims: make([]int, 256)},
		{Type: IDXUint8, Dims: []int{-1}},
		{Type: IDXUint8, Dims: []int{math.MaxInt}},
		{Type: IDXInt16, Dims: []int{2}, Data: []byte{1, 2}},
	} {
		if err := WriteIDX(io.Discard, x); err == nil {
			t.Errorf("WriteIDX(%+v) succeeded", x)
		}
	}
	if _, err := (&IDX{Type: 0x07}).Ints(); err == nil {
		t.Error("Ints of an unknown type succeeded")
	}
	if (&IDX{Type: 0x07, Data: []byte{1}}).Float32s() != nil || (&IDX{Type: 0x07, Data: []byte{1}}).Float64s() != nil {
		t.Error("conversions of an unknown type returned data")
	}
}

func FuzzReadIDX(f *testing.F) {
	f.Add(idxBytes(IDXUint8, []uint32{2, 2}, []byte{1, 2, 3, 4}))
	f.Add(idxBytes(IDXFloat32, []uint32{1}, []byte{0x3f, 0x80, 0, 0}))
	f.Add(idxBytes(IDXInt16, []uint32{0}, nil))
	f.Add(gzipped(f, idxBytes(IDXInt32, []uint32{1, 1}, []byte{0, 0, 0, 5})))
	f.Add(idxBytes(IDXFloat64, []uint32{math.MaxUint32, 2}, nil))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, r := range []io.Reader{bytes.NewReader(in), onlyReader{bytes.NewReader(in)}} {
			x, err := ReadIDX(r)
			if err != nil {
				if !strings.HasPrefix(err.Error(), "idx: ") {
					t.Fatalf("error %q lacks the idx: prefix", err)
				}
				continue
			}
			n := 1
			for _, d := range x.Dims {
				n *= d
			}
			if n != x.Len() || len(x.Data) != n*idxTypeSize(x.Type) {
				t.Fatalf("dims %v but %d bytes of %x", x.Dims, len(x.Data), x.Type)
			}
			_ = x.Float32s()
			_, _ = x.Ints()
			var buf bytes.Buffer
			if err := WriteIDX(&buf, x); err != nil {
				t.Fatalf("WriteIDX: %v", err)
			}
			if len(in) >= 2 && in[0] != 0x1f && !bytes.Equal(buf.Bytes(), in) {
				t.Fatalf("round trip changed the bytes")
			}
		}
	})
}

func TestReadIDXLimit(t *testing.T) {
	raw := idxBytes(IDXUint8, []uint32{2, 3}, []byte{1, 2, 3, 4, 5, 6})
	if x, err := ReadIDXLimit(bytes.NewReader(gzipped(t, raw)), 6); err != nil || len(x.Data) != 6 {
		t.Errorf("at the limit: %v, %v", x, err)
	}
	// A gzip stream that expands to more than the limit fails on its header.
	big := gzipped(t, idxBytes(IDXUint8, []uint32{1 << 12, 1 << 12}, make([]byte, 1<<24)))
	_, err := ReadIDXLimit(bytes.NewReader(big), 1<<20)
	if err == nil || !strings.Contains(err.Error(), "more than the limit") {
		t.Errorf("16 MiB against a 1 MiB limit: %v", err)
	}
	path := filepath.Join(t.TempDir(), "x-idx3-ubyte.gz")
	if err := os.WriteFile(path, big, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadIDXFileLimit(path, 1<<20); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("ReadIDXFileLimit: %v", err)
	}
}
