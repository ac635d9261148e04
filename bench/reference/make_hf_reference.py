#!/usr/bin/env python3
"""Writes small Hugging Face model folders and PyTorch's outputs on them,
for nabla's hf package tests (hf/testdata/).

The transformers package is not available here, so GPT-2 and a LLaMA-style
decoder (LLaMA 3 and Qwen2 variants) are written in plain PyTorch 1.13
from the equations of Hugging Face's modelling files, with its parameter
names and layouts: GPT-2's Conv1D weights are (in, out), LLaMA's Linear
weights (out, in); rotary embeddings rotate halves; grouped-query attention
repeats the key/value heads. Each folder has config.json, model.safetensors
(written by hand: 8-byte little-endian header length, a JSON header, raw
little-endian data; one model is sharded in two files with
model.safetensors.index.json, one is stored in bfloat16) and the
tokenizer.json that bench/reference/make_bpe_reference.py trained on
Opticks. reference.json holds the prompts' ids, PyTorch's logits and greedy
continuations.

Usage: python3 bench/reference/make_hf_reference.py [--bench DIR]
  --bench DIR  also writes the W10 benchmark model (4 layers, hidden 256,
               4 heads, 2 key/value heads, vocabulary 1,000) into DIR.
"""

import json
import math
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
OUT = os.path.join(ROOT, "hf", "testdata")
TOK = os.path.join(ROOT, "tokenizer", "testdata")

sys.path.insert(0, HERE)
import make_bpe_reference as bpe  # noqa: E402

PROMPTS = [
    "Light is refracted",
    "The Rays of the Sun, when they fall upon a Prism,",
    "Colours 😀 and 水",
]
GREEDY = 20


# --- safetensors, by hand ---------------------------------------------------

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}


def tensor_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        # no numpy bfloat16: take the top 16 bits of the float32 bit pattern
        # of the already-rounded values (exact, since they are bfloat16)
        u = t.float().view(torch.int32).numpy().astype("<u4") >> 16
        return u.astype("<u2").tobytes()
    if t.dtype == torch.float16:
        return t.numpy().astype("<f2").tobytes()
    return t.numpy().astype("<f4").tobytes()


def write_safetensors(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        b = tensor_bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# --- GPT-2 ------------------------------------------------------------------


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gpt2_init(cfg, g):
    n, V, P = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"]
    inner = cfg["n_inner"] or 4 * n
    w = {}

    def normal(*shape):
        return torch.randn(*shape, generator=g) * 0.02

    w["transformer.wte.weight"] = normal(V, n)
    w["transformer.wpe.weight"] = normal(P, n)
    for i in range(cfg["n_layer"]):
        p = f"transformer.h.{i}."
        for ln in ["ln_1", "ln_2"]:
            w[p + ln + ".weight"] = 1 + 0.1 * torch.randn(n, generator=g)
            w[p + ln + ".bias"] = 0.1 * torch.randn(n, generator=g)
        w[p + "attn.c_attn.weight"] = normal(n, 3 * n)  # Conv1D: (in, out)
        w[p + "attn.c_attn.bias"] = normal(3 * n)
        w[p + "attn.c_proj.weight"] = normal(n, n)
        w[p + "attn.c_proj.bias"] = normal(n)
        w[p + "mlp.c_fc.weight"] = normal(n, inner)
        w[p + "mlp.c_fc.bias"] = normal(inner)
        w[p + "mlp.c_proj.weight"] = normal(inner, n)
        w[p + "mlp.c_proj.bias"] = normal(n)
    w["transformer.ln_f.weight"] = 1 + 0.1 * torch.randn(n, generator=g)
    w["transformer.ln_f.bias"] = 0.1 * torch.randn(n, generator=g)
    return w


def gpt2_forward(cfg, w, ids):
    """ids (B, T) -> logits (B, T, V), hidden (B, T, n) after ln_f."""
    n, H = cfg["n_embd"], cfg["n_head"]
    eps = cfg["layer_norm_epsilon"]
    B, T = ids.shape
    x = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][torch.arange(T)]
    mask = torch.full((T, T), float("-inf")).triu(1)
    for i in range(cfg["n_layer"]):
        p = f"transformer.h.{i}."
        h = torch.nn.functional.layer_norm(x, (n,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = h @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = qkv.split(n, dim=-1)
        q, k, v = [t.view(B, T, H, n // H).transpose(1, 2) for t in (q, k, v)]
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(n // H) + mask, dim=-1) @ v
        a = a.transpose(1, 2).reshape(B, T, n)
        x = x + a @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        h = torch.nn.functional.layer_norm(x, (n,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        h = gelu_new(h @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"])
        x = x + h @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    x = torch.nn.functional.layer_norm(x, (n,), w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], eps)
    return x @ w["transformer.wte.weight"].T, x


# --- LLaMA-style ------------------------------------------------------------


def llama_init(cfg, g):
    Hd, V, I = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or Hd // nh
    bias = cfg["model_type"] == "qwen2"
    w = {}

    def normal(*shape):
        return torch.randn(*shape, generator=g) * 0.05

    w["model.embed_tokens.weight"] = normal(V, Hd)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = 1 + 0.1 * torch.randn(Hd, generator=g)
        w[p + "post_attention_layernorm.weight"] = 1 + 0.1 * torch.randn(Hd, generator=g)
        w[p + "self_attn.q_proj.weight"] = normal(nh * hd, Hd)
        w[p + "self_attn.k_proj.weight"] = normal(nkv * hd, Hd)
        w[p + "self_attn.v_proj.weight"] = normal(nkv * hd, Hd)
        w[p + "self_attn.o_proj.weight"] = normal(Hd, nh * hd)
        if bias:
            w[p + "self_attn.q_proj.bias"] = normal(nh * hd)
            w[p + "self_attn.k_proj.bias"] = normal(nkv * hd)
            w[p + "self_attn.v_proj.bias"] = normal(nkv * hd)
        w[p + "mlp.gate_proj.weight"] = normal(I, Hd)
        w[p + "mlp.up_proj.weight"] = normal(I, Hd)
        w[p + "mlp.down_proj.weight"] = normal(Hd, I)
    w["model.norm.weight"] = 1 + 0.1 * torch.randn(Hd, generator=g)
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = normal(V, Hd)
    return w


def rope_inv_freq(cfg, hd):
    theta = cfg["rope_theta"]
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    sc = cfg.get("rope_scaling")
    if sc is None:
        return inv, 1.0
    kind = sc.get("rope_type", sc.get("type"))
    if kind == "linear":
        return inv, 1.0 / sc["factor"]
    if kind == "llama3":
        factor, low, high = sc["factor"], sc["low_freq_factor"], sc["high_freq_factor"]
        old = sc["original_max_position_embeddings"]
        low_wl, high_wl = old / low, old / high
        wl = 2 * math.pi / inv
        out = torch.where(wl > low_wl, inv / factor, inv)
        smooth = (old / wl - low) / (high - low)
        smoothed = (1 - smooth) * out / factor + smooth * out
        medium = (wl >= high_wl) & (wl <= low_wl)
        return torch.where(medium, smoothed, out), 1.0
    raise ValueError(kind)


def rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def llama_forward(cfg, w, ids):
    Hd = cfg["hidden_size"]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or Hd // nh
    eps = cfg["rms_norm_eps"]
    B, T = ids.shape
    inv, pos_scale = rope_inv_freq(cfg, hd)
    freqs = torch.outer(torch.arange(T, dtype=torch.float32) * pos_scale, inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    mask = torch.full((T, T), float("-inf")).triu(1)
    x = w["model.embed_tokens.weight"][ids]

    def lin(h, name):
        y = h @ w[name + ".weight"].T
        return y + w[name + ".bias"] if name + ".bias" in w else y

    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = lin(h, p + "self_attn.q_proj").view(B, T, nh, hd).transpose(1, 2)
        k = lin(h, p + "self_attn.k_proj").view(B, T, nkv, hd).transpose(1, 2)
        v = lin(h, p + "self_attn.v_proj").view(B, T, nkv, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(nh // nkv, dim=1)
        v = v.repeat_interleave(nh // nkv, dim=1)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + mask, dim=-1) @ v
        x = x + lin(a.transpose(1, 2).reshape(B, T, nh * hd), p + "self_attn.o_proj")
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        g = lin(h, p + "mlp.gate_proj")
        x = x + lin(torch.nn.functional.silu(g) * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else w["lm_head.weight"]
    return x @ head.T, x


# --- the folders --------------------------------------------------------------


def greedy(forward, cfg, w, ids, n):
    ids = list(ids)
    out = []
    for _ in range(n):
        logits, _ = forward(cfg, w, torch.tensor([ids]))
        t = int(logits[0, -1].argmax())
        out.append(t)
        ids.append(t)
    return out


def rounded(t):
    return [float(f"{v:.9g}") for v in t.reshape(-1).tolist()]


def write_model(name, kind, cfg, forward, init, tok_kind, dtype=torch.float32, shards=1, out=OUT, reference=True):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    g = torch.Generator().manual_seed(1234)
    w = init(cfg, g)
    if dtype != torch.float32:
        w = {k: v.to(dtype) for k, v in w.items()}
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(dict(cfg, torch_dtype={torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}[dtype]), f, indent=2)
    names = sorted(w)
    if shards == 1:
        write_safetensors(os.path.join(d, "model.safetensors"), w, {"format": "pt"})
    else:
        index = {"metadata": {"total_size": sum(t.numel() * t.element_size() for t in w.values())}, "weight_map": {}}
        per = (len(names) + shards - 1) // shards
        for s in range(shards):
            fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            part = {k: w[k] for k in names[s * per:(s + 1) * per]}
            write_safetensors(os.path.join(d, fname), part, {"format": "pt"})
            for k in part:
                index["weight_map"][k] = fname
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump(index, f, indent=2)
    with open(os.path.join(TOK, tok_kind + "-tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False)
    if not reference:
        return
    # computed in float32 from the stored (possibly rounded) weights
    w32 = {k: v.float() for k, v in w.items()}
    tokens = [None] * (max(tj["model"]["vocab"].values()) + 1)
    for t, i in tj["model"]["vocab"].items():
        tokens[i] = t
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in tj["model"]["merges"]]
    pattern = bpe.GPT2_PATTERN if tok_kind == "gpt2" else tj["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"]
    specials = [a["content"] for a in tj["added_tokens"]]
    tok = {"tokens": tokens, "merges": merges, "specials": specials, "pattern": pattern, "nfc": tok_kind == "qwen2"}
    ref = {"model_type": cfg["model_type"], "dtype": str(dtype).replace("torch.", ""), "prompts": []}
    with torch.no_grad():
        for i, text in enumerate(PROMPTS):
            ids = bpe.encode(text, tok)
            logits, hidden = forward(cfg, w32, torch.tensor([ids]))
            case = {"text": text, "ids": ids, "last_logits": rounded(logits[0, -1]), "greedy": greedy(forward, cfg, w32, ids, GREEDY)}
            if i == 0:
                case["logits"] = rounded(logits[0])
                case["mean_hidden"] = rounded(hidden[0].mean(0))
            ref["prompts"].append(case)
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f)
    print(name, sum(v.numel() for v in w.values()), "parameters")


GPT2 = {
    "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": 1000, "n_positions": 128,
    "n_embd": 64, "n_layer": 4, "n_head": 4, "n_inner": None, "activation_function": "gelu_new",
    "layer_norm_epsilon": 1e-5, "tie_word_embeddings": True, "bos_token_id": 999, "eos_token_id": 999,
}
LLAMA = {
    "model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 1000, "hidden_size": 64,
    "intermediate_size": 160, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
    "hidden_act": "silu", "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
    "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 64},
    "tie_word_embeddings": False, "attention_bias": False, "bos_token_id": 997, "eos_token_id": 998,
}
QWEN2 = {
    "model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "vocab_size": 1000, "hidden_size": 64,
    "intermediate_size": 128, "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 1,
    "hidden_act": "silu", "max_position_embeddings": 256, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
    "rope_scaling": None, "tie_word_embeddings": True, "bos_token_id": 997, "eos_token_id": 997,
}


def main():
    write_model("gpt2-tiny", "gpt2", GPT2, gpt2_forward, gpt2_init, "gpt2")
    write_model("llama-tiny", "llama", LLAMA, llama_forward, llama_init, "llama3", shards=2)
    write_model("llama-tiny-bf16", "llama", LLAMA, llama_forward, llama_init, "llama3", dtype=torch.bfloat16)
    write_model("qwen2-tiny", "qwen2", QWEN2, llama_forward, llama_init, "qwen2")
    if "--bench" in sys.argv:
        out = sys.argv[sys.argv.index("--bench") + 1]
        big = dict(LLAMA, hidden_size=256, intermediate_size=688, max_position_embeddings=1024,
                   rope_scaling=dict(LLAMA["rope_scaling"], original_max_position_embeddings=256))
        write_model("llama-bench", "llama", big, llama_forward, llama_init, "llama3", out=out, reference=False)


if __name__ == "__main__":
    main()
