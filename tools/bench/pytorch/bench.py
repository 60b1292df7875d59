#!/usr/bin/python3
"""PyTorch versions of benchmarks.md's reference workloads, timed by its rule.

usage: bench.py WORKLOAD... [--json] [--warmup N] [--steps N] [--tiny]
                [--params-only] [--check-flops] [--channels-last]
                [--coretype NAME] [--no-openblas-path]

WORKLOAD: nfnet_f0_32, gpt_small, perceiver_32, gpt_small_bf16, matmul_1024,
conv3x3_256, ops (= matmul_1024 conv3x3_256) or all (everything).
Each workload builds its model and optimizer, generates random inputs once,
runs 3 warm-up training steps (forward + loss + backward + optimizer update),
then times 10 and prints the median/min/max step time, examples/s, GFLOP/s
(benchmarks.md's FLOP counts) and the process's peak RSS. --tiny (or
KILN_PYBENCH_TINY=1) runs 1 warm-up and 1 timed step, for smoke tests only.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common  # noqa: E402  (no torch import yet)

MODELS = ["nfnet_f0_32", "gpt_small", "perceiver_32", "gpt_small_bf16"]
OPS = ["matmul_1024", "conv3x3_256"]
REEXEC_MARK = "KILN_PYBENCH_REEXEC"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workloads", nargs="+", metavar="WORKLOAD")
    p.add_argument("--json", action="store_true", help="one JSON object per workload")
    p.add_argument("--warmup", type=int, default=None, help="warm-up steps (default 3)")
    p.add_argument("--steps", type=int, default=None, help="timed steps (default 10)")
    p.add_argument("--tiny", action="store_true",
                   help="1 warm-up and 1 timed step (smoke test; also KILN_PYBENCH_TINY=1)")
    p.add_argument("--params-only", action="store_true",
                   help="build the models and print their parameter counts, no timing")
    p.add_argument("--check-flops", action="store_true",
                   help="count one forward pass's matmul/conv/attention FLOPs and compare "
                        "3x it with benchmarks.md's count")
    p.add_argument("--channels-last", action="store_true",
                   help="nfnet_f0_32 in channels_last memory format (default NCHW)")
    p.add_argument("--coretype", default=None,
                   help="OPENBLAS_CORETYPE (default: the environment's, else SkylakeX with "
                        "AVX-512, else Haswell)")
    p.add_argument("--no-openblas-path", action="store_true",
                   help="do not put Debian's OpenBLAS first on LD_LIBRARY_PATH")
    args = p.parse_args(argv)
    names = []
    for w in args.workloads:
        if w == "all":
            names += MODELS + OPS
        elif w == "ops":
            names += OPS
        elif w in MODELS or w in OPS:
            names.append(w)
        else:
            p.error("unknown workload %r (one of %s, ops, all)" % (w, ", ".join(MODELS + OPS)))
    args.names = names
    return args


def ensure_env(args):
    """Re-executes this script once if the threads/BLAS environment differs."""
    env = common.bench_env(coretype=args.coretype, use_openblas_path=not args.no_openblas_path)
    keys = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "LD_LIBRARY_PATH")
    if all(os.environ.get(k) == env.get(k) for k in keys) or os.environ.get(REEXEC_MARK):
        return
    env[REEXEC_MARK] = "1"
    os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env)


def setup_torch():
    import torch
    torch.set_num_threads(os.cpu_count())
    torch.backends.mkldnn.enabled = True
    if not torch.backends.mkldnn.is_available():
        print("warning: oneDNN (mkldnn) is not available in this torch", file=sys.stderr)
    return torch


def build(name, args):
    if name == "nfnet_f0_32":
        import nfnet
        return nfnet.build(channels_last=args.channels_last), 32
    if name in ("gpt_small", "gpt_small_bf16"):
        import gpt
        if name.endswith("_bf16") and "avx512bw" not in common.cpu_flags():
            print("warning: no AVX-512 on this CPU: PyTorch 1.13 runs bf16 matmuls through its "
                  "slow generic kernel here, not oneDNN", file=sys.stderr, flush=True)
        return gpt.build(bf16=name.endswith("_bf16")), 8
    if name == "perceiver_32":
        import perceiver
        return perceiver.build(), 16
    raise ValueError(name)


def bench_op(name, torch, warmup, steps):
    g = torch.Generator().manual_seed(0)
    if name == "matmul_1024":
        a = torch.randn(1024, 1024, generator=g)
        b = torch.randn(1024, 1024, generator=g)
        return common.time_steps(name, lambda: torch.matmul(a, b), 1, warmup, steps)
    import torch.nn.functional as F
    x = torch.randn(32, 256, 16, 16, generator=g).requires_grad_(True)
    w = (torch.randn(256, 256, 3, 3, generator=g) * 0.02).requires_grad_(True)
    dy = torch.randn(32, 256, 16, 16, generator=g)

    def step():  # forward, backward data and backward weights
        y = F.conv2d(x, w, None, 1, 1)
        return torch.autograd.grad([y], [x, w], [dy])

    return common.time_steps(name, step, 32, warmup, steps)


def main(argv):
    args = parse_args(argv)
    ensure_env(args)
    torch = setup_torch()
    tiny = args.tiny or common.tiny_mode()
    warmup = args.warmup if args.warmup is not None else (1 if tiny else 3)
    steps = args.steps if args.steps is not None else (1 if tiny else 10)
    info = {
        "framework": "pytorch",
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
    }
    if not args.json:
        print("torch %s, %d threads, OPENBLAS_CORETYPE=%s, BLAS %s" % (
            torch.__version__, info["threads"], info["openblas_coretype"],
            ", ".join(common.loaded_blas()) or "?"), flush=True)
    status = 0
    for name in args.names:
        if name in OPS:
            r = bench_op(name, torch, warmup, steps)
        else:
            (model, step, forward, params), batch = build(name, args)
            r = None
            if args.params_only:
                r = {"name": name, "params": params}
            if args.check_flops:
                with torch.no_grad(), common.FlopCounter(model) as counter:
                    forward()
                flops = 3 * counter.total
                expected = common.FLOPS_PER_STEP[name]
                ok = flops == expected
                status |= 0 if ok else 1
                print("%-15s FLOPs/step %s (benchmarks.md %s) %s" % (
                    name, "{:,}".format(flops), "{:,}".format(expected),
                    "ok" if ok else "MISMATCH"), file=sys.stderr if args.json else sys.stdout,
                      flush=True)
            if r is None:
                r = common.time_steps(name, step, batch, warmup, steps)
                r["params"] = params
            del model, step, forward
        r.update(info)
        r["blas"] = common.loaded_blas()
        if args.params_only and name in OPS:
            continue
        if args.params_only and not args.json:
            print("%-15s parameters %s" % (name, "{:,}".format(r["params"])), flush=True)
        else:
            common.emit(r, args.json)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
