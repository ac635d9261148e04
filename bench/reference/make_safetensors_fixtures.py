#!/usr/bin/python3
"""Write hand-made safetensors files for package safetensors' tests.

There is no safetensors Python package here, so the bytes are assembled by
hand, the way the reference implementation (huggingface/safetensors, the
Rust crate behind safetensors.torch.save_file) lays them out:

  - 8 bytes: N, the header length, unsigned little-endian;
  - N bytes: the JSON header, compact (no spaces), "__metadata__" first,
    then the tensors in data order; strings escaped as serde_json escapes
    them (Python's json.dumps with ensure_ascii=False does the same);
    padded with spaces to a multiple of 8 bytes;
  - the data: raw little-endian values, the tensors sorted by descending
    dtype (the order of the reference's Dtype enum, which increases with the
    element size), then by name.

The values are written with struct, bit pattern by bit pattern, and the Go
test (safetensors/fixtures_test.go) spells out the same values by hand, so
the two are independent statements of the format. Run from the repository
root:

    /usr/bin/python3 bench/reference/make_safetensors_fixtures.py

Files written into safetensors/testdata/:

    dtypes.safetensors          every dtype, canonical layout
    metadata.safetensors        metadata needing every kind of JSON escape
    empty.safetensors           no tensors, no metadata
    empty_metadata.safetensors  no tensors, an empty "__metadata__"
    unordered.safetensors       tensors in name order, header unpadded
                                (another writer's valid layout)
    unordered_canonical.safetensors  the same tensors, canonical layout
    bad_bf16_bytes.safetensors  a BF16 [3] tensor given 8 bytes
    bad_i64_bytes.safetensors   an I64 scalar given 4 bytes
    bad_bool_byte.safetensors   a BOOL holding the byte 2
"""

import json
import math
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "safetensors", "testdata")

# The reference's Dtype enum, in order; file order is descending position.
RANK = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16",
        "I32", "U32", "F32", "F64", "I64", "U64"]
SIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2,
        "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}
FMT = {"BOOL": "B", "U8": "B", "I8": "b", "F8_E5M2": "B", "F8_E4M3": "B", "I16": "h",
       "U16": "H", "F16": "H", "BF16": "H", "I32": "i", "U32": "I", "F32": "f",
       "F64": "d", "I64": "q", "U64": "Q"}


def f16(x):
    """The binary16 bit pattern of x (struct rounds to nearest even)."""
    return struct.unpack("<H", struct.pack("<e", x))[0]


def bf16(x):
    """The bfloat16 bit pattern of the float32 nearest x, rounded to
    nearest even (as torch's x.to(torch.bfloat16) rounds)."""
    b = struct.unpack("<I", struct.pack("<f", x))[0]
    if (b & 0x7FFFFFFF) > 0x7F800000:
        return (b >> 16) | 0x40
    b += 0x7FFF + ((b >> 16) & 1)
    return (b >> 16) & 0xFFFF


def raw(dtype, values):
    """values (Python numbers, or bit patterns for F16, BF16 and the F8s)
    as little-endian bytes."""
    return struct.pack("<%d%s" % (len(values), FMT[dtype]), *values)


def tensor(dtype, shape, values):
    n = 1
    for d in shape:
        n *= d
    assert n == len(values), (dtype, shape, values)
    data = raw(dtype, values)
    assert len(data) == n * SIZE[dtype]
    return {"dtype": dtype, "shape": shape, "data": data}


def assemble(tensors, metadata=None, canonical=True, order=None):
    """The file for tensors (a dict name -> tensor()). canonical sorts them
    as the reference writer does and pads the header; otherwise they go in
    the given order (default: by name) and the header is not padded."""
    if order is None:
        if canonical:
            order = sorted(tensors, key=lambda k: (-RANK.index(tensors[k]["dtype"]), k.encode()))
        else:
            order = sorted(tensors, key=lambda k: k.encode())
    header = {}
    if metadata is not None:
        header["__metadata__"] = {k: metadata[k] for k in sorted(metadata, key=lambda k: k.encode())}
    body = b""
    for name in order:
        t = tensors[name]
        header[name] = {"dtype": t["dtype"], "shape": t["shape"],
                        "data_offsets": [len(body), len(body) + len(t["data"])]}
        body += t["data"]
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if canonical:
        h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + body


def raw_file(header, body):
    """A file from a header string as it is (for malformed cases)."""
    h = header.encode("utf-8")
    return struct.pack("<Q", len(h)) + h + body


def dtypes():
    return {
        "u64": tensor("U64", [2], [0, 2**64 - 1]),
        "i64": tensor("I64", [2, 2], [-2**63, -1, 0, 2**63 - 1]),
        "scalar": tensor("I64", [], [42]),
        "f64": tensor("F64", [3], [math.pi, -0.0, 5e-324]),
        "f32": tensor("F32", [2], [1.5, -math.inf]),
        "empty": tensor("F32", [0, 3], []),
        "u32": tensor("U32", [1], [2**32 - 1]),
        "i32": tensor("I32", [3], [-2**31, 7, 2**31 - 1]),
        "bf16": tensor("BF16", [2, 2], [bf16(1.0), bf16(-math.inf), bf16(1 / 3), bf16(math.nan)]),
        "f16": tensor("F16", [4], [f16(65504.0), f16(2.0**-24), f16(-2.0), f16(1 / 3)]),
        "u16": tensor("U16", [1], [65535]),
        "i16": tensor("I16", [2], [-32768, 32767]),
        "f8_e4m3": tensor("F8_E4M3", [2], [0x38, 0xC0]),
        "f8_e5m2": tensor("F8_E5M2", [2], [0x3C, 0x7C]),
        "i8": tensor("I8", [2], [-128, 127]),
        "u8": tensor("U8", [3], [0, 128, 255]),
        "bool": tensor("BOOL", [4], [1, 0, 0, 1]),
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    files = {
        "dtypes.safetensors": assemble(dtypes(), {"format": "pt"}),
        "metadata.safetensors": assemble(
            {"x": tensor("F32", [1], [1.0])},
            {"format": "pt",
             "quote": 'say "hi" \\ bye',
             "control": "\x00\x01\b\t\n\x0b\f\r\x1f\x7f",
             "unicode": "\u00fcn\u00ef \u2713 \u2028\u2029 <&> \U0001F600",
             "config": json.dumps({"hidden": [4, 3], "act": "relu"})}),
        "empty.safetensors": assemble({}),
        "empty_metadata.safetensors": assemble({}, {}),
        "unordered.safetensors": assemble(
            {"a": tensor("U8", [1], [9]), "b": tensor("F64", [1], [2.5]),
             "c": tensor("I32", [2], [-1, 1]), "d": tensor("F32", [1], [0.25])},
            canonical=False),
        "unordered_canonical.safetensors": assemble(
            {"a": tensor("U8", [1], [9]), "b": tensor("F64", [1], [2.5]),
             "c": tensor("I32", [2], [-1, 1]), "d": tensor("F32", [1], [0.25])}),
        "bad_bf16_bytes.safetensors": raw_file(
            '{"w":{"dtype":"BF16","shape":[3],"data_offsets":[0,8]}}', raw("BF16", [0x3F80] * 4)),
        "bad_i64_bytes.safetensors": raw_file(
            '{"num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,4]}}', raw("I32", [5])),
        "bad_bool_byte.safetensors": assemble({"mask": tensor("BOOL", [3], [1, 2, 0])}),
    }
    for name, data in files.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        print("wrote", name, len(data), "bytes")


if __name__ == "__main__":
    main()
