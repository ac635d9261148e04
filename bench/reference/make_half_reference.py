#!/usr/bin/python3
"""Write half-precision checkpoints made by PyTorch for package nn's tests.

Builds two small models with PyTorch 1.13, converts each to bfloat16 and to
float16 as a Hugging Face user would (model.to(torch.bfloat16)), and writes
its state_dict as a safetensors file. There is no safetensors package here
and torch.save is not that format, so the bytes are assembled by hand the
way the reference writer (safetensors.torch.save_file) lays them out: 8
bytes of little-endian header length, the compact JSON header with
"__metadata__" first, padded with spaces to a multiple of 8, and the raw
little-endian data, tensors sorted by descending dtype, then name.

    mlp:  Linear(6, 16), ReLU, Linear(16, 4)
    cnn:  Conv2d(2, 4, 3, padding=1), BatchNorm2d(4), ReLU, MaxPool2d(2),
          Flatten, Linear(36, 3); its BatchNorm has run three training
          batches, so its running statistics are not the defaults and
          num_batches_tracked is 3 (an I64 scalar, which .to(dtype) leaves
          alone, as in every PyTorch checkpoint)

Files written into nn/testdata/:

    half_{mlp,cnn}_{bf16,f16}.safetensors   the converted state_dicts
    half_{mlp,cnn}_f32.safetensors          the float32 state_dicts
    half_reference.json                     inputs and predictions

For each model, half_reference.json holds the fixed input and the float32
model's logits ("logits_f32"), and for each half dtype the logits of the
half model computed in float32 after rounding the weights
(model.to(dtype).float()(x): "logits_<dtype>") and the predicted classes.

Run from the repository root with Debian's torch (1.13):

    /usr/bin/python3 bench/reference/make_half_reference.py
"""

import copy
import json
import math
import os
import struct

import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "nn", "testdata")
GEN = torch.Generator().manual_seed(20261203)

# The reference writer's dtype order (its Dtype enum); files hold tensors by
# descending position, then name.
RANK = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16",
        "I32", "U32", "F32", "F64", "I64", "U64"]
NAMES = {torch.bool: "BOOL", torch.uint8: "U8", torch.int8: "I8", torch.int16: "I16",
         torch.float16: "F16", torch.bfloat16: "BF16", torch.int32: "I32",
         torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}
# Same-size integer views, to get at the raw bytes through numpy (which has
# no bfloat16).
VIEWS = {torch.float16: torch.int16, torch.bfloat16: torch.int16}


def raw_bytes(t):
    t = t.detach().contiguous()
    if t.dtype in VIEWS:
        t = t.view(VIEWS[t.dtype])
    data = t.numpy().tobytes()  # native order: little-endian on x86
    assert len(data) == t.numel() * t.element_size()
    return data


def safetensors_bytes(state, metadata):
    order = sorted(state, key=lambda k: (-RANK.index(NAMES[state[k].dtype]), k.encode()))
    header = {"__metadata__": metadata}
    body = b""
    for name in order:
        t = state[name]
        data = raw_bytes(t)
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [len(body), len(body) + len(data)]}
        body += data
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + body


def num(v):
    v = float(v)
    return v if math.isfinite(v) else str(v)


def enc(t):
    t = t.detach().to(torch.float64).contiguous()
    return {"shape": list(t.shape), "data": [num(v) for v in t.reshape(-1).tolist()]}


def randn(*shape, scale=1.0):
    return torch.randn(*shape, generator=GEN) * scale


def mlp():
    m = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4))
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(randn(*p.shape, scale=0.5))
    return m.eval(), randn(8, 6)


def cnn():
    m = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                      nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 3))
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(randn(*p.shape, scale=0.5))
        m[5].weight.mul_(2)  # so that the classes, not the bias, decide
        m[5].bias.mul_(0.1)
    m.train()
    with torch.no_grad():
        for _ in range(3):  # running statistics away from 0 and 1
            m(randn(5, 2, 6, 6, scale=2.0) + 0.5)
    assert int(m[1].num_batches_tracked) == 3
    return m.eval(), randn(10, 2, 6, 6)


def main():
    os.makedirs(OUT, exist_ok=True)
    ref = {}
    for name, build in [("mlp", mlp), ("cnn", cnn)]:
        model, x = build()
        model = model.float()
        x = x.float()
        with torch.no_grad():
            logits = model(x)
        case = {"input": enc(x), "logits_f32": enc(logits), "pred_f32": logits.argmax(1).tolist()}
        state = model.state_dict()
        files = {"f32": state}
        for tag, dtype in [("bf16", torch.bfloat16), ("f16", torch.float16)]:
            half = copy.deepcopy(model).to(dtype)
            hstate = half.state_dict()
            if name == "cnn":
                assert hstate["1.num_batches_tracked"].dtype == torch.int64
                assert hstate["1.running_mean"].dtype == dtype
            files[tag] = hstate
            with torch.no_grad():
                hl = half.float()(x)  # rounded weights, computed in float32
            case["logits_" + tag] = enc(hl)
            case["pred_" + tag] = hl.argmax(1).tolist()
        for tag, st in files.items():
            path = os.path.join(OUT, "half_%s_%s.safetensors" % (name, tag))
            with open(path, "wb") as f:
                f.write(safetensors_bytes(st, {"format": "pt"}))
        ref[name] = case
    with open(os.path.join(OUT, "half_reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
