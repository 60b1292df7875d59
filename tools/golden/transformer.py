#!/usr/bin/python3
"""Golden fixtures for kiln's transformer family (tests/parity/transformer_parity_test.cc).

Run with Debian's Python and python3-torch (not a pyenv Python):

    /usr/bin/python3 tools/golden/transformer.py [--out DIR] [--check]

An independent PyTorch implementation, in float64, of kiln's Transformer
(models/transformer/, include/kiln/models/transformer/transformer.h) in four
configurations:

  transformer_standard   the standard LM: pre-LN blocks, learned positions,
                         causal attention, GELU (tanh) MLP, final LN, untied
                         output (benchmarks.md B2 in miniature);
  transformer_espa       a deep vanilla transformer (2302.10322): no skips, no
                         norms, E-SPA attention (bias log P and the per-position
                         scale s from the Cholesky construction, computed here
                         with numpy's Cholesky and a triangular solve, not
                         kiln's closed form), TAT leaky ReLU (dks's bisection),
                         rotary positions;
  transformer_uspa_vskip U-SPA attention with Value-SkipInit (alpha, beta), no
                         block norms (a final LN), skips kept, tied embeddings,
                         no linear biases, no position embedding;
  transformer_moe        pre-LN with a top-2 mixture-of-experts MLP (capacity,
                         priority routing, gates renormalised, load-balancing
                         and z auxiliary losses).

Every file holds, with kiln's dotted names and layouts (Linear weights (in,
out), embeddings (V, D), expert weights (E, in, out)):

  tokens            (B, T + 1) I64: inputs tokens[:, :T], targets tokens[:, 1:]
  param.<name>      F32, the weights (random, so every path is exercised:
                    queries are not zero, alpha / beta not 1 / 0)
  logits            (B, T, V) F64
  loss              (1,) F64: mean next-token cross-entropy (plus aux_loss)
  aux_loss          (1,) F64, MoE only
  grad.<name>       F64: d loss / d param
  spa_bias.<l>, spa_scale.<l>  (T, T), (T) F64: the SPA matrices of block l
  __metadata__      the model options (kiln's names), the TAT slope

The math runs in float64 on the float32 weights, so the expected values are
exact to float64 rounding.
"""
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from generate import fixture_args, write_fixtures  # noqa: E402

DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "parity", "golden"))
DT = torch.float64


# ----------------------------------------------------------------- SPA and TAT

def exponential_kernel(t, gamma):
    i = np.arange(t)
    return np.exp(-gamma * np.abs(i[:, None] - i[None, :]))


def uniform_kernel(t, rho):
    return (1 - rho) * np.eye(t) + rho * np.ones((t, t))


def spa_matrix(sigma_in, sigma_out):
    """A = L_out L_in^{-1} (A L_in = L_out), split as diag(s) P."""
    l_in = np.linalg.cholesky(sigma_in)
    l_out = np.linalg.cholesky(sigma_out)
    a = np.linalg.solve(l_in.T, l_out.T).T
    a = np.tril(a)
    assert a.min() > -1e-12, "SPA matrix has negative entries"
    a = np.maximum(a, 0.0)
    s = a.sum(axis=1)
    p = a / s[:, None]
    with np.errstate(divide="ignore"):
        bias = np.where(np.tril(np.ones_like(p)) > 0, np.maximum(np.log(p), -1e4), 0.0)
    return bias, s


def spa_schedule(cfg):
    layers = cfg["num_layers"]
    if cfg["attention_bias"] == "e_spa":
        lo, hi = math.log(cfg["espa_gamma_start"]), math.log(cfg["espa_gamma_end"])
        g = [math.exp(lo + (hi - lo) * l / layers) for l in range(layers + 1)]
        g[0], g[-1] = cfg["espa_gamma_start"], cfg["espa_gamma_end"]
        return [exponential_kernel(cfg["max_len"], x) for x in g]
    r0, r1 = cfg["uspa_rho_start"], cfg["uspa_rho_end"]
    return [uniform_kernel(cfg["max_len"], r0 + (r1 - r0) * l / layers) for l in range(layers + 1)]


def leaky_relu_cmap(c, a):
    """dks/base/activation_transform.py _leaky_relu_cmap."""
    return ((1 - a) ** 2 * (math.sqrt(1 - c * c) + (math.pi - math.acos(c)) * c) / math.pi
            + 2 * a * c) / (1 + a * a)


def tat_negative_slope(depth, eta):
    """dks's _compute_negative_slope_param for a chain of `depth` leaky ReLUs:
    _solve_increasing(1 - C^{o depth}(0), 1 - eta, 0.5, 0, 1)."""
    def fn(a):
        c = 0.0
        for _ in range(depth):
            c = leaky_relu_cmap(c, a)
        return 1.0 - c
    target, x, lo, hi = 1.0 - eta, 0.5, 0.0, 1.0
    for _ in range(100):
        v = fn(x)
        if abs(v - target) < 1e-8:
            return x
        if v > target:
            hi, x = x, 0.5 * (x + lo)
        else:
            lo, x = x, 0.5 * (x + hi)
    raise ValueError("no slope found")


# ----------------------------------------------------------------- the model

def layer_norm(x, scale, offset):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + 1e-5) * scale + offset


def gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def rotary(x, base):
    """Rotate-half RoPE on x (B, H, T, Dh)."""
    t, dh = x.shape[-2], x.shape[-1]
    half = dh // 2
    inv = base ** (-2.0 * torch.arange(half, dtype=DT) / dh)
    ang = torch.arange(t, dtype=DT)[:, None] * inv[None, :]
    cos, sin = torch.cos(ang), torch.sin(ang)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def linear(p, name, x):
    y = x @ p[name + ".weight"]
    if name + ".bias" in p:
        y = y + p[name + ".bias"]
    return y


def attention(p, pre, x, cfg, spa):
    b, t, d = x.shape
    h = cfg["num_heads"]
    dh = d // h
    def heads(y):
        return y.view(b, t, h, dh).transpose(1, 2)
    q = heads(linear(p, pre + "query", x))
    k = heads(linear(p, pre + "key", x))
    v_flat = linear(p, pre + "value", x)
    v = heads(v_flat)
    if cfg["position"] == "rope":
        q, k = rotary(q, cfg["rope_base"]), rotary(k, cfg["rope_base"])
    scores = q @ k.transpose(-1, -2) / math.sqrt(dh)
    if spa is not None:
        scores = scores + torch.tensor(spa[0][:t, :t], dtype=DT)
    if cfg["causal"]:
        mask = torch.ones(t, t, dtype=torch.bool).tril()
        scores = scores.masked_fill(~mask, -math.inf)
    mixed = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(b, t, d)
    if spa is not None:
        mixed = mixed * torch.tensor(spa[1][:t], dtype=DT)[:, None]
    if cfg["value_skipinit"]:
        mixed = p[pre + "alpha"] * v_flat + p[pre + "beta"] * mixed
    return linear(p, pre + "output", mixed)


def activation(cfg, x):
    if cfg["activation"] == "gelu":
        return gelu_tanh(x)
    a = cfg["tat_negative_slope"]
    return math.sqrt(2 / (1 + a * a)) * torch.where(x >= 0, x, a * x)


def moe_mlp(p, pre, x, cfg, aux):
    """Top-k routing with capacity, written out (kiln's moe.h)."""
    shape = x.shape
    d = shape[-1]
    flat = x.reshape(-1, d)
    n = flat.shape[0]
    e, k, cf = cfg["moe_num_experts"], cfg["moe_top_k"], cfg["moe_capacity_factor"]
    logits = flat @ p[pre + "router.weight"]
    probs = torch.softmax(logits, -1)
    top = torch.topk(probs.detach(), k + 1 if k < e else k, dim=-1)
    # The order of the choices (and the k-th vs the next) must not hinge on
    # float32 rounding in kiln.
    margin = (top.values[:, :-1] - top.values[:, 1:]).min().item()
    assert margin > 1e-4, f"near-tied routing (margin {margin}); change the seed"
    choice = top.indices[:, :k]
    cap = max(1, math.ceil(cf * k * n / e))
    fill = [0] * e
    slot = [[None] * k for _ in range(n)]
    for j in range(k):
        for i in range(n):
            ex = int(choice[i, j])
            if fill[ex] < cap:
                slot[i][j] = fill[ex]
                fill[ex] += 1
    gates = probs.gather(1, choice)
    if k > 1 and cfg["moe_normalize_gates"]:
        gates = gates / gates.sum(1, keepdim=True)
    rows = []
    for i in range(n):
        y = torch.zeros(d, dtype=DT)
        for j in range(k):
            if slot[i][j] is None:
                continue
            ex = int(choice[i, j])
            hdn = flat[i] @ p[pre + "w1"][ex]
            if pre + "b1" in p:
                hdn = hdn + p[pre + "b1"][ex]
            out = activation(cfg, hdn) @ p[pre + "w2"][ex]
            if pre + "b2" in p:
                out = out + p[pre + "b2"][ex]
            y = y + gates[i, j] * out
        rows.append(y)
    first = torch.zeros(e, dtype=DT)
    for i in range(n):
        first[int(choice[i, 0])] += 1.0 / n
    balance = e * (first * probs.mean(0)).sum()
    z = (torch.logsumexp(logits, -1) ** 2).mean()
    aux.append(cfg["moe_load_balance_weight"] * balance + cfg["moe_z_loss_weight"] * z)
    return torch.stack(rows).reshape(shape)


def forward(p, tokens, cfg, spa_list):
    t = tokens.shape[1]
    x = p["token_embedding.embeddings"][tokens]
    if cfg["position"] == "learned":
        x = x + p["position_embedding.embeddings"][:t]
    aux = []
    for l in range(cfg["num_layers"]):
        pre = f"blocks.{l}."
        h = layer_norm(x, p[pre + "ln1.scale"], p[pre + "ln1.offset"]) if cfg["layer_norm"] else x
        a = attention(p, pre + "attention.", h, cfg, spa_list[l] if spa_list else None)
        x = x + a if cfg["skip"] else a
        h = layer_norm(x, p[pre + "ln2.scale"], p[pre + "ln2.offset"]) if cfg["layer_norm"] else x
        if cfg["moe_num_experts"] > 0:
            m = moe_mlp(p, pre + "moe.", h, cfg, aux)
        else:
            m = linear(p, pre + "mlp.fc2", activation(cfg, linear(p, pre + "mlp.fc1", h)))
        x = x + m if cfg["skip"] else m
    if cfg["final_norm"]:
        x = layer_norm(x, p["final_norm.scale"], p["final_norm.offset"])
    if cfg["tied_embeddings"]:
        logits = x @ p["token_embedding.embeddings"].T
    else:
        logits = linear(p, "unembed", x)
    return logits, (sum(aux) if aux else None)


# ----------------------------------------------------------------- parameters

def parameter_shapes(cfg):
    """kiln's names and shapes, in kiln's registration order."""
    v, t, d, f = cfg["vocab_size"], cfg["max_len"], cfg["d_model"], cfg["mlp_hidden"]
    bias = cfg["bias"]
    shapes = [("token_embedding.embeddings", (v, d))]
    if cfg["position"] == "learned":
        shapes.append(("position_embedding.embeddings", (t, d)))
    def lin(name, i, o):
        shapes.append((name + ".weight", (i, o)))
        if bias:
            shapes.append((name + ".bias", (o,)))
    for l in range(cfg["num_layers"]):
        pre = f"blocks.{l}."
        if cfg["layer_norm"]:
            shapes += [(pre + "ln1.scale", (d,)), (pre + "ln1.offset", (d,))]
        if cfg["value_skipinit"]:
            shapes += [(pre + "attention.alpha", (1,)), (pre + "attention.beta", (1,))]
        for part in ("query", "key", "value", "output"):
            lin(pre + "attention." + part, d, d)
        if cfg["layer_norm"]:
            shapes += [(pre + "ln2.scale", (d,)), (pre + "ln2.offset", (d,))]
        if cfg["moe_num_experts"] > 0:
            e = cfg["moe_num_experts"]
            shapes.append((pre + "moe.w1", (e, d, f)))
            if bias:
                shapes.append((pre + "moe.b1", (e, f)))
            shapes.append((pre + "moe.w2", (e, f, d)))
            if bias:
                shapes.append((pre + "moe.b2", (e, d)))
            shapes.append((pre + "moe.router.weight", (d, e)))
        else:
            lin(pre + "mlp.fc1", d, f)
            lin(pre + "mlp.fc2", f, d)
    if cfg["final_norm"]:
        shapes += [("final_norm.scale", (d,)), ("final_norm.offset", (d,))]
    if not cfg["tied_embeddings"]:
        lin("unembed", d, v)
    return shapes


def random_parameter(name, shape):
    """float32 values of a sensible scale for each kind of parameter."""
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "scale":
        return (1 + 0.2 * torch.randn(shape)).float()
    if leaf in ("offset", "bias", "b1", "b2"):
        return (0.2 * torch.randn(shape)).float()
    if leaf == "alpha":
        return (1 + 0.3 * torch.randn(shape)).float()
    if leaf == "beta":
        return (0.5 + 0.3 * torch.randn(shape)).float()
    if leaf == "embeddings":
        return torch.randn(shape).float()
    fan_in = shape[-2]
    return (torch.randn(shape) / math.sqrt(fan_in)).float()


# ----------------------------------------------------------------- fixtures

BASE = dict(vocab_size=32, max_len=8, d_model=16, num_layers=2, num_heads=2, mlp_hidden=32,
            activation="gelu", tat_eta=0.9, position="learned", rope_base=10000.0, causal=True,
            tied_embeddings=False, layer_norm=True, final_norm=True, skip=True, bias=True,
            value_skipinit=False, attention_bias="none", espa_gamma_start=1.0,
            espa_gamma_end=0.1, uspa_rho_start=0.0, uspa_rho_end=0.5, moe_num_experts=0,
            moe_top_k=1, moe_capacity_factor=1.25, moe_normalize_gates=True,
            moe_load_balance_weight=0.01, moe_z_loss_weight=0.001, batch=2)

CONFIGS = {
    "transformer_standard": dict(seed=601),
    "transformer_espa": dict(seed=602, layer_norm=False, final_norm=False, skip=False,
                             attention_bias="e_spa", espa_gamma_start=1.5, espa_gamma_end=0.2,
                             activation="tat_leaky_relu", tat_eta=0.4, position="rope"),
    "transformer_uspa_vskip": dict(seed=603, layer_norm=False, final_norm=True,
                                   attention_bias="u_spa", uspa_rho_start=0.1,
                                   uspa_rho_end=0.6, value_skipinit=True, tied_embeddings=True,
                                   bias=False, position="none"),
    "transformer_moe": dict(seed=604, moe_num_experts=4, moe_top_k=2, moe_capacity_factor=0.75,
                            mlp_hidden=8),
}


def meta_value(v):
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def fixture(name):
    cfg = dict(BASE, **CONFIGS[name])
    torch.manual_seed(cfg["seed"])
    if cfg["activation"] == "tat_leaky_relu":
        cfg["tat_negative_slope"] = tat_negative_slope(cfg["num_layers"], cfg["tat_eta"])
    spa_list = None
    if cfg["attention_bias"] != "none":
        kernels = spa_schedule(cfg)
        spa_list = [spa_matrix(kernels[l], kernels[l + 1]) for l in range(cfg["num_layers"])]
    tokens = torch.randint(0, cfg["vocab_size"], (cfg["batch"], cfg["max_len"] + 1))
    params32 = {n: random_parameter(n, s) for n, s in parameter_shapes(cfg)}
    params = {n: v.to(DT).requires_grad_(True) for n, v in params32.items()}
    logits, aux = forward(params, tokens[:, :-1], cfg, spa_list)
    v = cfg["vocab_size"]
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, v), tokens[:, 1:].reshape(-1))
    total = loss + aux if aux is not None else loss
    grads = torch.autograd.grad(total, list(params.values()))

    tensors = {"tokens": tokens}
    for n, val in params32.items():
        tensors["param." + n] = val
    tensors["logits"] = logits.detach()
    tensors["loss"] = total.detach().reshape(1)
    if aux is not None:
        tensors["aux_loss"] = aux.detach().reshape(1)
    for (n, _), g in zip(params.items(), grads):
        tensors["grad." + n] = g
    if spa_list:
        for l, (bias, scale) in enumerate(spa_list):
            tensors[f"spa_bias.{l}"] = torch.tensor(bias, dtype=DT)
            tensors[f"spa_scale.{l}"] = torch.tensor(scale, dtype=DT)
    meta = {k: meta_value(val) for k, val in cfg.items() if k != "seed"}
    return tensors, meta


def main():
    args = fixture_args(__doc__, DEFAULT_OUT)
    return write_fixtures(((name, fixture(name)) for name in CONFIGS), args,
                          "tools/golden/transformer.py")


if __name__ == "__main__":
    sys.exit(main())
