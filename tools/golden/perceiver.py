#!/usr/bin/python3
"""Golden fixtures for kiln's Perceiver family (tests/parity/perceiver_parity_test.cc).

Run with Debian's Python and python3-torch (not a pyenv Python):

    /usr/bin/python3 tools/golden/perceiver.py [--out DIR] [--check]

An independent PyTorch implementation, in float64, of the Perceiver / Perceiver
IO of the official code (deepmind-research perceiver/perceiver.py,
position_encoding.py, io_processors.py) with kiln's parameter names and
layouts (models/perceiver/, include/kiln/models/perceiver/perceiver.h), in
four small configurations:

  perceiver_io_classifier  image input ++ 2D Fourier features (max_resolution
                           set apart from the image size), Perceiver IO
                           classification decoder (one learned query, query
                           residual); 3 blocks with 3 cross-attends (the 2nd
                           and 3rd share weights) and 2 shared self-attends;
                           multi-head attention with qk != v channels, MLP
                           widening 2;
  perceiver_io_mlm         byte tokens with PAD positions (the input mask of
                           the encoder's cross-attention and the decoder's
                           query mask), embedding + learned positions,
                           unshared blocks, learned position queries without
                           residual, output through the tied embedding + bias;
                           cross-entropy on some positions only;
  perceiver_flow           two stacked frames -> 3x3 patches of both frames ->
                           Linear ++ Fourier, the preprocessed inputs as the
                           decoder's queries, Linear / rescale;
  perceiver_mean_learned   image input -> Linear, learned positions projected
                           by a Linear and added, final LayerNorm, mean over
                           latents, linear head (the Perceiver's decoder).

Every file holds, with kiln's dotted names and layouts (Linear weights (in,
out), embeddings (V, D), learned arrays pos_embs (N, C)):

  input             F32 images (B, H, W, C) or I64 tokens (B, T)
  targets           I64 (classification labels; mlm: ids or -100)
  proj              F32 (flow only: the loss is sum(out * proj))
  param.<name>      F32 weights (random, so every path is exercised)
  out               F64 the model output
  loss              (1,) F64
  grad.<name>       F64 d loss / d param
  fourier           F64 the (M, P) Fourier position features, where used
  __metadata__      the model options (kiln's PerceiverOptions names)

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
PAD = 0
VOCAB = 262

# ----------------------------------------------------------------- positions


def linear_positions(index_dims):
    """(prod(index_dims), d) positions in [-1, 1], endpoints included, 'ij' order."""
    axes = [np.linspace(-1.0, 1.0, num=n, endpoint=True) for n in index_dims]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    return grid.reshape(-1, len(index_dims))


def fourier_features(pos, num_bands, max_resolution, concat_pos=True, sine_only=False):
    """position_encoding.generate_fourier_features, in numpy float64."""
    freq_bands = np.stack([np.linspace(1.0, res / 2, num=num_bands, endpoint=True)
                           for res in max_resolution], axis=0)  # (d, K)
    per_pos = pos[:, :, None] * freq_bands[None, :, :]  # (n, d, K)
    per_pos = per_pos.reshape(pos.shape[0], -1)
    if sine_only:
        feats = np.sin(np.pi * per_pos)
    else:
        feats = np.concatenate([np.sin(np.pi * per_pos), np.cos(np.pi * per_pos)], axis=-1)
    if concat_pos:
        feats = np.concatenate([pos, feats], axis=-1)
    return feats


# ----------------------------------------------------------------- blocks


def linear(p, name, x):
    return x @ p[name + ".weight"] + p[name + ".bias"]


def layer_norm(p, name, x):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + 1e-5) * p[name + ".scale"] + p[name + ".offset"]


def gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def mlp(p, name, x):
    return linear(p, name + ".linear_1", gelu_tanh(linear(p, name + ".linear_0", x)))


def attention(p, name, q_in, kv_in, heads, kv_mask=None):
    """The official attend(): (B, Nq, C) x (B, Nk, C') -> (B, Nq, out)."""
    q = linear(p, name + ".query", q_in)
    k = linear(p, name + ".key", kv_in)
    v = linear(p, name + ".value", kv_in)
    b, nq, _ = q.shape
    nk = k.shape[1]
    q = q.reshape(b, nq, heads, -1).transpose(1, 2)
    k = k.reshape(b, nk, heads, -1).transpose(1, 2)
    v = v.reshape(b, nk, heads, -1).transpose(1, 2)
    logits = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if kv_mask is not None:
        logits = torch.where(kv_mask[:, None, None, :], logits,
                             torch.tensor(-1e30, dtype=DT))
    out = torch.softmax(logits, dim=-1) @ v  # (B, H, Nq, dv)
    out = out.transpose(1, 2).reshape(b, nq, -1)
    if kv_mask is not None:
        # A query that sees no key gets zeros (the official wipe).
        empty = ~kv_mask.any(dim=1)
        out = torch.where(empty[:, None, None], torch.zeros_like(out), out)
    return linear(p, name + ".output", out)


def cross_attend(p, name, q, kv, heads, residual, kv_mask=None, query_mask=None):
    a = attention(p, name + ".attention", layer_norm(p, name + ".query_norm", q),
                  layer_norm(p, name + ".kv_norm", kv), heads, kv_mask)
    if query_mask is not None:
        a = a * query_mask[..., None].to(DT)
    x = q + a if residual else a
    return x + mlp(p, name + ".mlp", layer_norm(p, name + ".mlp_norm", x))


def self_attend(p, name, x, heads):
    h = layer_norm(p, name + ".attention_norm", x)
    x = x + attention(p, name + ".attention", h, h, heads)
    return x + mlp(p, name + ".mlp", layer_norm(p, name + ".mlp_norm", x))


def flow_patches(x):
    """patches_for_flow + the temporal space-to-depth: (B, H, W, 2C) -> (B, H, W, 18C),
    channel order (frame, patch row, patch column, channel)."""
    b, h, w, c2 = x.shape
    c = c2 // 2
    parts = []
    for frame in range(2):
        f = x[..., frame * c:(frame + 1) * c]
        padded = torch.nn.functional.pad(f, (0, 0, 1, 1, 1, 1))
        for i in range(3):
            for j in range(3):
                parts.append(padded[:, i:i + h, j:j + w, :])
    return torch.cat(parts, dim=-1)


# ----------------------------------------------------------------- model


def preprocess(p, x, cfg, fourier):
    if cfg["input"] == "tokens":
        emb = p["input.embedding.embeddings"][x]  # (B, T, E)
        t = x.shape[1]
        emb = emb + p["input.position.pos_embs"][:t]
        mask = (x != PAD) if (x == PAD).any() else None
        return emb, mask
    b, h, w, _ = x.shape
    feats = flow_patches(x) if cfg["input"] == "flow" else x
    feats = feats.reshape(b, h * w, -1)
    if cfg["input_projection"] > 0:
        feats = linear(p, "input.projection", feats)
    if cfg["position"] == "fourier":
        pos = fourier
    elif cfg["position"] == "learned":
        pos = p["input.position.pos_embs"]
    else:
        return feats, None
    if cfg["position_projection"] > 0:
        pos = linear(p, "input.position_projection", pos)
    if cfg["position_combine"] == "add":
        return feats + pos, None
    return torch.cat([feats, pos.expand(b, -1, -1)], dim=-1), None


def encoder(p, inputs, mask, cfg):
    b = inputs.shape[0]
    z = p["encoder.latents.pos_embs"].expand(b, -1, -1)
    for blk in range(cfg["num_blocks"]):
        if blk < cfg["num_cross_attends"]:
            module = min(blk, 1) if cfg["share_cross_attends"] else blk
            z = cross_attend(p, f"encoder.cross_attends.{module}", z, inputs,
                             cfg["cross_attend_heads"], cfg["encoder_query_residual"], mask)
        row = 0 if cfg["share_blocks"] else blk
        for j in range(cfg["num_self_attends_per_block"]):
            z = self_attend(p, f"encoder.blocks.{row}.{j}", z, cfg["self_attend_heads"])
    return z


def forward(p, x, cfg, fourier):
    inputs, mask = preprocess(p, x, cfg, fourier)
    z = encoder(p, inputs, mask, cfg)
    b = z.shape[0]
    dec = cfg["decoder"]
    if dec == "mean":
        h = layer_norm(p, "decoder.final_norm", z) if cfg["final_norm"] else z
        return linear(p, "decoder.output", h.mean(dim=1))
    if dec == "classification":
        q = p["decoder.query.pos_embs"].expand(b, -1, -1)
        y = cross_attend(p, "decoder.cross_attend", q, z, cfg["decoder_heads"],
                         cfg["decoder_query_residual"])
        return linear(p, "decoder.output", y)[:, 0, :]
    if dec == "mlm":
        t = x.shape[1]
        q = p["decoder.query.pos_embs"][:t].expand(b, -1, -1)
        y = cross_attend(p, "decoder.cross_attend", q, z, cfg["decoder_heads"],
                         cfg["decoder_query_residual"], query_mask=mask)
        return y @ p["input.embedding.embeddings"].T + p["decoder.bias"]
    # flow: the preprocessed inputs are the queries.
    y = cross_attend(p, "decoder.cross_attend", inputs, z, cfg["decoder_heads"],
                     cfg["decoder_query_residual"])
    out = linear(p, "decoder.output", y) / cfg["flow_rescale"]
    return out.reshape(b, x.shape[1], x.shape[2], -1)


# ----------------------------------------------------------------- parameters


def parameter_shapes(cfg, input_channels, pos_channels, raw_channels):
    shapes = []

    def lin(name, i, o):
        shapes.extend([(name + ".weight", (i, o)), (name + ".bias", (o,))])

    def norm(name, c):
        shapes.extend([(name + ".scale", (c,)), (name + ".offset", (c,))])

    def attn(name, q, kv, qk, v, out):
        lin(name + ".query", q, qk)
        lin(name + ".key", kv, qk)
        lin(name + ".value", kv, v)
        lin(name + ".output", v, out)

    def cross(name, q, kv, qk, v, widening):
        qk = qk or kv
        v = v or qk
        norm(name + ".query_norm", q)
        norm(name + ".kv_norm", kv)
        attn(name + ".attention", q, kv, qk, v, q)
        norm(name + ".mlp_norm", q)
        lin(name + ".mlp.linear_0", q, widening * q)
        lin(name + ".mlp.linear_1", widening * q, q)

    if cfg["input"] == "tokens":
        shapes.append(("input.embedding.embeddings", (cfg["vocab_size"], cfg["embed_dim"])))
        shapes.append(("input.position.pos_embs", (cfg["input_shape"][0], cfg["embed_dim"])))
    else:
        if cfg["input_projection"] > 0:
            lin("input.projection", raw_channels, cfg["input_projection"])
        if cfg["position"] == "learned":
            m = cfg["input_shape"][0] * cfg["input_shape"][1]
            shapes.append(("input.position.pos_embs", (m, cfg["position_channels"])))
        if cfg["position_projection"] > 0:
            lin("input.position_projection", pos_channels, cfg["position_projection"])
    d = cfg["latent_channels"]
    shapes.append(("encoder.latents.pos_embs", (cfg["num_latents"], d)))
    n_cross = (min(cfg["num_cross_attends"], 2) if cfg["share_cross_attends"]
               else cfg["num_cross_attends"])
    for i in range(n_cross):
        cross(f"encoder.cross_attends.{i}", d, input_channels, cfg["cross_attend_qk_channels"],
              cfg["cross_attend_v_channels"], cfg["cross_attend_widening"])
    rows = 1 if cfg["share_blocks"] else cfg["num_blocks"]
    for r in range(rows):
        for j in range(cfg["num_self_attends_per_block"]):
            name = f"encoder.blocks.{r}.{j}"
            qk = cfg["self_attend_qk_channels"] or d
            v = cfg["self_attend_v_channels"] or qk
            norm(name + ".attention_norm", d)
            attn(name + ".attention", d, d, qk, v, d)
            norm(name + ".mlp_norm", d)
            lin(name + ".mlp.linear_0", d, cfg["self_attend_widening"] * d)
            lin(name + ".mlp.linear_1", cfg["self_attend_widening"] * d, d)
    dec = cfg["decoder"]
    dq = cfg["decoder_qk_channels"]
    dv = cfg["decoder_v_channels"]
    w = cfg["decoder_widening"]
    if dec == "mean":
        if cfg["final_norm"]:
            norm("decoder.final_norm", d)
        lin("decoder.output", d, cfg["num_classes"])
    elif dec == "classification":
        shapes.append(("decoder.query.pos_embs", (1, cfg["query_channels"])))
        cross("decoder.cross_attend", cfg["query_channels"], d, dq, dv, w)
        lin("decoder.output", cfg["query_channels"], cfg["num_classes"])
    elif dec == "mlm":
        shapes.append(("decoder.query.pos_embs", (cfg["input_shape"][0], cfg["embed_dim"])))
        cross("decoder.cross_attend", cfg["embed_dim"], d, dq, dv, w)
        shapes.append(("decoder.bias", (cfg["vocab_size"],)))
    else:
        cross("decoder.cross_attend", input_channels, d, dq, dv, w)
        lin("decoder.output", input_channels, cfg["output_channels"])
    return shapes


def random_parameter(name, shape):
    """float32 values of a sensible scale for each kind of parameter."""
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "scale":
        return (1 + 0.2 * torch.randn(shape)).float()
    if leaf in ("offset", "bias"):
        return (0.2 * torch.randn(shape)).float()
    if leaf in ("embeddings", "pos_embs"):
        return torch.randn(shape).float()
    return (torch.randn(shape) / math.sqrt(shape[0])).float()


# ----------------------------------------------------------------- fixtures

BASE = dict(input="image", input_shape=[4, 3, 2], num_classes=3, vocab_size=VOCAB, embed_dim=6,
            input_projection=0, position="fourier", num_bands=3, max_resolution=[],
            concat_pos=True, sine_only=False, position_channels=5, position_projection=0,
            position_combine="concat", num_latents=5, latent_channels=8, num_blocks=1,
            num_self_attends_per_block=1, share_blocks=True, num_cross_attends=1,
            share_cross_attends=True, cross_attend_heads=1, cross_attend_qk_channels=0,
            cross_attend_v_channels=0, cross_attend_widening=1, encoder_query_residual=True,
            self_attend_heads=1, self_attend_qk_channels=0, self_attend_v_channels=0,
            self_attend_widening=1, decoder="classification", final_norm=False,
            query_channels=6, decoder_heads=1, decoder_qk_channels=0, decoder_v_channels=0,
            decoder_widening=1, decoder_query_residual=True, output_channels=2,
            flow_rescale=100.0, batch=2)

CONFIGS = {
    "perceiver_io_classifier": dict(
        seed=701, max_resolution=[5, 4], num_blocks=3, num_cross_attends=3,
        num_self_attends_per_block=2, cross_attend_heads=2, cross_attend_qk_channels=6,
        cross_attend_v_channels=4, cross_attend_widening=2, self_attend_heads=2,
        self_attend_qk_channels=8, self_attend_v_channels=6, self_attend_widening=2,
        decoder_heads=2, decoder_qk_channels=4, decoder_v_channels=6),
    "perceiver_io_mlm": dict(
        seed=702, input="tokens", input_shape=[7], position="learned", num_latents=4,
        num_blocks=2, share_blocks=False, num_self_attends_per_block=1, cross_attend_heads=2,
        cross_attend_qk_channels=4, cross_attend_v_channels=8, self_attend_heads=2,
        decoder="mlm", decoder_heads=2, decoder_qk_channels=4, decoder_v_channels=6,
        decoder_query_residual=False),
    "perceiver_flow": dict(
        seed=703, input="flow", input_shape=[4, 5, 4], input_projection=5, num_bands=2,
        max_resolution=[4, 5], num_latents=3, latent_channels=6, decoder="flow",
        decoder_query_residual=False, output_channels=2, flow_rescale=10.0, batch=1),
    "perceiver_mean_learned": dict(
        seed=704, input_shape=[3, 3, 2], input_projection=4, position="learned",
        position_channels=5, position_projection=4, position_combine="add", num_blocks=2,
        num_cross_attends=2, share_cross_attends=False, share_blocks=False,
        self_attend_heads=2, decoder="mean", final_norm=True, num_classes=4),
}


def meta_value(v):
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, list):
        return " ".join(meta_value(x) for x in v)
    return str(v)


def fixture(name):
    cfg = dict(BASE, **CONFIGS[name])
    torch.manual_seed(cfg["seed"])
    b = cfg["batch"]
    fourier = None
    tensors = {}
    if cfg["input"] == "tokens":
        t = cfg["input_shape"][0]
        x = torch.randint(6, VOCAB, (b, t))
        x[1, t - 2:] = PAD  # padding at the end of the second row
        input_channels, pos_channels, raw = cfg["embed_dim"], 0, 0
    else:
        h, w, c = cfg["input_shape"]
        x = torch.randn(b, h, w, c).float()
        raw = 9 * c if cfg["input"] == "flow" else c
        feats = cfg["input_projection"] or raw
        pos_channels = 0
        if cfg["position"] == "fourier":
            res = cfg["max_resolution"] or [h, w]
            table = fourier_features(linear_positions([h, w]), cfg["num_bands"], res,
                                     cfg["concat_pos"], cfg["sine_only"])
            fourier = torch.tensor(table, dtype=DT)
            tensors["fourier"] = fourier
            pos_channels = table.shape[1]
        elif cfg["position"] == "learned":
            pos_channels = cfg["position_channels"]
        proj_pos = cfg["position_projection"] or pos_channels
        input_channels = feats if cfg["position_combine"] == "add" else feats + proj_pos
    params32 = {n: random_parameter(n, s)
                for n, s in parameter_shapes(cfg, input_channels, pos_channels, raw)}
    params = {n: v.to(DT).requires_grad_(True) for n, v in params32.items()}
    xin = x if cfg["input"] == "tokens" else x.to(DT)
    out = forward(params, xin, cfg, fourier)
    if cfg["decoder"] in ("classification", "mean"):
        targets = torch.randint(0, cfg["num_classes"], (b,))
        loss = torch.nn.functional.cross_entropy(out, targets)
        tensors["targets"] = targets
    elif cfg["decoder"] == "mlm":
        targets = torch.randint(6, VOCAB, x.shape)
        keep = torch.rand(x.shape) < 0.5
        keep[0, 0] = True
        targets = torch.where(keep, targets, torch.full_like(targets, -100))
        loss = torch.nn.functional.cross_entropy(out.reshape(-1, VOCAB), targets.reshape(-1),
                                                 ignore_index=-100)
        tensors["targets"] = targets.reshape(-1)
    else:
        proj = torch.randn(out.shape).float()
        loss = (out * proj.to(DT)).sum()
        tensors["proj"] = proj
    grads = torch.autograd.grad(loss, list(params.values()))

    tensors["input"] = x
    for n, val in params32.items():
        tensors["param." + n] = val
    tensors["out"] = out.detach()
    tensors["loss"] = loss.detach().reshape(1)
    for (n, _), g in zip(params.items(), grads):
        tensors["grad." + n] = g
    meta = {k: meta_value(val) for k, val in cfg.items() if k != "seed"}
    meta["num_params"] = str(len(params32))
    return tensors, meta


def main():
    args = fixture_args(__doc__, DEFAULT_OUT)
    return write_fixtures(((name, fixture(name)) for name in CONFIGS), args,
                          "tools/golden/perceiver.py")


if __name__ == "__main__":
    sys.exit(main())
