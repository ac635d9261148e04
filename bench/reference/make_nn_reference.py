#!/usr/bin/python3
"""Write PyTorch reference results for package nn's tests.

Builds each layer and loss with small fixed weights and inputs (drawn from
a seeded generator in float64), runs forward and backward with a fixed
upstream gradient, and stores inputs, weights, outputs, gradients and
(for batch norm) the updated buffers as JSON under nn/testdata/:

    nn/testdata/layers.json
    nn/testdata/losses.json

Run from the repository root with Debian's torch (1.13):

    /usr/bin/python3 bench/reference/make_nn_reference.py

Each tensor is stored as {"shape": [...], "data": [...]} in row-major order;
a value that is not finite (the NaN of a mean over no target) is stored as
the string "nan", "inf" or "-inf", since JSON has no such numbers.

The cases draw their values from one seeded generator, GEN, in order, and
losses() runs after layers(): a case added anywhere would shift the values
of every case drawn after it. New cases therefore draw from a generator of
their own, in a `with own_generator(seed):` block, which leaves GEN's
sequence, and so the existing cases, exactly as they were.
"""

import contextlib
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
GEN = torch.Generator().manual_seed(20240601)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "nn", "testdata")


@contextlib.contextmanager
def own_generator(seed):
    """Make randn and rand (and so the cases) draw from a new generator
    seeded with seed inside the block, and from GEN again after it."""
    global GEN
    saved, GEN = GEN, torch.Generator().manual_seed(seed)
    try:
        yield
    finally:
        GEN = saved


def randn(*shape, scale=1.0):
    return torch.randn(*shape, generator=GEN) * scale


def rand(*shape):
    return torch.rand(*shape, generator=GEN)


def num(v):
    v = float(v)
    return v if math.isfinite(v) else str(v)


def enc(t):
    t = t.detach().to(torch.float64).contiguous()
    return {"shape": list(t.shape), "data": [num(v) for v in t.reshape(-1).tolist()]}


def layer_case(name, kind, config, module, x, training=True, set_params=None, set_buffers=None,
               differentiable_input=True, params_after=False):
    """Run module on x with a random upstream gradient and record everything.

    With params_after, the parameters are recorded again after the forward
    pass, for layers that change them in place (Embedding with max_norm).
    """
    module = module.to(torch.float64)
    with torch.no_grad():
        for pname, value in (set_params or {}).items():
            getattr(module, pname).copy_(value)
        for bname, value in (set_buffers or {}).items():
            getattr(module, bname).copy_(value)
    module.train(training)
    params = {n: enc(p) for n, p in module.named_parameters()}
    buffers_before = {n: enc(b) for n, b in module.named_buffers()}
    x = x.clone()
    if differentiable_input:
        x.requires_grad_(True)
    y = module(x)
    up = randn(*y.shape)
    y.backward(up)
    grads = {n: enc(p.grad) for n, p in module.named_parameters()}
    if differentiable_input:
        grads["input"] = enc(x.grad)
    case = {
        "name": name, "kind": kind, "config": config, "training": training,
        "input": enc(x), "params": params, "buffers_before": buffers_before,
        "upstream": enc(up), "output": enc(y), "grads": grads,
        "buffers_after": {n: enc(b) for n, b in module.named_buffers()},
    }
    if params_after:
        case["params_after"] = {n: enc(p) for n, p in module.named_parameters()}
    return case


def layers():
    cases = []

    # Linear: leading dimensions, no bias.
    for name, (fin, fout), shape, bias in [
        ("linear/2d", (3, 4), (5, 3), True),
        ("linear/3d", (3, 2), (2, 4, 3), True),
        ("linear/1d", (4, 3), (4,), True),
        ("linear/nobias", (3, 4), (5, 3), False),
    ]:
        m = nn.Linear(fin, fout, bias=bias)
        cases.append(layer_case(name, "Linear", {"in": fin, "out": fout, "bias": bias}, m, randn(*shape),
                                set_params={"weight": randn(fout, fin)} | ({"bias": randn(fout)} if bias else {})))

    # Conv2d variants.
    for name, cfg, shape in [
        ("conv2d/basic", dict(inc=2, outc=3, kernel=(3, 3), stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, bias=True), (2, 2, 5, 6)),
        ("conv2d/stride2-pad1", dict(inc=2, outc=3, kernel=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(1, 1), groups=1, bias=True), (2, 2, 7, 6)),
        ("conv2d/dilation2", dict(inc=2, outc=2, kernel=(2, 3), stride=(1, 1), padding=(1, 2), dilation=(2, 2), groups=1, bias=True), (1, 2, 6, 7)),
        ("conv2d/groups2", dict(inc=4, outc=6, kernel=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=2, bias=True), (2, 4, 4, 5)),
        ("conv2d/depthwise", dict(inc=3, outc=3, kernel=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=3, bias=False), (1, 3, 5, 5)),
        ("conv2d/rect-stride", dict(inc=1, outc=2, kernel=(2, 3), stride=(2, 1), padding=(1, 0), dilation=(1, 1), groups=1, bias=True), (2, 1, 5, 6)),
        ("conv2d/nobias", dict(inc=2, outc=2, kernel=(1, 1), stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, bias=False), (2, 2, 3, 3)),
    ]:
        m = nn.Conv2d(cfg["inc"], cfg["outc"], cfg["kernel"], stride=cfg["stride"], padding=cfg["padding"],
                      dilation=cfg["dilation"], groups=cfg["groups"], bias=cfg["bias"])
        p = {"weight": randn(*m.weight.shape, scale=0.5)}
        if cfg["bias"]:
            p["bias"] = randn(cfg["outc"])
        config = {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()}
        cases.append(layer_case(name, "Conv2d", config, m, randn(*shape), set_params=p))

    # Pooling.
    for name, kind, cfg, shape in [
        ("maxpool2d/k2", "MaxPool2d", dict(kernel=(2, 2), stride=(2, 2), padding=(0, 0)), (2, 3, 4, 6)),
        ("maxpool2d/k3-s2-p1", "MaxPool2d", dict(kernel=(3, 3), stride=(2, 2), padding=(1, 1)), (1, 2, 7, 6)),
        ("maxpool2d/rect", "MaxPool2d", dict(kernel=(2, 3), stride=(1, 2), padding=(0, 1)), (2, 1, 4, 7)),
        ("avgpool2d/k2", "AvgPool2d", dict(kernel=(2, 2), stride=(2, 2), padding=(0, 0)), (2, 3, 4, 6)),
        ("avgpool2d/k3-s2-p1", "AvgPool2d", dict(kernel=(3, 3), stride=(2, 2), padding=(1, 1)), (1, 2, 7, 6)),
        ("avgpool2d/rect", "AvgPool2d", dict(kernel=(2, 3), stride=(1, 2), padding=(0, 1)), (2, 1, 4, 7)),
    ]:
        cls = nn.MaxPool2d if kind == "MaxPool2d" else nn.AvgPool2d
        m = cls(cfg["kernel"], stride=cfg["stride"], padding=cfg["padding"])
        cases.append(layer_case(name, kind, {k: list(v) for k, v in cfg.items()}, m, randn(*shape)))
    for name, out, shape in [
        ("adaptiveavgpool2d/5x7-to-2x3", (2, 3), (2, 2, 5, 7)),
        ("adaptiveavgpool2d/6x6-to-3x3", (3, 3), (1, 2, 6, 6)),
        ("adaptiveavgpool2d/global", (1, 1), (2, 3, 4, 5)),
        ("adaptiveavgpool2d/3x5-to-4x2", (4, 2), (1, 1, 3, 5)),
    ]:
        cases.append(layer_case(name, "AdaptiveAvgPool2d", {"output": list(out)}, nn.AdaptiveAvgPool2d(out), randn(*shape)))

    # Batch norm: training (output and updated running statistics) and evaluation.
    for name, kind, c, shape, training in [
        ("batchnorm1d/train-2d", "BatchNorm1d", 3, (6, 3), True),
        ("batchnorm1d/train-3d", "BatchNorm1d", 3, (4, 3, 5), True),
        ("batchnorm1d/eval-2d", "BatchNorm1d", 3, (6, 3), False),
        ("batchnorm1d/eval-3d", "BatchNorm1d", 3, (4, 3, 5), False),
        ("batchnorm2d/train", "BatchNorm2d", 2, (3, 2, 4, 5), True),
        ("batchnorm2d/eval", "BatchNorm2d", 2, (3, 2, 4, 5), False),
    ]:
        m = (nn.BatchNorm1d if kind == "BatchNorm1d" else nn.BatchNorm2d)(c)
        cases.append(layer_case(name, kind, {"channels": c}, m, randn(*shape, scale=2.0) + 0.5, training=training,
                                set_params={"weight": randn(c), "bias": randn(c)},
                                set_buffers={"running_mean": randn(c), "running_var": rand(c) + 0.5,
                                             "num_batches_tracked": torch.tensor(3)}))

    # Layer norm.
    for name, shape_norm, shape, affine in [
        ("layernorm/last", (5,), (3, 5), True),
        ("layernorm/last2", (3, 4), (2, 3, 4), True),
        ("layernorm/noaffine", (4,), (2, 3, 4), False),
    ]:
        m = nn.LayerNorm(shape_norm, elementwise_affine=affine)
        p = {"weight": randn(*shape_norm), "bias": randn(*shape_norm)} if affine else {}
        cases.append(layer_case(name, "LayerNorm", {"shape": list(shape_norm), "affine": affine}, m,
                                randn(*shape, scale=2.0), set_params=p))

    cases.append(layer_case("dropout/eval", "Dropout", {"p": 0.5}, nn.Dropout(0.5), randn(3, 4), training=False))

    emb = nn.Embedding(7, 4)
    cases.append(layer_case("embedding/2d-idx", "Embedding", {"num": 7, "dim": 4}, emb,
                            torch.tensor([[0.0, 3.0, 6.0], [3.0, 3.0, 1.0]]).long(), differentiable_input=False,
                            set_params={"weight": randn(7, 4)}))
    # the index tensor must be stored as floats
    cases[-1]["input"] = enc(torch.tensor([[0.0, 3.0, 6.0], [3.0, 3.0, 1.0]]))

    cases.append(layer_case("flatten/default", "Flatten", {"start": 1, "end": -1}, nn.Flatten(), randn(2, 3, 2, 2)))
    cases.append(layer_case("flatten/0-1", "Flatten", {"start": 0, "end": 1}, nn.Flatten(0, 1), randn(2, 3, 4)))

    for name, kind, cfg, m, shape in [
        ("relu", "ReLU", {}, nn.ReLU(), (3, 4)),
        ("leakyrelu/default", "LeakyReLU", {"slope": 0.01}, nn.LeakyReLU(), (3, 4)),
        ("leakyrelu/0.2", "LeakyReLU", {"slope": 0.2}, nn.LeakyReLU(0.2), (3, 4)),
        ("gelu", "GELU", {"tanh": False}, nn.GELU(), (3, 4)),
        ("gelu/tanh", "GELU", {"tanh": True}, nn.GELU(approximate="tanh"), (3, 4)),
        ("sigmoid", "Sigmoid", {}, nn.Sigmoid(), (3, 4)),
        ("tanh", "Tanh", {}, nn.Tanh(), (3, 4)),
        ("softplus", "Softplus", {"beta": 1.0}, nn.Softplus(), (3, 4)),
        ("softplus/beta2", "Softplus", {"beta": 2.0}, nn.Softplus(beta=2.0), (3, 4)),
        ("softmax/1", "Softmax", {"axis": 1}, nn.Softmax(dim=1), (3, 4)),
        ("softmax/-1-3d", "Softmax", {"axis": -1}, nn.Softmax(dim=-1), (2, 3, 4)),
        ("logsoftmax/1", "LogSoftmax", {"axis": 1}, nn.LogSoftmax(dim=1), (3, 4)),
        ("logsoftmax/0-3d", "LogSoftmax", {"axis": 0}, nn.LogSoftmax(dim=0), (2, 3, 4)),
        ("identity", "Identity", {}, nn.Identity(), (3, 4)),
    ]:
        cases.append(layer_case("activation/" + name, kind, cfg, m, randn(*shape, scale=2.0)))

    with own_generator(20250101):
        # Batch norm without running statistics (batch statistics in evaluation
        # mode too) and with momentum=None (the cumulative average, factor
        # 1/num_batches_tracked after counting the batch).
        for name, kind, c, shape, training, track, momentum, affine, tracked in [
            ("batchnorm1d/nostats-train-2d", "BatchNorm1d", 3, (6, 3), True, False, 0.1, True, 0),
            ("batchnorm1d/nostats-eval-2d", "BatchNorm1d", 3, (6, 3), False, False, 0.1, True, 0),
            ("batchnorm1d/nostats-eval-3d", "BatchNorm1d", 3, (4, 3, 5), False, False, 0.1, True, 0),
            ("batchnorm1d/nostats-noaffine-eval", "BatchNorm1d", 3, (5, 3), False, False, 0.1, False, 0),
            ("batchnorm2d/nostats-train", "BatchNorm2d", 2, (3, 2, 4, 5), True, False, 0.1, True, 0),
            ("batchnorm2d/nostats-eval", "BatchNorm2d", 2, (3, 2, 4, 5), False, False, 0.1, True, 0),
            ("batchnorm1d/cumulative-train-2d", "BatchNorm1d", 3, (6, 3), True, True, None, True, 3),
            ("batchnorm1d/cumulative-train-3d", "BatchNorm1d", 3, (4, 3, 5), True, True, None, True, 3),
            ("batchnorm1d/cumulative-first-batch", "BatchNorm1d", 3, (6, 3), True, True, None, True, 0),
            ("batchnorm1d/cumulative-eval", "BatchNorm1d", 3, (6, 3), False, True, None, True, 3),
            ("batchnorm2d/cumulative-train", "BatchNorm2d", 2, (3, 2, 4, 5), True, True, None, True, 3),
            ("batchnorm2d/cumulative-noaffine-train", "BatchNorm2d", 2, (2, 2, 3, 3), True, True, None, False, 7),
        ]:
            m = (nn.BatchNorm1d if kind == "BatchNorm1d" else nn.BatchNorm2d)(
                c, momentum=momentum, affine=affine, track_running_stats=track)
            p = {"weight": randn(c), "bias": randn(c)} if affine else {}
            b = {"running_mean": randn(c), "running_var": rand(c) + 0.5,
                 "num_batches_tracked": torch.tensor(tracked)} if track else {}
            cfg = {"channels": c, "track_running_stats": track, "cumulative": momentum is None, "affine": affine}
            cases.append(layer_case(name, kind, cfg, m, randn(*shape, scale=2.0) + 0.5, training=training,
                                    set_params=p, set_buffers=b))

        # Embedding with padding_idx (the row keeps its values but gets no
        # gradient) and max_norm (rows looked up are rescaled in place first).
        for name, cfg, idx in [
            ("embedding/padding", {"num": 7, "dim": 4, "padding_idx": 3}, [[0, 3, 6], [3, 3, 1]]),
            ("embedding/padding-negative", {"num": 7, "dim": 4, "padding_idx": -2}, [[5, 0], [2, 5], [5, 6]]),
            ("embedding/padding-unused", {"num": 7, "dim": 4, "padding_idx": 0}, [4, 1, 4]),
            ("embedding/max-norm", {"num": 7, "dim": 4, "max_norm": 1.5}, [[0, 3, 6], [3, 3, 1]]),
            ("embedding/max-norm-p1", {"num": 7, "dim": 4, "max_norm": 3.1, "norm_type": 1.0}, [[2, 5, 2], [0, 4, 6]]),
            ("embedding/max-norm-p3", {"num": 7, "dim": 4, "max_norm": 1.2, "norm_type": 3.0}, [1, 2, 3, 4, 1]),
            ("embedding/padding-max-norm", {"num": 7, "dim": 4, "padding_idx": 2, "max_norm": 1.0}, [[2, 0, 5], [3, 2, 0]]),
        ]:
            m = nn.Embedding(cfg["num"], cfg["dim"], padding_idx=cfg.get("padding_idx"),
                             max_norm=cfg.get("max_norm"), norm_type=cfg.get("norm_type", 2.0))
            w = randn(cfg["num"], cfg["dim"])
            if "max_norm" in cfg:
                # Make the case telling: some rows looked up exceed max_norm and
                # some do not, and some rows not looked up exceed it too (they
                # must stay as they are).
                norms = w.norm(p=cfg.get("norm_type", 2.0), dim=1)
                used = set(torch.tensor(idx).reshape(-1).tolist())
                over = {i for i in range(cfg["num"]) if norms[i] > cfg["max_norm"]}
                assert over & used and used - over and over - used, (name, norms, used)
            cases.append(layer_case(name, "Embedding", cfg, m, torch.tensor(idx), differentiable_input=False,
                                    set_params={"weight": w}, params_after=True))
            cases[-1]["input"] = enc(torch.tensor(idx, dtype=torch.float64))
    return cases


def loss_case(name, kind, config, fn, x, target, extra=None):
    x = x.clone().requires_grad_(True)
    y = fn(x, target)
    up = randn(*y.shape) if y.dim() > 0 else torch.tensor(1.0)
    y.backward(up)
    case = {"name": name, "kind": kind, "config": config, "input": enc(x), "target": enc(target),
            "upstream": enc(up), "output": enc(y), "grads": {"input": enc(x.grad)}}
    for k, v in (extra or {}).items():
        case[k] = enc(v)
    return case


def losses():
    cases = []
    reds = ["mean", "sum", "none"]
    x, t = randn(4, 3), randn(4, 3)
    for r in reds:
        cases.append(loss_case("mse/" + r, "MSELoss", {"reduction": r}, lambda a, b: F.mse_loss(a, b, reduction=r), x, t))
        cases.append(loss_case("l1/" + r, "L1Loss", {"reduction": r}, lambda a, b: F.l1_loss(a, b, reduction=r), x, t))
        for d in (1.0, 0.5):
            cases.append(loss_case(f"huber/{d}/{r}", "HuberLoss", {"reduction": r, "delta": d},
                                   lambda a, b: F.huber_loss(a, b, reduction=r, delta=d), x, t * 2))

    logits = randn(5, 4, scale=2.0)
    labels = torch.tensor([0, 3, 1, 3, 2])
    w = rand(4) + 0.5
    probs = torch.softmax(randn(5, 4), dim=1)
    logits3 = randn(2, 4, 3, scale=2.0)
    labels3 = torch.tensor([[0, 3, 1], [2, 2, 0]])
    for r in reds:
        for sm in (0.0, 0.1):
            for weighted in (False, True):
                cfg = {"reduction": r, "label_smoothing": sm}
                extra = {}
                if weighted:
                    extra["weight"] = w
                tag = f"{'weighted' if weighted else 'plain'}/smooth{sm}/{r}"
                cases.append(loss_case("crossentropy/index/" + tag, "CrossEntropyLoss", cfg,
                                       lambda a, b: F.cross_entropy(a, b.long(), weight=w if weighted else None,
                                                                    reduction=r, label_smoothing=sm),
                                       logits, labels.double(), extra))
                cases.append(loss_case("crossentropy/prob/" + tag, "CrossEntropyLoss", cfg,
                                       lambda a, b: F.cross_entropy(a, b, weight=w if weighted else None,
                                                                    reduction=r, label_smoothing=sm),
                                       logits, probs, extra))
        cases.append(loss_case("crossentropy/kdim/weighted/smooth0.1/" + r, "CrossEntropyLoss",
                               {"reduction": r, "label_smoothing": 0.1},
                               lambda a, b: F.cross_entropy(a, b.long(), weight=w, reduction=r, label_smoothing=0.1),
                               logits3, labels3.double(), {"weight": w}))
        cases.append(loss_case("nll/plain/" + r, "NLLLoss", {"reduction": r},
                               lambda a, b: F.nll_loss(a, b.long(), reduction=r),
                               torch.log_softmax(logits, 1), labels.double()))
        cases.append(loss_case("nll/weighted/" + r, "NLLLoss", {"reduction": r},
                               lambda a, b: F.nll_loss(a, b.long(), weight=w, reduction=r),
                               torch.log_softmax(logits, 1), labels.double(), {"weight": w}))
        cases.append(loss_case("nll/kdim/" + r, "NLLLoss", {"reduction": r},
                               lambda a, b: F.nll_loss(a, b.long(), weight=w, reduction=r),
                               torch.log_softmax(logits3, 1), labels3.double(), {"weight": w}))
    cases.append(loss_case("crossentropy/vector", "CrossEntropyLoss", {"reduction": "mean", "label_smoothing": 0.0},
                           lambda a, b: F.cross_entropy(a, b.long()), randn(4), torch.tensor(2.0)))

    p = torch.sigmoid(randn(4, 3, scale=2.0))
    bt = (rand(4, 3) > 0.5).double()
    soft = rand(4, 3)
    bw = rand(4, 3) + 0.5
    pw = rand(3) * 3 + 0.2
    z = randn(4, 3, scale=3.0)
    z[0, 0], z[1, 1], z[2, 2] = 50.0, -50.0, 30.0
    for r in reds:
        cases.append(loss_case("bce/" + r, "BCELoss", {"reduction": r}, lambda a, b: F.binary_cross_entropy(a, b, reduction=r), p, bt))
        cases.append(loss_case("bce/soft-weighted/" + r, "BCELoss", {"reduction": r},
                               lambda a, b: F.binary_cross_entropy(a, b, weight=bw, reduction=r), p, soft, {"weight": bw}))
        cases.append(loss_case("bcewithlogits/" + r, "BCEWithLogitsLoss", {"reduction": r},
                               lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=r), z, bt))
        cases.append(loss_case("bcewithlogits/posweight/" + r, "BCEWithLogitsLoss", {"reduction": r},
                               lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=pw, reduction=r),
                               z, soft, {"pos_weight": pw}))
        cases.append(loss_case("bcewithlogits/weighted/" + r, "BCEWithLogitsLoss", {"reduction": r},
                               lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight=bw, pos_weight=pw, reduction=r),
                               z, bt, {"weight": bw, "pos_weight": pw}))
    # Clamped logs: probabilities of exactly 0 and 1 give -100, not -Inf.
    pc = torch.tensor([0.0, 1.0, 0.5, 1e-50])
    cases.append(loss_case("bce/clamped", "BCELoss", {"reduction": "sum"},
                           lambda a, b: F.binary_cross_entropy(a, b, reduction="sum"), pc, torch.tensor([1.0, 0.0, 1.0, 1.0])))
    cases[-1]["forward_only"] = True

    with own_generator(20250102):
        # ignore_index: the default -100, an index inside [0, C) and ones outside
        # it; ignored targets count for nothing, label smoothing included, and
        # Mean divides by the weights of the others (NaN when none is left).
        logits = randn(6, 4, scale=2.0)
        lab = torch.tensor([0, -100, 3, 1, -100, 3])
        w = rand(4) + 0.5
        logits3 = randn(2, 4, 3, scale=2.0)
        lab3 = torch.tensor([[0, -100, 1], [2, -100, 3]])
        none_left = torch.full((6,), -100)

        def ce(weight=None, smoothing=0.0, r="mean", ignore=-100):
            return lambda a, b: F.cross_entropy(a, b.long(), weight=weight, reduction=r, label_smoothing=smoothing,
                                                ignore_index=ignore)

        def nll(weight=None, r="mean", ignore=-100):
            return lambda a, b: F.nll_loss(a, b.long(), weight=weight, reduction=r, ignore_index=ignore)

        for r in reds:
            for sm in (0.0, 0.1):
                for weighted in (False, True):
                    tag = f"{'weighted' if weighted else 'plain'}/smooth{sm}/{r}"
                    cases.append(loss_case("crossentropy/ignore/" + tag, "CrossEntropyLoss",
                                           {"reduction": r, "label_smoothing": sm},
                                           ce(w if weighted else None, sm, r), logits, lab.double(),
                                           {"weight": w} if weighted else {}))
            cases.append(loss_case("crossentropy/ignore/kdim/weighted/smooth0.1/" + r, "CrossEntropyLoss",
                                   {"reduction": r, "label_smoothing": 0.1},
                                   ce(w, 0.1, r), logits3, lab3.double(), {"weight": w}))
            cases.append(loss_case("crossentropy/ignore-index1/weighted/smooth0.1/" + r, "CrossEntropyLoss",
                                   {"reduction": r, "label_smoothing": 0.1, "ignore_index": 1},
                                   ce(w, 0.1, r, 1), logits, torch.tensor([0.0, 1, 3, 1, 2, 1]), {"weight": w}))
            cases.append(loss_case("crossentropy/ignore-index7/" + r, "CrossEntropyLoss",
                                   {"reduction": r, "label_smoothing": 0.0, "ignore_index": 7},
                                   ce(None, 0.0, r, 7), logits, torch.tensor([7.0, 2, 3, 7, 0, 1])))
            cases.append(loss_case("nll/ignore/plain/" + r, "NLLLoss", {"reduction": r},
                                   nll(None, r), torch.log_softmax(logits, 1), lab.double()))
            cases.append(loss_case("nll/ignore/weighted/" + r, "NLLLoss", {"reduction": r},
                                   nll(w, r), torch.log_softmax(logits, 1), lab.double(), {"weight": w}))
            cases.append(loss_case("nll/ignore-index0/weighted/" + r, "NLLLoss", {"reduction": r, "ignore_index": 0},
                                   nll(w, r, 0), torch.log_softmax(logits, 1), torch.tensor([0.0, 2, 0, 1, 3, 0]),
                                   {"weight": w}))
            cases.append(loss_case("nll/ignore-index-5/kdim/" + r, "NLLLoss", {"reduction": r, "ignore_index": -5},
                                   nll(w, r, -5), torch.log_softmax(logits3, 1),
                                   torch.tensor([[-5.0, 3, 1], [2, 0, -5]]), {"weight": w}))
            # Every target ignored: mean is 0/0, NaN, with a zero gradient.
            for sm in (0.0, 0.1):
                for weighted in (False, True):
                    tag = f"{'weighted' if weighted else 'plain'}/smooth{sm}/{r}"
                    cases.append(loss_case("crossentropy/ignore-all/" + tag, "CrossEntropyLoss",
                                           {"reduction": r, "label_smoothing": sm},
                                           ce(w if weighted else None, sm, r), logits, none_left.double(),
                                           {"weight": w} if weighted else {}))
            cases.append(loss_case("nll/ignore-all/weighted/" + r, "NLLLoss", {"reduction": r},
                                   nll(w, r), torch.log_softmax(logits, 1), none_left.double(), {"weight": w}))
        cases.append(loss_case("crossentropy/vector/ignored", "CrossEntropyLoss", {"reduction": "mean", "label_smoothing": 0.0},
                               ce(), randn(4), torch.tensor(-100.0)))
        # Probability targets have no ignore index: a negative one is unused.
        cases.append(loss_case("crossentropy/prob/ignore-index-3", "CrossEntropyLoss",
                               {"reduction": "mean", "label_smoothing": 0.1, "ignore_index": -3},
                               lambda a, b: F.cross_entropy(a, b, label_smoothing=0.1, ignore_index=-3),
                               logits, torch.softmax(randn(6, 4), dim=1)))
    return cases


def main():
    os.makedirs(OUT, exist_ok=True)
    for fname, cases in (("layers.json", layers()), ("losses.json", losses())):
        path = os.path.join(OUT, fname)
        with open(path, "w") as f:
            json.dump({"torch": torch.__version__, "cases": cases}, f, separators=(",", ":"), allow_nan=False)
            f.write("\n")
        print(f"wrote {len(cases)} cases to {os.path.normpath(path)}", file=sys.stderr)


if __name__ == "__main__":
    main()
