"""Building blocks shared by encoders, IAVCL and decoders.

Attention comes in the two parameter layouts of the official checkpoints (so they load by name):
- `CrossAttention`: separate `q` and `kv` projections (used for every cross-attention and the LG attentions);
- `Attention`: one fused `qkv` projection.
Both have learnable q and v biases and an implicit zero k bias, and compute through
`torch.nn.functional.scaled_dot_product_attention` (scale head_dim^-0.5).
"""
from __future__ import annotations


import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from timm.layers import DropPath
from torch import nn

LN_EPS = 1e-6


def layer_norm(dim: int) -> nn.LayerNorm:
    return nn.LayerNorm(dim, eps=LN_EPS)


def sinusoid_table(num_positions: int, dim: int) -> torch.Tensor:
    """Fixed 1-D sinusoid position table (1, N, D): angle pos/10000^(2*floor(j/2)/D); sin even, cos odd.

    Computed in float64 and rounded to float32, like the official tables (bit-identical).
    """
    pos = torch.arange(num_positions, dtype=torch.float64)[:, None]
    j = torch.arange(dim, dtype=torch.float64)
    angle = pos / torch.pow(torch.tensor(10000.0, dtype=torch.float64), 2 * torch.div(j, 2, rounding_mode="floor") / dim)
    table = torch.where(j.long() % 2 == 0, torch.sin(angle), torch.cos(angle))
    return table.to(torch.float32).unsqueeze(0)


def _heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    b, n, d = x.shape
    return x.view(b, n, num_heads, d // num_heads).transpose(1, 2)


def _merge(x: torch.Tensor) -> torch.Tensor:
    b, h, n, d = x.shape
    return x.transpose(1, 2).reshape(b, n, h * d)


class _BiasQV(nn.Module):
    """Holds the q/v biases; the k bias is an implicit zero (BEiT/VideoMAE convention)."""

    def __init__(self, inner: int):
        super().__init__()
        self.q_bias = nn.Parameter(torch.zeros(inner))
        self.v_bias = nn.Parameter(torch.zeros(inner))


class Attention(_BiasQV):
    """Multi-head self-attention with a fused qkv projection."""

    def __init__(self, dim: int, num_heads: int, attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__(dim)
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))
        q, k, v = F.linear(x, self.qkv.weight, bias).chunk(3, dim=-1)
        out = F.scaled_dot_product_attention(
            _heads(q, self.num_heads), _heads(k, self.num_heads), _heads(v, self.num_heads),
            dropout_p=self.attn_drop if self.training else 0.0)
        return self.proj_drop(self.proj(_merge(out)))


class CrossAttention(_BiasQV):
    """Multi-head attention with separate q and kv projections; self-attention when `context` is None."""

    def __init__(self, dim: int, num_heads: int, context_dim: int | None = None,
                 attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__(dim)
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.q = nn.Linear(dim, dim, bias=False)
        self.kv = nn.Linear(context_dim or dim, dim * 2, bias=False)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        context = x if context is None else context
        q = F.linear(x, self.q.weight, self.q_bias)
        kv_bias = torch.cat((torch.zeros_like(self.v_bias), self.v_bias))
        k, v = F.linear(context, self.kv.weight, kv_bias).chunk(2, dim=-1)
        out = F.scaled_dot_product_attention(
            _heads(q, self.num_heads), _heads(k, self.num_heads), _heads(v, self.num_heads),
            dropout_p=self.attn_drop if self.training else 0.0)
        return self.proj_drop(self.proj(_merge(out)))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, drop: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


def run_block(block: nn.Module, checkpoint: bool, *args):
    """block(*args), under non-reentrant activation checkpointing when `checkpoint` and autograd records (the
    block is recomputed in backward, with the same dropout/drop-path draws; the numbers are unchanged)."""
    if checkpoint and torch.is_grad_enabled():
        return torch.utils.checkpoint.checkpoint(block, *args, use_reentrant=False)
    return block(*args)


def set_grad_checkpointing(model: nn.Module, enable: bool = True) -> nn.Module:
    """Switch activation checkpointing of every encoder/decoder block of `model` on or off."""
    for module in model.modules():
        if hasattr(module, "grad_checkpointing"):
            module.grad_checkpointing = bool(enable)
    return model


def drop_path(rate: float) -> nn.Module:
    return DropPath(rate) if rate > 0 else nn.Identity()


def init_mae_(module: nn.Module) -> None:
    """MAE-style init: xavier-uniform Linear weights, zero biases, LayerNorm 1/0 (apply with Module.apply)."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def linear_ramp(rate: float, n: int) -> list[float]:
    """Stochastic-depth rates rising linearly from 0 to `rate` over n blocks."""
    return [rate * i / (n - 1) if n > 1 else 0.0 for i in range(n)]


def trunc_normal_(t: torch.Tensor, std: float = 0.02) -> torch.Tensor:
    return nn.init.trunc_normal_(t, std=std, a=-std * 2, b=std * 2)


__all__ = ["Attention", "CrossAttention", "Mlp", "drop_path", "init_mae_", "layer_norm", "linear_ramp", "run_block",
           "set_grad_checkpointing", "sinusoid_table", "trunc_normal_"]
