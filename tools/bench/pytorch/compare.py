#!/usr/bin/python3
"""Times kiln and PyTorch on benchmarks.md's workloads, side by side.

For each workload and each of N rounds, runs `kiln bench CONFIG --json` and
`bench.py WORKLOAD --json` in separate processes, alternating which goes
first, then prints a Markdown table (or --json) with the median step time
over all timed steps of all rounds of each framework, the speedup
(PyTorch / kiln; > 1 means kiln is faster), kiln's GFLOP/s and both peak
RSS values (the maximum over rounds). Parameter counts are checked: kiln's
(`kiln info CONFIG --json`) must equal PyTorch's.

usage: compare.py [--kiln PATH] [--rounds N] [--workloads a,b,...] [--json]
                  [--tiny] [--check-params] [--probe-coretype]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, HERE)

import common  # noqa: E402

MODEL_WORKLOADS = ["nfnet_f0_32", "gpt_small", "perceiver_32", "gpt_small_bf16"]
OP_WORKLOADS = ["matmul_1024", "conv3x3_256"]
CONFIGS = {w: os.path.join(REPO, "configs", "bench", w + ".json") for w in MODEL_WORKLOADS}
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_json(cmd, env=None):
    """Runs cmd; returns the JSON objects it printed, one per line."""
    proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
    if proc.returncode != 0:
        raise RuntimeError("%s failed (exit %d):\n%s" % (" ".join(cmd), proc.returncode,
                                                        proc.stderr[-4000:]))
    # One object per line (bench --json) or one pretty-printed object (info --json).
    decoder, text, pos, out = json.JSONDecoder(), proc.stdout, 0, []
    while True:
        start = text.find("{", pos)
        if start < 0:
            return out
        obj, pos = decoder.raw_decode(text, start)
        out.append(obj)


def run_kiln(kiln, workload):
    if workload in OP_WORKLOADS:
        results = run_json([kiln, "bench", "--ops", "--json"])
        for r in results:
            if r.get("name") == workload:
                return r
        raise RuntimeError("kiln bench --ops printed no %s" % workload)
    results = run_json([kiln, "bench", CONFIGS[workload], "--json"])
    if len(results) != 1:
        raise RuntimeError("kiln bench %s printed %d results" % (workload, len(results)))
    return results[0]


def run_pytorch(workload, args):
    cmd = [PYTHON, os.path.join(HERE, "bench.py"), workload, "--json"]
    if args.tiny:
        cmd.append("--tiny")
    if args.coretype:
        cmd += ["--coretype", args.coretype]
    if args.channels_last and workload == "nfnet_f0_32":
        cmd.append("--channels-last")
    results = run_json(cmd)
    if len(results) != 1:
        raise RuntimeError("bench.py %s printed %d results" % (workload, len(results)))
    return results[0]


def kiln_params(kiln, workload):
    return run_json([kiln, "info", CONFIGS[workload], "--json"])[0]["params"]


def pytorch_params(workload):
    cmd = [PYTHON, os.path.join(HERE, "bench.py"), workload, "--json", "--params-only"]
    return run_json(cmd)[0]["params"]


def summarize(runs):
    steps = [s for r in runs for s in r["step_seconds"]]
    median = statistics.median(steps)
    flops = runs[0]["flops_per_step"]
    return {
        "median_step_s": median,
        "min_step_s": min(steps),
        "max_step_s": max(steps),
        "round_medians_s": [r["median_step_s"] for r in runs],
        "examples_per_s": runs[0]["examples_per_step"] / median,
        "flops_per_step": flops,
        "gflops": flops * 1e-9 / median,
        "peak_rss_bytes": max(r["peak_rss_bytes"] for r in runs),
    }


def probe_coretype():
    """Times a 1024^3 fp32 matmul under each candidate OPENBLAS_CORETYPE."""
    candidates = ["Haswell", "Zen"]
    if "avx512f" in common.cpu_flags():
        candidates = ["SkylakeX", "Cooperlake"] + candidates
    best = None
    for c in candidates:
        try:
            r = run_json([PYTHON, os.path.join(HERE, "bench.py"), "matmul_1024", "--json",
                          "--coretype", c, "--warmup", "5", "--steps", "30"])[0]
        except RuntimeError as e:
            log("OPENBLAS_CORETYPE=%s failed: %s" % (c, str(e).splitlines()[0]))
            continue
        log("OPENBLAS_CORETYPE=%-10s matmul_1024 median %.5f s  %.1f GFLOP/s" % (
            c, r["median_step_s"], r["gflops"]))
        if best is None or r["median_step_s"] < best[1]:
            best = (c, r["median_step_s"])
    if best is None:
        common.die("no OPENBLAS_CORETYPE candidate ran")
    log("fastest: OPENBLAS_CORETYPE=%s" % best[0])
    return best[0]


def mib(b):
    return "%.0f MiB" % (b / 2**20)


def markdown(rows):
    lines = ["| workload | kiln median step (s) | PyTorch median step (s) | speedup (PyTorch/kiln) "
             "| kiln GFLOP/s | kiln peak RSS | PyTorch peak RSS |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        k, p = r["kiln"], r["pytorch"]
        lines.append("| %s | %.4f | %.4f | %.2fx | %.1f | %s | %s |" % (
            r["workload"], k["median_step_s"], p["median_step_s"], r["speedup"], k["gflops"],
            mib(k["peak_rss_bytes"]), mib(p["peak_rss_bytes"])))
    return "\n".join(lines)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--kiln", default="build/release/tools/kiln",
                   help="kiln binary (relative paths from the repository root; "
                        "default build/release/tools/kiln)")
    p.add_argument("--rounds", type=int, default=2, help="rounds per workload (default 2)")
    p.add_argument("--workloads", default=",".join(MODEL_WORKLOADS + OP_WORKLOADS),
                   help="comma-separated (default: all four models, then matmul_1024, "
                        "conv3x3_256)")
    p.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    p.add_argument("--tiny", action="store_true",
                   help="PyTorch side 1 warm-up + 1 timed step (smoke test only; kiln always "
                        "runs its full 3 + 10)")
    p.add_argument("--check-params", action="store_true",
                   help="only compare parameter counts (kiln info vs PyTorch), no timing")
    p.add_argument("--coretype", default=None, help="OPENBLAS_CORETYPE for PyTorch")
    p.add_argument("--probe-coretype", action="store_true",
                   help="time matmul_1024 under each candidate OPENBLAS_CORETYPE first and "
                        "use the fastest")
    p.add_argument("--channels-last", action="store_true",
                   help="run PyTorch's nfnet_f0_32 in channels_last memory format")
    args = p.parse_args(argv)

    kiln = args.kiln if os.path.isabs(args.kiln) else os.path.join(REPO, args.kiln)
    if not os.access(kiln, os.X_OK):
        common.die("kiln binary %s not found; build it or pass --kiln (e.g. build/tools/kiln)"
                   % kiln)
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    for w in workloads:
        if w not in MODEL_WORKLOADS and w not in OP_WORKLOADS:
            common.die("unknown workload %r" % w)

    # Parameter counts must agree (the op workloads have none).
    mismatches = 0
    params = {}
    for w in workloads:
        if w in OP_WORKLOADS:
            continue
        kp, pp = kiln_params(kiln, w), pytorch_params(w)
        params[w] = {"kiln": kp, "pytorch": pp}
        ok = kp == pp
        mismatches += not ok
        log("%-15s parameters kiln %s, PyTorch %s %s" % (w, "{:,}".format(kp), "{:,}".format(pp),
                                                         "ok" if ok else "MISMATCH"))
    if args.check_params:
        return 1 if mismatches else 0
    if mismatches:
        log("warning: parameter counts differ; the comparison is not like for like")

    if args.probe_coretype:
        args.coretype = probe_coretype()

    rows = []
    for w in workloads:
        kiln_runs, torch_runs = [], []
        for i in range(args.rounds):
            order = ["kiln", "pytorch"] if i % 2 == 0 else ["pytorch", "kiln"]
            for who in order:
                if who == "kiln":
                    r = run_kiln(kiln, w)
                    kiln_runs.append(r)
                else:
                    r = run_pytorch(w, args)
                    torch_runs.append(r)
                log("%-15s round %d %-7s median %.4f s" % (w, i + 1, who, r["median_step_s"]))
        k, t = summarize(kiln_runs), summarize(torch_runs)
        rows.append({"workload": w, "kiln": k, "pytorch": t,
                     "speedup": t["median_step_s"] / k["median_step_s"],
                     "params": params.get(w),
                     "pytorch_env": {key: torch_runs[0].get(key) for key in
                                     ("torch_version", "threads", "openblas_coretype", "blas")}})
    if args.json:
        print(json.dumps({"rounds": args.rounds, "kiln": kiln, "tiny": args.tiny,
                          "results": rows}, indent=2))
    else:
        print(markdown(rows))
        env = rows[0]["pytorch_env"] if rows else {}
        print("\n%d round(s) per workload, medians over all timed steps; PyTorch %s, %s threads, "
              "OPENBLAS_CORETYPE=%s%s." % (args.rounds, env.get("torch_version"),
                                           env.get("threads"), env.get("openblas_coretype"),
                                           " (PyTorch in --tiny mode: not a valid timing)"
                                           if args.tiny else ""))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
