"""B3 perceiver_32: the Perceiver image classifier as kiln's perceiver model with
configs/bench/perceiver_32.json:

  inputs: 32x32x3 pixels flattened to 1024 positions, concatenated with
          fixed 2D Fourier features (raw position per axis, then sin and cos
          of 64 bands per axis, linspace(1, 32 / 2) * pi * pos): 3 + 258 = 261
  latents 128 x 256 (learned); one cross-attend: LN(latents), LN(inputs),
          1 head, q/k/v 256, output 256, query residual, MLP 256-1024-256;
          4 latent self-attends (8 heads, MLP 1024); pre-LN; GELU (tanh);
          final LayerNorm, mean over latents, linear to 10 classes
  All linear layers have biases (the self-attention q, k, v are fused into one
  256 -> 768 linear: the same parameters and FLOPs as kiln's three).
  Batch 16, AdamW lr 1e-3, weight decay 0.1, betas (0.9, 0.999), eps 1e-8.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import FlopCounter

EXPECTED_PARAMS = 3_987_732


def fourier_features(h, w, num_bands=64, max_resolution=(32, 32)):
    """(h * w, 2 * (2 * num_bands + 1)) as kiln's fourier_position_encoding."""
    ys = torch.linspace(-1.0, 1.0, h, dtype=torch.float64)
    xs = torch.linspace(-1.0, 1.0, w, dtype=torch.float64)
    pos = torch.stack(torch.meshgrid(ys, xs, indexing="ij"), dim=-1).reshape(-1, 2)  # (M, 2)
    freqs = torch.stack([torch.linspace(1.0, r / 2.0, num_bands, dtype=torch.float64)
                         for r in max_resolution])  # (2, K)
    angles = math.pi * pos[:, :, None] * freqs[None]  # (M, 2, K)
    feats = [pos, torch.sin(angles).reshape(len(pos), -1), torch.cos(angles).reshape(len(pos), -1)]
    return torch.cat(feats, dim=-1).float()


def attention(q, k, v):
    b, h, tq, dk = q.shape
    tk, dv = k.shape[2], v.shape[3]
    FlopCounter.count(2 * b * h * tq * tk * (dk + dv))
    scores = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(dk))
    return torch.matmul(torch.softmax(scores, dim=-1), v)


def mlp(channels, widening):
    return nn.Sequential(nn.Linear(channels, widening * channels), nn.GELU(approximate="tanh"),
                         nn.Linear(widening * channels, channels))


class CrossAttend(nn.Module):
    def __init__(self, q_channels, kv_channels, qk, v, heads=1, widening=4):
        super().__init__()
        self.heads = heads
        self.query_norm = nn.LayerNorm(q_channels)
        self.kv_norm = nn.LayerNorm(kv_channels)
        self.query = nn.Linear(q_channels, qk)
        self.key = nn.Linear(kv_channels, qk)
        self.value = nn.Linear(kv_channels, v)
        self.output = nn.Linear(v, q_channels)
        self.mlp_norm = nn.LayerNorm(q_channels)
        self.mlp = mlp(q_channels, widening)

    def forward(self, z, x):
        b, n, _ = z.shape
        m, h = x.shape[1], self.heads
        q = self.query(self.query_norm(z)).view(b, n, h, -1).transpose(1, 2)
        kv = self.kv_norm(x)
        k = self.key(kv).view(b, m, h, -1).transpose(1, 2)
        v = self.value(kv).view(b, m, h, -1).transpose(1, 2)
        a = attention(q, k, v).transpose(1, 2).reshape(b, n, -1)
        z = z + self.output(a)
        return z + self.mlp(self.mlp_norm(z))


class SelfAttend(nn.Module):
    def __init__(self, channels, heads=8, widening=4):
        super().__init__()
        self.heads = heads
        self.attention_norm = nn.LayerNorm(channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.output = nn.Linear(channels, channels)
        self.mlp_norm = nn.LayerNorm(channels)
        self.mlp = mlp(channels, widening)

    def forward(self, z):
        b, n, d = z.shape
        q, k, v = self.qkv(self.attention_norm(z)).view(b, n, 3, self.heads,
                                                        d // self.heads).permute(2, 0, 3, 1, 4)
        z = z + self.output(attention(q, k, v).transpose(1, 2).reshape(b, n, d))
        return z + self.mlp(self.mlp_norm(z))


class Perceiver(nn.Module):
    def __init__(self, image=(32, 32, 3), num_classes=10, num_latents=128, latent_channels=256,
                 num_self_attends=4):
        super().__init__()
        h, w, c = image
        self.register_buffer("positions", fourier_features(h, w), persistent=False)
        in_channels = c + self.positions.shape[1]  # 261
        self.latents = nn.Parameter(
            torch.nn.init.trunc_normal_(torch.empty(num_latents, latent_channels), std=0.02,
                                        a=-0.04, b=0.04))
        self.cross_attend = CrossAttend(latent_channels, in_channels, latent_channels,
                                        latent_channels, heads=1, widening=4)
        self.self_attends = nn.ModuleList(
            SelfAttend(latent_channels, 8, 4) for _ in range(num_self_attends))
        self.final_norm = nn.LayerNorm(latent_channels)
        self.output = nn.Linear(latent_channels, num_classes)

    def forward(self, images):  # (B, H, W, C), as kiln
        b = images.shape[0]
        x = images.reshape(b, -1, images.shape[-1])
        x = torch.cat([x, self.positions.expand(b, -1, -1)], dim=-1)  # (B, M, 261)
        z = self.latents.expand(b, -1, -1)
        z = self.cross_attend(z, x)
        for layer in self.self_attends:
            z = layer(z)
        return self.output(self.final_norm(z).mean(dim=1))


def build(batch=16, num_classes=10, seed=0):
    torch.manual_seed(seed)
    model = Perceiver(num_classes=num_classes)
    params = sum(p.numel() for p in model.parameters())
    assert params == EXPECTED_PARAMS, "perceiver_32 has %d parameters, kiln has %d" % (
        params, EXPECTED_PARAMS)
    try:
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1, foreach=True)
    except TypeError:
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    g = torch.Generator().manual_seed(seed + 12345)
    images = torch.randn(batch, 32, 32, 3, generator=g)
    labels = torch.randint(0, num_classes, (batch,), generator=g)
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        opt.step()
        return loss

    def forward():
        return model(images)

    return model, step, forward, params
