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
// [Encode] and [WriteFile] produce a compact JSON header padded with spaces
// so that the data section starts at a multiple of 8 bytes, as the reference
// implementation does. The "__metadata__" entry, when there is metadata,
// comes first. Tensors are stored sorted by descending element size (so
// 8-byte types first, then 4-, 2- and 1-byte types), ties broken by name in
// byte order. Because the data section starts 8-byte aligned, every tensor
// therefore starts at a multiple of its own element size. The output depends
// only on the input, never on map iteration order.
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
// same for integer dtypes. [FromFloat32s], [FromFloat64s] and [FromInt64s]
// build tensors from Go slices.
//
// This package works on plain Go slices and does not depend on the rest of
// nabla.
package safetensors
