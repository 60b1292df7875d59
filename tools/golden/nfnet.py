#!/usr/bin/python3
"""PyTorch golden fixtures for kiln's NFNet family (tests/parity/nfnet_parity_test.cc).

Run with Debian's Python and python3-torch (not a pyenv Python):

    /usr/bin/python3 tools/golden/nfnet.py [--out DIR] [--check]

An independent PyTorch implementation of deepmind-research nfnets (base.py
WSConv2D, SqueezeExcite, the gamma-scaled activations; nfnet.py NFBlock and
NFNet; nf_resnet.py NFResBlock and NF_ResNet), evaluated in float64 on
float32 parameters and inputs, so the stored results are exact to float64
rounding. Fixtures:

  nfnet_block_transition  NFBlock 8 -> 16 channels, stride 2 on a 7x7 input
                          (asymmetric SAME padding, average-pool shortcut),
                          group width 4 (2 groups), SE, beta < 1
  nfnet_block_identity    NFBlock 16 -> 16, stride 1 (identity shortcut)
  nfnet_small             a whole NFNet: 4 stem convs,
                          stages [12, 24] x [1, 2], group width 6,
                          final conv, head; logits and a label-smoothed loss
  nf_resnet_small         a whole NF-ResNet: 7x7 stem, max pool, SE blocks,
                          strided 1x1 shortcuts

Parameters are stored under "param.<kiln name>" (F32, kiln's layouts: conv
weights (KH, KW, C_in / groups, C_out), linear weights (in, out), skip_gain
a scalar) with random gains, biases and non-zero skip gains so every path
carries gradient; "grad.<kiln name>" (F64) holds d loss / d parameter. The
block fixtures' loss is sum(out * proj); the models' is the mean
cross-entropy with label smoothing 0.1 on integer "labels". Block options go
in __metadata__.
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from generate import fixture_args, same_pads, write_fixtures  # noqa: E402

DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "parity", "golden"))

GAMMA = {"gelu": 1.7015043497085571, "relu": 1.7139588594436646}


def act(name, x):
    if name == "gelu":
        return F.gelu(x, approximate="tanh") * GAMMA["gelu"]
    if name == "relu":
        return F.relu(x) * GAMMA["relu"]
    raise ValueError(name)


# ----------------------------------------------------------------- layers (NHWC)

def pad_same(x, kh, kw, stride, value=0.0):
    """x (N, C, H, W): TF SAME padding for a (kh, kw) window."""
    top, bottom = same_pads(x.shape[2], kh, stride, 1)
    left, right = same_pads(x.shape[3], kw, stride, 1)
    return F.pad(x, (left, right, top, bottom), value=value)


def ws_weight(w, gain, eps=1e-4):
    """base.WSConv2D.standardize_weight on w (KH, KW, I, O)."""
    mean = w.mean(dim=(0, 1, 2), keepdim=True)
    var = w.var(dim=(0, 1, 2), keepdim=True, unbiased=False)
    fan_in = w.shape[0] * w.shape[1] * w.shape[2]
    scale = torch.rsqrt(torch.clamp(var * fan_in, min=eps)) * gain
    return w * scale - mean * scale


def ws_conv(p, prefix, x, stride=1, groups=1):
    """x (N, H, W, C) -> (N, H', W', O), SAME padding."""
    w = ws_weight(p[prefix + ".weight"], p[prefix + ".gain"])
    xc = pad_same(x.permute(0, 3, 1, 2), w.shape[0], w.shape[1], stride)
    y = F.conv2d(xc, w.permute(3, 2, 0, 1), p[prefix + ".bias"], stride=stride, groups=groups)
    return y.permute(0, 2, 3, 1)


def avg_pool_same(x, k, s):
    """TF SAME average pooling counting only real elements. x (N, H, W, C)."""
    xc = x.permute(0, 3, 1, 2)
    total = F.avg_pool2d(pad_same(xc, k, k, s), k, s, divisor_override=1)
    ones = torch.ones_like(xc[:, :1])
    count = F.avg_pool2d(pad_same(ones, k, k, s), k, s, divisor_override=1)
    return (total / count).permute(0, 2, 3, 1)


def max_pool_same(x, k, s):
    xc = pad_same(x.permute(0, 3, 1, 2), k, k, s, value=-math.inf)
    return F.max_pool2d(xc, k, s).permute(0, 2, 3, 1)


def linear(p, prefix, x):
    return x @ p[prefix + ".weight"] + p[prefix + ".bias"]


def squeeze_excite(p, prefix, x):
    h = x.mean(dim=(1, 2))
    h = torch.sigmoid(linear(p, prefix + ".fc1", F.relu(linear(p, prefix + ".fc0", h))))
    return h[:, None, None, :]


def block_width(out_ch, expansion, group_width):
    expanded = int(out_ch * expansion)
    if group_width > 0:
        groups = expanded // group_width
        return groups * group_width, groups
    return expanded, 1


def nf_block(p, prefix, x, o):
    """nfnet.NFBlock (o["avg_pool_shortcut"]) or nf_resnet.NFResBlock."""
    a = o["activation"]
    width, groups = block_width(o["out"], o["expansion"], o["group_width"])
    stride = o["stride"]
    projection = stride > 1 or o["in"] != o["out"]
    out = act(a, x) * o["beta"]
    if o["avg_pool_shortcut"] and stride > 1:
        shortcut = ws_conv(p, prefix + "conv_shortcut", avg_pool_same(out, stride, stride))
    elif projection:
        shortcut = ws_conv(p, prefix + "conv_shortcut", out,
                           stride=1 if o["avg_pool_shortcut"] else stride)
    else:
        shortcut = x
    h = ws_conv(p, prefix + "conv0", out)
    h = ws_conv(p, prefix + "conv1", act(a, h), stride=stride, groups=groups)
    if o["use_two_convs"]:
        h = ws_conv(p, prefix + "conv1b", act(a, h), groups=groups)
    h = ws_conv(p, prefix + "conv2", act(a, h))
    if o["se_ratio"] > 0:
        h = (squeeze_excite(p, prefix + "se", h) * 2) * h
    return (h * p[prefix + "skip_gain"]) * o["alpha"] + shortcut


# ----------------------------------------------------------------- parameters

def ws_params(p, prefix, kh, kw, cin, cout):
    p[prefix + ".weight"] = torch.randn(kh, kw, cin, cout) / math.sqrt(kh * kw * cin)
    p[prefix + ".gain"] = 1.0 + 0.2 * torch.randn(cout)
    p[prefix + ".bias"] = 0.1 * torch.randn(cout)


def linear_params(p, prefix, cin, cout, std):
    p[prefix + ".weight"] = torch.randn(cin, cout) * std
    p[prefix + ".bias"] = 0.1 * torch.randn(cout)


def block_params(p, prefix, o):
    width, groups = block_width(o["out"], o["expansion"], o["group_width"])
    k = 3
    ws_params(p, prefix + "conv0", 1, 1, o["in"], width)
    ws_params(p, prefix + "conv1", k, k, width // groups, width)
    if o["use_two_convs"]:
        ws_params(p, prefix + "conv1b", k, k, width // groups, width)
    ws_params(p, prefix + "conv2", 1, 1, width, o["out"])
    if o["stride"] > 1 or o["in"] != o["out"]:
        ws_params(p, prefix + "conv_shortcut", 1, 1, o["in"], o["out"])
    if o["se_ratio"] > 0:
        hidden = max(1, int(o["out"] * o["se_ratio"]))
        linear_params(p, prefix + "se.fc0", o["out"], hidden, 1 / math.sqrt(o["out"]))
        linear_params(p, prefix + "se.fc1", hidden, o["out"], 1 / math.sqrt(hidden))
    # Non-zero (unlike SkipInit) so the residual branch carries gradient.
    p[prefix + "skip_gain"] = torch.tensor(0.5 + 0.5 * torch.rand(()).item())


def body_options(in_ch, widths, depths, strides, alpha, base):
    """The official block loop: beta, reset of expected_std after each
    stage's first block (stochastic depth rates are 0 here)."""
    blocks = []
    expected_std = 1.0
    ch = in_ch
    for s, (width, depth, stride) in enumerate(zip(widths, depths, strides)):
        for b in range(depth):
            o = dict(base, **{"in": ch, "out": width, "stride": stride if b == 0 else 1,
                              "beta": 1.0 / expected_std, "alpha": alpha})
            blocks.append((f"stages.{s}.blocks.{b}.", o))
            ch = width
            if b == 0:
                expected_std = 1.0
            expected_std = (expected_std ** 2 + alpha ** 2) ** 0.5
    return blocks


# ----------------------------------------------------------------- fixtures

def as_leaves(params):
    return {k: v.to(torch.float64).requires_grad_(True) for k, v in params.items()}


def finish(params, leaves, loss, extra, meta):
    names = list(params)
    grads = torch.autograd.grad(loss, [leaves[k] for k in names])
    tensors = dict(extra)
    for k in names:
        tensors["param." + k] = params[k]
    for k, g in zip(names, grads):
        tensors["grad." + k] = g
    return tensors, meta


def block_fixture(seed, n, h, w, o):
    torch.manual_seed(seed)
    params = {}
    block_params(params, "", o)
    x = torch.randn(n, h, w, o["in"])
    leaves = as_leaves(params)
    xd = x.to(torch.float64).requires_grad_(True)
    out = nf_block(leaves, "", xd, o)
    proj = torch.randn(out.shape)
    loss = (out * proj.to(torch.float64)).sum()
    gx = torch.autograd.grad(loss, xd, retain_graph=True)[0]
    meta = {k: (str(int(v)) if isinstance(v, bool) else repr(v) if isinstance(v, float) else str(v))
            for k, v in o.items()}
    return finish(params, leaves, loss, {"x": x, "proj": proj, "out": out, "grad.x": gx}, meta)


def nfnet_fixture(seed):
    torch.manual_seed(seed)
    cfg = dict(in_channels=3, num_classes=5, stem_channels=[4, 8, 8, 8], stem_strides=[2, 1, 1, 2],
               widths=[12, 24], depths=[1, 2], strides=[1, 2], group_width=6, expansion=0.5,
               se_ratio=0.5, alpha=0.2, final_conv_mult=2.0, activation="gelu")
    params = {}
    ch = cfg["in_channels"]
    for i, c in enumerate(cfg["stem_channels"]):
        ws_params(params, f"stem.conv{i}", 3, 3, ch, c)
        ch = c
    base = {"expansion": 0.5, "group_width": 6, "se_ratio": 0.5, "activation": "gelu",
            "use_two_convs": True, "avg_pool_shortcut": True}
    blocks = body_options(ch, cfg["widths"], cfg["depths"], cfg["strides"], cfg["alpha"], base)
    for prefix, o in blocks:
        block_params(params, prefix, o)
    final = int(cfg["final_conv_mult"] * cfg["widths"][-1])
    ws_params(params, "final_conv", 1, 1, cfg["widths"][-1], final)
    linear_params(params, "head", final, cfg["num_classes"], 0.3)
    x = torch.randn(3, 15, 15, 3)
    labels = torch.tensor([4, 0, 2], dtype=torch.int64)
    p = as_leaves(params)
    h = x.to(torch.float64)
    for i, s in enumerate(cfg["stem_strides"]):
        if i > 0:
            h = act("gelu", h)
        h = ws_conv(p, f"stem.conv{i}", h, stride=s)
    for prefix, o in blocks:
        h = nf_block(p, prefix, h, o)
    h = act("gelu", ws_conv(p, "final_conv", h))
    logits = linear(p, "head", h.mean(dim=(1, 2)))
    loss = F.cross_entropy(logits, labels, label_smoothing=0.1)
    meta = {"label_smoothing": "0.1"}
    return finish(params, p, loss,
                  {"x": x, "labels": labels, "logits": logits, "loss": loss.reshape(())}, meta)


def nf_resnet_fixture(seed):
    torch.manual_seed(seed)
    params = {}
    ws_params(params, "stem.conv0", 7, 7, 3, 8)
    base = {"expansion": 0.25, "group_width": 0, "se_ratio": 0.25, "activation": "relu",
            "use_two_convs": False, "avg_pool_shortcut": False}
    blocks = body_options(8, [16, 32], [2, 1], [1, 2], 0.2, base)
    for prefix, o in blocks:
        block_params(params, prefix, o)
    linear_params(params, "head", 32, 4, 0.3)
    x = torch.randn(2, 19, 19, 3)
    labels = torch.tensor([1, 3], dtype=torch.int64)
    p = as_leaves(params)
    h = ws_conv(p, "stem.conv0", x.to(torch.float64), stride=2)
    h = max_pool_same(h, 3, 2)
    for prefix, o in blocks:
        h = nf_block(p, prefix, h, o)
    logits = linear(p, "head", act("relu", h).mean(dim=(1, 2)))
    loss = F.cross_entropy(logits, labels, label_smoothing=0.1)
    meta = {"label_smoothing": "0.1"}
    return finish(params, p, loss,
                  {"x": x, "labels": labels, "logits": logits, "loss": loss.reshape(())}, meta)


def self_checks():
    """The explicit pieces against PyTorch's own where it has them."""
    torch.manual_seed(0)
    w = torch.randn(3, 3, 4, 5, dtype=torch.float64)
    wo = w.permute(3, 2, 0, 1)  # OIHW
    mu = wo.mean(dim=(1, 2, 3), keepdim=True)
    sd = wo.var(dim=(1, 2, 3), keepdim=True, unbiased=False).sqrt()
    ref = ((wo - mu) / (sd * math.sqrt(36))).permute(2, 3, 1, 0)
    assert torch.allclose(ws_weight(w, torch.ones(5, dtype=torch.float64)), ref, atol=1e-12)
    x = torch.randn(2, 6, 6, 3, dtype=torch.float64)
    ref = F.avg_pool2d(x.permute(0, 3, 1, 2), 2, 2).permute(0, 2, 3, 1)
    assert torch.allclose(avg_pool_same(x, 2, 2), ref, atol=1e-12)
    # 7x7 SAME 2x2/2: pads one row/col at the bottom/right; the corner averages itself.
    x = torch.randn(1, 7, 7, 1, dtype=torch.float64)
    assert abs(avg_pool_same(x, 2, 2)[0, 3, 3, 0] - x[0, 6, 6, 0]) < 1e-12


def fixtures():
    transition = {"in": 8, "out": 16, "expansion": 0.5, "group_width": 4, "stride": 2,
                  "beta": 1 / math.sqrt(1 + 0.2 ** 2), "alpha": 0.2, "se_ratio": 0.5,
                  "activation": "gelu", "use_two_convs": True, "avg_pool_shortcut": True}
    identity = dict(transition, **{"in": 16, "stride": 1, "beta": 1 / math.sqrt(1 + 2 * 0.2 ** 2)})
    yield "nfnet_block_transition", block_fixture(11, 2, 7, 7, transition)
    yield "nfnet_block_identity", block_fixture(12, 2, 5, 6, identity)
    yield "nfnet_small", nfnet_fixture(13)
    yield "nf_resnet_small", nf_resnet_fixture(14)


def main():
    args = fixture_args(__doc__, DEFAULT_OUT)
    self_checks()
    return write_fixtures(fixtures(), args, "tools/golden/nfnet.py")


if __name__ == "__main__":
    sys.exit(main())
