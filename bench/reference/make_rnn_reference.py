#!/usr/bin/python3
"""Write PyTorch reference results for package nn's recurrent layers.

Builds RNN, LSTM, GRU and their cells in several configurations (batch
first or not, bidirectional, one to three layers, initial states given or
not, relu, no bias, unbatched input) with weights drawn from a seeded
generator in float64, runs forward and backward with fixed upstream
gradients on the output and on the final states, and stores the
state_dict, inputs, outputs, final states and the gradients with respect
to the input, the initial states and every parameter as JSON:

    nn/testdata/rnn.json

It also writes the state_dict of a 2-layer bidirectional LSTM as
safetensors, the bytes written by hand (an 8-byte little-endian header
length, the JSON header, then the raw float32 data), with the input and
PyTorch's outputs for it in JSON, so that the Go test loads the file with
nn.Load by name:

    nn/testdata/lstm_state_dict.safetensors
    nn/testdata/lstm_state_dict.json

and the same for a small LSTM language model (embedding, 2-layer LSTM,
linear head, as nn.LSTMLanguageModel), with the next-token loss and its
gradient with respect to every parameter:

    nn/testdata/lstm_lm.safetensors
    nn/testdata/lstm_lm.json

Run from anywhere with Debian's torch (1.13):

    /usr/bin/python3 bench/reference/make_rnn_reference.py

Each tensor is stored as {"shape": [...], "data": [...]} in row-major order.
"""

import json
import os
import struct

import torch
import torch.nn as nn

torch.set_default_dtype(torch.float64)
GEN = torch.Generator().manual_seed(20261203)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "nn", "testdata")


def randn(*shape, scale=1.0):
    return torch.randn(*shape, generator=GEN) * scale


def enc(t):
    t = t.detach().to(torch.float64).contiguous()
    return {"shape": list(t.shape), "data": t.reshape(-1).tolist()}


def module_case(name, kind, cfg, T, B, h0=False, c0=False):
    """One RNN/LSTM/GRU case. B=None means unbatched input (T, in)."""
    cls = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}[kind]
    kw = dict(num_layers=cfg.get("num_layers", 1), bias=cfg.get("bias", True),
              batch_first=cfg.get("batch_first", False), bidirectional=cfg.get("bidirectional", False))
    if kind == "RNN":
        kw["nonlinearity"] = cfg.get("nonlinearity", "tanh")
    m = cls(cfg["input_size"], cfg["hidden_size"], **kw)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(randn(*p.shape, scale=0.5))
    D = 2 if kw["bidirectional"] else 1
    L, H = kw["num_layers"], cfg["hidden_size"]
    if B is None:
        x = randn(T, cfg["input_size"])
        sshape = (L * D, H)
    elif kw["batch_first"]:
        x = randn(B, T, cfg["input_size"])
        sshape = (L * D, B, H)
    else:
        x = randn(T, B, cfg["input_size"])
        sshape = (L * D, B, H)
    x.requires_grad_(True)
    case = {"name": name, "kind": kind, "config": cfg, "input": None}
    inputs = [x]
    hx = None
    if kind == "LSTM":
        if h0:
            hh, cc = randn(*sshape).requires_grad_(True), randn(*sshape).requires_grad_(True)
            hx = (hh, cc)
            inputs += [hh, cc]
    elif h0:
        hx = randn(*sshape).requires_grad_(True)
        inputs.append(hx)
    if kind == "LSTM":
        y, (hn, cn) = m(x, hx)
        finals = {"h_n": hn, "c_n": cn}
    else:
        y, hn = m(x, hx)
        finals = {"h_n": hn}
    up = randn(*y.shape)
    ups = {k: randn(*v.shape) for k, v in finals.items()}
    loss = (y * up).sum() + sum((v * ups[k]).sum() for k, v in finals.items())
    loss.backward()
    case["input"] = enc(x)
    case["params"] = {n: enc(p) for n, p in m.state_dict().items()}
    case["output"] = enc(y)
    case["upstream"] = enc(up)
    case["finals"] = {k: enc(v) for k, v in finals.items()}
    case["final_upstreams"] = {k: enc(v) for k, v in ups.items()}
    grads = {n: enc(p.grad) for n, p in m.named_parameters()}
    grads["input"] = enc(x.grad)
    if kind == "LSTM" and h0:
        case["h0"], case["c0"] = enc(hx[0]), enc(hx[1])
        grads["h0"], grads["c0"] = enc(hx[0].grad), enc(hx[1].grad)
    elif h0:
        case["h0"] = enc(hx)
        grads["h0"] = enc(hx.grad)
    case["grads"] = grads
    return case


def cell_case(name, kind, cfg, B, state=False):
    cls = {"RNNCell": nn.RNNCell, "LSTMCell": nn.LSTMCell, "GRUCell": nn.GRUCell}[kind]
    kw = dict(bias=cfg.get("bias", True))
    if kind == "RNNCell":
        kw["nonlinearity"] = cfg.get("nonlinearity", "tanh")
    m = cls(cfg["input_size"], cfg["hidden_size"], **kw)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(randn(*p.shape, scale=0.5))
    H = cfg["hidden_size"]
    x = randn(cfg["input_size"]) if B is None else randn(B, cfg["input_size"])
    sshape = (H,) if B is None else (B, H)
    x.requires_grad_(True)
    case = {"name": name, "kind": kind, "config": cfg}
    hx = None
    if state:
        if kind == "LSTMCell":
            hx = (randn(*sshape).requires_grad_(True), randn(*sshape).requires_grad_(True))
        else:
            hx = randn(*sshape).requires_grad_(True)
    r = m(x, hx)
    if kind == "LSTMCell":
        finals = {"h": r[0], "c": r[1]}
    else:
        finals = {"h": r}
    ups = {k: randn(*v.shape) for k, v in finals.items()}
    sum((v * ups[k]).sum() for k, v in finals.items()).backward()
    case["input"] = enc(x)
    case["params"] = {n: enc(p) for n, p in m.state_dict().items()}
    case["finals"] = {k: enc(v) for k, v in finals.items()}
    case["final_upstreams"] = {k: enc(v) for k, v in ups.items()}
    grads = {n: enc(p.grad) for n, p in m.named_parameters()}
    grads["input"] = enc(x.grad)
    if state:
        if kind == "LSTMCell":
            case["h0"], case["c0"] = enc(hx[0]), enc(hx[1])
            grads["h0"], grads["c0"] = enc(hx[0].grad), enc(hx[1].grad)
        else:
            case["h0"] = enc(hx)
            grads["h0"] = enc(hx.grad)
    case["grads"] = grads
    return case


def cases():
    c = []
    c.append(module_case("rnn/tanh", "RNN", {"input_size": 3, "hidden_size": 4}, T=5, B=2))
    c.append(module_case("rnn/relu-2layer-batchfirst-h0", "RNN",
                         {"input_size": 3, "hidden_size": 4, "num_layers": 2, "batch_first": True, "nonlinearity": "relu"},
                         T=4, B=3, h0=True))
    c.append(module_case("rnn/bidirectional-nobias", "RNN",
                         {"input_size": 2, "hidden_size": 3, "bidirectional": True, "bias": False}, T=4, B=2))
    c.append(module_case("lstm/1layer-h0", "LSTM", {"input_size": 3, "hidden_size": 4}, T=5, B=2, h0=True))
    c.append(module_case("lstm/2layer-bidir-batchfirst-h0", "LSTM",
                         {"input_size": 3, "hidden_size": 4, "num_layers": 2, "batch_first": True, "bidirectional": True},
                         T=4, B=3, h0=True))
    c.append(module_case("lstm/3layer", "LSTM", {"input_size": 2, "hidden_size": 3, "num_layers": 3}, T=6, B=2))
    c.append(module_case("lstm/bidir-unbatched", "LSTM", {"input_size": 3, "hidden_size": 2, "bidirectional": True},
                         T=4, B=None, h0=True))
    c.append(module_case("lstm/nobias-batchfirst", "LSTM", {"input_size": 3, "hidden_size": 3, "bias": False, "batch_first": True},
                         T=3, B=2))
    c.append(module_case("gru/1layer", "GRU", {"input_size": 3, "hidden_size": 4}, T=5, B=2))
    c.append(module_case("gru/2layer-bidir-batchfirst-h0", "GRU",
                         {"input_size": 3, "hidden_size": 4, "num_layers": 2, "batch_first": True, "bidirectional": True},
                         T=4, B=3, h0=True))
    c.append(module_case("gru/3layer-h0", "GRU", {"input_size": 2, "hidden_size": 3, "num_layers": 3}, T=4, B=2, h0=True))
    c.append(module_case("gru/nobias-unbatched", "GRU", {"input_size": 2, "hidden_size": 3, "bias": False}, T=3, B=None))
    c.append(cell_case("rnncell/tanh-h0", "RNNCell", {"input_size": 3, "hidden_size": 4}, B=2, state=True))
    c.append(cell_case("rnncell/relu-nobias", "RNNCell", {"input_size": 3, "hidden_size": 4, "nonlinearity": "relu", "bias": False}, B=3))
    c.append(cell_case("lstmcell/h0", "LSTMCell", {"input_size": 3, "hidden_size": 4}, B=2, state=True))
    c.append(cell_case("lstmcell/zero-unbatched", "LSTMCell", {"input_size": 3, "hidden_size": 2}, B=None))
    c.append(cell_case("grucell/h0", "GRUCell", {"input_size": 3, "hidden_size": 4}, B=2, state=True))
    c.append(cell_case("grucell/nobias-unbatched", "GRUCell", {"input_size": 2, "hidden_size": 3, "bias": False}, B=None, state=True))
    return c


def write_safetensors(path, tensors):
    """Write float32 tensors as safetensors by hand: the header length as
    8 little-endian bytes, the JSON header, then the raw data."""
    header, blobs, at = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    header["__metadata__"] = {"format": "pt", "source": "make_rnn_reference.py"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)  # align the data to 8 bytes, as safetensors does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def lstm_state_dict():
    torch.manual_seed(7)
    m = nn.LSTM(5, 6, num_layers=2, bidirectional=True, batch_first=True).to(torch.float32)
    x = torch.randn(2, 7, 5, dtype=torch.float32)
    with torch.no_grad():
        y, (hn, cn) = m(x)
    write_safetensors(os.path.join(OUT, "lstm_state_dict.safetensors"), m.state_dict())
    ref = {"config": {"input_size": 5, "hidden_size": 6, "num_layers": 2, "bidirectional": True, "batch_first": True},
           "input": enc(x), "output": enc(y), "h_n": enc(hn), "c_n": enc(cn)}
    with open(os.path.join(OUT, "lstm_state_dict.json"), "w") as f:
        json.dump(ref, f)


class LSTMLanguageModel(nn.Module):
    def __init__(self, vocab, embed, hidden, layers):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x):
        y, _ = self.lstm(self.embedding(x))
        return self.head(y)


def lstm_lm():
    torch.manual_seed(11)
    m = LSTMLanguageModel(11, 5, 6, 2).to(torch.float32)
    x = torch.randint(0, 11, (3, 7))
    y = torch.randint(0, 11, (3, 7))
    logits = m(x)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 11), y.reshape(-1))
    loss.backward()
    write_safetensors(os.path.join(OUT, "lstm_lm.safetensors"), m.state_dict())
    ref = {"config": {"vocab": 11, "embed": 5, "hidden": 6, "layers": 2},
           "input": enc(x.double()), "target": enc(y.double()), "logits": enc(logits), "loss": loss.item(),
           "grads": {n: enc(p.grad) for n, p in m.named_parameters()}}
    with open(os.path.join(OUT, "lstm_lm.json"), "w") as f:
        json.dump(ref, f)


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "rnn.json"), "w") as f:
        json.dump(cases(), f)
    lstm_state_dict()
    lstm_lm()


if __name__ == "__main__":
    main()
