package safetensors

import (
	"encoding/binary"
	"math"
	"testing"
)

// TestFloat32sHalfEveryPattern checks Float32s on F16 and BF16 tensors of
// all 65536 bit patterns (which run internal/half's vector conversions)
// against the element-wise decoding: the same bits for every number, a NaN
// for every NaN.
func TestFloat32sHalfEveryPattern(t *testing.T) {
	data := make([]byte, 2<<16)
	for i := range 1 << 16 {
		binary.LittleEndian.PutUint16(data[2*i:], uint16(i))
	}
	for _, d := range []DType{F16, BF16} {
		got, err := Float32s(Tensor{Name: "h", DType: d, Shape: []int{1 << 16}, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		for i, g := range got {
			w := float32(element(d, data, i))
			if math.Float32bits(g) != math.Float32bits(w) && !(math.IsNaN(float64(g)) && math.IsNaN(float64(w))) {
				t.Fatalf("%s %#04x: %v (%#08x), want %v (%#08x)", d, i, g, math.Float32bits(g), w, math.Float32bits(w))
			}
		}
	}
}
