#!/usr/bin/env python3
"""What fraction of the machine's peak each workload reaches.

Reads the raw JSON lines of a compare.py run (--raw FILE) and prints, for
nabla and PyTorch, each workload's achieved rate next to the machine's
peak: FLOP/s against 2 FMA units x 16 float32 lanes x 2 FLOP per cycle per
core (64 FLOP/cycle, so GHz x 64 x threads) for work bound by arithmetic,
and bytes/s against the measured bandwidth for element-wise work. The peaks
come from the kernel package's benchmarks:

    go test -run XXX -bench 'Clock|MemoryBandwidth' -count 3 -cpu 1 ./internal/kernel

(--ghz from BenchmarkClock, --bw from MemoryBandwidth/copy, --bw-cache from
MemoryBandwidth/copy-16MiB, all in GB/s). The FLOP counts are the
workloads' own (bench/README.md): matrix products only, 2 FLOP per
multiply-add, training = forward + both gradients of every product except
the first layer's input gradient; element-wise ops, softmax and the
optimizer are not counted, so a fraction below the GEMM's is the cost of
everything else.

Usage: peak_fraction.py --raw run.jsonl --ghz 2.9 --bw 11.6 --bw-cache 25
"""

import argparse
import json
import statistics
import sys
from collections import defaultdict

MIB4 = 256 * 4096 * 4  # one OPS tensor, bytes

# Opticks at character level: 91 distinct characters (W6-W8's vocabulary).
OPTICKS_VOCAB = 91


def mlp_train_flop(layers):
    """FLOP of one training sample through fully connected layers."""
    macs = [i * o for i, o in layers]
    return 2 * sum(macs) * 3 - 2 * macs[0]


W3_LAYERS = [(784, 256), (256, 128), (128, 10)]
# LeNet-5: (multiply-adds of each layer, one sample)
W4_MACS = [6 * 25 * 28 * 28, 16 * 150 * 10 * 10, 400 * 120, 120 * 84, 84 * 10]


def w6_step_flop():
    C, L, T, B, V = 128, 4, 128, 32, OPTICKS_VOCAB
    params = L * 12 * C * C + C * V  # the products' weights
    tokens = B * T
    attention = 3 * L * B * 4 * T * T * C  # QK^T and AV, forward + backward
    return 6 * params * tokens + attention


def w7_step_flop():
    E, H, T, B, V = 128, 256, 64, 32, OPTICKS_VOCAB
    per_token = 2 * 4 * H * (E + H) + 2 * 4 * H * (H + H) + 2 * H * V
    return 3 * per_token * B * T


def w10_weight_bytes():
    """float32 bytes of the W10 decoder's products, read once per step."""
    C, I, layers, kv, V = 256, 688, 4, 128, 1000
    per_layer = C * C * 2 + C * kv * 2 + 3 * C * I
    return 4 * (layers * per_layer + C * V)


# Element-wise OPS cases, forward: bytes read and written per call.
OPS_FWD_BYTES = {
    "add": 3 * MIB4, "mul": 3 * MIB4, "add_bias": 2 * MIB4, "relu": 2 * MIB4,
    "tanh": 2 * MIB4, "sigmoid": 2 * MIB4, "gelu": 2 * MIB4, "gelu_tanh": 2 * MIB4,
    "exp": 2 * MIB4, "softmax": 2 * MIB4, "log_softmax": 2 * MIB4,
    "sum_rows": MIB4, "sum_cols": MIB4, "max_rows": MIB4, "mean": MIB4,
    "var_rows": MIB4, "transpose_contiguous": 2 * MIB4, "layer_norm": 2 * MIB4,
}


def rate(workload, case, metric, value):
    """(achieved, unit kind) for one figure, or None when not covered."""
    if workload == "W1" and metric == "gflops":
        return value * 1e9, "flop"
    if workload == "W3" and metric == "sec_per_epoch" and "quick" not in case:
        return 60000 * mlp_train_flop(W3_LAYERS) / value, "flop"
    if workload == "W4" and metric == "sec_per_epoch" and "quick" not in case:
        per = 2 * sum(W4_MACS) * 3 - 2 * W4_MACS[0]
        return 60000 * per / value, "flop"
    if workload == "W5" and metric == "us_per_call":
        return 2 * sum(i * o for i, o in W3_LAYERS) / (value * 1e-6), "flop"
    if workload == "W6" and metric == "sec_per_step":
        return w6_step_flop() / value, "flop"
    if workload == "W7" and metric == "sec_per_step":
        return w7_step_flop() / value, "flop"
    if workload == "W10" and metric == "tokens_per_sec" and case.endswith("batch1") and "bf16" not in case:
        return w10_weight_bytes() * value, "cache"  # weights stream from L3
    if workload == "OPS" and metric == "fwd_us" and case in OPS_FWD_BYTES:
        return OPS_FWD_BYTES[case] / (value * 1e-6), "cache"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw", required=True, help="compare.py --raw output (JSON lines)")
    ap.add_argument("--ghz", type=float, required=True, help="core clock, from BenchmarkClock")
    ap.add_argument("--bw", type=float, required=True, help="memory copy bandwidth in GB/s (one core)")
    ap.add_argument("--bw-cache", type=float, required=True, help="copy bandwidth on 16 MiB in GB/s (one core)")
    args = ap.parse_args()

    runs = defaultdict(list)
    with open(args.raw) as f:
        for line in f:
            r = json.loads(line)
            runs[(r["workload"], r["case"], r["metric"], r["threads"], r["impl"])].append(r["value"])
    print("| workload | case | threads | nabla | PyTorch | peak | nabla of peak | PyTorch of peak |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    keys = sorted({k[:4] for k in runs}, key=lambda k: (k[0], k[1], k[2], k[3]))
    for wl, case, metric, threads in keys:
        out = {}
        kind = None
        for impl in ("nabla", "pytorch"):
            vals = runs.get((wl, case, metric, threads, impl))
            if not vals:
                continue
            r = rate(wl, case, metric, statistics.median(vals))
            if r is None:
                continue
            out[impl], kind = r
        if not out:
            continue
        if kind == "flop":
            peak, unit, scale = args.ghz * 64 * threads * 1e9, "GFLOP/s", 1e9
        else:
            # bandwidth does not double with the second core here; quote
            # one core's copy bandwidth times the threads as the ceiling
            peak, unit, scale = args.bw_cache * threads * 1e9, "GB/s", 1e9
        cell = lambda impl: f"{out[impl] / scale:.1f} {unit}" if impl in out else "—"
        frac = lambda impl: f"{100 * out[impl] / peak:.0f} %" if impl in out else "—"
        label = case if metric in ("gflops", "sec_per_epoch", "sec_per_step", "us_per_call", "tokens_per_sec") else f"{case} {metric}"
        print(f"| {wl} | {label} | {threads} | {cell('nabla')} | {cell('pytorch')} | {peak / scale:.0f} {unit} | {frac('nabla')} | {frac('pytorch')} |")
    print()
    print(f"Peaks: {args.ghz} GHz x 64 float32 FLOP per cycle per core; copy bandwidth {args.bw} GB/s to memory, {args.bw_cache} GB/s within 16 MiB (one core).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
