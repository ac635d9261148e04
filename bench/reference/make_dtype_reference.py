#!/usr/bin/python3
"""Write PyTorch's type promotion table and integer/bool op results for the
root package's dtype tests, as testdata/dtype_reference.json.

Run from the repository root with Debian's torch (1.13):

    /usr/bin/python3 bench/reference/make_dtype_reference.py

"promotion" holds torch.result_type for every pair of the eight dtypes
nabla has, in five forms: two tensors with dimensions ("tensor"), a tensor
and a 0-d tensor ("zerodim"), and a tensor and a Python int, float or bool
("int", "float", "bool": the "wrapped numbers"). "ops" holds the results of
the integer and bool ops on small inputs (floor division and remainder of
every sign combination, comparisons, logical ops, ...), each with its
output dtype.
"""

import json
import math
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "testdata", "dtype_reference.json")

DTYPES = {
    "float32": torch.float32, "float64": torch.float64, "int64": torch.int64, "int32": torch.int32,
    "uint8": torch.uint8, "bool": torch.bool, "float16": torch.float16, "bfloat16": torch.bfloat16,
}
NAMES = {v: k for k, v in DTYPES.items()}


def value(dt):
    return True if dt == torch.bool else 1


def promotion():
    rows = []
    for an, a in DTYPES.items():
        t = torch.tensor([value(a)], dtype=a)
        row = {"a": an, "int": NAMES[torch.result_type(t, 1)], "float": NAMES[torch.result_type(t, 1.5)],
               "bool": NAMES[torch.result_type(t, True)]}
        row["tensor"] = {}
        row["zerodim"] = {}
        for bn, b in DTYPES.items():
            u = torch.tensor([value(b)], dtype=b)
            z = torch.tensor(value(b), dtype=b)
            row["tensor"][bn] = NAMES[torch.result_type(t, u)]
            row["zerodim"][bn] = NAMES[torch.result_type(t, z)]
        rows.append(row)
    return rows


def fmt(x):
    out = []
    for v in x.flatten().tolist():
        if isinstance(v, float) and not math.isfinite(v):
            out.append(str(v))
        else:
            out.append(v)
    return out


def ops():
    cases = []
    signed_a = [-7, -7, 7, 7, 0, -6, 5, -1]
    signed_b = [2, -2, 2, -2, 3, 3, 5, 4]
    unsigned_a = [7, 0, 250, 6, 5, 1, 9, 200]
    unsigned_b = [2, 3, 7, 4, 5, 1, 2, 100]
    binops = {
        "Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div,
        "FloorDivide": torch.floor_divide, "Remainder": torch.remainder, "Fmod": torch.fmod,
        "Maximum": torch.maximum, "Minimum": torch.minimum,
        "Equal": torch.eq, "NotEqual": torch.ne, "Less": torch.lt, "LessEqual": torch.le,
        "Greater": torch.gt, "GreaterEqual": torch.ge,
        "LogicalAnd": torch.logical_and, "LogicalOr": torch.logical_or, "LogicalXor": torch.logical_xor,
    }
    for dn in ["int64", "int32", "uint8", "float32", "float64"]:
        dt = DTYPES[dn]
        av, bv = (unsigned_a, unsigned_b) if dn == "uint8" else (signed_a, signed_b)
        if dn.startswith("float"):
            av = [v + 0.5 for v in av]
        a, b = torch.tensor(av, dtype=dt), torch.tensor(bv, dtype=dt)
        for name, f in binops.items():
            y = f(a, b)
            cases.append({"op": name, "dtype": dn, "a": av, "b": bv, "out": fmt(y), "out_dtype": NAMES[y.dtype]})
        e = torch.tensor([0, 1, 2, 3, 1, 0, 2, 1], dtype=dt)
        y = torch.pow(a, e)
        cases.append({"op": "Pow", "dtype": dn, "a": av, "b": fmt(e), "out": fmt(y), "out_dtype": NAMES[y.dtype]})
        for name, f in {"Neg": torch.neg, "Abs": torch.abs, "Sign": torch.sign, "LogicalNot": torch.logical_not}.items():
            if dn == "uint8" and name in ("Neg",):
                continue
            y = f(a)
            cases.append({"op": name, "dtype": dn, "a": av, "out": fmt(y), "out_dtype": NAMES[y.dtype]})
        for name, f in {"Sum": torch.sum, "ArgMax": torch.argmax, "ArgMin": torch.argmin, "Max": torch.max, "Min": torch.min}.items():
            y = f(a)
            cases.append({"op": name, "dtype": dn, "a": av, "out": fmt(y), "out_dtype": NAMES[y.dtype]})
        y = torch.clamp(a, -3, 6) if dn != "uint8" else torch.clamp(a, 3, 100)
        lo, hi = (-3, 6) if dn != "uint8" else (3, 100)
        cases.append({"op": "Clamp", "dtype": dn, "a": av, "lo": lo, "hi": hi, "out": fmt(y), "out_dtype": NAMES[y.dtype]})
    ba = torch.tensor([True, True, False, False])
    bb = torch.tensor([True, False, True, False])
    for name, f in {"Add": torch.add, "Mul": torch.mul, "Maximum": torch.maximum,
                    "LogicalAnd": torch.logical_and, "LogicalOr": torch.logical_or, "LogicalXor": torch.logical_xor,
                    "Equal": torch.eq, "Less": torch.lt, "Div": torch.div}.items():
        y = f(ba, bb)
        cases.append({"op": name, "dtype": "bool", "a": fmt(ba), "b": fmt(bb), "out": fmt(y), "out_dtype": NAMES[y.dtype]})
    y = torch.sum(ba)
    cases.append({"op": "Sum", "dtype": "bool", "a": fmt(ba), "out": fmt(y), "out_dtype": NAMES[y.dtype]})
    return cases


def main():
    doc = {"torch": torch.__version__, "promotion": promotion(), "ops": ops()}
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
