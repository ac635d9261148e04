#!/usr/bin/python3
"""Writes optim/testdata/optim_reference.json: PyTorch's parameter
trajectories for nabla's optimizers, gradient clipping and learning-rate
schedules, which optim's tests compare against.

Run from the repository root with Debian's python3-torch (1.13):

    /usr/bin/python3 bench/reference/make_optim_reference.py

Everything runs in float64 so that the Go side can compare to 1e-5
relative with float64 parameters.
"""
import json
import os
import sys

import torch

torch.set_default_dtype(torch.float64)

STEPS = 6

# A small least-squares problem: loss = 0.5 * sum((X @ w + b - Y)^2).
# "unused" never receives a gradient, so every optimizer must skip it.
X = torch.tensor([[1.0, -2.0, 0.5],
                  [0.3, 0.8, -1.5],
                  [-0.7, 0.1, 2.0],
                  [1.2, 1.1, -0.4]])
Y = torch.tensor([[0.5, -1.0],
                  [2.0, 0.3],
                  [-1.5, 0.8],
                  [0.1, 1.7]])
W0 = torch.tensor([[0.2, -0.4], [0.6, 0.1], [-0.3, 0.5]])
B0 = torch.tensor([0.05, -0.15])
U0 = torch.tensor([1.0, 2.0, 3.0])


def loss_fn(w, b):
    return 0.5 * ((X @ w + b - Y) ** 2).sum()


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]


OPTIMIZERS = [
    ("sgd", "sgd", dict(lr=0.05)),
    ("sgd_momentum", "sgd", dict(lr=0.05, momentum=0.9)),
    ("sgd_dampening_wd", "sgd", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("sgd_nesterov", "sgd", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("adam", "adam", dict(lr=0.1)),
    ("adam_wd_amsgrad", "adam", dict(lr=0.1, weight_decay=0.1, amsgrad=True)),
    ("adam_betas_eps", "adam", dict(lr=0.05, betas=(0.8, 0.9), eps=1e-3)),
    ("adamw", "adamw", dict(lr=0.1, weight_decay=0.1)),
    ("adamw_amsgrad", "adamw", dict(lr=0.1, weight_decay=0.01, amsgrad=True, betas=(0.5, 0.99))),
    ("rmsprop", "rmsprop", dict(lr=0.01)),
    ("rmsprop_centered_momentum_wd", "rmsprop", dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.1)),
    ("rmsprop_alpha_momentum", "rmsprop", dict(lr=0.02, alpha=0.9, momentum=0.5, eps=1e-4)),
    ("adagrad", "adagrad", dict(lr=0.1)),
    ("adagrad_decay_init_wd", "adagrad", dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.5, weight_decay=0.1, eps=1e-6)),
]

MAKERS = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
}


def run_optimizer(kind, cfg):
    w = W0.clone().requires_grad_()
    b = B0.clone().requires_grad_()
    u = U0.clone().requires_grad_()
    opt = MAKERS[kind]([w, b, u], **cfg)
    traj = []
    for _ in range(STEPS):
        opt.zero_grad(set_to_none=True)
        loss_fn(w, b).backward()
        opt.step()
        traj.append({"w": flat(w), "b": flat(b), "unused": flat(u)})
    return traj


def clip_cases():
    out = []
    for name, norm_type, max_norm in [("l2", 2.0, 1.0), ("l1", 1.0, 2.0), ("inf", "inf", 0.5),
                                      ("l3", 3.0, 100.0)]:
        w = W0.clone().requires_grad_()
        b = B0.clone().requires_grad_()
        loss_fn(w, b).backward()
        nt = float(norm_type)
        total = torch.nn.utils.clip_grad_norm_([w, b], max_norm, norm_type=nt)
        out.append({"name": name, "kind": "norm", "norm_type": norm_type, "max": max_norm,
                    "total": float(total), "w_grad": flat(w.grad), "b_grad": flat(b.grad)})
    w = W0.clone().requires_grad_()
    b = B0.clone().requires_grad_()
    loss_fn(w, b).backward()
    torch.nn.utils.clip_grad_value_([w, b], 1.5)
    out.append({"name": "value", "kind": "value", "max": 1.5, "w_grad": flat(w.grad), "b_grad": flat(b.grad)})
    return out


SCHEDULES = [
    ("step", dict(kind="step", step_size=3, gamma=0.5), 12),
    ("exponential", dict(kind="exponential", gamma=0.9), 12),
    ("cosine", dict(kind="cosine", t_max=10, eta_min=0.001), 25),
    ("linear", dict(kind="linear", start_factor=0.1, end_factor=1.0, total_iters=4), 8),
    ("linear_decay", dict(kind="linear", start_factor=1.0, end_factor=0.0, total_iters=5), 8),
    ("warmup_cosine", dict(kind="warmup_cosine", warmup=3, start_factor=0.1, t_max=7, eta_min=0.0), 14),
]


def make_scheduler(opt, cfg):
    k = cfg["kind"]
    S = torch.optim.lr_scheduler
    if k == "step":
        return S.StepLR(opt, step_size=cfg["step_size"], gamma=cfg["gamma"])
    if k == "exponential":
        return S.ExponentialLR(opt, gamma=cfg["gamma"])
    if k == "cosine":
        return S.CosineAnnealingLR(opt, T_max=cfg["t_max"], eta_min=cfg["eta_min"])
    if k == "linear":
        return S.LinearLR(opt, start_factor=cfg["start_factor"], end_factor=cfg["end_factor"],
                          total_iters=cfg["total_iters"])
    if k == "warmup_cosine":
        warm = S.LinearLR(opt, start_factor=cfg["start_factor"], end_factor=1.0, total_iters=cfg["warmup"])
        cos = S.CosineAnnealingLR(opt, T_max=cfg["t_max"], eta_min=cfg["eta_min"])
        return S.SequentialLR(opt, [warm, cos], milestones=[cfg["warmup"]])
    raise ValueError(k)


def run_schedule(cfg, n):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    sched = make_scheduler(opt, cfg)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(n):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


def main():
    import warnings
    warnings.simplefilter("ignore")
    ref = {
        "torch_version": torch.__version__,
        "steps": STEPS,
        "problem": {"X": flat(X), "X_shape": list(X.shape), "Y": flat(Y), "Y_shape": list(Y.shape),
                    "w0": flat(W0), "w_shape": list(W0.shape), "b0": flat(B0), "unused0": flat(U0)},
        "optimizers": [{"name": n, "kind": k, "config": c, "trajectory": run_optimizer(k, c)}
                       for n, k, c in OPTIMIZERS],
        "clip": clip_cases(),
        "schedules": [{"name": n, "config": c, "base_lr": 0.1, "lr": run_schedule(c, s)}
                      for n, c, s in SCHEDULES],
    }
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.path.join(root, "optim", "testdata", "optim_reference.json")
    with open(path, "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")
    print("wrote", path, file=sys.stderr)


if __name__ == "__main__":
    main()
