#!/usr/bin/python3
"""PyTorch golden fixtures for kiln's nn ops (tests/parity/*_parity_test.cc).

Run with Debian's Python and python3-torch (not a pyenv Python):

    /usr/bin/python3 tools/golden/generate.py [--out DIR] [--check]

DIR defaults to tests/parity/golden. Every fixture is one small safetensors
file (written here with struct + json, no safetensors package needed):

  inputs      in kiln's layouts (images (N, H, W, C), conv weights
              (KH, KW, C_in / groups, C_out)), F32 (integer targets I64,
              masks BOOL), drawn from torch.manual_seed(<fixed per file>);
  proj        a random tensor shaped like the output: the scalar loss is
              sum(out * proj), so the stored gradients are those of a random
              projection of the output;
  out         the op's output;
  grad_<in>   d sum(out * proj) / d <in> for every differentiable input;
  __metadata__  the op's scalar parameters as strings (integers separated by
              spaces), plus the generator and torch versions.

The math runs in float64 on the float32 inputs (promoted exactly), so out and
grad_* (stored F64) are the exact answers to float64 rounding, and kiln's f32
results are compared with them. Where PyTorch has the op built in, the
explicit formula is also checked against it here.

--check regenerates in memory and fails if any file on disk differs, so a CI
job (with torch) can prove the committed fixtures match this script.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "parity", "golden"))

# ----------------------------------------------------------------- safetensors

_DTYPES = {
    torch.float32: ("F32", "<f4"),
    torch.float64: ("F64", "<f8"),
    torch.int32: ("I32", "<i4"),
    torch.int64: ("I64", "<i8"),
    torch.bool: ("BOOL", "|b1"),
}


def _tensor_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        return "BF16", t.view(torch.int16).numpy().astype("<i2").tobytes()
    name, np_dtype = _DTYPES[t.dtype]
    return name, np.ascontiguousarray(t.numpy()).astype(np_dtype).tobytes()


def safetensors_bytes(tensors, metadata):
    """The reference encoding: compact JSON header, __metadata__ first,
    tensors in the given order, header padded with spaces to 8 bytes."""
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        dtype, data = _tensor_bytes(t)
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def read_safetensors(data):
    """Parses bytes written above (a self-check of the writer)."""
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    buf = data[8 + n:]
    np_types = {"F32": "<f4", "F64": "<f8", "I32": "<i4", "I64": "<i8", "BOOL": "|b1"}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        arr = np.frombuffer(buf[b:e], dtype=np_types[info["dtype"]]).reshape(info["shape"])
        out[name] = arr
    return header.get("__metadata__", {}), out


# ----------------------------------------------------------------- helpers

def f32(*shape, scale=1.0):
    """float32 standard normal (times scale, rounded to float32)."""
    return (torch.randn(shape, dtype=torch.float32) * scale).to(torch.float32)


def leaf(t):
    """float64 copy of a float32 input, requiring grad."""
    return t.to(torch.float64).requires_grad_(True)


def projected_grads(out, proj, inputs):
    """Gradients of sum(out * proj) w.r.t. inputs (float64)."""
    loss = (out * proj.to(torch.float64)).sum()
    return torch.autograd.grad(loss, inputs)


def ints(*values):
    return " ".join(str(int(v)) for v in values)


def assert_close(a, b, what, tol=1e-10):
    err = (a.detach() - b.detach()).abs().max().item() if a.numel() else 0.0
    if not err <= tol:
        raise AssertionError(f"{what}: explicit formula and torch differ by {err}")


# ----------------------------------------------------------------- conv2d

def nhwc_to_nchw(x):
    return x.permute(0, 3, 1, 2)


def nchw_to_nhwc(x):
    return x.permute(0, 2, 3, 1)


def hwio_to_oihw(w):
    return w.permute(3, 2, 0, 1)


def same_pads(size, k, stride, dilation):
    """TensorFlow SAME: total padding, half (rounded down) before."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def conv2d_fixture(seed, n, h, w, cin, kh, kw, cout, groups, stride, dilation,
                   padding_mode, padding=None):
    """x (N, H, W, C_in), weight (KH, KW, C_in / groups, C_out), bias (C_out).
    padding (top, bottom, left, right) for 'explicit'; computed for 'same'."""
    torch.manual_seed(seed)
    x = f32(n, h, w, cin)
    weight = f32(kh, kw, cin // groups, cout, scale=1.0 / math.sqrt(kh * kw * cin // groups))
    bias = f32(cout, scale=0.5)
    if padding_mode == "same":
        top, bottom = same_pads(h, kh, stride[0], dilation[0])
        left, right = same_pads(w, kw, stride[1], dilation[1])
    else:
        top, bottom, left, right = padding
    xd, wd, bd = leaf(x), leaf(weight), leaf(bias)
    # PyTorch pads symmetrically only: pad explicitly, then convolve unpadded.
    padded = F.pad(nhwc_to_nchw(xd), (left, right, top, bottom))
    out = nchw_to_nhwc(F.conv2d(padded, hwio_to_oihw(wd), bd, stride=stride,
                                dilation=dilation, groups=groups))
    proj = f32(*out.shape)
    gx, gw, gb = projected_grads(out, proj, (xd, wd, bd))
    meta = {"op": "conv2d", "stride": ints(*stride), "dilation": ints(*dilation),
            "groups": ints(groups), "padding_mode": padding_mode,
            "padding": ints(top, bottom, left, right)}
    tensors = {"x": x, "weight": weight, "bias": bias, "proj": proj, "out": out,
               "grad_x": gx, "grad_weight": gw, "grad_bias": gb}
    return tensors, meta


# ----------------------------------------------------------------- attention

def attention_reference(q, k, v, bias, key_padding_mask, causal, scale):
    """softmax(q k^T * scale + bias + mask) v with q (B, H, Tq, Dh), k (B, H,
    Tk, Dh), v (B, H, Tk, Dv); mask from causal (query i sees keys
    j <= i + Tk - Tq, kiln's bottom-right alignment) and key_padding_mask
    (B, Tk), true = attend. Rows that see no key give zeros."""
    tq, tk = q.shape[-2], k.shape[-2]
    scores = q @ k.transpose(-1, -2) * scale
    if bias is not None:
        scores = scores + bias
    visible = torch.ones(q.shape[0], 1, tq, tk, dtype=torch.bool)
    if causal:
        i = torch.arange(tq).view(tq, 1)
        j = torch.arange(tk).view(1, tk)
        visible = visible & (j <= i + (tk - tq))
    if key_padding_mask is not None:
        visible = visible & key_padding_mask.view(q.shape[0], 1, 1, tk)
    any_visible = visible.any(dim=-1, keepdim=True)
    # Masked scores to -inf; fully masked rows get finite scores (then zeroed)
    # so no NaN reaches the softmax or its gradient.
    scores = torch.where(visible, scores, torch.tensor(-math.inf, dtype=scores.dtype))
    scores = torch.where(any_visible, scores, torch.zeros((), dtype=scores.dtype))
    p = torch.softmax(scores, dim=-1) * any_visible
    return p @ v


def attention_fixture(seed, b, h, tq, tk, dh, dv, causal=False, bias_shape=None,
                      padding=None, scale=0.0):
    """padding: per batch, the number of trailing keys masked out, or a list of
    explicit (B, Tk) booleans."""
    torch.manual_seed(seed)
    q = f32(b, h, tq, dh)
    k = f32(b, h, tk, dh)
    v = f32(b, h, tk, dv)
    bias = f32(*bias_shape) if bias_shape is not None else None
    mask = torch.tensor(padding, dtype=torch.bool) if padding is not None else None
    used_scale = scale if scale != 0.0 else 1.0 / math.sqrt(dh)
    qd, kd, vd = leaf(q), leaf(k), leaf(v)
    bd = leaf(bias) if bias is not None else None
    out = attention_reference(qd, kd, vd, bd, mask, causal, used_scale)
    proj = f32(*out.shape)
    inputs = (qd, kd, vd) + ((bd,) if bd is not None else ())
    grads = projected_grads(out, proj, inputs)
    tensors = {"q": q, "k": k, "v": v}
    if bias is not None:
        tensors["bias"] = bias
    if mask is not None:
        tensors["key_padding_mask"] = mask
    tensors.update({"proj": proj, "out": out, "grad_q": grads[0], "grad_k": grads[1],
                    "grad_v": grads[2]})
    if bias is not None:
        tensors["grad_bias"] = grads[3]
    meta = {"op": "attention", "causal": ints(causal), "scale": repr(float(scale))}
    return tensors, meta


# ----------------------------------------------------------------- layer_norm

def layer_norm_fixture(seed, shape, eps):
    torch.manual_seed(seed)
    # Offset and scaled so that the mean subtraction matters.
    x = (f32(*shape) * 2.0 + 3.0).to(torch.float32)
    d = shape[-1]
    gamma = (1.0 + f32(d, scale=0.3)).to(torch.float32)
    beta = f32(d, scale=0.3)
    xd, gd, bd = leaf(x), leaf(gamma), leaf(beta)
    mean = xd.mean(dim=-1, keepdim=True)
    var = ((xd - mean) ** 2).mean(dim=-1, keepdim=True)
    out = (xd - mean) / torch.sqrt(var + eps) * gd + bd
    assert_close(out, F.layer_norm(xd, (d,), gd, bd, eps), "layer_norm")
    proj = f32(*out.shape)
    gx, gg, gb = projected_grads(out, proj, (xd, gd, bd))
    tensors = {"x": x, "gamma": gamma, "beta": beta, "proj": proj, "out": out,
               "grad_x": gx, "grad_gamma": gg, "grad_beta": gb}
    return tensors, {"op": "layer_norm", "eps": repr(eps)}


# ----------------------------------------------------------------- cross_entropy

def cross_entropy_fixture(seed, n, c, smoothing, soft=False, ignore=()):
    """Mean cross-entropy of logits (N, C) against integer targets (N) or soft
    targets (N, C), label smoothing mixing the target with uniform 1 / C.
    Rows listed in `ignore` get target -100 (no loss, not counted)."""
    torch.manual_seed(seed)
    logits = f32(n, c, scale=2.0)
    ld = leaf(logits)
    logp = torch.log_softmax(ld, dim=-1)
    if soft:
        targets = torch.softmax(f32(n, c, scale=2.0).to(torch.float64), dim=-1).to(torch.float32)
        dist = targets.to(torch.float64) * (1 - smoothing) + smoothing / c
        loss = -(dist * logp).sum(dim=-1).mean()
        builtin = F.cross_entropy(ld, targets.to(torch.float64), label_smoothing=smoothing)
    else:
        targets = torch.randint(0, c, (n,), dtype=torch.int64)
        for i in ignore:
            targets[i] = -100
        keep = targets != -100
        safe = torch.where(keep, targets, torch.zeros_like(targets))
        dist = F.one_hot(safe, c).to(torch.float64) * (1 - smoothing) + smoothing / c
        per_row = -(dist * logp).sum(dim=-1) * keep
        loss = per_row.sum() / keep.sum()
        builtin = F.cross_entropy(ld, targets, label_smoothing=smoothing, ignore_index=-100)
    assert_close(loss, builtin, "cross_entropy")
    proj = f32()  # 0-d: the loss is a scalar
    (gl,) = projected_grads(loss, proj, (ld,))
    tensors = {"logits": logits, "targets": targets, "proj": proj, "out": loss,
               "grad_logits": gl}
    meta = {"op": "cross_entropy", "label_smoothing": repr(smoothing), "reduction": "mean",
            "ignore_index": "-100"}
    return tensors, meta


# ----------------------------------------------------------------- gelu

def gelu_fixture(seed):
    torch.manual_seed(seed)
    # A grid over [-6, 6] (tails, kinks of the approximations) plus random values.
    grid = torch.linspace(-6.0, 6.0, 49, dtype=torch.float32)
    x = torch.cat([grid, f32(31, scale=2.0)]).to(torch.float32)
    tensors = {"x": x}
    proj = f32(*x.shape)
    tensors["proj"] = proj
    for name, approximate in (("exact", False), ("tanh", True)):
        xd = leaf(x)
        if approximate:
            out = 0.5 * xd * (1 + torch.tanh(math.sqrt(2 / math.pi) * (xd + 0.044715 * xd ** 3)))
            assert_close(out, F.gelu(xd, approximate="tanh"), "gelu tanh")
        else:
            out = 0.5 * xd * (1 + torch.erf(xd / math.sqrt(2)))
            assert_close(out, F.gelu(xd), "gelu exact")
        (gx,) = projected_grads(out, proj, (xd,))
        tensors[f"out_{name}"] = out
        tensors[f"grad_x_{name}"] = gx
    return tensors, {"op": "gelu"}


# ----------------------------------------------------------------- all fixtures

def fixtures():
    """name -> (tensors, metadata); seeds are fixed per fixture so adding one
    does not change the others."""
    yield "conv2d_groups_stride_pad", conv2d_fixture(
        seed=101, n=2, h=7, w=6, cin=4, kh=3, kw=3, cout=6, groups=2, stride=(2, 2),
        dilation=(1, 1), padding_mode="explicit", padding=(1, 2, 0, 1))
    yield "conv2d_same_dilation", conv2d_fixture(
        seed=102, n=2, h=8, w=7, cin=3, kh=3, kw=3, cout=5, groups=1, stride=(2, 1),
        dilation=(2, 2), padding_mode="same")
    yield "attention_causal", attention_fixture(
        seed=201, b=2, h=2, tq=5, tk=5, dh=4, dv=3, causal=True)
    yield "attention_causal_offset", attention_fixture(
        seed=202, b=1, h=2, tq=3, tk=6, dh=4, dv=4, causal=True)
    yield "attention_bias", attention_fixture(
        seed=203, b=2, h=2, tq=4, tk=6, dh=4, dv=3, bias_shape=(1, 2, 4, 6), scale=0.3)
    yield "attention_key_padding", attention_fixture(
        seed=204, b=2, h=2, tq=4, tk=5, dh=4, dv=3,
        padding=[[True, True, True, False, False], [False, True, True, True, True]])
    yield "attention_causal_padding_empty_row", attention_fixture(
        seed=205, b=2, h=1, tq=4, tk=4, dh=4, dv=2, causal=True,
        padding=[[True, True, True, True], [False, True, False, True]])
    yield "layer_norm", layer_norm_fixture(seed=301, shape=(3, 4, 8), eps=1e-5)
    yield "cross_entropy_int_smoothing", cross_entropy_fixture(
        seed=401, n=6, c=5, smoothing=0.1)
    yield "cross_entropy_int_ignore", cross_entropy_fixture(
        seed=402, n=6, c=5, smoothing=0.1, ignore=(2,))
    yield "cross_entropy_soft", cross_entropy_fixture(seed=403, n=6, c=5, smoothing=0.0, soft=True)
    yield "cross_entropy_soft_smoothing", cross_entropy_fixture(
        seed=404, n=6, c=5, smoothing=0.1, soft=True)
    yield "gelu", gelu_fixture(seed=501)


def fixture_args(doc, default_out):
    """The command line every generator takes: --out DIR, --check."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--out", default=default_out, help="output directory")
    parser.add_argument("--check", action="store_true",
                        help="compare with the files on disk instead of writing")
    args = parser.parse_args()
    torch.set_num_threads(1)  # fixed summation order: identical bytes on every run
    return args


def write_fixtures(fixtures, args, generator):
    """Writes each (name, (tensors, meta)) to args.out/name.safetensors
    atomically, or with args.check reports the files that differ. Returns
    the exit code."""
    os.makedirs(args.out, exist_ok=True)
    stale = []
    for name, (tensors, meta) in fixtures:
        meta = dict(meta, generator=generator, torch=torch.__version__)
        data = safetensors_bytes(tensors, meta)
        read_meta, read = read_safetensors(data)
        assert read_meta == meta and set(read) == set(tensors), name
        path = os.path.join(args.out, name + ".safetensors")
        if len(data) > 200_000:
            raise AssertionError(f"{name}: {len(data)} bytes, keep fixtures small")
        if args.check:
            with open(path, "rb") as f:
                if f.read() != data:
                    stale.append(path)
            continue
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        loss = f", loss {tensors['loss'].item():.6f}" if "loss" in tensors else ""
        print(f"{path}: {len(data)} bytes{loss}")
    if stale:
        print("out of date (torch versions may differ in the last bits):", *stale, sep="\n  ")
        return 1
    return 0


def main():
    args = fixture_args(__doc__, DEFAULT_OUT)
    return write_fixtures(fixtures(), args, "tools/golden/generate.py")


if __name__ == "__main__":
    sys.exit(main())
