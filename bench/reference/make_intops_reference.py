#!/usr/bin/python3
"""Write PyTorch 1.13 results of the sorting, scanning and selecting ops on
every dtype, and of integer matmul, into testdata/intops_reference.json,
for ops_sort_test.go (TestSortReference) and ops_linalg_int_test.go.

Ops: sort (stable, ascending and descending, both axes), topk (largest and
smallest, sorted), unique (sorted, with inverse and counts), bincount (with
weights and minlength), cumsum, prod (all and along an axis), masked_select
and nonzero, on float32, float64, int64, int32, uint8, bool, float16 and
bfloat16 inputs with ties, negative numbers, NaN and infinities where the
dtype has them. For float64 inputs of the differentiable ones (sort and
topk values, cumsum, prod, masked_select) the gradient of
(out * upstream).sum() is recorded too.

PyTorch leaves the order of tied elements in topk unspecified (1.13 puts
some ties in descending index order); nabla keeps them in index order, as
a stable sort does, so the Go test checks indices exactly only where the
values are distinct.

PyTorch 1.13's CPU build lacks some of these kernels (topk on bool and
float16; unique, cumsum and prod on float16; prod on bfloat16). For those
the result is computed on the input converted to float32 (uint8 for bool),
then converted back, which is what nabla does for half-precision storage;
such cases are marked "emulated": true.

matmul cases (op "matmul", operands "input" and "other") cover integer
matrix products: 1-d, 2-d and batched broadcast shapes, a transposed
operand (args "t_other": the Go test multiplies by other.T()), empty
products, wrap-around overflow of int64, int32 and uint8, and operands of
different dtypes. PyTorch 1.13 refuses operands of different dtypes
("expected scalar type Long but found Float"); nabla promotes them with
torch.promote_types first, so those cases ("promoted": true) are computed
on both operands converted to the promoted dtype, with the gradient of
(out * upstream).sum() with respect to a float64 operand. PyTorch refuses
bool matmul; such a case has "error" (PyTorch's message) and no output.
It has no float16 matmul on the CPU either: that product is computed in
float32 and rounded back, as nabla does ("emulated": true).

Each tensor is {"dtype": ..., "shape": [...], "data": [...]} in row-major
order; booleans are 0 and 1, and a value that is not finite is the string
"nan", "inf" or "-inf". Integers are exact (the Go test decodes them with
json.Number).

Run from the repository root:

    /usr/bin/python3 bench/reference/make_intops_reference.py
"""

import json
import math
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "testdata")
GEN = torch.Generator().manual_seed(20261204)

DTYPES = {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64,
          "int32": torch.int32, "uint8": torch.uint8, "bool": torch.bool,
          "float16": torch.float16, "bfloat16": torch.bfloat16}
NAME = {v: k for k, v in DTYPES.items()}
nan, inf = math.nan, math.inf

# Inputs of shape (2, 6), with ties, by kind of dtype.
BASE = {
    "float": [[3, -1, 2, nan, -1, 0.5], [0, 2, 2, -inf, 7, nan]],
    "int": [[3, -1, 2, 9, -1, 0], [0, 2, 2, -7, 7, 5]],
    "uint8": [[3, 255, 2, 9, 1, 0], [0, 2, 2, 7, 7, 5]],
    "bool": [[1, 0, 1, 1, 0, 0], [0, 0, 1, 0, 1, 1]],
}
# Inputs without NaN, for prod and cumsum (whose NaN handling is plain
# arithmetic) and with a zero per row for prod.
FINITE = {
    "float": [[1.5, -2, 0.5, 3, -1, 2], [0.25, 4, -0.5, 1, 2, -3]],
    "int": [[3, -1, 2, 4, -1, 2], [1, 2, -2, 3, 1, 5]],
    "uint8": [[3, 1, 2, 4, 1, 2], [1, 2, 200, 3, 1, 5]],
    "bool": [[1, 1, 1, 1, 0, 1], [1, 1, 1, 1, 1, 1]],
}


def kind(dt):
    if dt in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
        return "float"
    if dt == torch.uint8:
        return "uint8"
    if dt == torch.bool:
        return "bool"
    return "int"


def num(v):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    v = float(v)
    return v if math.isfinite(v) else str(v)


def enc(t):
    t = t.detach().contiguous()
    if t.dtype in (torch.float16, torch.bfloat16):
        vals = t.float().reshape(-1).tolist()
    else:
        vals = t.reshape(-1).tolist()
    return {"dtype": NAME[t.dtype], "shape": list(t.shape), "data": [num(v) for v in vals]}


def run(f, x):
    """f(x), or, if PyTorch has no CPU kernel for x's dtype, f on x widened
    (to float32, or uint8 for bool) with the floating results narrowed back
    to x's dtype. Returns the results and whether they were emulated."""
    try:
        return f(x), False
    except RuntimeError as e:
        if "not implemented for" not in str(e):
            raise
    wide = torch.uint8 if x.dtype == torch.bool else torch.float32
    r = f(x.to(wide))
    back = lambda t: t.to(x.dtype) if t.dtype == wide else t
    if isinstance(r, torch.Tensor):
        return back(r), True
    return tuple(back(t) for t in r), True


CASES = []


def case(op, x, args, outputs, emulated=False, grad=None, upstream=None):
    c = {"op": op, "input": enc(x), "args": args,
         "outputs": {k: enc(v) for k, v in outputs.items()}, "emulated": emulated}
    if grad is not None:
        c["upstream"] = enc(upstream)
        c["grad"] = enc(grad)
    CASES.append(c)


def with_grad(x, f, out_index=None):
    """The gradient of (f(x) * upstream).sum() for a float64 x, or None."""
    if x.dtype != torch.float64:
        return None, None
    x = x.clone().requires_grad_(True)
    y = f(x)
    if out_index is not None:
        y = y[out_index]
    up = torch.randn(y.shape, generator=GEN, dtype=torch.float64)
    (y * up).sum().backward()
    return x.grad, up


def sorts():
    for name, dt in DTYPES.items():
        x = torch.tensor(BASE[kind(dt)], dtype=torch.float64).to(dt)
        for axis in (-1, 0):
            for desc in (False, True):
                f = lambda t: torch.sort(t, dim=axis, descending=desc, stable=True)
                (v, i), em = run(f, x)
                g, up = with_grad(x, f, 0)
                case("sort", x, {"axis": axis, "descending": desc}, {"values": v, "indices": i}, em, g, up)
        for k, axis in ((3, -1), (2, 0), (6, -1), (0, -1)):
            for largest in (True, False):
                f = lambda t: torch.topk(t, k, dim=axis, largest=largest, sorted=True)
                (v, i), em = run(f, x)
                g, up = with_grad(x, f, 0)
                case("topk", x, {"k": k, "axis": axis, "largest": largest}, {"values": v, "indices": i}, em, g, up)


def uniques():
    for name, dt in DTYPES.items():
        # No NaN: PyTorch 1.13's CPU unique gives unsorted values and zero
        # counts when there is one (nabla sorts each NaN last, as its own
        # value).
        data = [[3, -1, 2, -inf, -1, 0.5], [0, 2, 2, inf, 7, 0.5]] if kind(dt) == "float" else BASE[kind(dt)]
        for data in (data, [[5]], []):
            x = torch.tensor(data, dtype=torch.float64).to(dt)
            f = lambda t: torch.unique(t, sorted=True, return_inverse=True, return_counts=True)
            (v, inv, cnt), em = run(f, x)
            case("unique", x, {}, {"values": v, "inverse": inv, "counts": cnt}, em)


def bincounts():
    for name in ("int64", "int32", "uint8"):
        dt = DTYPES[name]
        x = torch.tensor([1, 3, 1, 0, 5, 3, 3], dtype=dt)
        for minlength in (0, 8):
            case("bincount", x, {"minlength": minlength}, {"out": torch.bincount(x, minlength=minlength)})
            for wname in ("float32", "float64", "int64"):
                w = torch.tensor([0.5, 1, 2, -1, 0.25, 3, 1], dtype=torch.float64).to(DTYPES[wname])
                out = torch.bincount(x, weights=w, minlength=minlength)
                CASES.append({"op": "bincount", "input": enc(x), "args": {"minlength": minlength},
                              "weights": enc(w), "outputs": {"out": enc(out)}, "emulated": False})
        empty = torch.tensor([], dtype=dt)
        case("bincount", empty, {"minlength": 0}, {"out": torch.bincount(empty)})
        case("bincount", empty, {"minlength": 3}, {"out": torch.bincount(empty, minlength=3)})


def scans():
    for name, dt in DTYPES.items():
        x = torch.tensor(FINITE[kind(dt)], dtype=torch.float64).to(dt)
        for axis in (0, 1, -1):
            f = lambda t: torch.cumsum(t, axis)
            out, em = run(f, x)
            g, up = with_grad(x, f)
            case("cumsum", x, {"axis": axis}, {"out": out}, em, g, up)
        f = lambda t: torch.prod(t)
        out, em = run(f, x)
        g, up = with_grad(x, f)
        case("prod", x, {"axes": None}, {"out": out}, em, g, up)
        for axis in (0, 1):
            f = lambda t: torch.prod(t, axis)
            out, em = run(f, x)
            g, up = with_grad(x, f)
            case("prod", x, {"axes": [axis]}, {"out": out}, em, g, up)
    # Zeros, for prod's gradient: none, one and two in a row.
    x = torch.tensor([[1.5, -2, 0.5], [0.25, 0, -0.5], [0, 3, 0]], dtype=torch.float64)
    for axes in (None, [1], [0]):
        f = (lambda t: torch.prod(t)) if axes is None else (lambda t: torch.prod(t, axes[0]))
        g, up = with_grad(x, f)
        case("prod", x, {"axes": axes}, {"out": f(x)}, False, g, up)
    # Integer products wrap in int64 as in C; int32 ones are computed in
    # int64, so they do not wrap at 2^31.
    x = torch.tensor([[10**10, 10**10], [2**20, 2**20]], dtype=torch.int64)
    case("prod", x, {"axes": [1]}, {"out": torch.prod(x, 1)})
    x = torch.tensor([[70000, 70000]], dtype=torch.int32)
    case("prod", x, {"axes": None}, {"out": torch.prod(x)})
    case("cumsum", x, {"axis": 1}, {"out": torch.cumsum(x, 1)})


def selects():
    for name, dt in DTYPES.items():
        x = torch.tensor(BASE[kind(dt)], dtype=torch.float64).to(dt)
        masks = [
            torch.tensor([[1, 0, 1, 1, 0, 0], [0, 1, 1, 0, 0, 1]], dtype=torch.bool),
            torch.tensor([0, 1, 1, 0, 0, 1], dtype=torch.bool),  # broadcast over rows
            torch.zeros(2, 6, dtype=torch.bool),
        ]
        for m in masks:
            f = lambda t: torch.masked_select(t, m)
            out, em = run(f, x)
            g, up = with_grad(x, f)
            c = {"op": "masked_select", "input": enc(x), "args": {}, "mask": enc(m),
                 "outputs": {"out": enc(out)}, "emulated": em}
            if g is not None:
                c["upstream"], c["grad"] = enc(up), enc(g)
            CASES.append(c)
        for data in (BASE[kind(dt)], [[[1, 0], [0, 2]], [[0, 0], [3, 0]]], 5, 0, []):
            x = torch.tensor(data, dtype=torch.float64).to(dt)
            out, em = run(torch.nonzero, x)
            case("nonzero", x, {}, {"out": out}, em)


def matmul_case(x, y, t_other=False, grad=False):
    """A matmul case of x @ y (y.T if t_other), or the error PyTorch gives."""
    yy = y.T if t_other else y
    dt = torch.promote_types(x.dtype, y.dtype)
    c = {"op": "matmul", "input": enc(x), "other": enc(y), "args": {"t_other": t_other},
         "promoted": x.dtype != y.dtype, "emulated": False}
    try:
        out = x.to(dt) @ yy.to(dt)
    except RuntimeError as e:
        if dt != torch.float16:
            c["error"] = str(e)
            CASES.append(c)
            return
        # No float16 matmul on the CPU: in float32, rounded back.
        out = (x.float() @ yy.float()).to(dt)
        c["emulated"] = True
    c["outputs"] = {"out": enc(out)}
    if grad:
        # The gradient flows to the float64 operand of a mixed product.
        xg = x.clone().requires_grad_(x.dtype == torch.float64)
        yg = y.clone().requires_grad_(y.dtype == torch.float64)
        out = xg.to(dt) @ (yg.T if t_other else yg).to(dt)
        up = torch.randn(out.shape, generator=GEN, dtype=torch.float64)
        (out * up).sum().backward()
        c["upstream"] = enc(up)
        c["grad"] = enc(xg.grad if xg.requires_grad else yg.grad)
    CASES.append(c)


def rand_int(shape, dt):
    lo, hi = (0, 256) if dt == torch.uint8 else (-50, 51)
    return torch.randint(lo, hi, shape, generator=GEN, dtype=torch.int64).to(dt)


def matmuls():
    shapes = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 7), (7, 6)),
              ((2, 1, 2, 3), (3, 3, 2)), ((4, 2, 3), (3,)), ((3,), (2, 3, 4)), ((0, 3), (3, 2)),
              ((2, 0), (0, 3)), ((1, 1), (1, 1))]
    for name in ("int64", "int32", "uint8"):
        dt = DTYPES[name]
        for sa, sb in shapes:
            matmul_case(rand_int(sa, dt), rand_int(sb, dt))
        # A transposed (column-major) right operand.
        matmul_case(rand_int((3, 5), dt), rand_int((4, 5), dt), t_other=True)
        # Large enough to be split between the workers.
        matmul_case(rand_int((2, 80, 64), dt), rand_int((64, 72), dt))
    # Wrap-around: sums and products past the type's range.
    big = torch.tensor([[2**62, 2**62 - 1], [-2**63, 3]], dtype=torch.int64)
    matmul_case(big, torch.tensor([[2, 3], [4, -5]], dtype=torch.int64))
    matmul_case(torch.tensor([[70000, 70000]], dtype=torch.int32), torch.tensor([[70000], [70000]], dtype=torch.int32))
    matmul_case(torch.full((2, 3), 200, dtype=torch.uint8), torch.full((3, 2), 3, dtype=torch.uint8))
    # Operands of different dtypes, promoted.
    pairs = [("int32", "int64"), ("uint8", "int32"), ("bool", "int64"), ("uint8", "bool"),
             ("int64", "float32"), ("float64", "int32"), ("uint8", "float64"), ("float16", "int32"),
             ("int64", "bfloat16")]
    for an, bn in pairs:
        da, db = DTYPES[an], DTYPES[bn]
        def val(shape, d):
            if d == torch.bool:
                return torch.randint(0, 2, shape, generator=GEN).to(torch.bool)
            if d.is_floating_point:
                return (torch.randn(shape, generator=GEN, dtype=torch.float64) * 4).round().div(4).to(d)
            return rand_int(shape, d)
        grad = torch.float64 in (da, db)
        matmul_case(val((2, 3), da), val((3, 4), db), grad=grad)
        matmul_case(val((2, 2, 3), da), val((3,), db), grad=grad)
    # Bool is refused.
    b = torch.tensor([[True, False], [True, True]])
    matmul_case(b, b)
    matmul_case(b[0], b[1])


def masked_select_case(x, m):
    f = lambda t: torch.masked_select(t, m)
    out, em = run(f, x)
    g, up = with_grad(x, f)
    c = {"op": "masked_select", "input": enc(x), "args": {}, "mask": enc(m),
         "outputs": {"out": enc(out)}, "emulated": em}
    if g is not None:
        c["upstream"], c["grad"] = enc(up), enc(g)
    CASES.append(c)


def extras():
    """Cases added after the first version of this script, written after
    all the others so that those (and the generator's draws) stay as they
    were: signed zeros and NaNs among ties, a middle axis, lines longer
    than 32 elements with many ties (the length from which nabla's sort
    switches from an insertion sort to a radix sort), an input that
    broadcasts against masked_select's mask, and bincount of an empty
    input with weights and of weights of other dtypes."""
    z = -0.0
    for name in ("float32", "float64", "float16", "bfloat16"):
        x = torch.tensor([[0.0, z, 1, z, 0.0, nan, -inf, nan, z]], dtype=DTYPES[name])
        for desc in (False, True):
            f = lambda t: torch.sort(t, dim=-1, descending=desc, stable=True)
            (v, i), em = run(f, x)
            case("sort", x, {"axis": -1, "descending": desc}, {"values": v, "indices": i}, em)
    x = torch.tensor([[[3, 1], [2, 1], [3, 0]], [[0, 5], [0, 5], [-1, 5]]], dtype=torch.int64)
    for desc in (False, True):
        (v, i) = torch.sort(x, dim=1, descending=desc, stable=True)
        case("sort", x, {"axis": 1, "descending": desc}, {"values": v, "indices": i})
    for name in ("float32", "float64", "int64", "int32", "uint8", "bool", "bfloat16"):
        dt = DTYPES[name]
        hi = 2 if dt == torch.bool else 9
        x = torch.randint(0, hi, (3, 70), generator=GEN).to(torch.float64)
        if dt.is_floating_point:
            x = (x - 4) / 2
            x[0, 5], x[1, 7], x[1, 8] = nan, nan, -inf
        x = x.to(dt)
        for desc in (False, True):
            f = lambda t: torch.sort(t, dim=-1, descending=desc, stable=True)
            (v, i), em = run(f, x)
            g, up = with_grad(x, f, 0)
            case("sort", x, {"axis": -1, "descending": desc}, {"values": v, "indices": i}, em, g, up)
        for k, axis in ((5, -1), (2, 0)):
            for largest in (True, False):
                f = lambda t: torch.topk(t, k, dim=axis, largest=largest, sorted=True)
                (v, i), em = run(f, x)
                g, up = with_grad(x, f, 0)
                case("topk", x, {"k": k, "axis": axis, "largest": largest}, {"values": v, "indices": i}, em, g, up)
    m = torch.tensor([[1, 0, 1, 1, 0, 0], [0, 1, 1, 0, 0, 1]], dtype=torch.bool)
    for name in ("float64", "int32", "bool"):
        dt = DTYPES[name]
        masked_select_case(torch.tensor([3, -1, 2, 9, -1, 0], dtype=torch.float64).to(dt), m)
        masked_select_case(torch.tensor([[1], [0]], dtype=torch.float64).to(dt), m)
    empty = torch.tensor([], dtype=torch.int64)
    x = torch.tensor([2, 0, 2], dtype=torch.int64)
    for wname in ("float32", "float64", "int32", "bool", "float16"):
        for inp in (empty, x):
            w = torch.tensor([1, 0, 1][:len(inp)], dtype=torch.float64).to(DTYPES[wname])
            for minlength in (0, 4):
                out = torch.bincount(inp, weights=w, minlength=minlength)
                CASES.append({"op": "bincount", "input": enc(inp), "args": {"minlength": minlength},
                              "weights": enc(w), "outputs": {"out": enc(out)}, "emulated": False})


def main():
    sorts()
    uniques()
    bincounts()
    scans()
    selects()
    matmuls()
    extras()
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "intops_reference.json"), "w") as f:
        json.dump({"torch": torch.__version__, "cases": CASES}, f, separators=(",", ":"))
        f.write("\n")
    print(len(CASES), "cases,", sum(c["emulated"] for c in CASES), "emulated")


if __name__ == "__main__":
    main()
