#!/usr/bin/env python3
"""Checks, in plain PyTorch 1.13, the folders nabla's hf package writes:
SaveFolder's Hugging Face layout and SaveLoRA's PEFT layout.

TestExportForPyTorch (hf/train_test.go) fine-tunes LoRA adapters on the
tiny reference models and writes, for each, into $NABLA_HF_EXPORT/NAME/:
adapter/ (SaveLoRA), merged/ (MergeLoRA then SaveFolder) and nabla.json
(token ids, nabla's logits and loss on them). This script reads those
files by hand (no transformers or peft here) and checks that

  - merged/ is a Hugging Face folder: config.json as the original with
    torch_dtype float32, model.safetensors with "format": "pt" metadata and
    exactly the tensor names and shapes of the original (tied heads left
    out), tokenizer.json copied;
  - the reference forward of make_hf_reference.py on merged/ gives nabla's
    logits (within 1e-4 relative), and PyTorch's causal-LM loss
    (cross_entropy of logits[:, :-1] against ids[:, 1:]) gives nabla's loss;
  - the original weights with adapter/'s tensors applied by PEFT's
    equations (W + lora_alpha/r · B·A, transposed for GPT-2's fan_in_fan_out
    Conv1D) give the same logits: the adapter file has PEFT's names, shapes
    and config.

Usage:
  NABLA_HF_EXPORT=/tmp/hfx go test ./hf -run TestExportForPyTorch
  /usr/bin/python3 bench/reference/check_hf_saved.py /tmp/hfx
"""

import json
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_hf_reference as ref  # noqa: E402

ST = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", None)
    body = data[8 + n:]
    out = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        raw = bytearray(body[a:b])
        if e["dtype"] == "BF16":
            t = torch.frombuffer(raw, dtype=torch.int16).to(torch.int32) << 16
            t = t.view(torch.float32)
        else:
            t = torch.frombuffer(raw, dtype=ST[e["dtype"]]).float()
        out[name] = t.reshape(e["shape"])
    return out, meta


def read_folder(d):
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    idx = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(os.path.join(d, "model.safetensors")):
        return cfg, *read_safetensors(os.path.join(d, "model.safetensors"))
    with open(idx) as f:
        files = sorted(set(json.load(f)["weight_map"].values()))
    w = {}
    for name in files:
        part, meta = read_safetensors(os.path.join(d, name))
        w.update(part)
    return cfg, w, meta


def worst_rel(got, want):
    return float((got - want).abs().max() / want.abs().max())


def check(name, root, testdata):
    d = os.path.join(root, name)
    with open(os.path.join(d, "nabla.json")) as f:
        nab = json.load(f)
    ids = torch.tensor(nab["ids"])
    ocfg, ow, _ = read_folder(os.path.join(testdata, name))
    cfg, w, meta = read_folder(os.path.join(d, "merged"))
    assert meta == {"format": "pt"}, meta
    assert cfg == dict(ocfg, torch_dtype="float32"), (cfg, ocfg)
    used = {k for k in ow if not k.endswith(".attn.bias") and not k.endswith("rotary_emb.inv_freq")}
    assert set(w) == used, set(w) ^ used
    for k in w:
        assert w[k].shape == ow[k].shape, k
    with open(os.path.join(d, "merged", "tokenizer.json"), "rb") as a, open(os.path.join(testdata, name, "tokenizer.json"), "rb") as b:
        assert a.read() == b.read(), "tokenizer.json differs"

    forward = ref.gpt2_forward if cfg["model_type"] == "gpt2" else ref.llama_forward
    want = torch.tensor(nab["logits"]).reshape(ids.shape[0], ids.shape[1], -1)
    logits, _ = forward(cfg, w, ids)
    r1 = worst_rel(logits, want)
    V = logits.shape[-1]
    loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1)).item()

    with open(os.path.join(d, "adapter", "adapter_config.json")) as f:
        ac = json.load(f)
    assert ac["peft_type"] == "LORA" and ac["task_type"] == "CAUSAL_LM" and ac["bias"] == "none", ac
    ad, ameta = read_safetensors(os.path.join(d, "adapter", "adapter_model.safetensors"))
    assert ameta == {"format": "pt"}, ameta
    scale = ac["lora_alpha"] / ac["r"]
    pw = dict(ow)
    modules = sorted({k[len("base_model.model."):-len(".lora_A.weight")] for k in ad if k.endswith(".lora_A.weight")})
    assert len(ad) == 2 * len(modules), sorted(ad)
    for m in modules:
        assert m.split(".")[-1] in ac["target_modules"], (m, ac["target_modules"])
        A, B = ad[f"base_model.model.{m}.lora_A.weight"], ad[f"base_model.model.{m}.lora_B.weight"]
        assert A.shape[0] == ac["r"] and B.shape[1] == ac["r"], (A.shape, B.shape)
        delta = scale * (B @ A)
        pw[m + ".weight"] = ow[m + ".weight"] + (delta.T if ac["fan_in_fan_out"] else delta)
    plogits, _ = forward(ocfg, pw, ids)
    r2 = worst_rel(plogits, want)
    ok = r1 < 1e-4 and r2 < 1e-4 and abs(loss - nab["loss"]) < 1e-4 * max(1, abs(loss))
    print(f"{name}: merged folder vs nabla {r1:.2g} rel, base + PEFT adapter vs nabla {r2:.2g} rel, "
          f"loss PyTorch {loss:.6f} nabla {nab['loss']:.6f} ({len(modules)} adapted modules): {'ok' if ok else 'FAIL'}")
    return ok


def main():
    root = sys.argv[1]
    testdata = os.path.join(HERE, "..", "..", "hf", "testdata")
    names = sorted(n for n in os.listdir(root) if os.path.isdir(os.path.join(root, n)))
    assert names, "nothing exported in " + root
    ok = all([check(n, root, testdata) for n in names])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
