#!/usr/bin/python3
"""Write PyTorch reference results for nabla's attention op and sequence
layers.

    testdata/attention_reference.json     the attention op
    nn/testdata/seq.json                  MultiheadAttention, the Transformer
                                          layers, RMSNorm, rotary embeddings,
                                          sinusoidal positions
    nn/testdata/encoder.safetensors       a TransformerEncoder's state_dict
    nn/testdata/encoder_io.json           its input and output
    models/gpt/testdata/gpt_init.safetensors, gpt_train.json
                                          a 2-layer GPT's initial weights,
                                          200 AdamW batches and losses

Run from the repository root with Debian's torch (1.13):

    /usr/bin/python3 bench/reference/make_seq_reference.py

Every case runs in float64 with dropout 0, with every parameter redrawn
from a seeded generator (so that biases and norm weights are not 0 and
1), a random upstream gradient, and records the parameters by their
state_dict names, the inputs, the output and the gradients of the inputs
and of every parameter. Masks are stored as additive float masks (0 and
-inf); PyTorch gets the boolean key_padding_mask where 1.13 needs one.
Torch 1.13 has no F.scaled_dot_product_attention, no RMSNorm and no
rotary embedding: their references are the formulas, written in torch.
Non-finite values are stored as the strings "inf", "-inf", "nan".
"""

import json
import math
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
GEN = torch.Generator().manual_seed(20251203)


def randn(*shape, scale=1.0):
    return torch.randn(*shape, generator=GEN) * scale


def num(v):
    v = float(v)
    return v if math.isfinite(v) else str(v)


def enc(t):
    t = t.detach().to(torch.float64).contiguous()
    return {"shape": list(t.shape), "data": [num(v) for v in t.reshape(-1).tolist()]}


def redraw(module):
    """Give every parameter fresh values: norm weights near 1, the rest
    small and random."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1 + randn(*p.shape, scale=0.2))
            else:
                p.copy_(randn(*p.shape, scale=0.4))


def padding_mask(n, s, pads):
    """A bool key_padding_mask (True = padding) with the last pads[b] keys of
    row b padded, and its additive float form."""
    m = torch.zeros(n, s, dtype=torch.bool)
    for b, k in enumerate(pads):
        if k:
            m[b, s - k:] = True
    f = torch.zeros(n, s).masked_fill(m, float("-inf"))
    return m, f


def run_case(name, kind, config, module, inputs, call, masks=None, weights_out=False):
    """Run call(module, **inputs) with gradients for the inputs and the
    parameters, and record everything."""
    module.train(True)
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    out = call(module, **leaves)
    weights = None
    if isinstance(out, tuple):
        out, weights = out
    up = randn(*out.shape)
    out.backward(up)
    case = {
        "name": name, "kind": kind, "config": config,
        "params": {n: enc(p) for n, p in module.named_parameters()},
        "inputs": {k: enc(v) for k, v in leaves.items()},
        "masks": {k: enc(v) for k, v in (masks or {}).items()},
        "upstream": enc(up), "output": enc(out),
        "grads": {n: enc(p.grad) for n, p in module.named_parameters()},
        "input_grads": {k: enc(v.grad) for k, v in leaves.items()},
    }
    if weights_out and weights is not None:
        case["weights"] = enc(weights)
    return case


def mha_cases():
    cases = []
    specs = [
        # name, E, H, N, L, S, extra config, masks
        ("mha/basic", 8, 2, 2, 3, 4, {}, {}, dict(need_weights=True)),
        ("mha/batch_first-masks", 8, 2, 2, 3, 5, {"batch_first": True}, {"attn": "2d", "kpm": [0, 2]}, dict(need_weights=True, average_attn_weights=False)),
        ("mha/kdim-vdim-bias_kv", 6, 3, 2, 4, 3, {"kdim": 5, "vdim": 7, "add_bias_kv": True}, {"kpm": [1, 0]}, dict(need_weights=False)),
        ("mha/nobias-3d-mask", 8, 4, 2, 3, 3, {"bias": False}, {"attn": "3d"}, dict(need_weights=False)),
        ("mha/causal", 8, 2, 3, 5, 5, {"batch_first": True}, {"attn": "causal", "kpm": [0, 1, 2]}, dict(need_weights=False)),
        ("mha/unbatched", 8, 2, 0, 4, 6, {}, {"attn": "2d"}, dict(need_weights=True)),
    ]
    for name, E, H, N, L, S, extra, mspec, call_kw in specs:
        kd, vd = extra.get("kdim", E), extra.get("vdim", E)
        m = nn.MultiheadAttention(E, H, dropout=0.0, bias=extra.get("bias", True), add_bias_kv=extra.get("add_bias_kv", False),
                                  kdim=kd, vdim=vd, batch_first=extra.get("batch_first", False))
        redraw(m)
        bf = extra.get("batch_first", False)

        def shape(n, l, d):
            if N == 0:
                return (l, d)
            return (n, l, d) if bf else (l, n, d)

        inputs = {"query": randn(*shape(N, L, E)), "key": randn(*shape(N, S, kd)), "value": randn(*shape(N, S, vd))}
        kw, masks = dict(call_kw), {}
        if mspec.get("attn") == "2d":
            a = randn(L, S, scale=0.5)
            a[0, 1] = float("-inf")
            kw["attn_mask"], masks["attn_mask"] = a, a
        elif mspec.get("attn") == "3d":
            a = randn(N * H, L, S, scale=0.5)
            kw["attn_mask"], masks["attn_mask"] = a, a
        elif mspec.get("attn") == "causal":
            a = nn.Transformer.generate_square_subsequent_mask(L)
            kw["attn_mask"], masks["attn_mask"] = a, a
        if "kpm" in mspec:
            b, f = padding_mask(N, S, mspec["kpm"])
            kw["key_padding_mask"], masks["key_padding_mask"] = b, f
        config = {"embed_dim": E, "num_heads": H, "kdim": kd, "vdim": vd, "bias": extra.get("bias", True),
                  "add_bias_kv": extra.get("add_bias_kv", False), "batch_first": bf,
                  "need_weights": call_kw.get("need_weights", False), "average_attn_weights": call_kw.get("average_attn_weights", True)}
        cases.append(run_case(name, "MultiheadAttention", config, m, inputs,
                              lambda mod, query, key, value, kw=kw: mod(query, key, value, **kw), masks, weights_out=True))
    return cases


def layer_cases():
    cases = []
    specs = [
        ("encoder_layer/relu-post", "enc", dict(activation="relu", norm_first=False, batch_first=False), 2, 4, None, []),
        ("encoder_layer/gelu-pre-bf-masks", "enc", dict(activation="gelu", norm_first=True, batch_first=True), 2, 5, "causal", [0, 2]),
        ("decoder_layer/relu-post", "dec", dict(activation="relu", norm_first=False, batch_first=False), 2, 4, None, []),
        ("decoder_layer/gelu-pre-bf-masks", "dec", dict(activation="gelu", norm_first=True, batch_first=True), 3, 4, "causal", [1, 0, 2]),
    ]
    E, H, FF, S = 8, 2, 12, 5
    for name, kind, cfg, N, L, mask, pads in specs:
        bf = cfg["batch_first"]

        def shape(l):
            return (N, l, E) if bf else (l, N, E)

        masks = {}
        if kind == "enc":
            m = nn.TransformerEncoderLayer(E, H, dim_feedforward=FF, dropout=0.0, layer_norm_eps=1e-5, **cfg)
            redraw(m)
            kw = {}
            if mask == "causal":
                kw["src_mask"] = masks["src_mask"] = nn.Transformer.generate_square_subsequent_mask(L)
            if pads:
                kw["src_key_padding_mask"], masks["src_key_padding_mask"] = padding_mask(N, L, pads)
            inputs = {"src": randn(*shape(L))}
            call = lambda mod, src, kw=kw: mod(src, **kw)
            kname = "TransformerEncoderLayer"
        else:
            m = nn.TransformerDecoderLayer(E, H, dim_feedforward=FF, dropout=0.0, layer_norm_eps=1e-5, **cfg)
            redraw(m)
            kw = {}
            if mask == "causal":
                kw["tgt_mask"] = masks["tgt_mask"] = nn.Transformer.generate_square_subsequent_mask(L)
            if pads:
                kw["memory_key_padding_mask"], masks["memory_key_padding_mask"] = padding_mask(N, S, pads)
            inputs = {"tgt": randn(*shape(L)), "memory": randn(*shape(S))}
            call = lambda mod, tgt, memory, kw=kw: mod(tgt, memory, **kw)
            kname = "TransformerDecoderLayer"
        config = dict(cfg, d_model=E, nhead=H, dim_feedforward=FF)
        cases.append(run_case(name, kname, config, m, inputs, call, masks))

    # Stacks: an encoder of three layers with a final norm, a decoder of two,
    # and a whole Transformer.
    N, L = 2, 4
    enc_layer = nn.TransformerEncoderLayer(E, H, dim_feedforward=FF, dropout=0.0, activation="gelu", norm_first=True)
    m = nn.TransformerEncoder(enc_layer, num_layers=3, norm=nn.LayerNorm(E), enable_nested_tensor=False)
    redraw(m)
    b, f = padding_mask(N, L, [0, 1])
    cases.append(run_case("encoder/3-layers-norm", "TransformerEncoder",
                          dict(d_model=E, nhead=H, dim_feedforward=FF, activation="gelu", norm_first=True, batch_first=False, num_layers=3, norm=True),
                          m, {"src": randn(L, N, E)}, lambda mod, src: mod(src, src_key_padding_mask=b), {"src_key_padding_mask": f}))
    dec_layer = nn.TransformerDecoderLayer(E, H, dim_feedforward=FF, dropout=0.0, batch_first=True)
    m = nn.TransformerDecoder(dec_layer, num_layers=2, norm=None)
    redraw(m)
    tm = nn.Transformer.generate_square_subsequent_mask(L)
    cases.append(run_case("decoder/2-layers", "TransformerDecoder",
                          dict(d_model=E, nhead=H, dim_feedforward=FF, activation="relu", norm_first=False, batch_first=True, num_layers=2, norm=False),
                          m, {"tgt": randn(N, L, E), "memory": randn(N, S, E)}, lambda mod, tgt, memory: mod(tgt, memory, tgt_mask=tm), {"tgt_mask": tm}))
    m = nn.Transformer(d_model=E, nhead=H, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=FF, dropout=0.0, batch_first=True)
    redraw(m)
    cases.append(run_case("transformer/2-1", "Transformer",
                          dict(d_model=E, nhead=H, dim_feedforward=FF, activation="relu", norm_first=False, batch_first=True, num_encoder_layers=2, num_decoder_layers=1),
                          m, {"src": randn(N, S, E), "tgt": randn(N, L, E)}, lambda mod, src, tgt: mod(src, tgt, tgt_mask=tm), {"tgt_mask": tm}))
    return cases


class RMSNorm(nn.Module):
    """torch.nn.RMSNorm of PyTorch 2.4, which 1.13 lacks."""

    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Rotary(nn.Module):
    """LLaMA's rotate-half rotary embedding, from its formula."""

    def __init__(self, d, theta, offset):
        super().__init__()
        self.d, self.theta, self.offset = d, theta, offset

    def forward(self, x):
        L = x.shape[-2]
        inv = self.theta ** (-torch.arange(0, self.d, 2, dtype=torch.float64) / self.d)
        ang = torch.outer(torch.arange(self.offset, self.offset + L, dtype=torch.float64), inv)
        emb = torch.cat([ang, ang], -1)
        x1, x2 = x[..., : self.d // 2], x[..., self.d // 2:]
        return x * emb.cos() + torch.cat([-x2, x1], -1) * emb.sin()


def misc_cases():
    cases = []
    for eps in [1e-6, 1e-2]:
        m = RMSNorm(6, eps)
        redraw(m)
        cases.append(run_case(f"rmsnorm/eps{eps}", "RMSNorm", {"dim": 6, "eps": eps}, m, {"x": randn(2, 3, 6)}, lambda mod, x: mod(x)))
    for theta, offset in [(10000.0, 0), (500.0, 3)]:
        m = Rotary(8, theta, offset)
        cases.append(run_case(f"rotary/theta{theta:g}-offset{offset}", "Rotary", {"dim": 8, "theta": theta, "offset": offset},
                              m, {"x": randn(2, 2, 5, 8)}, lambda mod, x: mod(x)))
    pe = torch.zeros(7, 6)
    pos = torch.arange(7, dtype=torch.float64).unsqueeze(1)
    div = torch.exp(torch.arange(0, 6, 2, dtype=torch.float64) * (-math.log(10000.0) / 6))
    pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
    cases.append({"name": "sinusoidal", "kind": "Sinusoidal", "config": {"n": 7, "d": 6}, "output": enc(pe)})
    return cases


def attention_cases():
    cases = []
    specs = [
        ("plain", (2, 3, 5, 4), (2, 3, 7, 4), (2, 3, 7, 6), None, False, None),
        ("scale", (2, 4, 4), (2, 6, 4), (2, 6, 3), None, False, 0.3),
        ("causal", (2, 2, 6, 4), (2, 2, 6, 4), (2, 2, 6, 4), None, True, None),
        ("causal-L<S", (2, 4, 4), (2, 7, 4), (2, 7, 5), None, True, None),
        ("mask-broadcast", (2, 2, 4, 3), (2, 2, 6, 3), (2, 2, 6, 3), (2, 1, 4, 6), False, None),
        ("mask-causal", (3, 5, 4), (3, 5, 4), (3, 5, 2), (5, 5), True, None),
        ("long", (1, 1, 140, 4), (1, 1, 260, 4), (1, 1, 260, 4), (260,), True, None),
    ]
    for name, qs, ks, vs, ms, causal, scale in specs:
        q, k, v = randn(*qs), randn(*ks), randn(*vs)
        mask = None
        if ms is not None:
            mask = randn(*ms, scale=0.5)
            mask.view(-1)[::5] = float("-inf")
            mask.view(-1)[0] = 0.0
        leaves = [t.clone().requires_grad_(True) for t in (q, k, v)]
        sc = scale if scale is not None else 1 / math.sqrt(qs[-1])
        s = leaves[0] @ leaves[1].transpose(-2, -1) * sc
        if mask is not None:
            s = s + mask
        if causal:
            L, S = qs[-2], ks[-2]
            s = s.masked_fill(torch.ones(L, S, dtype=torch.bool).triu(1), float("-inf"))
        out = torch.softmax(s, -1) @ leaves[2]
        up = randn(*out.shape)
        out.backward(up)
        case = {"name": name, "q": enc(q), "k": enc(k), "v": enc(v), "causal": causal, "scale": scale or 0,
                "upstream": enc(up), "output": enc(out),
                "dq": enc(leaves[0].grad), "dk": enc(leaves[1].grad), "dv": enc(leaves[2].grad)}
        if mask is not None:
            case["mask"] = enc(mask)
        cases.append(case)
    return cases


def write_safetensors(path, tensors):
    """The safetensors format by hand: an 8-byte little-endian header length,
    the JSON header, then the raw little-endian data."""
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def encoder_safetensors():
    torch.manual_seed(7)
    layer = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.0, activation="gelu", batch_first=True)
    m = nn.TransformerEncoder(layer, num_layers=2, norm=nn.LayerNorm(16), enable_nested_tensor=False).to(torch.float32)
    redraw(m)
    m.eval()
    write_safetensors(os.path.join(ROOT, "nn", "testdata", "encoder.safetensors"), m.state_dict())
    x = torch.randn(2, 6, 16, generator=GEN).to(torch.float32)
    with torch.no_grad():
        # The math path, not 1.13's fused inference path, so that the
        # reference is the plain definition.
        y = m.layers[1](m.layers[0](x))
        y = m.norm(y)
    with open(os.path.join(ROOT, "nn", "testdata", "encoder_io.json"), "w") as f:
        json.dump({"config": {"d_model": 16, "nhead": 4, "dim_feedforward": 32, "activation": "gelu", "batch_first": True, "num_layers": 2},
                   "keys": list(m.state_dict().keys()), "input": enc(x), "output": enc(y)}, f)


class GPTBlock(nn.Module):
    def __init__(self, E, H):
        super().__init__()
        self.ln_1 = nn.LayerNorm(E)
        self.attn = nn.MultiheadAttention(E, H, dropout=0.0, batch_first=True)
        self.ln_2 = nn.LayerNorm(E)
        self.mlp = nn.Sequential(nn.Linear(E, 4 * E), nn.GELU(), nn.Linear(4 * E, E))

    def forward(self, x, mask):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """The model of models/gpt, with its parameter names."""

    def __init__(self, V, C, L, H, E):
        super().__init__()
        self.wte = nn.Embedding(V, E)
        self.wpe = nn.Embedding(C, E)
        self.h = nn.ModuleList([GPTBlock(E, H) for _ in range(L)])
        self.ln_f = nn.LayerNorm(E)
        self.lm_head = nn.Linear(E, V, bias=False)

    def forward(self, idx):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T))
        mask = nn.Transformer.generate_square_subsequent_mask(T).to(x.dtype)
        for b in self.h:
            x = b(x, mask)
        return self.lm_head(self.ln_f(x))


def gpt_training():
    """A 2-layer GPT trained for 200 AdamW steps on character windows of
    Opticks (float32): the initial weights as safetensors, the batches
    and the losses."""
    import subprocess
    goroot = subprocess.run(["go", "env", "GOROOT"], capture_output=True, text=True, check=True).stdout.strip()
    text = open(os.path.join(goroot, "src", "testdata", "Isaac.Newton-Opticks.txt"), encoding="utf-8").read()[:20000]
    chars = sorted(set(text))
    ids = torch.tensor([chars.index(c) for c in text])
    V, C, L, H, E, B, T, steps = len(chars), 32, 2, 2, 32, 8, 32, 200
    torch.manual_seed(11)
    m = GPT(V, C, L, H, E).to(torch.float32)
    out = os.path.join(ROOT, "models", "gpt", "testdata")
    os.makedirs(out, exist_ok=True)
    write_safetensors(os.path.join(out, "gpt_init.safetensors"), m.state_dict())
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)  # weight_decay 0.01, eps 1e-8: torch's defaults
    g = torch.Generator().manual_seed(12)
    batches, losses = [], []
    m.train()
    for _ in range(steps):
        starts = torch.randint(0, len(ids) - T - 1, (B,), generator=g)
        x = torch.stack([ids[s:s + T] for s in starts])
        y = torch.stack([ids[s + 1:s + T + 1] for s in starts])
        loss = F.cross_entropy(m(x).reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        batches.append(starts.tolist())
        losses.append(loss.item())
    with open(os.path.join(out, "gpt_train.json"), "w") as f:
        json.dump({"config": {"vocab": V, "context": C, "layers": L, "heads": H, "embed": E, "batch": B, "seq": T,
                              "lr": 1e-3, "weight_decay": 0.01},
                   "ids": ids.tolist(), "starts": batches, "losses": losses}, f)


def main():
    with open(os.path.join(ROOT, "testdata", "attention_reference.json"), "w") as f:
        json.dump(attention_cases(), f)
    cases = mha_cases() + layer_cases() + misc_cases()
    with open(os.path.join(ROOT, "nn", "testdata", "seq.json"), "w") as f:
        json.dump(cases, f)
    encoder_safetensors()
    gpt_training()


if __name__ == "__main__":
    main()
