#!/usr/bin/python3
"""Write PyTorch reference results for nabla's MaxPool2d and AvgPool2d.

Runs torch.nn.functional.max_pool2d and avg_pool2d (float64) on seeded
random inputs for a table of cases covering every option and their
combinations (stride, padding, dilation, ceil_mode, count_include_pad,
divisor_override; odd sizes, non-square kernels and strides, windows that
ceil_mode keeps or drops), with a random upstream gradient, and stores
inputs, outputs and input gradients as JSON in the root package's
testdata/:

    testdata/pool_reference.json

Run from the repository root with Debian's torch (1.13):

    /usr/bin/python3 bench/reference/make_pool_reference.py

Each tensor is stored as {"shape": [...], "data": [...]} in row-major order,
as in nn/testdata. A stride of null means PyTorch's default (the kernel
size), which nabla spells as a zero stride.
"""

import json
import os

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
GEN = torch.Generator().manual_seed(20240917)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "testdata", "pool_reference.json")


def enc(t):
    t = t.detach().to(torch.float64).contiguous()
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


def case(name, op, shape, kernel, stride=None, padding=(0, 0), dilation=(1, 1), ceil_mode=False,
         count_include_pad=True, divisor_override=None, ties=False):
    if ties:
        # Few distinct values, so that windows hold tied maxima: the
        # gradient goes to the first one in row-major order.
        x = torch.randint(-2, 3, shape, generator=GEN).to(torch.float64)
    else:
        x = torch.randn(*shape, generator=GEN)
    x.requires_grad_(True)
    if op == "max":
        y = F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode=ceil_mode)
    else:
        assert dilation == (1, 1)
        y = F.avg_pool2d(x, kernel, stride, padding, ceil_mode=ceil_mode,
                         count_include_pad=count_include_pad, divisor_override=divisor_override)
    up = torch.randn(*y.shape, generator=GEN)
    y.backward(up)
    assert torch.isfinite(y).all(), name  # JSON has no infinities
    return {
        "name": name, "op": op, "kernel": list(kernel),
        "stride": list(stride) if stride is not None else None,
        "padding": list(padding), "dilation": list(dilation), "ceil_mode": ceil_mode,
        "count_include_pad": count_include_pad, "divisor_override": divisor_override or 0,
        "input": enc(x), "upstream": enc(up), "output": enc(y), "grad": enc(x.grad),
    }


def cases():
    c = []
    # Max pooling. (H, W) and the comments say which windows ceil_mode
    # keeps or drops.
    c += [
        case("max/k2-default-stride", "max", (2, 3, 6, 8), (2, 2)),                  # the fast 2x2 path
        case("max/k2-odd", "max", (2, 2, 7, 5), (2, 2), (2, 2)),                     # floor drops the last row and column
        case("max/k2-odd-ceil", "max", (2, 2, 7, 5), (2, 2), (2, 2), ceil_mode=True),  # ceil keeps them, half windows
        case("max/k2-even-ceil", "max", (1, 2, 6, 4), (2, 2), ceil_mode=True),       # ceil adds nothing
        case("max/k2-ties", "max", (2, 2, 5, 6), (2, 2), ceil_mode=True, ties=True),
        case("max/k3-s2-p1", "max", (2, 2, 7, 6), (3, 3), (2, 2), (1, 1)),
        case("max/k3-s2-p1-ceil", "max", (2, 2, 8, 6), (3, 3), (2, 2), (1, 1), ceil_mode=True),
        # 5 wide, k2 s2 p1: ceil gives 4 positions but the 4th would start
        # at 6 >= 5 + 1, in the right padding, and is dropped.
        case("max/k2-s2-p1-ceil-drop", "max", (1, 2, 5, 5), (2, 2), (2, 2), (1, 1), ceil_mode=True),
        case("max/k3-s2-ceil-keep", "max", (1, 2, 6, 7), (3, 3), (2, 2), ceil_mode=True),
        # a kernel larger than the input: ceil mode still gives one window
        case("max/k3-bigger-ceil", "max", (1, 2, 2, 2), (3, 3), (2, 2), ceil_mode=True),
        case("max/rect", "max", (2, 1, 4, 7), (2, 3), (1, 2), (0, 1)),
        case("max/rect-ceil", "max", (2, 1, 5, 8), (3, 2), (2, 3), (1, 1), ceil_mode=True),
        case("max/dil2", "max", (2, 2, 7, 8), (3, 3), (1, 1), dilation=(2, 2)),
        case("max/dil2-s2-p1", "max", (1, 2, 9, 8), (3, 3), (2, 2), (1, 1), (2, 2)),
        case("max/dil2-s2-p1-ceil", "max", (1, 2, 9, 8), (3, 3), (2, 2), (1, 1), (2, 2), ceil_mode=True),
        case("max/dil-rect", "max", (2, 1, 7, 9), (2, 3), (1, 2), (1, 1), (3, 2)),
        case("max/dil-rect-ceil", "max", (2, 1, 8, 10), (2, 3), (3, 2), (1, 0), (2, 3), ceil_mode=True),
        case("max/k2-dil2-default-stride", "max", (1, 2, 6, 7), (2, 2), dilation=(2, 2)),
        case("max/k1-s2", "max", (1, 2, 5, 6), (1, 1), (2, 2)),
        case("max/k1-s2-ceil", "max", (1, 2, 5, 6), (1, 1), (2, 2), ceil_mode=True),
    ]
    # Average pooling.
    for cip in (True, False):
        tag = "" if cip else "-nopad"
        c += [
            case("avg/k2" + tag, "avg", (2, 3, 4, 6), (2, 2), count_include_pad=cip),
            case("avg/k2-odd-ceil" + tag, "avg", (2, 2, 7, 5), (2, 2), (2, 2), ceil_mode=True, count_include_pad=cip),
            case("avg/k3-s2-p1" + tag, "avg", (1, 2, 7, 6), (3, 3), (2, 2), (1, 1), count_include_pad=cip),
            # the last windows run past the padded input: the divisor
            # counts only the cells inside it (with count_include_pad)
            case("avg/k3-s2-p1-ceil" + tag, "avg", (2, 2, 8, 6), (3, 3), (2, 2), (1, 1), ceil_mode=True, count_include_pad=cip),
            case("avg/k2-s2-p1-ceil-drop" + tag, "avg", (1, 2, 5, 5), (2, 2), (2, 2), (1, 1), ceil_mode=True, count_include_pad=cip),
            case("avg/k3-s2-ceil-keep" + tag, "avg", (1, 2, 6, 7), (3, 3), (2, 2), ceil_mode=True, count_include_pad=cip),
            case("avg/k3-bigger-ceil" + tag, "avg", (1, 2, 2, 2), (3, 3), (2, 2), ceil_mode=True, count_include_pad=cip),
            case("avg/rect" + tag, "avg", (2, 1, 4, 7), (2, 3), (1, 2), (0, 1), count_include_pad=cip),
            case("avg/rect-ceil" + tag, "avg", (2, 1, 5, 8), (3, 2), (2, 3), (1, 1), ceil_mode=True, count_include_pad=cip),
            case("avg/k4-s3-p2-ceil" + tag, "avg", (1, 2, 9, 10), (4, 4), (3, 3), (2, 2), ceil_mode=True, count_include_pad=cip),
        ]
    c += [
        case("avg/divisor", "avg", (2, 2, 6, 6), (2, 2), divisor_override=3),
        case("avg/divisor-p1", "avg", (1, 2, 7, 6), (3, 3), (2, 2), (1, 1), divisor_override=5),
        case("avg/divisor-p1-ceil", "avg", (1, 2, 8, 6), (3, 3), (2, 2), (1, 1), ceil_mode=True, divisor_override=2),
        case("avg/divisor-nopad-ceil", "avg", (1, 2, 8, 7), (3, 2), (2, 3), (1, 1), ceil_mode=True,
             count_include_pad=False, divisor_override=4),
        case("avg/divisor-negative", "avg", (1, 1, 5, 5), (2, 2), ceil_mode=True, divisor_override=-2),
    ]
    return c


def main():
    cs = cases()
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"torch": torch.__version__, "cases": cs}, f, separators=(",", ":"))
        f.write("\n")
    print("wrote %d cases to %s" % (len(cs), os.path.relpath(OUT)))


if __name__ == "__main__":
    main()
