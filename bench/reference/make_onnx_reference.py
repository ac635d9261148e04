#!/usr/bin/python3
"""Export models to ONNX with PyTorch 1.13 and write PyTorch's outputs, for
package onnx's tests.

    /usr/bin/python3 bench/reference/make_onnx_reference.py [--large] [OUT]

Without arguments it writes the small models into onnx/testdata/ (they are
committed): the W3 MLP (784-256-128-10), nabla's LeNet-5 (W4) at opsets 13
and 17, "ops" (opsets 13 and 17) and "ops2", small modules that exercise
the shape arithmetic of a dynamic batch (x.view(x.size(0), -1)), layer
norm, GELU, transposed convolution, padding, resizing and the other
operators that torch.onnx.export emits but the vision models do not,
"recurrent" (a 2-layer LSTM and a bidirectional GRU) and "encoder" (a
2-layer nn.TransformerEncoder). With --large it writes torchvision's resnet18
(opset 13) and mobilenet_v2 (opset 17) instead, about 60 MB that are not
committed: .ci/run writes them into a temporary folder and points the Go
tests at it with NABLA_ONNX_MODELS.

Every model has weights from a fixed seed (torchvision with weights=None),
batch-norm running statistics drawn at random so that they matter, a
dynamic batch axis, and is run in eval mode. For each model NAME the
folder gets NAME.onnx and NAME.json:

    {"inputs": {"input": {"shape": [...], "data": [...]}},
     "outputs": {"output": {"shape": [...], "data": [...]}}}

with float32 values in row-major order, PyTorch's outputs for those inputs.
"""

import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def enc(t):
    t = t.detach().to(torch.float32).contiguous()
    return {"shape": list(t.shape), "data": t.reshape(-1).tolist()}


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


class Ops(nn.Module):
    """Operators the vision models do not use, on a (N, 4, 8, 8) input."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 6, 3, padding=1, dilation=1, groups=2)
        self.dil = nn.Conv2d(6, 6, 3, padding=2, dilation=2, stride=2)
        self.up = nn.ConvTranspose2d(6, 4, 2, stride=2)
        self.ln = nn.LayerNorm(32)
        self.lin = nn.Linear(32, 32)
        self.bn = nn.BatchNorm2d(4)
        self.avg = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x):
        n = x.size(0)
        y = self.conv(x)                                   # grouped Conv
        y = F.relu6(self.dil(y))                           # dilated, strided Conv; Clip
        y = self.up(y)                                     # ConvTranspose (N, 4, 8, 8)
        y = self.bn(y) + x
        y = self.avg(y)                                    # AveragePool (N, 4, 4, 4)
        y = F.pad(y, (1, 0, 0, 1))                         # Pad (N, 4, 5, 5)
        y = y[:, :, 1:, :4]                                # Slice (N, 4, 4, 4)
        a, b = torch.split(y, [1, 3], dim=1)               # Split
        y = torch.cat([b, a.expand(-1, 1, 4, 4)], dim=1)   # Concat, Expand
        y = y.view(n, -1, 32)                              # Shape, Gather, Unsqueeze, Concat, Reshape (N, 2, 32)
        y = F.gelu(self.ln(y))                             # LayerNorm, Erf
        y = self.lin(y)                                    # MatMul + Add
        y = y.transpose(1, 2)                              # Transpose (N, 32, 2)
        z = torch.where(y > 0, y, y * 0.5)                 # Where, Greater
        z = z + torch.sigmoid(y) * torch.tanh(y)
        m = z.mean(dim=-1, keepdim=True)                   # ReduceMean
        s = (z - m).pow(2).sum(dim=-1, keepdim=True).sqrt()  # Pow, ReduceSum, Sqrt
        w = z.amax(dim=1, keepdim=True)                    # ReduceMax
        z = (z - m) / (s + 1) + w
        z = z.unsqueeze(1).squeeze(1)
        return torch.cat([F.softmax(z, dim=1), F.log_softmax(z, dim=2)], dim=2).flatten(1)


class Ops2(nn.Module):
    """More geometry, on a (N, 4, 9, 9) input: transposed convolution with
    groups, padding, output padding and dilation, reflect and replicate
    padding, a convolution without bias, ceil-mode and padded pooling, 1-d
    convolution and pooling, flip, gather and ReduceMin."""

    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=2)
        self.same = nn.Conv2d(6, 4, (3, 4), padding=(1, 2), bias=False)
        self.conv1d = nn.Conv1d(4, 3, 3, padding=1, stride=2)

    def forward(self, x):
        y = self.up(x)                                         # (N, 6, 21, 21)
        y = F.pad(y, (1, 2, 0, 1), mode="reflect")             # (N, 6, 22, 24)
        y = F.pad(y, (2, 0, 1, 1), mode="replicate")           # (N, 6, 24, 26)
        y = self.same(y)                                       # (N, 4, 24, 27)
        a = F.max_pool2d(y, 3, stride=2, padding=1, ceil_mode=True)
        b = F.avg_pool2d(y, 3, stride=2, padding=1, ceil_mode=False, count_include_pad=True)
        y = torch.cat([a[:, :, :12, :13], b], dim=1)           # (N, 8, 12, 13)
        y = torch.flip(y, dims=[3])
        y = y[:, [0, 2, 3, 1]]                                 # Gather on channels
        z = y.flatten(2)                                       # (N, 4, 156)
        z = F.max_pool1d(self.conv1d(z), 2)                    # (N, 3, 39)
        u = F.interpolate(y[:, :2, :5, :5], scale_factor=2, mode="nearest")            # Resize by scales
        v = F.interpolate(y[:, :2, :5, :5], size=(7, 3), mode="nearest")                # Resize by sizes
        return torch.cat([z.amin(dim=2), z.mean(dim=2), z.exp().log1p().sum(dim=2), u.flatten(1), v.flatten(1)], dim=1)


class Recurrent(nn.Module):
    """A 2-layer LSTM and a bidirectional GRU on a (N, 5, 8) batch-first
    sequence, as the ONNX LSTM and GRU operators."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16, num_layers=2, batch_first=True)
        self.gru = nn.GRU(16, 6, batch_first=True, bidirectional=True)

    def forward(self, x):
        y, (h, c) = self.lstm(x)
        z, g = self.gru(y)
        return torch.cat([z.flatten(1), g.transpose(0, 1).flatten(1), c.transpose(0, 1).flatten(1)], dim=1)


class Encoder(nn.Module):
    """A 2-layer TransformerEncoder (d_model 16, 4 heads, GELU, pre-norm
    in the second variant) on a (N, 6, 16) batch-first sequence."""

    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.1, activation="gelu", batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)

    def forward(self, x):
        return self.enc(x)


def randomize_bn(model, gen):
    """Draw batch-norm running statistics and affine weights at random, so
    that a wrong BatchNormalization shows."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.1)


def export(out, name, model, x, opset):
    gen = torch.Generator().manual_seed(7)
    randomize_bn(model, gen)
    model.eval()
    with torch.no_grad():
        y = model(x)
    path = os.path.join(out, name + ".onnx")
    torch.onnx.export(model, (x,), path, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                      opset_version=opset, do_constant_folding=True)
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump({"inputs": {"input": enc(x)}, "outputs": {"output": enc(y)}}, f)
    print("wrote", path, os.path.getsize(path), "bytes")


def main():
    args = sys.argv[1:]
    large = "--large" in args
    args = [a for a in args if a != "--large"]
    out = args[0] if args else os.path.join(HERE, "..", "..", "onnx", "testdata")
    os.makedirs(out, exist_ok=True)
    if large:
        import torchvision
        torch.manual_seed(0)
        export(out, "resnet18", torchvision.models.resnet18(weights=None), torch.randn(2, 3, 224, 224), 13)
        torch.manual_seed(0)
        export(out, "mobilenet_v2", torchvision.models.mobilenet_v2(weights=None), torch.randn(2, 3, 224, 224), 17)
        return
    torch.manual_seed(0)
    export(out, "mlp", mlp(), torch.rand(3, 1, 28, 28), 13)
    torch.manual_seed(0)
    export(out, "lenet", lenet(), torch.rand(3, 1, 28, 28), 13)
    torch.manual_seed(0)
    export(out, "lenet_op17", lenet(), torch.rand(3, 1, 28, 28), 17)
    for opset in (13, 17):
        torch.manual_seed(0)
        export(out, "ops_op%d" % opset, Ops(), torch.randn(3, 4, 8, 8), opset)
    torch.manual_seed(0)
    export(out, "ops2", Ops2(), torch.randn(2, 4, 9, 9), 13)
    torch.manual_seed(0)
    export(out, "recurrent", Recurrent(), torch.randn(3, 5, 8), 14)
    torch.manual_seed(0)
    export(out, "encoder", Encoder(), torch.randn(2, 6, 16), 14)


if __name__ == "__main__":
    main()
