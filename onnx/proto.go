package onnx

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// This file decodes the protobuf messages of onnx.proto3 that a model
// needs, field by field, with protowire. Unknown fields are skipped, as
// protobuf requires. Every slice the decoder makes holds values read from
// the input, so the memory it takes is bounded by the input's size: sizes
// written in the file (a tensor's dims) are only checked against the
// bytes that are actually there, never trusted to allocate. Messages that
// may nest without bound (subgraphs in attributes, sequence and map
// types) are skipped, not decoded, so the recursion is at most a few
// levels deep.

// The ONNX element types (TensorProto.DataType) this package reads.
const (
	typeFloat   = 1
	typeUint8   = 2
	typeInt8    = 3
	typeInt32   = 6
	typeInt64   = 7
	typeBool    = 9
	typeFloat16 = 10
	typeDouble  = 11
)

// typeName names an ONNX element type, for errors and inspect.
func typeName(t int32) string {
	names := map[int32]string{1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
		8: "string", 9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 14: "complex64",
		15: "complex128", 16: "bfloat16"}
	if n, ok := names[t]; ok {
		return n
	}
	return fmt.Sprintf("type %d", t)
}

type modelProto struct {
	irVersion       int64
	opsets          []opsetID
	producer        string
	producerVersion string
	graph           *graphProto
	functions       int // local functions, which are not supported
}

type opsetID struct {
	domain  string
	version int64
}

type graphProto struct {
	name         string
	nodes        []*nodeProto
	initializers []*tensorProto
	sparse       int // sparse initializers, which are not supported
	inputs       []*valueInfo
	outputs      []*valueInfo
}

type nodeProto struct {
	name, opType, domain string
	inputs, outputs      []string
	attrs                []*attribute
}

// Attribute types (AttributeProto.AttributeType).
const (
	attrFloat   = 1
	attrInt     = 2
	attrString  = 3
	attrTensor  = 4
	attrGraph   = 5
	attrFloats  = 6
	attrInts    = 7
	attrStrings = 8
)

type attribute struct {
	name    string
	typ     int32
	f       float32
	i       int64
	s       []byte
	t       *tensorProto
	floats  []float32
	ints    []int64
	strings [][]byte
	refAttr string // a reference to a function's attribute, only legal inside functions
}

type tensorProto struct {
	name     string
	dims     []int64
	dataType int32
	raw      []byte
	hasRaw   bool
	floats   []float32
	int32s   []int32
	int64s   []int64
	doubles  []float64
	uint64s  []uint64
	strings  int // string_data entries, which are not supported
	external []keyValue
	location int32 // 1 is EXTERNAL
	segment  bool
}

type keyValue struct{ key, value string }

type valueInfo struct {
	name     string
	elemType int32
	hasShape bool
	dims     []dimProto
}

type dimProto struct {
	value int64
	param string
	known bool // dim_value was given
}

// wireError is a malformed protobuf message.
type wireError struct {
	msg   string
	field protowire.Number
	err   string
}

func (e *wireError) Error() string {
	return fmt.Sprintf("onnx: malformed %s: field %d: %s", e.msg, e.field, e.err)
}

// fields calls f for each field of the message b. f returns the number of
// bytes of the field's value it consumed, or -1 to skip it, or an error.
func fields(msg string, b []byte, f func(num protowire.Number, typ protowire.Type, b []byte) (int, error)) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return &wireError{msg, 0, protowire.ParseError(n).Error()}
		}
		b = b[n:]
		m, err := f(num, typ, b)
		if err != nil {
			return err
		}
		if m < 0 {
			m = protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return &wireError{msg, num, protowire.ParseError(m).Error()}
			}
		}
		b = b[m:]
	}
	return nil
}

// want checks a field's wire type.
func want(msg string, num protowire.Number, typ, w protowire.Type) error {
	if typ != w {
		return &wireError{msg, num, fmt.Sprintf("wire type %d, want %d", typ, w)}
	}
	return nil
}

func getBytes(msg string, num protowire.Number, typ protowire.Type, b []byte) ([]byte, int, error) {
	if err := want(msg, num, typ, protowire.BytesType); err != nil {
		return nil, 0, err
	}
	v, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return nil, 0, &wireError{msg, num, protowire.ParseError(n).Error()}
	}
	return v, n, nil
}

func getVarint(msg string, num protowire.Number, typ protowire.Type, b []byte) (uint64, int, error) {
	if err := want(msg, num, typ, protowire.VarintType); err != nil {
		return 0, 0, err
	}
	v, n := protowire.ConsumeVarint(b)
	if n < 0 {
		return 0, 0, &wireError{msg, num, protowire.ParseError(n).Error()}
	}
	return v, n, nil
}

// getVarints appends a repeated varint field, packed or not, to dst.
func getVarints(msg string, num protowire.Number, typ protowire.Type, b []byte, dst *[]uint64) (int, error) {
	if typ == protowire.VarintType {
		v, n, err := getVarint(msg, num, typ, b)
		*dst = append(*dst, v)
		return n, err
	}
	p, n, err := getBytes(msg, num, typ, b)
	if err != nil {
		return 0, err
	}
	for len(p) > 0 {
		v, m := protowire.ConsumeVarint(p)
		if m < 0 {
			return 0, &wireError{msg, num, protowire.ParseError(m).Error()}
		}
		*dst = append(*dst, v)
		p = p[m:]
	}
	return n, nil
}

// getFixed appends a repeated fixed-size field (size 4 or 8), packed or
// not, to dst as raw bits.
func getFixed(msg string, num protowire.Number, typ protowire.Type, b []byte, size int, dst *[]uint64) (int, error) {
	single := protowire.Fixed32Type
	if size == 8 {
		single = protowire.Fixed64Type
	}
	if typ == single {
		if len(b) < size {
			return 0, &wireError{msg, num, "truncated"}
		}
		*dst = append(*dst, le(b[:size]))
		return size, nil
	}
	p, n, err := getBytes(msg, num, typ, b)
	if err != nil {
		return 0, err
	}
	if len(p)%size != 0 {
		return 0, &wireError{msg, num, fmt.Sprintf("packed length %d is not a multiple of %d", len(p), size)}
	}
	for i := 0; i < len(p); i += size {
		*dst = append(*dst, le(p[i:i+size]))
	}
	return n, nil
}

func le(b []byte) uint64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func decodeModel(b []byte) (*modelProto, error) {
	m := &modelProto{}
	const msg = "ModelProto"
	err := fields(msg, b, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			v, n, err := getVarint(msg, num, typ, b)
			m.irVersion = int64(v)
			return n, err
		case 2, 3:
			v, n, err := getBytes(msg, num, typ, b)
			if num == 2 {
				m.producer = string(v)
			} else {
				m.producerVersion = string(v)
			}
			return n, err
		case 7:
			v, n, err := getBytes(msg, num, typ, b)
			if err != nil {
				return 0, err
			}
			if m.graph != nil {
				return 0, &wireError{msg, num, "more than one graph"}
			}
			m.graph, err = decodeGraph(v)
			return n, err
		case 8:
			v, n, err := getBytes(msg, num, typ, b)
			if err != nil {
				return 0, err
			}
			var o opsetID
			err = fields("OperatorSetIdProto", v, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
				switch num {
				case 1:
					s, n, err := getBytes("OperatorSetIdProto", num, typ, b)
					o.domain = string(s)
					return n, err
				case 2:
					x, n, err := getVarint("OperatorSetIdProto", num, typ, b)
					o.version = int64(x)
					return n, err
				}
				return -1, nil
			})
			m.opsets = append(m.opsets, o)
			return n, err
		case 25:
			m.functions++
		}
		return -1, nil
	})
	return m, err
}

func decodeGraph(b []byte) (*graphProto, error) {
	g := &graphProto{}
	const msg = "GraphProto"
	err := fields(msg, b, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			v, n, err := getBytes(msg, num, typ, b)
			if err != nil {
				return 0, err
			}
			nd, err := decodeNode(v)
			g.nodes = append(g.nodes, nd)
			return n, err
		case 2:
			v, n, err := getBytes(msg, num, typ, b)
			g.name = string(v)
			return n, err
		case 5:
			v, n, err := getBytes(msg, num, typ, b)
			if err != nil {
				return 0, err
			}
			t, err := decodeTensor(v)
			g.initializers = append(g.initializers, t)
			return n, err
		case 11, 12:
			v, n, err := getBytes(msg, num, typ, b)
			if err != nil {
				return 0, err
			}
			vi, err := decodeValueInfo(v)
			if num == 11 {
				g.inputs = append(g.inputs, vi)
			} else {
				g.outputs = append(g.outputs, vi)
			}
			return n, err
		case 15:
			g.sparse++
		}
		return -1, nil
	})
	return g, err
}

func decodeNode(b []byte) (*nodeProto, error) {
	nd := &nodeProto{}
	const msg = "NodeProto"
	err := fields(msg, b, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1, 2, 3, 4, 7:
			v, n, err := getBytes(msg, num, typ, b)
			switch num {
			case 1:
				nd.inputs = append(nd.inputs, string(v))
			case 2:
				nd.outputs = append(nd.outputs, string(v))
			case 3:
				nd.name = string(v)
			case 4:
				nd.opType = string(v)
			case 7:
				nd.domain = string(v)
			}
			return n, err
		case 5:
			v, n, err := getBytes(msg, num, typ, b)
			if err != nil {
				return 0, err
			}
			a, err := decodeAttribute(v)
			nd.attrs = append(nd.attrs, a)
			return n, err
		}
		return -1, nil
	})
	return nd, err
}

func decodeAttribute(b []byte) (*attribute, error) {
	a := &attribute{}
	const msg = "AttributeProto"
	var ints, floats []uint64
	err := fields(msg, b, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1, 4, 9, 21:
			v, n, err := getBytes(msg, num, typ, b)
			switch num {
			case 1:
				a.name = string(v)
			case 4:
				a.s = v
			case 9:
				a.strings = append(a.strings, v)
			case 21:
				a.refAttr = string(v)
			}
			return n, err
		case 20:
			v, n, err := getVarint(msg, num, typ, b)
			a.typ = int32(v)
			return n, err
		case 2:
			if err := want(msg, num, typ, protowire.Fixed32Type); err != nil {
				return 0, err
			}
			v, n := protowire.ConsumeFixed32(b)
			if n < 0 {
				return 0, &wireError{msg, num, protowire.ParseError(n).Error()}
			}
			a.f = math.Float32frombits(v)
			return n, nil
		case 3:
			v, n, err := getVarint(msg, num, typ, b)
			a.i = int64(v)
			return n, err
		case 5:
			v, n, err := getBytes(msg, num, typ, b)
			if err != nil {
				return 0, err
			}
			a.t, err = decodeTensor(v)
			return n, err
		case 7:
			return getFixed(msg, num, typ, b, 4, &floats)
		case 8:
			return getVarints(msg, num, typ, b, &ints)
		}
		return -1, nil
	})
	for _, v := range ints {
		a.ints = append(a.ints, int64(v))
	}
	for _, v := range floats {
		a.floats = append(a.floats, math.Float32frombits(uint32(v)))
	}
	return a, err
}

func decodeTensor(b []byte) (*tensorProto, error) {
	t := &tensorProto{}
	const msg = "TensorProto"
	var dims, i32, i64, f32, f64, u64 []uint64
	err := fields(msg, b, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			return getVarints(msg, num, typ, b, &dims)
		case 2, 14:
			v, n, err := getVarint(msg, num, typ, b)
			if num == 2 {
				t.dataType = int32(v)
			} else {
				t.location = int32(v)
			}
			return n, err
		case 3:
			t.segment = true
		case 4:
			return getFixed(msg, num, typ, b, 4, &f32)
		case 5:
			return getVarints(msg, num, typ, b, &i32)
		case 6:
			t.strings++
		case 7:
			return getVarints(msg, num, typ, b, &i64)
		case 8:
			v, n, err := getBytes(msg, num, typ, b)
			t.name = string(v)
			return n, err
		case 9:
			v, n, err := getBytes(msg, num, typ, b)
			t.raw, t.hasRaw = v, true
			return n, err
		case 10:
			return getFixed(msg, num, typ, b, 8, &f64)
		case 11:
			return getVarints(msg, num, typ, b, &u64)
		case 13:
			v, n, err := getBytes(msg, num, typ, b)
			if err != nil {
				return 0, err
			}
			var kv keyValue
			err = fields("StringStringEntryProto", v, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
				if num == 1 || num == 2 {
					s, n, err := getBytes("StringStringEntryProto", num, typ, b)
					if num == 1 {
						kv.key = string(s)
					} else {
						kv.value = string(s)
					}
					return n, err
				}
				return -1, nil
			})
			t.external = append(t.external, kv)
			return n, err
		}
		return -1, nil
	})
	for _, v := range dims {
		t.dims = append(t.dims, int64(v))
	}
	for _, v := range i32 {
		t.int32s = append(t.int32s, int32(v))
	}
	for _, v := range i64 {
		t.int64s = append(t.int64s, int64(v))
	}
	for _, v := range f32 {
		t.floats = append(t.floats, math.Float32frombits(uint32(v)))
	}
	for _, v := range f64 {
		t.doubles = append(t.doubles, math.Float64frombits(v))
	}
	t.uint64s = u64
	return t, err
}

func decodeValueInfo(b []byte) (*valueInfo, error) {
	vi := &valueInfo{}
	const msg = "ValueInfoProto"
	err := fields(msg, b, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			v, n, err := getBytes(msg, num, typ, b)
			vi.name = string(v)
			return n, err
		case 2:
			v, n, err := getBytes(msg, num, typ, b)
			if err != nil {
				return 0, err
			}
			return n, decodeType(vi, v)
		}
		return -1, nil
	})
	return vi, err
}

// decodeType reads a TypeProto's tensor_type; other kinds (sequences,
// maps, optionals) leave elemType 0.
func decodeType(vi *valueInfo, b []byte) error {
	const msg = "TypeProto"
	return fields(msg, b, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		if num != 1 {
			return -1, nil
		}
		v, n, err := getBytes(msg, num, typ, b)
		if err != nil {
			return 0, err
		}
		return n, fields("TypeProto.Tensor", v, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
			switch num {
			case 1:
				x, n, err := getVarint("TypeProto.Tensor", num, typ, b)
				vi.elemType = int32(x)
				return n, err
			case 2:
				s, n, err := getBytes("TypeProto.Tensor", num, typ, b)
				if err != nil {
					return 0, err
				}
				vi.hasShape = true
				return n, fields("TensorShapeProto", s, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
					if num != 1 {
						return -1, nil
					}
					d, n, err := getBytes("TensorShapeProto", num, typ, b)
					if err != nil {
						return 0, err
					}
					var dim dimProto
					err = fields("Dimension", d, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
						switch num {
						case 1:
							x, n, err := getVarint("Dimension", num, typ, b)
							dim.value, dim.known = int64(x), true
							return n, err
						case 2:
							p, n, err := getBytes("Dimension", num, typ, b)
							dim.param = string(p)
							return n, err
						}
						return -1, nil
					})
					vi.dims = append(vi.dims, dim)
					return n, err
				})
			}
			return -1, nil
		})
	})
}
