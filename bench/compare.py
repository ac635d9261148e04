#!/usr/bin/python3
"""Side-by-side benchmark: nabla vs PyTorch.  See bench/README.md.

    /usr/bin/python3 bench/compare.py [--rounds 3] [--quick] [--threads 1,2]
                                      [--workloads W1,W2,W3,W4,W5]
    /usr/bin/python3 bench/compare.py --workloads OPS   # the per-op table
    /usr/bin/python3 bench/compare.py --workloads W6,W7,W8 [--w6-val-steps 500]

Needs (Debian packages; this script never installs anything):

    apt-get install python3-torch libopenblas0-openmp dataset-fashion-mnist time

plus a Go toolchain for the nabla side.  It builds the nabla side once with
`go build -o /tmp/nabla-bench ./cmd/nabla` (from the repository root) and runs
`/tmp/nabla-bench bench [--quick] --threads T --workloads ...`; the PyTorch
side is `/usr/bin/python3 bench/torch_bench.py` with the same flags.  Both
print JSON lines

    {"workload": ..., "case": ..., "impl": ..., "metric": ..., "value": ..., "unit": ..., "threads": ...}

The two sides are run alternately, R rounds (the side that goes first swaps
every round).  Each run is wrapped in `/usr/bin/time -v`; W3 and W4 each run
as their own process per side and per thread count, and the "Maximum
resident set size" of that process is added as metric "process_peak_rss_mib"
(W3 and W4 only).  The
medians over the rounds are printed as a Markdown table.  OPS (single ops:
add, softmax, layer_norm, ...; fwd_us and fwd_bwd_us) is not in the default
set and runs only when named in --workloads.  If the nabla side
cannot be built or fails, the PyTorch column is printed alone with a note.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
TORCH_PY = "/usr/bin/python3"
TIME_BIN = "/usr/bin/time"
WORKLOADS = ["W1", "W2", "W3", "W4", "W5"]  # the default set: BENCHMARKS.md's table
ALONE = ["W3", "W4"]  # run in processes of their own, for their peak memory
EXTRA_WORKLOADS = ["W6", "W7", "W8", "W9", "W10", "OPS"]  # run only when named
# for which metrics a larger value is better (the others: smaller is better)
HIGHER_BETTER = {"gflops", "test_accuracy", "tokens_per_sec"}
DISTURBED = []

INSTALL = ("apt-get install python3-torch libopenblas0-openmp "
           "dataset-fashion-mnist time")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def parse_lines(text, impl):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if not all(k in r for k in ("workload", "case", "impl", "metric", "value", "threads")):
            continue
        if r["impl"] != impl:
            log("warning: %s side printed impl=%r" % (impl, r["impl"]))
        out.append(r)
    return out


CLK_TCK = os.sysconf("SC_CLK_TCK")


def _cpu_sample():
    """(wall, machine busy CPU-seconds, this process + finished children CPU-seconds)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)
    t = os.times()
    return time.perf_counter(), busy / CLK_TCK, t.user + t.system + t.children_user + t.children_system


def foreign_cores(a, b):
    return max(0.0, ((b[1] - a[1]) - (b[2] - a[2])) / max(b[0] - a[0], 1e-6))


def wait_idle(max_wait, threshold=0.15):
    """Wait (at most max_wait s) until other processes leave the CPUs idle."""
    t_end = time.perf_counter() + max_wait
    told = False
    while True:
        a = _cpu_sample()
        time.sleep(1.0)
        f = foreign_cores(a, _cpu_sample())
        if f <= threshold or time.perf_counter() > t_end:
            if f > threshold:
                log("warning: machine still busy (others use %.2f cores); going on" % f)
            return
        if not told:
            log("waiting for other processes to leave the CPUs idle (they use %.2f cores) ..." % f)
            told = True
        time.sleep(4.0)


def run(cmd, label):
    """Run cmd (under /usr/bin/time -v when available). Returns
    (returncode, stdout, stderr, peak_rss_kib, wall_s)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time", delete=False) as tf:
        tpath = tf.name
    use_time = os.access(TIME_BIN, os.X_OK)
    full = ([TIME_BIN, "-v", "-o", tpath] + cmd) if use_time else cmd
    log("[%s] %s" % (label, " ".join(cmd)))
    t0 = time.perf_counter()
    a = _cpu_sample()
    p = subprocess.Popen(full, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    out, err = p.communicate()
    wall = time.perf_counter() - t0
    foreign = foreign_cores(a, _cpu_sample())
    for line in err.splitlines():
        if "WARNING" in line:
            log("[%s] %s" % (label, line.strip()))
    # torch_bench.py checks each workload itself (waits, retries, and prints
    # WARNING for what stayed disturbed); its waiting time must not count here
    self_checked = cmd[:1] == [TORCH_PY]
    if (self_checked and "WARNING" in err) or (not self_checked and foreign > 0.15):
        log("[%s] WARNING: other processes used %.2f cores during this run; "
            "its figures are suspect" % (label, foreign))
        DISTURBED.append(label)
    peak = None
    if use_time:
        try:
            with open(tpath) as f:
                m = re.search(r"Maximum resident set size \(kbytes\):\s*(\d+)", f.read())
            if m:
                peak = int(m.group(1))
        except OSError:
            pass
    try:
        os.unlink(tpath)
    except OSError:
        pass
    log("[%s] exit %d, %.1f s%s" % (label, p.returncode, wall,
                                    ", peak RSS %.1f MiB" % (peak / 1024) if peak else ""))
    return p.returncode, out, err, peak, wall


def tail(text, n=15):
    return "\n".join(text.rstrip().splitlines()[-n:])


def build_nabla(binpath):
    if not os.path.isdir(os.path.join(REPO, "cmd", "nabla")):
        return "./cmd/nabla does not exist yet"
    if shutil.which("go") is None:
        return "no Go toolchain on PATH"
    log("building nabla: go build -o %s ./cmd/nabla" % binpath)
    p = subprocess.run(["go", "build", "-o", binpath, "./cmd/nabla"], cwd=REPO,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        return "go build ./cmd/nabla failed:\n" + tail(p.stdout)
    return None


def fmt(v):
    if v is None:
        return "—"
    return "%.4g" % v


def main():
    ap = argparse.ArgumentParser(description="nabla vs PyTorch side-by-side benchmarks")
    ap.add_argument("--rounds", "-R", type=int, default=3, help="rounds (default 3)")
    ap.add_argument("--quick", action="store_true", help="pass --quick to both sides")
    ap.add_argument("--threads", default="1,2", help="thread counts (default 1,2)")
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help="comma-separated subset of W1..W10 and OPS (default W1,W2,W3,W4,W5; "
                         "W6..W8 (language models on Opticks), W9 (resnet18 from ONNX: "
                         "set NABLA_ONNX_MODELS), W10 (generation) and OPS "
                         "(the per-op table) run only when named)")
    ap.add_argument("--w6-val-steps", type=int, default=0,
                    help="passed to both sides: also compare W6's validation loss after this "
                         "many training steps (a long run; default 0: not)")
    ap.add_argument("--nabla-bin", default="/tmp/nabla-bench", help="where to build the nabla binary")
    ap.add_argument("--no-build", action="store_true", help="use --nabla-bin as it is")
    ap.add_argument("--pytorch-only", action="store_true", help="skip the nabla side")
    ap.add_argument("--before", default=None, metavar="BIN",
                    help="also run this nabla binary (built from an earlier commit) in every "
                         "round, beside the current one, and print its column and ratio: "
                         "before/after figures measured in the same run")
    ap.add_argument("--raw", default=None, help="also write every JSON line collected to this file")
    ap.add_argument("--idle-wait", type=float, default=300,
                    help="before each run, wait at most this many seconds for other "
                         "processes to leave the CPUs idle (default 300; 0 = no wait)")
    args = ap.parse_args()

    wls = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    bad = [w for w in wls if w not in WORKLOADS + EXTRA_WORKLOADS]
    if bad:
        ap.error("unknown workload(s): %s (want W1..W10 or OPS)" % ",".join(bad))
    threads = [t.strip() for t in args.threads.split(",") if t.strip()]
    quick = ["--quick"] if args.quick else []

    # prerequisites (never installed from here)
    if not os.access(TORCH_PY, os.X_OK):
        log("missing %s. Install: %s" % (TORCH_PY, INSTALL))
        return 2
    if not os.access(TIME_BIN, os.X_OK):
        log("note: %s not found (Debian package `time`); peak RSS of W3 processes "
            "will not be measured. Install: apt-get install time" % TIME_BIN)

    nabla_note = None
    if args.pytorch_only:
        nabla_note = "nabla side skipped (--pytorch-only)"
    elif not args.no_build:
        nabla_note = build_nabla(args.nabla_bin)
    elif not os.access(args.nabla_bin, os.X_OK):
        nabla_note = "%s not found" % args.nabla_bin

    def side_cmd(impl, wl, thr):
        flags = ["--threads", thr, "--workloads", ",".join(wl)] + quick
        if args.w6_val_steps > 0 and "W6" in wl:
            flags += ["--w6-val-steps", str(args.w6_val_steps)]
        if impl == "pytorch":
            return [TORCH_PY, os.path.join(BENCH_DIR, "torch_bench.py")] + flags
        if impl == "before":
            return [args.before, "bench"] + flags
        return [args.nabla_bin, "bench"] + flags

    with_before = bool(args.before)
    if with_before and not os.access(args.before, os.X_OK):
        log("--before %s: not an executable file" % args.before)
        return 2

    # process groups: everything but the training workloads in one process
    # (all thread counts), W3 and W4 each alone per thread count, so that
    # their processes' peak memory is their own on both sides
    groups = []
    rest = [w for w in wls if w not in ALONE]
    if rest:
        groups.append((rest, ",".join(threads), False))
    for w in ALONE:
        if w in wls:
            for t in threads:
                groups.append(([w], t, True))

    records = []
    t_all = time.perf_counter()
    for r in range(args.rounds):
        order = ["nabla", "pytorch"] if r % 2 == 0 else ["pytorch", "nabla"]
        if with_before:
            # the earlier binary runs next to the current one, alternating which goes first
            order.insert(order.index("nabla") + (r // 2) % 2, "before")
        for wl, thr, alone in groups:
            for impl in order:
                if impl in ("nabla", "before") and nabla_note:
                    continue
                label = "round %d/%d %s %s threads=%s" % (r + 1, args.rounds, impl,
                                                         ",".join(wl), thr)
                if args.idle_wait > 0:
                    wait_idle(args.idle_wait)
                rc, out, err, peak, _ = run(side_cmd(impl, wl, thr), label)
                if rc != 0:
                    msg = "%s exited with %d:\n%s" % (label, rc, tail(err))
                    if impl == "pytorch":
                        log(msg)
                        if rc == 2:
                            log("(PyTorch side refused to run; install with: %s)" % INSTALL)
                        return 1
                    nabla_note = "%s side failed, shown without it. " % impl + msg
                    log(nabla_note)
                    records = [x for x in records if x["impl"] not in ("nabla", "before")]
                    continue
                recs = parse_lines(out, "nabla" if impl == "before" else impl)
                if impl == "before":
                    for x in recs:
                        x["impl"] = "before"
                for x in recs:
                    x["round"] = r + 1
                records.extend(recs)
                if alone and peak:
                    cases = sorted({x["case"] for x in recs if x["workload"] == wl[0]}) or ["?"]
                    records.append({"workload": wl[0], "case": cases[0], "impl": impl,
                                    "metric": "process_peak_rss_mib", "value": peak / 1024.0,
                                    "unit": "MiB", "threads": int(thr), "round": r + 1})
    log("all rounds: %.1f s" % (time.perf_counter() - t_all))

    if args.raw:
        with open(args.raw, "w") as f:
            for x in records:
                f.write(json.dumps(x) + "\n")

    # aggregate: medians over rounds
    keys, vals, units = [], {}, {}
    for x in records:
        k = (x["workload"], x["case"], x["metric"], int(x["threads"]))
        if k not in vals:
            keys.append(k)
            vals[k] = {"nabla": [], "pytorch": [], "before": []}
        vals[k].setdefault(x["impl"], []).append(float(x["value"]))
        units[k] = x.get("unit", "")
    # stable order: workload, then first appearance of (case, metric), then threads
    first = {}
    for i, x in enumerate(records):
        first.setdefault((x["workload"], x["case"], x["metric"]), i)
    wl_order = WORKLOADS + EXTRA_WORKLOADS
    keys.sort(key=lambda k: (wl_order.index(k[0]) if k[0] in wl_order else 99,
                             first[k[:3]], k[3]))

    def med(xs):
        return statistics.median(xs) if xs else None

    with_nabla = not nabla_note
    print()
    print("Medians over %d round(s)%s." % (args.rounds, " (--quick)" if args.quick else ""))
    if not with_nabla:
        print()
        print("> Note: no nabla figures: %s. PyTorch column only." % nabla_note.replace("\n", " "))
    if DISTURBED:
        print()
        print("> Warning: other processes used the CPUs during %d run(s) (%s); "
              "re-run on an idle machine." % (len(DISTURBED), "; ".join(DISTURBED)))
    print()
    with_before = with_before and with_nabla
    if with_before:
        print("`before` is %s, `nabla` the current build; each ratio is over PyTorch's "
              "median of the same run." % args.before)
        print()
        print("| workload | case | metric | threads | before | nabla | PyTorch "
              "| before/PyTorch | nabla/PyTorch |")
        print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    elif with_nabla:
        print("| workload | case | metric | threads | nabla | PyTorch | nabla/PyTorch |")
        print("|---|---|---|---:|---:|---:|---:|")
    else:
        print("| workload | case | metric | threads | PyTorch |")
        print("|---|---|---|---:|---:|")
    for k in keys:
        w, c, m, t = k
        u = units.get(k, "")
        mname = "%s (%s)" % (m, u) if u else m
        mname += " ↑" if m in HIGHER_BETTER else " ↓"
        pt = med(vals[k].get("pytorch", []))
        if with_nabla:
            nb = med(vals[k].get("nabla", []))
            ratio = "%.2f" % (nb / pt) if (nb is not None and pt) else "—"
            if with_before:
                bf = med(vals[k].get("before", []))
                bratio = "%.2f" % (bf / pt) if (bf is not None and pt) else "—"
                print("| %s | %s | %s | %d | %s | %s | %s | %s | %s |" % (
                    w, c, mname, t, fmt(bf), fmt(nb), fmt(pt), bratio, ratio))
            else:
                print("| %s | %s | %s | %d | %s | %s | %s |" % (w, c, mname, t, fmt(nb), fmt(pt), ratio))
        else:
            print("| %s | %s | %s | %d | %s |" % (w, c, mname, t, fmt(pt)))
    print()
    print("↑ larger is better, ↓ smaller is better (so nabla/PyTorch > 1 is good for ↑, bad for ↓). "
          "process_peak_rss_mib is /usr/bin/time -v's maximum RSS of a process that ran W3 (or W4) alone.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
