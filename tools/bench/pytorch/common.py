"""Shared helpers of the PyTorch reference benchmarks (benchmarks.md).

Environment (set before torch is imported; bench.py re-executes itself when
the environment has to change, since the dynamic loader only reads
LD_LIBRARY_PATH at process start):
  OMP_NUM_THREADS, OPENBLAS_NUM_THREADS  all cores (os.cpu_count())
  OPENBLAS_CORETYPE   SkylakeX if /proc/cpuinfo lists avx512f, else Haswell
                      (an explicit value in the environment is kept)
  LD_LIBRARY_PATH     Debian's OpenBLAS directory first, if torch would
                      otherwise load the reference (netlib) libblas.so.3
"""

import json
import os
import resource
import statistics
import sys
import time

# FLOPs per training step (3 x forward; benchmarks.md "FLOP convention").
FLOPS_PER_STEP = {
    "nfnet_f0_32": 41_273_917_440,
    "gpt_small": 252_866_199_552,
    "gpt_small_bf16": 252_866_199_552,
    "perceiver_32": 69_508_251_648,
    "conv3x3_256": 28_991_029_248,
    "matmul_1024": 2_147_483_648,
}

OPENBLAS_DIRS = [
    "/usr/lib/x86_64-linux-gnu/openblas-pthread",
    "/usr/lib/x86_64-linux-gnu/openblas-openmp",
    "/usr/lib/x86_64-linux-gnu/openblas-serial",
]
SYSTEM_LIBBLAS = "/usr/lib/x86_64-linux-gnu/libblas.so.3"


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def default_coretype():
    return "SkylakeX" if "avx512f" in cpu_flags() else "Haswell"


def openblas_dir():
    """Debian's OpenBLAS directory if the system libblas.so.3 is not OpenBLAS."""
    try:
        target = os.path.realpath(SYSTEM_LIBBLAS)
    except OSError:
        target = ""
    if "openblas" in target:
        return None  # the alternative already points at OpenBLAS
    for d in OPENBLAS_DIRS:
        if os.path.exists(os.path.join(d, "libblas.so.3")):
            return d
    return None


def bench_env(base=None, coretype=None, use_openblas_path=True):
    """The environment the PyTorch benchmark runs in."""
    env = dict(os.environ if base is None else base)
    cores = str(os.cpu_count())
    env["OMP_NUM_THREADS"] = cores
    env["OPENBLAS_NUM_THREADS"] = cores
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    elif not env.get("OPENBLAS_CORETYPE"):
        env["OPENBLAS_CORETYPE"] = default_coretype()
    if use_openblas_path:
        d = openblas_dir()
        if d:
            paths = [p for p in env.get("LD_LIBRARY_PATH", "").split(":") if p]
            if not paths or paths[0] != d:
                env["LD_LIBRARY_PATH"] = ":".join([d] + [p for p in paths if p != d])
    return env


def loaded_blas():
    """Paths of the BLAS libraries mapped into this process."""
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                if "blas" in os.path.basename(path):
                    libs.add(path)
    except OSError:
        pass
    return sorted(libs)


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def tiny_mode():
    return os.environ.get("KILN_PYBENCH_TINY", "") not in ("", "0")


def time_steps(name, step, examples_per_step, warmup=3, timed=10):
    """benchmarks.md's rule: `warmup` untimed steps, then `timed` timed ones."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(timed):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    flops = FLOPS_PER_STEP[name]
    return {
        "name": name,
        "median_step_s": median,
        "min_step_s": min(times),
        "max_step_s": max(times),
        "step_seconds": times,
        "examples_per_step": examples_per_step,
        "examples_per_s": examples_per_step / median,
        "flops_per_step": flops,
        "gflops": flops * 1e-9 / median,
        "peak_rss_bytes": peak_rss_bytes(),
        "warmup_steps": warmup,
        "timed_steps": timed,
    }


def format_result(r):
    return ("%-15s median %.4f s (min %.4f, max %.4f)  %.1f examples/s  %.3g FLOP/step  "
            "%.1f GFLOP/s  peak RSS %.0f MiB" %
            (r["name"], r["median_step_s"], r["min_step_s"], r["max_step_s"],
             r["examples_per_s"], r["flops_per_step"], r["gflops"],
             r["peak_rss_bytes"] / 2**20))


def emit(r, as_json):
    if as_json:
        print(json.dumps(r), flush=True)
    else:
        print(format_result(r), flush=True)
        if "params" in r:
            print("%-15s parameters %s" % ("", "{:,}".format(r["params"])), flush=True)


class FlopCounter:
    """Counts matmul/conv/attention FLOPs (2 per multiply-add) of forward
    passes run inside it: nn.Linear through forward hooks, the models' own
    convolutions and attention through count()."""

    active = None

    def __init__(self, model):
        self.model = model
        self.total = 0
        self.handles = []

    def __enter__(self):
        import torch.nn as nn

        def linear_hook(module, inputs, output):
            rows = output.numel() // module.out_features
            self.total += 2 * rows * module.in_features * module.out_features

        for m in self.model.modules():
            if isinstance(m, nn.Linear):
                self.handles.append(m.register_forward_hook(linear_hook))
        FlopCounter.active = self
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()
        FlopCounter.active = None
        return False

    @staticmethod
    def count(n):
        if FlopCounter.active is not None:
            FlopCounter.active.total += int(n)


def die(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)
