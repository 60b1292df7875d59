"""B2 gpt_small / B4 gpt_small_bf16: decoder-only byte LM as kiln's
transformer_lm with configs/bench/gpt_small.json:

  vocab 256, sequence 256, batch 8; 6 pre-LN blocks, d_model 512, 8 heads,
  MLP 2048 with GELU (tanh); learned positions; final LayerNorm; untied
  output projection with bias; causal attention; no dropout; all linear
  layers with biases (q, k, v fused into one 512 -> 1536 linear: the same
  parameters and FLOPs as kiln's three). Loss: mean next-token cross-entropy.
  AdamW lr 3e-4, betas (0.9, 0.95), eps 1e-8, weight decay 0.1 (on every
  parameter, as kiln's config).

bf16: the step runs under torch.autocast('cpu', dtype=torch.bfloat16), so
linear layers and the attention matmuls run in bfloat16 (fp32 master
weights); softmax, the LayerNorms and the loss are computed in fp32
explicitly.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import FlopCounter

EXPECTED_PARAMS = 19_308_800


def layer_norm(ln, x):
    return F.layer_norm(x.float(), ln.normalized_shape, ln.weight, ln.bias, ln.eps)


def attention(q, k, v, causal_bias=None):
    """q (B, H, Tq, dk), k (B, H, Tk, dk), v (B, H, Tk, dv); softmax in fp32."""
    b, h, tq, dk = q.shape
    tk, dv = k.shape[2], v.shape[3]
    FlopCounter.count(2 * b * h * tq * tk * (dk + dv))
    scores = torch.matmul(q, k.transpose(-2, -1)).float() * (1.0 / math.sqrt(dk))
    if causal_bias is not None:
        scores = scores + causal_bias
    probs = torch.softmax(scores, dim=-1)
    return torch.matmul(probs, v)  # bf16 under autocast


class Block(nn.Module):
    def __init__(self, d, heads, hidden):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, hidden)
        self.fc2 = nn.Linear(hidden, d)

    def forward(self, x, causal_bias):
        b, t, d = x.shape
        q, k, v = self.qkv(layer_norm(self.ln1, x)).view(b, t, 3, self.heads,
                                                         d // self.heads).permute(2, 0, 3, 1, 4)
        a = attention(q, k, v, causal_bias).transpose(1, 2).reshape(b, t, d)
        x = x + self.out(a)
        return x + self.fc2(F.gelu(self.fc1(layer_norm(self.ln2, x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, vocab=256, max_len=256, d=512, layers=6, heads=8, hidden=2048):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, d)
        self.position_embedding = nn.Embedding(max_len, d)
        self.blocks = nn.ModuleList(Block(d, heads, hidden) for _ in range(layers))
        self.final_norm = nn.LayerNorm(d)
        self.unembed = nn.Linear(d, vocab)
        bias = torch.full((max_len, max_len), float("-inf")).triu(1)
        self.register_buffer("causal_bias", bias, persistent=False)

    def forward(self, ids):
        t = ids.shape[1]
        x = self.token_embedding(ids) + self.position_embedding.weight[:t]
        bias = self.causal_bias[:t, :t]
        for block in self.blocks:
            x = block(x, bias)
        return self.unembed(layer_norm(self.final_norm, x))


def build(batch=8, seq=256, bf16=False, seed=0):
    torch.manual_seed(seed)
    model = GPT(max_len=seq)
    params = sum(p.numel() for p in model.parameters())
    assert params == EXPECTED_PARAMS, "gpt_small has %d parameters, kiln has %d" % (
        params, EXPECTED_PARAMS)
    kwargs = dict(lr=3e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    try:
        opt = torch.optim.AdamW(model.parameters(), foreach=True, **kwargs)
    except TypeError:
        opt = torch.optim.AdamW(model.parameters(), **kwargs)
    g = torch.Generator().manual_seed(seed + 12345)
    tokens = torch.randint(0, 256, (batch, seq + 1), generator=g)
    inputs, targets = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()
    model.train()

    def loss_fn():
        logits = model(inputs)
        return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1))

    def step():
        opt.zero_grad(set_to_none=True)
        if bf16:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = loss_fn()
        else:
            loss = loss_fn()
        loss.backward()
        opt.step()
        return loss

    def forward():
        return model(inputs)

    return model, step, forward, params
