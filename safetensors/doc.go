// Package safetensors reads and writes the safetensors file format, the
// format PyTorch and Hugging Face use to store tensors safely (without
// pickle).
//
// # Format
//
// A safetensors file is laid out as:
//
//   - 8 bytes: N, the header length, an unsigned little-endian 64-bit integer;
//   - N bytes: the header, a UTF-8 JSON object mapping each tensor name to
//     {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, plus an
//     optional "__metadata__" entry holding an object of string to string;
//   - the data section: the raw little-endian tensor data. Offsets are
//     relative to the start of the data section; the tensors are contiguous,
//     do not overlap and together cover the whole data section.
//
// # Writing
//
// [Encode] and [WriteFile] produce the bytes the reference implementation
// (huggingface/safetensors, behind Python's safetensors.torch.save_file)
// writes for the same tensors and metadata: a compact JSON header padded
// with spaces so that the data section starts at a multiple of 8 bytes;
// the "__metadata__" entry first when metadata is not nil (an empty map
// gives an empty object, nil gives none), its keys sorted (the reference
// writes them in hash order); strings escaped as the reference's JSON
// library escapes them; and the tensors sorted by descending dtype in the
// reference's order (U64, I64, F64, F32, U32, I32, BF16, F16, U16, I16,
// F8_E4M3, F8_E5M2, I8, U8, BOOL), ties broken by name in byte order.
// That order groups the tensors by descending element size, and the data
// section starts 8-byte aligned, so every tensor starts at a multiple of
// its own element size. The output depends only on the input, never on map
// iteration order.
//
// # Reading
//
// [Decode] and [ReadFile] validate the whole file before returning: the
// header length against the file size, the JSON syntax, every dtype, shape
// and offset pair, duplicate names, and that the tensors tile the data
// section exactly. Every such error wraps [ErrFormat] and says what is
// wrong. Decoding untrusted input never panics and allocates memory only in
// proportion to the header, which is itself bounded by the input size.
// The returned tensors' Data slices point into the decoded buffer.
//
// [Float32s] and [Float64s] convert a tensor's data to Go slices from any
// dtype, including F16, BF16 and the 8-bit float formats; [Int64s] does the
// same for every integer dtype and BOOL. [Int32s], [Uint8s], [Bools],
// [Float16Bits] and [BFloat16Bits] read I32 (and narrower integers), U8,
// BOOL, F16 and BF16 exactly, the half-precision ones as their bit
// patterns. [FromFloat32s], [FromFloat64s], [FromInt64s], [FromInt32s],
// [FromUint8s], [FromBools], [FromFloat16Bits] and [FromBFloat16Bits]
// build tensors from Go slices.
//
// This package works on plain Go slices and does not depend on the rest of
// nabla.
package safetensors
