#!/usr/bin/python3
"""Golden fixtures for Flamingo's Perceiver Resampler and GATED XATTN-DENSE layer
(tests/parity/flamingo_parity_test.cc).

Run with Debian's Python and python3-torch (not a pyenv Python):

    /usr/bin/python3 tools/golden/flamingo.py [--out DIR] [--check]

An independent PyTorch implementation, in float64, of the math of the
Flamingo paper (Alayrac et al. 2022, arXiv 2204.14198: the Perceiver
Resampler pseudocode of its Figure 5 with the final LayerNorm of the
reimplementations, and the GATED XATTN-DENSE layer of its Figure 4) with
kiln's parameter names and layouts (models/flamingo/,
include/kiln/models/flamingo/), in two small configurations:

  flamingo_resampler     video-like features (B 2, T 2 frames, S 5 features,
                         d 12) plus learned time embeddings (3 rows, so one
                         is unused and gets a zero gradient) -> 3 latents
                         through 2 layers (2 heads of 4, keys and values
                         from [LN(media); LN(latents)]), squared-ReLU FFW
                         (x2), final LayerNorm;
  flamingo_gated_xattn   text y (B 2, L 7, D 16) cross-attending to the
                         visual tokens of 2 images x 3 tokens (d 12) under
                         the media mask of a token sequence with <image>
                         tokens at different places in the two rows (the
                         first two tokens of row 0 precede every image and
                         must get a zero cross-attention output; row 1's
                         second image is seen only by its own token), then
                         the squared-ReLU dense branch; tanh gates 0.3 and
                         -0.5 (not 0, so both branches count).

Every file holds, with kiln's dotted names and layouts (Linear weights (in,
out), no biases; LayerNorm scale / offset, eps 1e-5):

  features | y, media  F32 the float inputs
  tokens, media_bias   I64 token ids (B, L), F32 (B, 1, L, N R) 0 / -inf
                       (gated_xattn only)
  proj                 F32 shaped like out: the loss is sum(out * proj)
  param.<name>         F32 weights (random, so every path is exercised)
  out                  F64 the output
  loss                 (1,) F64
  grad.<name>          F64 d loss / d param
  grad_<input>         F64 d loss / d float input
  __metadata__         the options (kiln's PerceiverResamplerOptions /
                       GatedCrossAttentionOptions names), image_token_id,
                       num_images, tokens_per_image, num_params

The math runs in float64 on the float32 values, so the expected values are
exact to float64 rounding.
"""
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from generate import fixture_args, write_fixtures  # noqa: E402

DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "parity", "golden"))
DT = torch.float64
IMAGE = 5  # the <image> token id

# ----------------------------------------------------------------- building blocks


def norm(p, name, x):
    """LayerNorm over the last axis, biased variance, eps 1e-5."""
    centred = x - x.mean(dim=-1, keepdim=True)
    inv_std = torch.rsqrt((centred * centred).mean(dim=-1, keepdim=True) + 1e-5)
    out = centred * inv_std * p[name + ".scale"] + p[name + ".offset"]
    expect = torch.nn.functional.layer_norm(x, x.shape[-1:], p[name + ".scale"],
                                            p[name + ".offset"], 1e-5)
    assert (out - expect).abs().max().item() < 1e-12, name
    return out


def squared_relu(x):
    """Primer's activation (So et al. 2021), the one the Flamingo paper uses."""
    return torch.clamp(x, min=0.0) ** 2


def feed_forward(p, name, x):
    """FFW = LN, Linear(D, m D), squared ReLU, Linear(m D, D); no biases."""
    h = norm(p, name + "_norm", x) @ p[name + ".linear_0.weight"]
    return squared_relu(h) @ p[name + ".linear_1.weight"]


def multi_head_attention(p, name, xq, xkv, heads, visible=None):
    """Multi-head attention without biases. visible (B, Lq, Lk) bool or None;
    a query that sees no key gets a zero vector (before the output
    projection, which has no bias, so after it as well).

    The softmax is written out with an explicit max shift and a zero
    denominator guard, so masked rows never produce NaN."""
    q = xq @ p[name + ".query.weight"]
    k = xkv @ p[name + ".key.weight"]
    v = xkv @ p[name + ".value.weight"]
    b, lq, inner = q.shape
    lk = k.shape[1]
    dh = inner // heads
    # Feature index h * dh + i is head h's i-th channel.
    q = q.view(b, lq, heads, dh)
    k = k.view(b, lk, heads, dh)
    v = v.view(b, lk, heads, v.shape[-1] // heads)
    scores = torch.einsum("bqhi,bkhi->bhqk", q, k) / math.sqrt(dh)
    if visible is None:
        weights = torch.softmax(scores, dim=-1)
    else:
        seen = visible[:, None, :, :].expand_as(scores)
        shift = torch.where(seen, scores, torch.full_like(scores, -1e300))
        shift = shift.amax(dim=-1, keepdim=True).detach()
        shift = torch.where(seen.any(dim=-1, keepdim=True), shift, torch.zeros_like(shift))
        e = torch.exp(torch.where(seen, scores - shift, torch.zeros_like(scores))) * seen
        total = e.sum(dim=-1, keepdim=True)
        weights = e / torch.where(total > 0, total, torch.ones_like(total))
    mixed = torch.einsum("bhqk,bkhj->bqhj", weights, v).reshape(b, lq, -1)
    return mixed @ p[name + ".output.weight"]


# ----------------------------------------------------------------- Perceiver Resampler


def resampler(p, features, cfg):
    """features (B, T, S, d) -> (B, R, d)."""
    b, t, s, d = features.shape
    x_f = features + p["time_embeddings"][:t, None, :]  # one embedding per frame
    x_f = x_f.reshape(b, t * s, d)
    x = p["latents"].unsqueeze(0).repeat(b, 1, 1)
    for i in range(cfg["depth"]):
        name = f"layers.{i}"
        media = norm(p, name + ".media_norm", x_f)
        lat = norm(p, name + ".latent_norm", x)
        x = x + multi_head_attention(p, name + ".attention", lat,
                                     torch.cat([media, lat], dim=1), cfg["heads"])
        x = x + feed_forward(p, name + ".ff", x)
    return norm(p, "final_norm", x)


def resampler_shapes(cfg):
    d, inner, hidden = cfg["dim"], cfg["heads"] * cfg["head_dim"], cfg["ff_mult"] * cfg["dim"]
    shapes = [("latents", (cfg["num_latents"], d)), ("time_embeddings", (cfg["max_frames"], d))]
    for i in range(cfg["depth"]):
        n = f"layers.{i}"
        for ln in ("media_norm", "latent_norm"):
            shapes += [(f"{n}.{ln}.scale", (d,)), (f"{n}.{ln}.offset", (d,))]
        shapes += [(f"{n}.attention.query.weight", (d, inner)),
                   (f"{n}.attention.key.weight", (d, inner)),
                   (f"{n}.attention.value.weight", (d, inner)),
                   (f"{n}.attention.output.weight", (inner, d)),
                   (f"{n}.ff_norm.scale", (d,)), (f"{n}.ff_norm.offset", (d,)),
                   (f"{n}.ff.linear_0.weight", (d, hidden)),
                   (f"{n}.ff.linear_1.weight", (hidden, d))]
    shapes += [("final_norm.scale", (d,)), ("final_norm.offset", (d,))]
    return shapes


# ----------------------------------------------------------------- GATED XATTN-DENSE


def media_visibility(tokens, num_images, per_image):
    """(B, L) ids -> (B, L, N R) bool: token l sees the R tokens of image
    number cumsum(tokens == <image>)[l] (1-based; 0: no image yet)."""
    image_of_token = torch.cumsum((tokens == IMAGE).long(), dim=1)  # (B, L)
    image_of_media = torch.arange(num_images * per_image) // per_image + 1  # (N R)
    return image_of_token[:, :, None] == image_of_media[None, None, :]


def gated_xattn_dense(p, y, media, visible, cfg):
    """y (B, L, D), media (B, N R, d) -> (B, L, D)."""
    a = multi_head_attention(p, "attention", norm(p, "attention_norm", y), media,
                             cfg["heads"], visible)
    if cfg["gated"]:
        a = torch.tanh(p["attention_gate"]) * a
    y = y + a
    f = feed_forward(p, "ff", y)
    if cfg["gated"]:
        f = torch.tanh(p["dense_gate"]) * f
    return y + f


def gated_xattn_shapes(cfg):
    d, dm = cfg["dim"], cfg["media_dim"]
    inner, hidden = cfg["heads"] * cfg["head_dim"], cfg["ff_mult"] * cfg["dim"]
    return [("attention_gate", (1,)), ("dense_gate", (1,)),
            ("attention_norm.scale", (d,)), ("attention_norm.offset", (d,)),
            ("attention.query.weight", (d, inner)), ("attention.key.weight", (dm, inner)),
            ("attention.value.weight", (dm, inner)), ("attention.output.weight", (inner, d)),
            ("ff_norm.scale", (d,)), ("ff_norm.offset", (d,)),
            ("ff.linear_0.weight", (d, hidden)), ("ff.linear_1.weight", (hidden, d))]


# ----------------------------------------------------------------- parameters


def random_parameter(name, shape, gates):
    """float32 values of a sensible scale for each kind of parameter."""
    if name in gates:
        return torch.tensor([gates[name]], dtype=torch.float32)
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "scale":
        return (1 + 0.2 * torch.randn(shape)).float()
    if leaf == "offset":
        return (0.2 * torch.randn(shape)).float()
    if name in ("latents", "time_embeddings"):
        return torch.randn(shape).float()
    return (torch.randn(shape) / math.sqrt(shape[0])).float()


# ----------------------------------------------------------------- fixtures

CONFIGS = {
    "flamingo_resampler": dict(
        seed=801, kind="resampler", dim=12, num_latents=3, depth=2, heads=2, head_dim=4,
        ff_mult=2, activation="squared_relu", max_frames=3, batch=2, frames=2, features=5),
    "flamingo_gated_xattn": dict(
        seed=802, kind="gated_xattn", dim=16, media_dim=12, heads=2, head_dim=4, ff_mult=2,
        activation="squared_relu", gated=True, attention_gate=0.3, dense_gate=-0.5,
        batch=2, length=7, num_images=2, tokens_per_image=3),
}

# <image> (id IMAGE) at different places: row 0 has two text tokens before
# its first image; row 1 starts with text, and its second image is its last
# token. Other ids are text.
TOKEN_PATTERN = [[0, 0, 1, 0, 1, 0, 0],
                 [0, 1, 0, 0, 0, 0, 1]]


def meta_value(v):
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def fixture(name):
    cfg = CONFIGS[name]
    torch.manual_seed(cfg["seed"])
    b = cfg["batch"]
    tensors = {}
    if cfg["kind"] == "resampler":
        shapes = resampler_shapes(cfg)
        gates = {}
        features = torch.randn(b, cfg["frames"], cfg["features"], cfg["dim"]).float()
        inputs = {"features": features}
    else:
        shapes = gated_xattn_shapes(cfg)
        gates = {"attention_gate": cfg["attention_gate"], "dense_gate": cfg["dense_gate"]}
        pattern = torch.tensor(TOKEN_PATTERN, dtype=torch.bool)
        tokens = torch.randint(IMAGE + 1, 100, (b, cfg["length"]))
        tokens = torch.where(pattern, torch.full_like(tokens, IMAGE), tokens)
        m = cfg["num_images"] * cfg["tokens_per_image"]
        y = torch.randn(b, cfg["length"], cfg["dim"]).float()
        media = torch.randn(b, m, cfg["media_dim"]).float()
        visible = media_visibility(tokens, cfg["num_images"], cfg["tokens_per_image"])
        bias = torch.where(visible, torch.tensor(0.0), torch.tensor(-math.inf))
        tensors["tokens"] = tokens
        tensors["media_bias"] = bias.unsqueeze(1).float()
        inputs = {"y": y, "media": media}

    params32 = {n: random_parameter(n, s, gates) for n, s in shapes}
    params = {n: v.to(DT).requires_grad_(True) for n, v in params32.items()}
    leaves = {n: v.to(DT).requires_grad_(True) for n, v in inputs.items()}
    if cfg["kind"] == "resampler":
        out = resampler(params, leaves["features"], cfg)
    else:
        out = gated_xattn_dense(params, leaves["y"], leaves["media"], visible, cfg)
        # Without the cross-attention branch the output changes on every
        # token at or after its row's first image and on no token before it
        # (the test is not vacuous, and the early tokens see nothing).
        with torch.no_grad():
            change = (out - gated_xattn_dense(params, leaves["y"], leaves["media"],
                                              torch.zeros_like(visible), cfg)).abs()
        first = pattern.long().argmax(dim=1)
        for row in range(b):
            assert first[row] > 0 and change[row, :first[row]].max().item() == 0.0, row
            assert change[row, first[row]:].amax(dim=-1).min().item() > 1e-3, row
    proj = torch.randn(out.shape).float()
    loss = (out * proj.to(DT)).sum()
    grads = torch.autograd.grad(loss, list(params.values()) + list(leaves.values()))

    tensors.update(inputs)
    tensors["proj"] = proj
    for n, val in params32.items():
        tensors["param." + n] = val
    tensors["out"] = out.detach()
    tensors["loss"] = loss.detach().reshape(1)
    names = ["grad." + n for n in params] + ["grad_" + n for n in leaves]
    tensors.update(zip(names, grads))
    skip = ("seed", "kind", "attention_gate", "dense_gate")
    meta = {k: meta_value(v) for k, v in cfg.items() if k not in skip}
    if cfg["kind"] == "gated_xattn":
        meta["image_token_id"] = str(IMAGE)
    meta["num_params"] = str(len(params32))
    return tensors, meta


def main():
    args = fixture_args(__doc__, DEFAULT_OUT)
    return write_fixtures(((name, fixture(name)) for name in CONFIGS), args,
                          "tools/golden/flamingo.py")


if __name__ == "__main__":
    sys.exit(main())
