"""B1 nfnet_f0_32: NFNet-F0 (2102.06171) in PyTorch, layer for layer as kiln's
models/nfnet (itself deepmind-research nfnets/nfnet.py), NCHW layout.

  stem:  WSConv 3x3 s2 16, act, 3x3 32, act, 3x3 64, act, 3x3 s2 128
  body:  stages [256, 512, 1536, 1536] x [1, 2, 6, 3] blocks, strides
         [1, 2, 2, 2]; NFBlock:
           out = act(x) * beta
           shortcut = x | conv_shortcut(avg_pool2x2_SAME(out)) (stride > 1)
                        | conv_shortcut(out) (channel change, stride 1)
           h = conv0 1x1(out); conv1 3x3 grouped, stride(act(h));
           conv1b 3x3 grouped(act(h)); conv2 1x1(act(h)); h = 2 se(h) h
           y = h * skip_gain * alpha + shortcut
         bottleneck width 128 * (int(out * 0.5) // 128), groups of 128;
         beta = 1 / expected_std, expected_std reset to 1 after each
         stage's first block and grown by sqrt(std^2 + alpha^2) per block
  head:  WSConv 1x1 to 3072, act, global average pool, linear to classes
  act:   gelu (tanh form) * 1.7015043497085571
  WSConv: TF SAME padding (asymmetric for stride 2), per-output-channel
         W_hat = gain * (W - mean) / sqrt(max(fan_in * var, 1e-4)) in the
         official fused form W * scale - mean * scale, once per forward.

Optimizer: SGD Nesterov 0.9, lr 0.1, coupled weight decay 2e-5 on everything
but gains, biases and skip gains; AGC (lambda 0.01, unit-wise per output unit
with max(||W||, 1e-3); vectors and scalars are one unit) on everything but
the final linear layer.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import FlopCounter

GAMMA_GELU = 1.7015043497085571
EXPECTED_PARAMS = {10: 68_447_014, 1000: 71_489_284}


def act(x):
    return F.gelu(x, approximate="tanh") * GAMMA_GELU


def same_pads(size, kernel, stride):
    """TensorFlow SAME padding of one axis: (before, after)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class WSConv2d(nn.Module):
    def __init__(self, cin, cout, kernel, stride=1, groups=1, eps=1e-4):
        super().__init__()
        self.kernel, self.stride, self.groups, self.eps = kernel, stride, groups, eps
        self.fan_in = (cin // groups) * kernel * kernel
        # Haiku VarianceScaling(1.0, fan_in, normal), as the official WSConv2D.
        self.weight = nn.Parameter(
            torch.randn(cout, cin // groups, kernel, kernel) / math.sqrt(self.fan_in))
        self.gain = nn.Parameter(torch.ones(cout))
        self.bias = nn.Parameter(torch.zeros(cout))

    def standardized_weight(self):
        var, mean = torch.var_mean(self.weight, dim=(1, 2, 3), unbiased=False, keepdim=True)
        scale = torch.rsqrt(torch.clamp(var * self.fan_in, min=self.eps)) * self.gain.view(-1, 1, 1, 1)
        return self.weight * scale - mean * scale

    def forward(self, x):
        w = self.standardized_weight()
        ph = same_pads(x.shape[2], self.kernel, self.stride)
        pw = same_pads(x.shape[3], self.kernel, self.stride)
        if ph[0] == ph[1] and pw[0] == pw[1]:
            padding = (ph[0], pw[0])
        else:  # asymmetric (stride 2): pad right/bottom explicitly
            x = F.pad(x, (pw[0], pw[1], ph[0], ph[1]))
            padding = 0
        y = F.conv2d(x, w, self.bias, self.stride, padding, 1, self.groups)
        FlopCounter.count(2 * y.numel() * self.fan_in)
        return y


def avg_pool_same(x, k):
    """k x k average pool, stride k, TF SAME (padding excluded from the count)."""
    ph = same_pads(x.shape[2], k, k)
    pw = same_pads(x.shape[3], k, k)
    if ph == (0, 0) and pw == (0, 0):
        return F.avg_pool2d(x, k, k)
    pad = (pw[0], pw[1], ph[0], ph[1])
    ones = torch.ones(1, 1, x.shape[2], x.shape[3], dtype=x.dtype)
    return F.avg_pool2d(F.pad(x, pad), k, k) / F.avg_pool2d(F.pad(ones, pad), k, k)


class SqueezeExcite(nn.Module):
    def __init__(self, channels, ratio):
        super().__init__()
        hidden = max(1, int(channels * ratio))
        self.fc0 = nn.Linear(channels, hidden)
        self.fc1 = nn.Linear(hidden, channels)

    def forward(self, x):
        h = x.mean(dim=(2, 3))
        gate = torch.sigmoid(self.fc1(F.relu(self.fc0(h))))
        return gate.view(x.shape[0], x.shape[1], 1, 1)


class NFBlock(nn.Module):
    def __init__(self, cin, cout, stride, beta, alpha=0.2, expansion=0.5, group_width=128,
                 se_ratio=0.5):
        super().__init__()
        groups = int(cout * expansion) // group_width
        width = groups * group_width
        self.stride, self.beta, self.alpha = stride, beta, alpha
        self.conv0 = WSConv2d(cin, width, 1)
        self.conv1 = WSConv2d(width, width, 3, stride, groups)
        self.conv1b = WSConv2d(width, width, 3, 1, groups)
        self.conv2 = WSConv2d(width, cout, 1)
        self.conv_shortcut = WSConv2d(cin, cout, 1) if (stride > 1 or cin != cout) else None
        self.se = SqueezeExcite(cout, se_ratio)
        self.skip_gain = nn.Parameter(torch.zeros(()))  # SkipInit

    def forward(self, x):
        out = act(x) * self.beta
        if self.stride > 1:
            shortcut = self.conv_shortcut(avg_pool_same(out, self.stride))
        elif self.conv_shortcut is not None:
            shortcut = self.conv_shortcut(out)
        else:
            shortcut = x
        h = self.conv0(out)
        h = self.conv1(act(h))
        h = self.conv1b(act(h))
        h = self.conv2(act(h))
        h = self.se(h) * 2.0 * h  # x2 undoes sigmoid(0) = 0.5
        return h * self.skip_gain * self.alpha + shortcut


class NFNet(nn.Module):
    def __init__(self, num_classes=10, widths=(256, 512, 1536, 1536), depths=(1, 2, 6, 3),
                 strides=(1, 2, 2, 2), alpha=0.2):
        super().__init__()
        stem = []
        ch = 3
        for c, s in zip((16, 32, 64, widths[0] // 2), (2, 1, 1, 2)):
            stem.append(WSConv2d(ch, c, 3, s))
            ch = c
        self.stem = nn.ModuleList(stem)
        blocks = []
        expected_std = 1.0
        for width, depth, stride in zip(widths, depths, strides):
            for b in range(depth):
                blocks.append(NFBlock(ch, width, stride if b == 0 else 1, 1.0 / expected_std,
                                      alpha))
                ch = width
                if b == 0:
                    expected_std = 1.0
                expected_std = math.sqrt(expected_std**2 + alpha**2)
        self.blocks = nn.Sequential(*blocks)
        self.final_conv = WSConv2d(ch, 2 * widths[-1], 1)
        self.head = nn.Linear(2 * widths[-1], num_classes)
        nn.init.normal_(self.head.weight, 0.0, 0.01)
        nn.init.zeros_(self.head.bias)

    def forward(self, x):
        for i, conv in enumerate(self.stem):
            if i > 0:
                x = act(x)
            x = conv(x)
        x = self.blocks(x)
        x = act(self.final_conv(x))
        return self.head(x.mean(dim=(2, 3)))  # dropout 0 for timing


def _no_decay(name):
    return name.endswith("gain") or name.endswith("bias")  # gain, skip_gain, bias


class SgdAgc:
    """deepmind-research nfnets/optim.py SGD_AGC: AGC on the gradients, then
    torch.optim.SGD (identical update: coupled decay, buf = 0.9 buf + g,
    Nesterov g + 0.9 buf)."""

    def __init__(self, model, lr=0.1, momentum=0.9, weight_decay=2e-5, clipping=0.01,
                 eps=1e-3):
        named = list(model.named_parameters())
        decay = [p for n, p in named if not _no_decay(n)]
        no_decay = [p for n, p in named if _no_decay(n)]
        self.agc_params = [p for n, p in named if not n.startswith("head.")]
        self.clipping, self.eps = clipping, eps
        kwargs = dict(lr=lr, momentum=momentum, nesterov=True)
        try:
            self.sgd = torch.optim.SGD([{"params": decay, "weight_decay": weight_decay},
                                        {"params": no_decay, "weight_decay": 0.0}],
                                       foreach=True, **kwargs)
        except TypeError:  # torch without foreach
            self.sgd = torch.optim.SGD([{"params": decay, "weight_decay": weight_decay},
                                        {"params": no_decay, "weight_decay": 0.0}], **kwargs)

    def zero_grad(self):
        self.sgd.zero_grad(set_to_none=True)

    @torch.no_grad()
    def clip(self):
        for p in self.agc_params:
            g = p.grad
            if g is None:
                continue
            if p.dim() <= 1:  # vectors and scalars: one unit
                p_norm, g_norm = torch.linalg.vector_norm(p), torch.linalg.vector_norm(g)
            else:  # one unit per output (dim 0 of OIHW conv and (out, in) linear weights)
                dims = tuple(range(1, p.dim()))
                p_norm = torch.linalg.vector_norm(p, dim=dims, keepdim=True)
                g_norm = torch.linalg.vector_norm(g, dim=dims, keepdim=True)
            max_norm = p_norm.clamp(min=self.eps) * self.clipping
            clipped = g * (max_norm / g_norm.clamp(min=1e-6))
            g.copy_(torch.where(g_norm > max_norm, clipped, g))

    def step(self):
        self.clip()
        self.sgd.step()


def build(batch=32, num_classes=10, channels_last=False, seed=0):
    torch.manual_seed(seed)
    model = NFNet(num_classes)
    params = sum(p.numel() for p in model.parameters())
    assert params == EXPECTED_PARAMS[num_classes], \
        "NFNet-F0 has %d parameters at %d classes, benchmarks.md says %d" % (
            params, num_classes, EXPECTED_PARAMS[num_classes])
    opt = SgdAgc(model)
    g = torch.Generator().manual_seed(seed + 12345)
    images = torch.randn(batch, 3, 32, 32, generator=g)
    labels = torch.randint(0, num_classes, (batch,), generator=g)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    model.train()

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        opt.step()
        return loss

    def forward():
        return model(images)

    return model, step, forward, params
