#!/usr/bin/python3
"""PyTorch side of nabla's side-by-side benchmarks.

Run with the Debian interpreter (torch comes from the python3-torch package):

    /usr/bin/python3 bench/torch_bench.py [--quick] [--threads 1,2] [--workloads W1,W2,W3,W4,W5]
    /usr/bin/python3 bench/torch_bench.py --workloads OPS   # per-op table, not in the default set
    /usr/bin/python3 bench/torch_bench.py --workloads W6,W7,W8 [--w6-val-steps 500]

Every figure is printed on stdout as one JSON line, exactly:

    {"workload": "W2", "case": "1elem", "impl": "pytorch", "metric": "fwd_bwd_us_per_op", "value": 7.2, "unit": "us", "threads": 1}

Everything else (BLAS detected, progress) goes to stderr.  The nabla side
(`nabla bench`) prints the same workload/case/metric names with
"impl": "nabla", so bench/compare.py can join the two.

Workloads (all float32, CPU; each workload is run once per thread count in
--threads, via torch.set_num_threads; interop threads are fixed to 1):

W1  GEMM  C = A.B with A of shape MxK and B of shape KxN.  The case is named
    "MxKxN": 256x256x256, 512x512x512, 1024x1024x1024, 2048x2048x2048 and
    128x784x256 (= (128x784).(784x256), the first layer of the W3 MLP).
    torch.mm(A, B, out=C) into a preallocated C.  Metric "gflops" =
    2*M*K*N / seconds / 1e9 (unit GFLOP/s): median over repetitions, each
    repetition timing enough back-to-back calls to last >= 0.2 s (0.05 s with
    --quick), after warm-up.

W2  Eager op overhead.  A chain of 10,000 elementwise ops, where ONE OP is one
    elementwise tensor op.  The chain is 5,000 iterations of
        y = (y * 0.999).tanh()
    i.e. alternately a multiplication by the scalar 0.999 and a tanh, starting
    from x filled with 0.5 (values stay in (0, 0.5], no under/overflow).
    Cases: "1elem" (x of shape [1]) and "64x64" (x of shape [64, 64]).
      fwd_us_per_op      x does not require grad, run under torch.no_grad();
                         wall time of the 10,000 ops / 10,000.
      fwd_bwd_us_per_op  x is a leaf with requires_grad=True; wall time of the
                         10,000 forward ops + y.sum().backward() / 10,000
                         (the one sum and the backward pass are inside the
                         time, divided by the same 10,000).
    Median over repetitions after one warm-up chain.  Unit "us".

W3  MLP on Fashion-MNIST: 784-256-128-10, ReLU, cross-entropy (mean over the
    batch), Adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8), batch 128, the
    60,000 training images reshuffled every epoch with a fixed seed
    (torch.Generator seeded 0); the last partial batch (60000 % 128 = 96) is
    kept, i.e. 469 steps per epoch.  Pixels are scaled to [0, 1], no other
    normalisation.  Data are read from /usr/share/datasets/fashion-mnist
    (Debian package dataset-fashion-mnist) with gzip + numpy and held in
    memory; loading is not timed.  Parameters use PyTorch's default
    initialisation with torch.manual_seed(0).
      sec_per_epoch   median over epochs of the wall time of one epoch
                      (batch gather, forward, loss, backward, Adam step)
      test_accuracy   fraction of the 10,000 test images classified correctly
                      after --epochs epochs (default 5); unit "fraction"
      peak_rss_mib    ru_maxrss of this process (resource.getrusage) after
                      the workload, MiB.  It is process-wide: it includes the
                      torch runtime and whatever ran before in the same
                      process, so run W3 alone (compare.py does) for a
                      per-workload figure.
    Case "fashion-mnist".  With --quick (as `nabla bench --quick`) the case is
    "fashion-mnist-quick": one epoch on the first 2,048 training images (16
    steps), test_accuracy on the first 2,048 test images: a smoke test, not
    an accuracy claim.

W4  LeNet-5 style CNN on Fashion-MNIST, input [N, 1, 28, 28]:
    conv 5x5 x6 pad 2, ReLU, max-pool 2, conv 5x5 x16 (no pad), ReLU,
    max-pool 2, flatten (16*5*5 = 400), linear 120, ReLU, linear 84, ReLU,
    linear 10.  Cross-entropy, Adam lr 1e-3, batch 64 (938 steps per epoch,
    last batch 32), same shuffling, data and metrics as W3; test_accuracy
    after --cnn-epochs epochs (default 1).  With --quick: case
    "fashion-mnist-quick", as for W3 (2,048 images, 32 steps, 1 epoch).
    (Note: PyTorch 1.13 runs float32 CPU conv through oneDNN / libdnnl and
    the linear layers through the BLAS.)

W5  Inference latency: the W3 MLP (random init, seed 0), batch 1 (input
    [1, 784]), forward only under torch.no_grad().  Metric "us_per_call":
    median over repetitions of (time of 2,000 calls) / 2,000.
    Case "mlp-batch1".

OPS Single ops, to find the kernels that lag (not in the default set: run
    only when named in --workloads).  Inputs, float32: x and y of shape
    (256, 4096) from N(0, 1) (torch.Generator seeded 3), bias of shape
    (4096,), and for cross_entropy int64 class targets in [0, 4096) of shape
    (256,).  Cases, each a function of x:
      add x+y; mul x*y; add_bias x+bias (broadcast); relu; tanh; sigmoid;
      gelu (exact, F.gelu's default); exp; softmax (dim 1); log_softmax
      (dim 1); sum_rows x.sum(1, keepdim=True); sum_cols x.sum(0,
      keepdim=True); max_rows x.amax(1, keepdim=True); mean (all);
      var_rows x.var(1, unbiased=False, keepdim=True); transpose_contiguous
      x.t().contiguous(); layer_norm F.layer_norm(x, (4096,)) (no weight or
      bias, eps 1e-5); cross_entropy F.cross_entropy(x, targets) (mean);
      gelu_tanh F.gelu(x, approximate="tanh").
    Cases with inputs x of their own, from N(0, 1) (see ops_shaped_cases):
      bmm torch.bmm(x, w), x (32, 128, 64), w (32, 64, 128); embedding
      F.embedding(ids, x), x the (8192, 256) table, 4096 ids; conv3x3
      F.conv2d(x, w, padding=1), x (4, 64, 56, 56), w (64, 64, 3, 3) with
      its gradient; batchnorm2d nn.BatchNorm2d(64) in training mode on x
      (4, 64, 56, 56); max_pool2d F.max_pool2d(x, 3, 2, 1) on the same
      shape; sdpa_causal causal attention written out (softmax of q·kᵀ/√32
      with a -inf upper triangle, times v), q = x (8, 4, 128, 32).
    Metrics, unit "us", per call:
      fwd_us      one forward call under torch.no_grad() (x does not
                  require grad there).
      fwd_bwd_us  x requires grad: forward, out.backward(ones) with a ones
                  upstream of the output's shape built before the timing,
                  then x.grad.zero_() (in place, not x.grad = None, so that
                  every backward adds into an existing buffer, as
                  optimizer.zero_grad() does by default in 1.13; nabla's
                  x.ZeroGrad() does the same).
    Timing as nabla's timeReps: one warm-up call, then repetitions that each
    run the call back to back until >= 0.1 s have passed (0.01 s with
    --quick), 7 repetitions (3 with --quick); the median seconds per call.

W6  GPT training on Isaac Newton's Opticks (`go env GOROOT`/src/testdata, or
    --text-file), character level (vocabulary: the distinct characters in
    code-point order; the last 10 % of the tokens are the validation split).
    The model of models/gpt: learned positions, 4 pre-norm blocks of causal
    nn.MultiheadAttention (4 heads, batch_first) and a GELU MLP 4x, final
    LayerNorm, untied head without bias, embedding 128, context 128, GPT-2
    initialisation.  Batch 32 random windows, AdamW(lr=3e-4,
    weight_decay=0.01), no dropout.  sec_per_step: median over 20 steps (4
    with --quick) after 2 warm-up steps (1), batch gather not timed;
    tokens_per_sec = 32*128 / sec_per_step.  Case "opticks-gpt".  With
    --w6-val-steps N: a fresh model trained N steps, then val_loss = mean
    cross-entropy over the disjoint validation windows (at most 64 batches),
    case "opticks-gpt-Nsteps".  That run is the same computation on both
    sides: initial weights (GPT-2's distributions, Box-Muller) and batch
    starts come from splitmix64 counters (w6_val_init, w6_val_loss), as in
    internal/workload/lm.go.

W7  LSTM language model on Opticks: Embedding(V, 128), LSTM(128, 256, 2
    layers, batch_first), Linear(256, V); context 64, batch 32, Adam lr
    1e-3: sec_per_step as W6.  Case "opticks-lstm".

W8  Greedy generation with the W6 architecture at context 512 (random GPT-2
    initialisation), batch 1, the first 16 tokens of Opticks as the prompt,
    256 new tokens (64 with --quick), with a hand-written KV cache over the
    same weights (nn.MultiheadAttention's in_proj/out_proj).  tokens_per_sec =
    new tokens / wall time of the whole generation (prompt step included),
    median of 3 runs.  Case "opticks-gpt-prompt16-new256".

W9  torchvision's resnet18 (weights=None, torch.manual_seed(0), batch-norm
    statistics and affine weights drawn as make_onnx_reference.py does, so
    the weights of the resnet18.onnx that nabla's side imports), eval mode,
    eager, under torch.no_grad(), on torch.rand inputs of 224x224 at batch
    1 and 16.  Metric "ms_per_batch": median over 5 repetitions (3 with
    --quick) of the time per call, each repetition calling back to back
    for >= 0.5 s (0.1 s), after one warm-up call.  Cases "resnet18-batch1"
    and "resnet18-batch16".

W10 Greedy generation with a LLaMA-style decoder (see w10 below).

BLAS check: at start the script looks at the shared libraries mapped into the
process (/proc/self/maps) after importing torch and running one matmul, and
at torch.__config__.show().  PyTorch's Debian build takes its BLAS through
the libblas.so.3 alternative.  If that resolves to the pthread build of
OpenBLAS (libopenblas0-pthread) and the OpenMP build is installed, the script
re-executes itself once with LD_LIBRARY_PATH pointing at the OpenMP build's
directory (no system change); if it still is not the OpenMP build, or if it
is the reference BLAS, it exits with status 2: torch's threads are OpenMP
threads, and with the pthread OpenBLAS torch.set_num_threads does not govern
the BLAS threads, so the comparison would be meaningless.  And if OpenBLAS
did not recognise the CPU (a virtual machine's CPUID may name no model) and
fell back to its generic Prescott kernels, the script re-executes itself with
OPENBLAS_CORETYPE=SkylakeX (AVX-512) or Haswell (AVX2), as a user who tuned
their OpenBLAS would have it. An OPENBLAS_CORETYPE inherited from the
environment is kept unless it names a kernel without AVX-512 on a CPU that
has it (a host whose environment set OPENBLAS_CORETYPE=Haswell held
PyTorch's GEMM at 97 GFLOP/s on a core where OpenBLAS's own choice,
Cooperlake, runs at 215-233): then the script re-executes itself without it
and says so in its log.
"""

import argparse
import ctypes
import gc
import gzip
import json
import math
import os
import platform
import resource
import statistics
import sys
import time

import numpy as np

DATA_DIR = "/usr/share/datasets/fashion-mnist"
LIBDIR = "/usr/lib/x86_64-linux-gnu"
OPENMP_DIR = os.path.join(LIBDIR, "openblas-openmp")
REEXEC_MARK = "NABLA_TORCH_BENCH_REEXEC"

INSTALL_HINT = (
    "Install the OpenMP build of OpenBLAS:\n"
    "    apt-get install libopenblas0-openmp\n"
    "and, if libopenblas0-pthread is installed too (its alternative has the "
    "higher priority), either run this script as is (it re-executes itself "
    "with LD_LIBRARY_PATH=%s) or select it system-wide:\n"
    "    update-alternatives --set libblas.so.3-x86_64-linux-gnu %s/libblas.so.3\n"
    "    update-alternatives --set liblapack.so.3-x86_64-linux-gnu %s/liblapack.so.3"
    % (OPENMP_DIR, OPENMP_DIR, OPENMP_DIR)
)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover
    log("cannot import torch (%s). Use /usr/bin/python3 and install the Debian "
        "packages: apt-get install python3-torch libopenblas0-openmp "
        "dataset-fashion-mnist" % e)
    sys.exit(2)


# ----------------------------------------------------------------------------
# BLAS detection


def mapped_libs():
    libs = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[5].startswith("/"):
                p = parts[5]
                if p not in libs:
                    libs.append(p)
    return libs


def classify_blas(libs):
    """Return (kind, detail). kind in openblas-openmp, openblas-pthread,
    openblas-serial, openblas-other, reference, blis, mkl, atlas, unknown."""
    blas = [p for p in libs if any(k in os.path.basename(p) for k in
                                   ("blas", "lapack", "mkl", "blis", "atlas"))]
    detail = ", ".join(blas) or "(no BLAS library mapped)"
    for p in blas:
        if "openblas-openmp" in p or "openblaso" in os.path.basename(p):
            return "openblas-openmp", detail
    for p in blas:
        if "openblas-pthread" in p or "openblasp" in os.path.basename(p):
            return "openblas-pthread", detail
    for p in blas:
        if "openblas-serial" in p:
            return "openblas-serial", detail
    for p in blas:
        if "openblas" in p:
            return "openblas-other", detail
    for p in blas:
        if "mkl" in p:
            return "mkl", detail
    for p in blas:
        if "blis" in p:
            return "blis", detail
    for p in blas:
        if "atlas" in p:
            return "atlas", detail
    for p in blas:
        if os.path.basename(p).startswith("libblas.so"):
            return "reference", detail
    return "unknown", detail


def openblas_info(libs):
    for p in libs:
        if "openblas" not in p:
            continue
        try:
            lib = ctypes.CDLL(p)
            core = lib.openblas_get_corename
            core.restype = ctypes.c_char_p
            cfg = lib.openblas_get_config
            cfg.restype = ctypes.c_char_p
            return core().decode(), cfg().decode()
        except (OSError, AttributeError):
            continue
    return None, None


CORETYPE_MARK = "NABLA_TORCH_BENCH_CORETYPE"


AVX512_KERNELS = ("skylakex", "cooperlake", "sapphirerapids")


def cpu_flags():
    """The flags of /proc/cpuinfo's first CPU (empty if it cannot be read)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def inherited_coretype_too_weak(core):
    """Whether OPENBLAS_CORETYPE came from the environment (not from this
    script) and holds OpenBLAS to kernels without AVX-512 on a CPU with it."""
    if not core or not os.environ.get("OPENBLAS_CORETYPE") or os.environ.get(CORETYPE_MARK):
        return False
    if core.lower() in AVX512_KERNELS:
        return False
    return {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= cpu_flags()


def openblas_coretype(core):
    """The OPENBLAS_CORETYPE to force when OpenBLAS picked a generic kernel
    (it did not recognise the CPU) on a CPU with AVX2 or AVX-512, else None."""
    if not core or os.environ.get("OPENBLAS_CORETYPE"):
        return None
    if core.lower() not in ("prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai",
                            "coppermine", "northwood", "banias", "yonah", "unknown"):
        return None
    flags = cpu_flags()
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        return "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Haswell"
    return None


def check_blas():
    # Make sure the BLAS is loaded and used once.
    a = torch.ones(8, 8)
    torch.mm(a, a)
    libs = mapped_libs()
    kind, detail = classify_blas(libs)
    cfg = torch.__config__.show()
    blas_info = [s.strip() for s in cfg.replace(",", "\n").splitlines()
                 if "BLAS_INFO" in s or "LAPACK_INFO" in s]
    log("torch %s, %s, Python %s" % (torch.__version__, platform.machine(),
                                      platform.python_version()))
    log("torch build: %s; MKLDNN(oneDNN) %s"
        % (", ".join(blas_info), "on" if torch.backends.mkldnn.is_available() else "off"))
    log("BLAS libraries mapped: %s" % detail)
    if kind == "openblas-pthread" and not os.environ.get(REEXEC_MARK) \
            and os.path.exists(os.path.join(OPENMP_DIR, "libblas.so.3")):
        log("torch picked the pthread OpenBLAS (the libblas.so.3 alternative); "
            "re-executing with LD_LIBRARY_PATH=%s to use the OpenMP build" % OPENMP_DIR)
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = OPENMP_DIR + (
            ":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
        env[REEXEC_MARK] = "1"
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    if kind in ("reference", "openblas-pthread", "unknown"):
        what = {"reference": "the reference BLAS (netlib libblas3)",
                "openblas-pthread": "the pthread build of OpenBLAS (libopenblas0-pthread)",
                "unknown": "no BLAS library that could be identified"}[kind]
        log("REFUSING: torch uses %s; a comparison against it is meaningless.\n%s"
            % (what, INSTALL_HINT))
        sys.exit(2)
    core, ocfg = openblas_info(libs)
    if inherited_coretype_too_weak(core):
        log("OPENBLAS_CORETYPE=%s from the environment holds OpenBLAS to its %r kernels "
            "on a CPU with AVX-512; re-executing without it, so that OpenBLAS picks its own"
            % (os.environ["OPENBLAS_CORETYPE"], core))
        env = dict(os.environ)
        del env["OPENBLAS_CORETYPE"]
        env[CORETYPE_MARK] = "1"
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    want = openblas_coretype(core)
    if want and not os.environ.get(CORETYPE_MARK):
        # In a virtual machine whose CPUID names no known model ("Intel(R)
        # Xeon(R) Processor"), OpenBLAS falls back to its Prescott (SSE3)
        # kernels: 18 GFLOP/s against 104 with its AVX-512 ones here.
        log("OpenBLAS chose its %r kernels for a CPU with %s; re-executing with "
            "OPENBLAS_CORETYPE=%s" % (core, "AVX-512" if want == "SkylakeX" else "AVX2", want))
        env = dict(os.environ)
        env["OPENBLAS_CORETYPE"] = want
        env[CORETYPE_MARK] = "1"
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    if core:
        log("BLAS: %s, kernel (openblas_get_corename) = %s; config: %s" % (kind, core, ocfg))
    else:
        log("BLAS: %s" % kind)
    envs = {k: v for k, v in os.environ.items()
            if k.startswith(("OPENBLAS", "OMP_", "GOTO", "MKL_", "LD_LIBRARY_PATH"))}
    log("environment: %s" % (envs or "(no OPENBLAS_*/OMP_* variables)"))
    log("oneDNN mapped: %s" % (any("dnnl" in p for p in libs)))
    log("CPUs: %d, load average: %s" % (NCPU, open("/proc/loadavg").read().strip()))
    return kind, core


# ----------------------------------------------------------------------------
# output


_PENDING = []


def emit(workload, case, metric, value, unit, threads):
    """Queue one figure; run_unit() prints the queue once the unit is kept."""
    if isinstance(value, float):
        value = float("%.4g" % value)
    _PENDING.append(json.dumps({"workload": workload, "case": case, "impl": "pytorch",
                                "metric": metric, "value": value, "unit": unit,
                                "threads": threads}))


# ----------------------------------------------------------------------------
# Other processes on the machine.  On a shared 2-core box a concurrent build or
# benchmark wrecks the figures (a descheduled OpenMP thread makes a 2-thread
# run 10-100x slower), so each (workload, threads) unit waits for the CPUs to
# be idle first, measures how much CPU other processes used while it ran, and
# is retried when that was more than --max-foreign cores.

CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1


def _cpu_sample():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)
    t = os.times()
    return time.perf_counter(), busy / CLK_TCK, t.user + t.system


def foreign_cores(a, b):
    """Average number of cores used by other processes between samples a, b."""
    wall = max(b[0] - a[0], 1e-6)
    return max(0.0, ((b[1] - a[1]) - (b[2] - a[2])) / wall)


def wait_idle(max_wait, threshold):
    t_end = time.perf_counter() + max_wait
    waited = False
    while True:
        a = _cpu_sample()
        time.sleep(1.0)
        f = foreign_cores(a, _cpu_sample())
        if f <= threshold:
            if waited:
                log("  machine idle again (others use %.2f cores)" % f)
            return f
        if time.perf_counter() > t_end:
            log("  warning: gave up waiting for an idle machine (others use %.2f cores)" % f)
            return f
        if not waited:
            log("  waiting for other processes to finish (they use %.2f cores) ..." % f)
            waited = True
        time.sleep(0.5)


def run_unit(fn, label, args):
    """Run fn() (which calls emit) until a run with little foreign CPU; print its figures."""
    best = None
    for attempt in range(args.retries + 1):
        if args.idle_wait > 0:
            wait_idle(args.idle_wait, args.max_foreign)
        del _PENDING[:]
        a = _cpu_sample()
        fn()
        b = _cpu_sample()
        # /proc/stat counts in clock ticks: allow 2 ticks per CPU of noise
        limit = args.max_foreign + 2.0 * NCPU / CLK_TCK / max(b[0] - a[0], 1e-3)
        f = foreign_cores(a, b)
        if best is None or f < best[0]:
            best = (f, list(_PENDING))
        if f <= limit:
            break
        log("  %s: other processes used %.2f cores during the run (> %.2f): %s"
            % (label, f, limit,
               "retrying" if attempt < args.retries else "keeping the least disturbed run"))
    if best[0] > limit:
        log("  WARNING: %s figures disturbed by other processes (%.2f cores)" % (label, best[0]))
    else:
        log("  %s: others used %.2f cores during the run" % (label, best[0]))
    for line in best[1]:
        print(line, flush=True)


def median(xs):
    return statistics.median(xs)


# ----------------------------------------------------------------------------
# W1 GEMM


W1_SHAPES = [(256, 256, 256), (512, 512, 512), (1024, 1024, 1024),
             (2048, 2048, 2048), (128, 784, 256)]


def w1(threads, quick, shapes):
    reps = 3 if quick else 9
    target = 0.05 if quick else 0.2
    g = torch.Generator().manual_seed(1)
    for (m, k, n) in shapes:
        a = torch.randn(m, k, generator=g)
        b = torch.randn(k, n, generator=g)
        c = torch.empty(m, n)
        for _ in range(3):
            torch.mm(a, b, out=c)
        t0 = time.perf_counter()
        torch.mm(a, b, out=c)
        one = max(time.perf_counter() - t0, 1e-7)
        iters = max(1, int(target / one))
        rates = []
        for _ in range(reps):
            t0 = time.perf_counter()
            for _ in range(iters):
                torch.mm(a, b, out=c)
            dt = time.perf_counter() - t0
            rates.append(2.0 * m * k * n * iters / dt / 1e9)
        emit("W1", "%dx%dx%d" % (m, k, n), "gflops", median(rates), "GFLOP/s", threads)
        del a, b, c


# ----------------------------------------------------------------------------
# W2 eager op overhead

W2_OPS = 10000


def w2_chain(x):
    y = x
    for _ in range(W2_OPS // 2):
        y = (y * 0.999).tanh()
    return y


W2_CASES = [("1elem", (1,)), ("64x64", (64, 64))]


def w2(threads, quick, cases):
    reps = 3 if quick else 9
    for case, shape in cases:
        # forward only
        x = torch.full(shape, 0.5)
        with torch.no_grad():
            w2_chain(x)
            ts = []
            for _ in range(reps):
                t0 = time.perf_counter()
                y = w2_chain(x)
                ts.append(time.perf_counter() - t0)
        assert torch.isfinite(y).all()
        emit("W2", case, "fwd_us_per_op", median(ts) / W2_OPS * 1e6, "us", threads)
        # forward + backward
        ts = []
        for i in range(reps + 1):
            x = torch.full(shape, 0.5, requires_grad=True)
            gc.collect()
            t0 = time.perf_counter()
            y = w2_chain(x)
            y.sum().backward()
            dt = time.perf_counter() - t0
            assert torch.isfinite(x.grad).all()
            del y, x
            if i > 0:  # first one is warm-up
                ts.append(dt)
        emit("W2", case, "fwd_bwd_us_per_op", median(ts) / W2_OPS * 1e6, "us", threads)


# ----------------------------------------------------------------------------
# OPS single ops


OPS_ROWS, OPS_COLS = 256, 4096


def time_reps(reps, min_dur, f):
    """Median seconds per call of f: one warm-up call, then reps repetitions
    of back-to-back calls lasting >= min_dur each (nabla's timeReps)."""
    f()
    per = []
    for _ in range(reps):
        n = 0
        t0 = time.perf_counter()
        while True:
            f()
            n += 1
            dt = time.perf_counter() - t0
            if dt >= min_dur:
                break
        per.append(dt / n)
    return median(per)


def ops_inputs():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(OPS_ROWS, OPS_COLS, generator=g)
    y = torch.randn(OPS_ROWS, OPS_COLS, generator=g)
    bias = torch.randn(OPS_COLS, generator=g)
    target = torch.randint(0, OPS_COLS, (OPS_ROWS,), generator=g)
    return x, y, bias, target


def ops_cases(y, bias, target):
    """(name, f) in the order nabla reports them; f is a function of x."""
    return [
        ("add", lambda x: x + y),
        ("mul", lambda x: x * y),
        ("add_bias", lambda x: x + bias),
        ("relu", torch.relu),
        ("tanh", torch.tanh),
        ("sigmoid", torch.sigmoid),
        ("gelu", F.gelu),
        ("exp", torch.exp),
        ("softmax", lambda x: torch.softmax(x, 1)),
        ("log_softmax", lambda x: torch.log_softmax(x, 1)),
        ("sum_rows", lambda x: x.sum(1, keepdim=True)),
        ("sum_cols", lambda x: x.sum(0, keepdim=True)),
        ("max_rows", lambda x: x.amax(1, keepdim=True)),
        ("mean", lambda x: x.mean()),
        ("var_rows", lambda x: x.var(1, unbiased=False, keepdim=True)),
        ("transpose_contiguous", lambda x: x.t().contiguous()),
        # no affine parameters, as on the nabla side
        ("layer_norm", lambda x: F.layer_norm(x, (OPS_COLS,))),
        ("cross_entropy", lambda x: F.cross_entropy(x, target)),
        ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh")),
    ]


# the cases with inputs of their own (internal/workload/ops.go's shapedCases)
BMM = (32, 128, 64, 128)      # batch, m, k, n
EMB = (8192, 256, 4096)       # vocabulary, dimension, ids looked up
IMG = (4, 64, 56, 56)         # ResNet's first stage
ATTN = (8, 4, 128, 32)        # batch, heads, length, head dimension


def attention_causal(q, k, v):
    """What a PyTorch 1.13 user writes for causal attention (1.13 has no
    F.scaled_dot_product_attention): scores, a -inf upper triangle,
    softmax, and the weighted values."""
    L = q.shape[-2]
    scores = q @ k.transpose(-2, -1) * (1.0 / math.sqrt(q.shape[-1]))
    mask = torch.ones(L, L, dtype=torch.bool).triu(1)
    return torch.softmax(scores.masked_fill(mask, float("-inf")), -1) @ v


def ops_shaped_cases():
    """(name, f, shape of x) for the cases whose x is not the shared one.
    Their fixed operands come from torch.Generator seeded 5: bmm's w
    (32, 64, 128) ~ N(0, 1); 4096 embedding ids in [0, 8192); conv3x3's
    weight (64, 64, 3, 3) ~ 0.05 N(0, 1), which requires grad (its gradient
    accumulates, as nabla's does); a fresh nn.BatchNorm2d(64) in training
    mode; attention's k and v (8, 4, 128, 32) ~ N(0, 1)."""
    g = torch.Generator().manual_seed(5)
    bmm_w = torch.randn(BMM[0], BMM[2], BMM[3], generator=g)
    ids = torch.randint(0, EMB[0], (EMB[2],), generator=g)
    conv_w = (torch.randn(IMG[1], IMG[1], 3, 3, generator=g) * 0.05).requires_grad_(True)
    bn = torch.nn.BatchNorm2d(IMG[1])
    k = torch.randn(*ATTN, generator=g)
    v = torch.randn(*ATTN, generator=g)
    return [
        ("bmm", lambda x: torch.bmm(x, bmm_w), BMM[:3]),
        ("embedding", lambda x: F.embedding(ids, x), EMB[:2]),
        ("conv3x3", lambda x: F.conv2d(x, conv_w, padding=1), IMG),
        ("batchnorm2d", bn, IMG),
        ("max_pool2d", lambda x: F.max_pool2d(x, 3, 2, 1), IMG),
        ("sdpa_causal", lambda q: attention_causal(q, k, v), ATTN),
    ]


OPS_NAMES = ([name for name, _ in ops_cases(None, None, None)]
             + ["bmm", "embedding", "conv3x3", "batchnorm2d", "max_pool2d", "sdpa_causal"])


def ops(threads, quick, names):
    reps, dur = (3, 0.01) if quick else (7, 0.1)
    shared, y, bias, target = ops_inputs()
    cases = {name: (f, None) for name, f in ops_cases(y, bias, target)}
    cases.update({name: (f, shape) for name, f, shape in ops_shaped_cases()})
    gx = torch.Generator().manual_seed(6)
    for name in names:
        f, shape = cases[name]
        x0 = shared if shape is None else torch.randn(*shape, generator=gx)
        with torch.no_grad():
            sec = time_reps(reps, dur, lambda: f(x0))
        emit("OPS", name, "fwd_us", sec * 1e6, "us", threads)
        x = x0.clone().requires_grad_(True)
        with torch.no_grad():
            up = torch.ones(f(x0).shape)  # the upstream, built untimed

        def step():
            f(x).backward(up)
            x.grad.zero_()
        sec = time_reps(reps, dur, step)
        assert x.grad is not None and torch.isfinite(x.grad).all()
        emit("OPS", name, "fwd_bwd_us", sec * 1e6, "us", threads)


# ----------------------------------------------------------------------------
# Fashion-MNIST


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    dtype_code, ndim = (magic >> 8) & 0xFF, magic & 0xFF
    if dtype_code != 0x08:
        raise ValueError("%s: unsupported IDX type 0x%02x" % (path, dtype_code))
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims)


_DATA = None


def fashion_mnist():
    global _DATA
    if _DATA is None:
        def p(name):
            return os.path.join(DATA_DIR, name)
        for n in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                  "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
            if not os.path.exists(p(n)):
                log("missing %s: apt-get install dataset-fashion-mnist" % p(n))
                sys.exit(2)
        xtr = read_idx(p("train-images-idx3-ubyte.gz"))
        ytr = read_idx(p("train-labels-idx1-ubyte.gz"))
        xte = read_idx(p("t10k-images-idx3-ubyte.gz"))
        yte = read_idx(p("t10k-labels-idx1-ubyte.gz"))
        assert xtr.shape == (60000, 28, 28) and ytr.shape == (60000,)
        assert xte.shape == (10000, 28, 28) and yte.shape == (10000,)
        def images(a):
            f = a.reshape(len(a), 784).astype(np.float32)
            np.divide(f, np.float32(255.0), out=f)  # in place: no extra copy in peak RSS
            return torch.from_numpy(f)
        _DATA = (images(xtr), torch.from_numpy(ytr.astype(np.int64)),
                 images(xte), torch.from_numpy(yte.astype(np.int64)))
    return _DATA


def make_mlp():
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(),
                         nn.Linear(256, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def make_lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def train(workload, model_fn, in_shape, batch, epochs, max_batches, case,
          threads, with_accuracy, limit=None):
    xtr, ytr, xte, yte = fashion_mnist()
    if limit is not None:  # --quick: the first `limit` training and test images
        xtr, ytr, xte, yte = xtr[:limit], ytr[:limit], xte[:limit], yte[:limit]
    xtr = xtr.reshape((-1,) + in_shape)
    xte = xte.reshape((-1,) + in_shape)
    torch.manual_seed(0)
    model = model_fn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    n = xtr.shape[0]
    epoch_times = []
    for ep in range(epochs):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        nb = 0
        for i in range(0, n, batch):
            if max_batches is not None and nb >= max_batches:
                break
            idx = perm[i:i + batch]
            xb = xtr.index_select(0, idx)
            yb = ytr.index_select(0, idx)
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            nb += 1
        dt = time.perf_counter() - t0
        epoch_times.append(dt)
        log("  %s threads=%d epoch %d: %.3f s, %d steps, last loss %.4f"
            % (workload, threads, ep + 1, dt, nb, loss.item()))
    emit(workload, case, "sec_per_epoch", median(epoch_times), "s", threads)
    if with_accuracy:
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, xte.shape[0], 1000):  # test set in chunks of 1000
                pred = model(xte[i:i + 1000]).argmax(dim=1)
                correct += int((pred == yte[i:i + 1000]).sum())
        emit(workload, case, "test_accuracy", correct / xte.shape[0], "fraction", threads)
    emit(workload, case, "peak_rss_mib",
         resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, "MiB", threads)


QUICK_IMAGES = 2048  # as nabla bench --quick


def w3(threads, quick, args):
    if quick:
        train("W3", make_mlp, (784,), 128, 1, None, "fashion-mnist-quick", threads, True,
              limit=QUICK_IMAGES)
    else:
        train("W3", make_mlp, (784,), 128, args.epochs, None, "fashion-mnist",
              threads, True)


def w4(threads, quick, args):
    if quick:
        train("W4", make_lenet, (1, 28, 28), 64, 1, None, "fashion-mnist-quick", threads, True,
              limit=QUICK_IMAGES)
    else:
        train("W4", make_lenet, (1, 28, 28), 64, args.cnn_epochs, None,
              "fashion-mnist", threads, True)


# ----------------------------------------------------------------------------
# W5 inference


def w5(threads, quick):
    torch.manual_seed(0)
    model = make_mlp().eval()
    x = torch.rand(1, 784, generator=torch.Generator().manual_seed(2))
    calls = 500 if quick else 2000
    reps = 3 if quick else 9
    with torch.no_grad():
        for _ in range(200):
            model(x)
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            for _ in range(calls):
                model(x)
            ts.append((time.perf_counter() - t0) / calls)
    emit("W5", "mlp-batch1", "us_per_call", median(ts) * 1e6, "us", threads)


# ----------------------------------------------------------------------------
# W9 resnet18 inference


def w9(threads, quick):
    import torchvision
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None)
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
    model.eval()
    reps, dur = (3, 0.1) if quick else (5, 0.5)
    for batch in (1, 16):
        x = torch.rand(batch, 3, 224, 224, generator=torch.Generator().manual_seed(9))
        with torch.no_grad():
            model(x)
            ts = []
            for _ in range(reps):
                n, t0 = 0, time.perf_counter()
                while n == 0 or time.perf_counter() - t0 < dur:
                    model(x)
                    n += 1
                ts.append((time.perf_counter() - t0) / n)
        emit("W9", "resnet18-batch%d" % batch, "ms_per_batch", median(ts) * 1e3, "ms", threads)


# ----------------------------------------------------------------------------
# W10 generation: a LLaMA-style decoder in plain PyTorch with its own KV
# cache (transformers is not available here), the configuration of
# internal/workload's W10Config, random weights.

W10 = dict(vocab=1000, hidden=256, inter=688, layers=4, heads=4, kv=2, max_pos=1024, eps=1e-5, theta=500000.0)


class W10Model:
    def __init__(self, g):
        c = W10
        hd = c["hidden"] // c["heads"]
        self.hd = hd

        def n(*shape):
            return torch.randn(*shape, generator=g) * 0.02

        self.emb = n(c["vocab"], c["hidden"])
        self.layers = []
        for _ in range(c["layers"]):
            self.layers.append(dict(
                ln1=torch.ones(c["hidden"]), ln2=torch.ones(c["hidden"]),
                q=n(c["heads"] * hd, c["hidden"]), k=n(c["kv"] * hd, c["hidden"]),
                v=n(c["kv"] * hd, c["hidden"]), o=n(c["hidden"], c["heads"] * hd),
                gate=n(c["inter"], c["hidden"]), up=n(c["inter"], c["hidden"]),
                down=n(c["hidden"], c["inter"])))
        self.norm = torch.ones(c["hidden"])
        self.head = n(c["vocab"], c["hidden"])
        inv = 1.0 / (c["theta"] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        f = torch.outer(torch.arange(c["max_pos"], dtype=torch.float32), inv)
        e = torch.cat((f, f), -1)
        self.cos, self.sin = e.cos(), e.sin()

    @staticmethod
    def rms(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + W10["eps"]) * w

    @staticmethod
    def rot(x):
        h = x.shape[-1] // 2
        return torch.cat((-x[..., h:], x[..., :h]), -1)

    def step(self, ids, cache):
        """ids (B, T) after the cache's S tokens; cache: list of (k, v)
        per layer, each (B, kv, S, hd), or None. Returns logits of the
        last position and the new cache."""
        c = W10
        B, T = ids.shape
        S = 0 if cache is None else cache[0][0].shape[2]
        F = torch.nn.functional
        x = F.embedding(ids, self.emb)
        cos, sin = self.cos[S:S + T], self.sin[S:S + T]
        out = []
        for i, L in enumerate(self.layers):
            h = self.rms(x, L["ln1"])
            q = F.linear(h, L["q"]).view(B, T, c["heads"], self.hd).transpose(1, 2)
            k = F.linear(h, L["k"]).view(B, T, c["kv"], self.hd).transpose(1, 2)
            v = F.linear(h, L["v"]).view(B, T, c["kv"], self.hd).transpose(1, 2)
            q = q * cos + self.rot(q) * sin
            k = k * cos + self.rot(k) * sin
            if cache is not None:
                k = torch.cat((cache[i][0], k), 2)
                v = torch.cat((cache[i][1], v), 2)
            out.append((k, v))
            g = c["heads"] // c["kv"]
            kk, vv = k.repeat_interleave(g, 1), v.repeat_interleave(g, 1)
            sc = q @ kk.transpose(-1, -2) / math.sqrt(self.hd)
            if T > 1:
                sc = sc + torch.full((T, S + T), float("-inf")).triu(S + 1)
            a = torch.softmax(sc, -1) @ vv
            x = x + F.linear(a.transpose(1, 2).reshape(B, T, -1), L["o"])
            h = self.rms(x, L["ln2"])
            x = x + F.linear(F.silu(F.linear(h, L["gate"])) * F.linear(h, L["up"]), L["down"])
        x = self.rms(x[:, -1], self.norm)
        return F.linear(x, self.head), out

    def generate(self, ids, n):
        logits, cache = self.step(ids, None)
        for _ in range(n - 1):
            nxt = logits.argmax(-1, keepdim=True)
            logits, cache = self.step(nxt, cache)
        return logits


def w10(threads, quick):
    g = torch.Generator().manual_seed(10)
    m = W10Model(g)
    reps, new = (1, 16) if quick else (3, 128)
    with torch.no_grad():
        for batch in (1, 8):
            ids = torch.randint(0, W10["vocab"], (batch, 128), generator=g)
            m.generate(ids, 2)  # warm-up
            ts = []
            for _ in range(reps):
                t0 = time.perf_counter()
                m.generate(ids, new)
                ts.append(batch * new / (time.perf_counter() - t0))
            emit("W10", "llama-prompt128-new%d-batch%d" % (new, batch), "tokens_per_sec", median(ts), "tokens/s", threads)
        ids = torch.randint(0, W10["vocab"], (1, 512), generator=g)
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            m.generate(ids, 1)
            ts.append((time.perf_counter() - t0) * 1e3)
        emit("W10", "llama-prompt512", "ttft_ms", median(ts), "ms", threads)



# ----------------------------------------------------------------------------
# W6, W7, W8: language models on Isaac Newton's Opticks, character level, the
# same as internal/workload/lm.go (see there and in the module docstring).

W6 = dict(layers=4, heads=4, embed=128, context=128, batch=32)
W7 = dict(embed=128, hidden=256, layers=2, context=64, batch=32)
W8 = dict(context=512, prompt=16, new=256)


def opticks(path):
    """Training and validation ids (last 10 %) and the vocabulary size."""
    if not path:
        import subprocess
        goroot = subprocess.run(["go", "env", "GOROOT"], capture_output=True, text=True,
                                check=True).stdout.strip()
        path = os.path.join(goroot, "src", "testdata", "Isaac.Newton-Opticks.txt")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))  # code-point order, as text.NewCharTokenizer
    index = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.int64)
    cut = int(len(ids) * 0.9)
    return ids[:cut], ids[cut:], len(chars)


class GPTBlock(torch.nn.Module):
    """models/gpt's Block: x += attn(ln_1(x)) causally; x += mlp(ln_2(x))."""

    def __init__(self, E, H):
        super().__init__()
        nn = torch.nn
        self.ln_1 = nn.LayerNorm(E)
        self.attn = nn.MultiheadAttention(E, H, dropout=0.0, batch_first=True)
        self.ln_2 = nn.LayerNorm(E)
        self.mlp = nn.Sequential(nn.Linear(E, 4 * E), nn.GELU(), nn.Linear(4 * E, E))

    def forward(self, x, mask):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))

    def step(self, x, cache):
        """The block on new positions x (B, T, E) after the cached keys and
        values (B, H, S, D) (None: none); returns x and the new (k, v)."""
        F = torch.nn.functional
        B, T, E = x.shape
        H = self.attn.num_heads
        D = E // H
        h = self.ln_1(x)
        q, k, v = F.linear(h, self.attn.in_proj_weight, self.attn.in_proj_bias).split(E, -1)
        q, k, v = [t.view(B, T, H, D).transpose(1, 2) for t in (q, k, v)]
        S = 0
        if cache is not None:
            S = cache[0].shape[2]
            k = torch.cat((cache[0], k), 2)
            v = torch.cat((cache[1], v), 2)
        sc = q @ k.transpose(-1, -2) / math.sqrt(D)
        if T > 1:
            sc = sc + torch.full((T, S + T), float("-inf")).triu(S + 1)
        a = (torch.softmax(sc, -1) @ v).transpose(1, 2).reshape(B, T, E)
        x = x + self.attn.out_proj(a)
        return x + self.mlp(self.ln_2(x)), (k, v)


class GPT(torch.nn.Module):
    """models/gpt's GPT (untied head), with its parameter names and GPT-2's
    initialisation, as gpt.New."""

    def __init__(self, V, C, L, H, E):
        super().__init__()
        nn = torch.nn
        self.wte = nn.Embedding(V, E)
        self.wpe = nn.Embedding(C, E)
        self.h = nn.ModuleList([GPTBlock(E, H) for _ in range(L)])
        self.ln_f = nn.LayerNorm(E)
        self.lm_head = nn.Linear(E, V, bias=False)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if p.dim() == 1:
                    (p.fill_(1) if "ln_" in name and name.endswith(".weight") else p.zero_())
                elif name.endswith("out_proj.weight") or name.endswith("mlp.2.weight"):
                    p.normal_(0, 0.02 / math.sqrt(2 * L))
                else:
                    p.normal_(0, 0.02)

    def forward(self, idx):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T))
        mask = torch.full((T, T), float("-inf")).triu(1)
        for b in self.h:
            x = b(x, mask)
        return self.lm_head(self.ln_f(x))

    def step(self, idx, cache):
        """Logits of the last position for the new tokens idx after the
        cache (a list of per-layer (k, v), or None), and the new cache."""
        S = 0 if cache is None else cache[0][0].shape[2]
        x = self.wte(idx) + self.wpe(torch.arange(S, S + idx.shape[1]))
        out = []
        for i, b in enumerate(self.h):
            x, kv = b.step(x, None if cache is None else cache[i])
            out.append(kv)
        return self.lm_head(self.ln_f(x[:, -1])), out

    def generate(self, idx, n):
        """Greedy generation of n tokens with the KV cache."""
        logits, cache = self.step(idx, None)
        toks = []
        for i in range(n):
            nxt = logits.argmax(-1, keepdim=True)
            toks.append(nxt)
            if i < n - 1:
                logits, cache = self.step(nxt, cache)
        return torch.cat(toks, 1)


class LSTMLM(torch.nn.Module):
    """nn.LSTMLanguageModel: embedding, LSTM (batch_first), linear head."""

    def __init__(self, V, E, Hd, L):
        super().__init__()
        self.embedding = torch.nn.Embedding(V, E)
        self.lstm = torch.nn.LSTM(E, Hd, L, batch_first=True)
        self.head = torch.nn.Linear(Hd, V)

    def forward(self, idx):
        return self.head(self.lstm(self.embedding(idx))[0])


def lm_steps(m, opt, ids, B, T, warm, steps, g):
    """warm + steps training steps on random windows; median seconds of the
    last steps."""
    F = torch.nn.functional
    m.train()
    ts = []
    for i in range(warm + steps):
        starts = torch.randint(0, len(ids) - T, (B,), generator=g)
        x = torch.stack([ids[s:s + T] for s in starts])
        y = torch.stack([ids[s + 1:s + T + 1] for s in starts])
        t0 = time.perf_counter()
        opt.zero_grad()
        logits = m(x)
        F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).backward()
        opt.step()
        if i >= warm:
            ts.append(time.perf_counter() - t0)
    return median(ts)


def w6(threads, quick, args):
    train, val, V = opticks(args.text_file)
    c = W6
    warm, steps = (1, 4) if quick else (2, 20)
    torch.manual_seed(6)
    m = GPT(V, c["context"], c["layers"], c["heads"], c["embed"])
    opt = torch.optim.AdamW(m.parameters(), lr=3e-4, weight_decay=0.01)
    sec = lm_steps(m, opt, train, c["batch"], c["context"], warm, steps, torch.Generator().manual_seed(6))
    emit("W6", "opticks-gpt", "sec_per_step", sec, "s", threads)
    emit("W6", "opticks-gpt", "tokens_per_sec", c["batch"] * c["context"] / sec, "tokens/s", threads)
    if args.w6_val_steps > 0:
        emit("W6", "opticks-gpt-%dsteps" % args.w6_val_steps, "val_loss",
             w6_val_loss(train, val, V, args.w6_val_steps), "nats", threads)


# The W6 validation run is the same computation on both sides (see
# internal/workload/lm.go): the initial weights and the batches come from
# splitmix64 counters, so that the two validation losses differ by the
# implementations alone, not by the random draws.
M64 = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9e3779b97f4a7c15) & M64
    x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & M64
    x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & M64
    return x ^ (x >> 31)


def fnv1a64(s):
    h = 0xcbf29ce484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001b3) & M64
    return h


def w6_val_init(m, layers):
    """GPT-2's initialisation, element j of parameter p N(0, std^2) by
    Box-Muller from counters 2j and 2j+1 of the stream keyed by p's name."""
    with torch.no_grad():
        for name, p in m.named_parameters():
            if p.dim() == 1:
                p.fill_(1 if "ln_" in name and name.endswith(".weight") else 0)
                continue
            std = 0.02
            if name.endswith("out_proj.weight") or name.endswith("mlp.2.weight"):
                std = 0.02 / math.sqrt(2 * layers)
            key = fnv1a64(name)
            vals = []
            for j in range(p.numel()):
                u1 = ((splitmix64((key + 2 * j) & M64) >> 11) + 1) / float(1 << 53)
                u2 = (splitmix64((key + 2 * j + 1) & M64) >> 11) / float(1 << 53)
                vals.append(std * math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2))
            p.copy_(torch.tensor(vals, dtype=torch.float32).view(p.shape))


def w6_val_loss(train, val, V, steps):
    """A W6 model from w6_val_init's weights trained steps steps on the
    scheduled batches, then the mean cross-entropy over the disjoint
    validation windows (at most 64 batches of 32), as nabla's w6ValLoss."""
    F = torch.nn.functional
    c = W6
    B, T = c["batch"], c["context"]
    m = GPT(V, c["context"], c["layers"], c["heads"], c["embed"])
    w6_val_init(m, c["layers"])
    opt = torch.optim.AdamW(m.parameters(), lr=3e-4, weight_decay=0.01)
    m.train()
    n = len(train) - T
    for step in range(steps):
        starts = [splitmix64(step * B + i) % n for i in range(B)]
        x = torch.stack([train[s:s + T] for s in starts])
        y = torch.stack([train[s + 1:s + T + 1] for s in starts])
        opt.zero_grad()
        logits = m(x)
        F.cross_entropy(logits.reshape(-1, V), y.reshape(-1)).backward()
        opt.step()
    m.eval()
    tot, n = 0.0, 0
    with torch.no_grad():
        starts = list(range(0, len(val) - T, T))[:64 * B]
        for i in range(0, len(starts), B):
            s = starts[i:i + B]
            x = torch.stack([val[j:j + T] for j in s])
            y = torch.stack([val[j + 1:j + T + 1] for j in s])
            logits = m(x)
            tot += F.cross_entropy(logits.reshape(-1, V), y.reshape(-1)).item() * len(s)
            n += len(s)
    return tot / n


def w7(threads, quick, args):
    train, _, V = opticks(args.text_file)
    c = W7
    warm, steps = (1, 4) if quick else (2, 20)
    torch.manual_seed(7)
    m = LSTMLM(V, c["embed"], c["hidden"], c["layers"])
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    sec = lm_steps(m, opt, train, c["batch"], c["context"], warm, steps, torch.Generator().manual_seed(7))
    emit("W7", "opticks-lstm", "sec_per_step", sec, "s", threads)


def w8(threads, quick, args):
    train, _, V = opticks(args.text_file)
    reps, new = (1, 64) if quick else (3, W8["new"])
    torch.manual_seed(8)
    m = GPT(V, W8["context"], W6["layers"], W6["heads"], W6["embed"]).eval()
    prompt = train[:W8["prompt"]].view(1, -1)
    ts = []
    with torch.no_grad():
        m.generate(prompt, 2)  # warm-up
        for _ in range(reps):
            t0 = time.perf_counter()
            m.generate(prompt, new)
            ts.append(new / (time.perf_counter() - t0))
    emit("W8", "opticks-gpt-prompt16-new%d" % new, "tokens_per_sec", median(ts), "tokens/s", threads)

# ----------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="short run (< 1 min): fewer repetitions, W3/W4 one epoch on 2,048 images")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--workloads", default="W1,W2,W3,W4,W5",
                    help="comma-separated subset of W1..W10 and OPS (default W1..W5; "
                         "W6..W8, W10 and OPS run only when named)")
    ap.add_argument("--epochs", type=int, default=5, help="W3 epochs (default 5)")
    ap.add_argument("--cnn-epochs", type=int, default=1, help="W4 epochs (default 1)")
    ap.add_argument("--text-file", default=None,
                    help="W6..W8 corpus (default: Opticks from `go env GOROOT`/src/testdata)")
    ap.add_argument("--w6-val-steps", type=int, default=0,
                    help="also report W6's validation loss after this many training steps (default 0: not)")
    ap.add_argument("--idle-wait", type=float, default=None,
                    help="seconds to wait, before each workload, for other processes to "
                         "leave the CPUs idle (default 300, 0 with --quick; 0 = do not wait, only warn)")
    ap.add_argument("--max-foreign", type=float, default=0.15,
                    help="CPU (in cores) other processes may use during a workload before "
                         "it is retried (default 0.15, plus 2 clock ticks per CPU of "
                         "measurement noise)")
    ap.add_argument("--retries", type=int, default=None,
                    help="retries of a disturbed workload (default 2, 0 with --quick)")
    args = ap.parse_args()
    if args.idle_wait is None:
        args.idle_wait = 0.0 if args.quick else 300.0
    if args.retries is None:
        args.retries = 0 if args.quick else 2
    threads = [int(t) for t in args.threads.split(",") if t.strip()]
    wls = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    bad = [w for w in wls if w not in ("W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9", "W10", "OPS")]
    if bad:
        ap.error("unknown workload(s): %s (want W1..W10 or OPS)" % ",".join(bad))

    check_blas()
    torch.set_num_interop_threads(1)
    t_start = time.perf_counter()
    for t in threads:
        torch.set_num_threads(t)
        if torch.get_num_threads() != t:
            log("warning: torch.get_num_threads() = %d, asked %d" % (torch.get_num_threads(), t))
        for w in wls:
            log("%s threads=%d ..." % (w, t))
            t0 = time.perf_counter()
            # one unit per case for W1/W2, so that a disturbed unit is short to redo
            if w == "W1":
                for sh in W1_SHAPES:
                    run_unit(lambda: w1(t, args.quick, [sh]),
                             "W1 %dx%dx%d threads=%d" % (sh + (t,)), args)
            elif w == "W2":
                for c in W2_CASES:
                    run_unit(lambda: w2(t, args.quick, [c]), "W2 %s threads=%d" % (c[0], t), args)
            elif w == "OPS":
                for name in OPS_NAMES:
                    run_unit(lambda: ops(t, args.quick, [name]), "OPS %s threads=%d" % (name, t), args)
            else:
                fn = {"W3": lambda: w3(t, args.quick, args),
                      "W4": lambda: w4(t, args.quick, args),
                      "W5": lambda: w5(t, args.quick),
                      "W6": lambda: w6(t, args.quick, args),
                      "W7": lambda: w7(t, args.quick, args),
                      "W8": lambda: w8(t, args.quick, args),
                      "W9": lambda: w9(t, args.quick),
                      "W10": lambda: w10(t, args.quick)}[w]
                run_unit(fn, "%s threads=%d" % (w, t), args)
            log("%s threads=%d done in %.1f s" % (w, t, time.perf_counter() - t0))
    log("total %.1f s" % (time.perf_counter() - t_start))


if __name__ == "__main__":
    main()
