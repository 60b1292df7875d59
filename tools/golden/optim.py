#!/usr/bin/python3
"""Golden optimizer trajectories for tests/parity/optim_parity_test.cc.

Run with Debian's Python and python3-torch (not a pyenv Python):

    /usr/bin/python3 tools/golden/optim.py [--out DIR] [--check]

DIR defaults to tests/parity/golden. --check regenerates in memory and fails
if any file on disk differs (the fixtures are deterministic). Writes, in
float64 (safetensors written here with struct + json):

  optim_sgd_nesterov.safetensors  SGD, momentum 0.9, Nesterov, coupled weight
                                  decay: the NFNets form, written out below
                                  (deepmind-research nfnets/optim.py SGD) and
                                  checked against torch.optim.SGD;
  optim_sgd_agc.safetensors       the same plus adaptive gradient clipping
                                  (nfnets/optim.py SGD_AGC, written out),
                                  with the "head." parameters unclipped;
  optim_adam.safetensors          torch.optim.Adam (coupled L2 decay);
  optim_adamw.safetensors         torch.optim.AdamW (decoupled decay);
  optim_lamb.safetensors          LAMB (You et al. 2019, Algorithm 2 with bias
                                  correction), written out.

Each file holds, for parameters P and steps t = 0..T-1:
  init.<P>           the starting value
  grad.<t>.<P>       the gradient fed at step t (from a fixed quadratic loss
                     at the current parameters plus fixed noise, so every
                     step's gradient is stored and kiln needs no loss)
  param.<t>.<P>      the value after step t
  state.<P>.<slot>   the optimizer state after the last step (kiln's names)
  lr                 (T,) the learning rate of each step
  hyper.<key>        scalar hyperparameters
Gains and biases get no weight decay, "head." no AGC: NFNets' parameter
groups, kiln's nfnet_group_rules().
"""
import argparse
import json
import os
import re
import struct
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)

STEPS = 5
# Names and shapes: an (I, O) linear, a (KH, KW, I, O) conv, a bias vector, a
# scalar gain and an (I, O) head (AGC leaves "head." alone).
SHAPES = {
    "layer.weight": (3, 4),
    "conv.weight": (2, 2, 3, 2),
    "layer.bias": (4,),
    "skip_gain": (),
    "head.weight": (4, 2),
}


def safetensors_bytes(tensors):
    """Minimal safetensors encoder: F64 tensors in the given order."""
    header = {}
    blobs = []
    offset = 0
    for name, value in tensors.items():
        data = np.ascontiguousarray(value.detach().numpy(), dtype="<f8").tobytes()
        header[name] = {
            "dtype": "F64",
            "shape": list(value.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def problem(seed):
    """Initial parameters and a gradient function of (params, step)."""
    gen = torch.Generator().manual_seed(seed)
    init, target, curvature, noise = {}, {}, {}, {}
    for name, shape in SHAPES.items():
        init[name] = torch.randn(shape, generator=gen)
        target[name] = torch.randn(shape, generator=gen)
        curvature[name] = 0.5 + 1.5 * torch.rand(shape, generator=gen)
        noise[name] = 0.3 * torch.randn((STEPS,) + shape, generator=gen)
    # A zero-initialised gain, as NFNets' skip_gain (AGC's eps case).
    init["skip_gain"] = torch.zeros(())

    def grad(params, t):
        return {n: curvature[n] * (params[n] - target[n]) + noise[n][t] for n in SHAPES}

    return init, grad


# NFNets' parameter groups (kiln's nfnet_group_rules()): gains and biases get
# no weight decay; "head." gets no AGC.
NO_DECAY = re.compile(r"(bias|gain|skip_gain|scale|offset)$")


def weight_decay_for(name, wd):
    return 0.0 if NO_DECAY.search(name) else wd


# --- hand-written optimizers (float64 tensors, updated in place) ---


def nfnets_sgd_step(params, grads, state, lr, hp):
    """nfnets/optim.py SGD.update_param: wd, momentum, Nesterov, lr."""
    for n in params:
        g = grads[n] + params[n] * weight_decay_for(n, hp["weight_decay"])
        state[n]["momentum"] = hp["momentum"] * state[n]["momentum"] + (1 - hp["dampening"]) * g
        g = g + hp["momentum"] * state[n]["momentum"]  # nesterov
        params[n] = params[n] - lr * g


def unitwise_norm(x):
    """nfnets/optim.py unitwise_norm (HWIO / IO layouts)."""
    if len(x.squeeze().shape) <= 1:
        return torch.sqrt(torch.sum(x**2))
    if x.dim() in (2, 3):
        return torch.sqrt(torch.sum(x**2, dim=0, keepdim=True))
    if x.dim() == 4:
        return torch.sqrt(torch.sum(x**2, dim=(0, 1, 2), keepdim=True))
    raise ValueError(x.shape)


def agc(params, grads, clipping, eps):
    """nfnets/optim.py SGD_AGC.update_param's clipping, skipping "head."."""
    out = {}
    for n in params:
        g = grads[n]
        if not n.startswith("head."):
            param_norm = torch.clamp(unitwise_norm(params[n]), min=eps)
            grad_norm = unitwise_norm(g)
            max_norm = param_norm * clipping
            trigger = grad_norm > max_norm
            clipped = g * (max_norm / torch.clamp(grad_norm, min=1e-6))
            g = torch.where(trigger, clipped, g)
        out[n] = g
    return out


def lamb_step(params, grads, state, lr, hp, t):
    """LAMB, You et al. 2019, Algorithm 2 (bias-corrected moments, phi = id)."""
    b1, b2, eps = hp["beta1"], hp["beta2"], hp["eps"]
    for n in params:
        g = grads[n]
        s = state[n]
        s["exp_avg"] = b1 * s["exp_avg"] + (1 - b1) * g
        s["exp_avg_sq"] = b2 * s["exp_avg_sq"] + (1 - b2) * g * g
        m_hat = s["exp_avg"] / (1 - b1**t)
        v_hat = s["exp_avg_sq"] / (1 - b2**t)
        u = m_hat / (torch.sqrt(v_hat) + eps) + weight_decay_for(n, hp["weight_decay"]) * params[n]
        p_norm = torch.linalg.norm(params[n].reshape(-1)).item()
        u_norm = torch.linalg.norm(u.reshape(-1)).item()
        trust = p_norm / u_norm if p_norm > 0 and u_norm > 0 else 1.0
        params[n] = params[n] - lr * trust * u


# --- trajectories ---


def run_hand(kind, hp, lrs, seed):
    init, grad_fn = problem(seed)
    params = {n: v.clone() for n, v in init.items()}
    slots = ["momentum"] if kind.startswith("sgd") else ["exp_avg", "exp_avg_sq"]
    state = {n: {s: torch.zeros_like(v) for s in slots} for n, v in params.items()}
    out = {f"init.{n}": v for n, v in init.items()}
    for t, lr in enumerate(lrs):
        grads = grad_fn(params, t)
        for n in SHAPES:
            out[f"grad.{t}.{n}"] = grads[n]
        if kind == "sgd_agc":
            grads = agc(params, grads, hp["clipping"], hp["eps"])
        if kind in ("sgd", "sgd_agc"):
            nfnets_sgd_step(params, grads, state, lr, hp)
        else:
            lamb_step(params, grads, state, lr, hp, t + 1)
        for n in SHAPES:
            out[f"param.{t}.{n}"] = params[n].clone()
    for n in SHAPES:
        for s in slots:
            out[f"state.{n}.{s}"] = state[n][s]
    return out


def run_torch(cls, hp, lrs, seed, slots, torch_slots):
    init, grad_fn = problem(seed)
    params = {n: v.clone().requires_grad_(True) for n, v in init.items()}
    kwargs = {k: v for k, v in hp.items() if k not in ("weight_decay", "beta1", "beta2")}
    if "beta1" in hp:
        kwargs["betas"] = (hp["beta1"], hp["beta2"])
    groups = [
        {"params": [params[n] for n in SHAPES if not NO_DECAY.search(n)],
         "weight_decay": hp["weight_decay"]},
        {"params": [params[n] for n in SHAPES if NO_DECAY.search(n)], "weight_decay": 0.0},
    ]
    opt = cls(groups, lr=lrs[0], **kwargs)
    out = {f"init.{n}": v.detach().clone() for n, v in init.items()}
    for t, lr in enumerate(lrs):
        for group in opt.param_groups:
            group["lr"] = lr
        with torch.no_grad():
            grads = grad_fn({n: p.detach() for n, p in params.items()}, t)
        for n in SHAPES:
            params[n].grad = grads[n].clone()
            out[f"grad.{t}.{n}"] = grads[n]
        opt.step()
        for n in SHAPES:
            out[f"param.{t}.{n}"] = params[n].detach().clone()
    for n in SHAPES:
        for slot, torch_slot in zip(slots, torch_slots):
            out[f"state.{n}.{slot}"] = opt.state[params[n]][torch_slot].detach().clone()
    return out


def with_meta(traj, hp, lrs):
    traj = dict(traj)
    traj["lr"] = torch.tensor(lrs)
    for k, v in hp.items():
        traj[f"hyper.{k}"] = torch.tensor(float(v))
    return traj


def assert_close(a, b, what):
    for k in a:
        if k.startswith("param.") and not torch.allclose(a[k], b[k], rtol=1e-12, atol=1e-12):
            raise SystemExit(f"{what}: {k} differs: {a[k]} vs {b[k]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "parity", "golden"))
    parser.add_argument("--check", action="store_true",
                        help="compare with the files on disk instead of writing")
    args = parser.parse_args()
    files = {}

    # SGD, NFNets form; equal to torch.optim.SGD when dampening is 0.
    sgd_hp = {"momentum": 0.9, "dampening": 0.0, "nesterov": 1.0, "weight_decay": 0.05}
    sgd_lrs = [0.0, 0.05, 0.1, 0.08, 0.02]  # a warmup-like start at 0, as NFNets' step 0
    sgd = run_hand("sgd", sgd_hp, sgd_lrs, seed=1)
    torch_sgd = run_torch(torch.optim.SGD,
                          {"momentum": 0.9, "dampening": 0.0, "nesterov": True,
                           "weight_decay": 0.05}, sgd_lrs, 1, ["momentum"], ["momentum_buffer"])
    assert_close(sgd, torch_sgd, "NFNets SGD vs torch.optim.SGD")
    files["optim_sgd_nesterov"] = with_meta(sgd, sgd_hp, sgd_lrs)

    # SGD_AGC; clipping chosen so that some units clip and some do not.
    agc_hp = dict(sgd_hp, clipping=1.0, eps=1e-3)
    agc_traj = run_hand("sgd_agc", agc_hp, [0.05, 0.1, 0.1, 0.08, 0.02], seed=2)
    files["optim_sgd_agc"] = with_meta(agc_traj, agc_hp, [0.05, 0.1, 0.1, 0.08, 0.02])

    adam_lrs = [0.01, 0.02, 0.02, 0.015, 0.01]
    adam_hp = {"beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "weight_decay": 0.1}
    files["optim_adam"] = with_meta(
        run_torch(torch.optim.Adam, adam_hp, adam_lrs, 3, ["exp_avg", "exp_avg_sq"],
                  ["exp_avg", "exp_avg_sq"]), adam_hp, adam_lrs)
    files["optim_adamw"] = with_meta(
        run_torch(torch.optim.AdamW, adam_hp, adam_lrs, 4, ["exp_avg", "exp_avg_sq"],
                  ["exp_avg", "exp_avg_sq"]), adam_hp, adam_lrs)

    lamb_hp = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-6, "weight_decay": 0.01}
    lamb_lrs = [0.01, 0.02, 0.02, 0.01, 0.005]
    files["optim_lamb"] = with_meta(run_hand("lamb", lamb_hp, lamb_lrs, seed=5), lamb_hp,
                                    lamb_lrs)

    stale = []
    if not args.check:
        os.makedirs(args.out, exist_ok=True)
    for name, tensors in files.items():
        path = os.path.normpath(os.path.join(args.out, name + ".safetensors"))
        data = safetensors_bytes(tensors)
        if args.check:
            if not os.path.exists(path) or open(path, "rb").read() != data:
                stale.append(path)
            continue
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        print(f"wrote {path} ({len(tensors)} tensors)")
    if stale:
        sys.exit("stale fixtures (regenerate with tools/golden/optim.py): " + ", ".join(stale))
    if args.check:
        print(f"{len(files)} fixtures up to date")


if __name__ == "__main__":
    main()
