package datasets

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"math"
	"reflect"
	"strings"
	"testing"
)

func ubyteFile(dims []uint32, payload []byte) []byte {
	b := []byte{0, 0, 0x08, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, payload...)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestDecodeUbyteIDX(t *testing.T) {
	good := ubyteFile([]uint32{2, 2}, []byte{1, 2, 3, 4})
	for _, in := range [][]byte{good, gz(good)} {
		x, err := decodeUbyteIDX(bytes.NewReader(in))
		if err != nil || !reflect.DeepEqual(x.dims, []int{2, 2}) || !bytes.Equal(x.data, []byte{1, 2, 3, 4}) {
			t.Errorf("decode = %+v, %v", x, err)
		}
	}
	badSum := gz(good)
	badSum[len(badSum)-8] ^= 0xff
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "truncated IDX header"},
		{"bad magic", append([]byte{1, 2}, good[2:]...), "bad IDX magic"},
		{"wrong type", append([]byte{0, 0, 0x0d}, good[3:]...), "want 0x08"},
		{"zero dims", []byte{0, 0, 8, 0}, "zero dimensions"},
		{"truncated dims", good[:7], "truncated IDX header"},
		{"overflow", ubyteFile([]uint32{math.MaxUint32, math.MaxUint32, math.MaxUint32}, nil), "overflow"},
		{"huge claim", ubyteFile([]uint32{1 << 15, 1 << 15}, []byte{1}), "truncated IDX data"},
		{"truncated", good[:len(good)-1], "need 4 bytes, got 3"},
		{"trailing", append(append([]byte{}, good...), 0), "trailing garbage"},
		{"bad checksum", badSum, "checksum"},
	}
	for _, tc := range tests {
		if _, err := decodeUbyteIDX(bytes.NewReader(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}
