"""Building blocks shared by encoders, IAVCL and decoders.

Attention comes in the two parameter layouts of the official checkpoints (so they load by name):
- `CrossAttention`: separate `q` and `kv` projections (used for every cross-attention and the LG attentions);
- `Attention`: one fused `qkv` projection.
Both have learnable q and v biases and an implicit zero k bias, and compute through
`torch.nn.functional.scaled_dot_product_attention` (scale head_dim^-0.5).

Cross-attention with few keys (or few queries) per sample, as in the LG block's steps 3 and 4 where one side is
the R region tokens, is computed in a reassociated order that gives the same result with fewer products: the q
and output projections are folded into the few keys/values (or the k and v projections into the few queries),
so the many tokens meet one (C x heads*few) product instead of two (C x C) ones. `CrossAttention.plan` picks the
order with the fewest multiply-adds from the shapes alone; the numbers agree with the plain order to float
rounding (about 1e-6; tests/test_attention_orders.py).
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

    def plan(self, n_queries: int, n_keys: int) -> str:
        """"plain", "few-keys" or "few-queries": the order with the fewest multiply-adds for these token counts
        (per sample, width C, H heads), counting every projection and attention product."""
        c, h = self.q.weight.shape[0], self.num_heads
        plain = 2 * (n_queries + n_keys) * c * c + 2 * n_queries * n_keys * c
        few_keys = 4 * n_keys * c * c + 2 * n_queries * h * n_keys * c
        few_queries = 4 * n_queries * c * c + 2 * n_queries * h * n_keys * c
        best = min(plain, few_keys, few_queries)
        if best > 0.8 * plain:  # not worth leaving the fused attention kernel
            return "plain"
        return "few-keys" if best == few_keys else "few-queries"

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, order: str | None = None) -> torch.Tensor:
        """`order` forces one computation order (tests); by default `plan` picks it. Attention dropout in
        training always takes the plain order (its dropout draws are SDPA's)."""
        if context is None:
            context = x
            order = "plain"
        elif order is None:
            order = "plain" if self.training and self.attn_drop > 0 else self.plan(x.shape[-2], context.shape[-2])
        if order == "few-keys":
            return self.proj_drop(self._few_keys(x, context))
        if order == "few-queries":
            return self.proj_drop(self.proj(self._few_queries(x, context)))
        q = F.linear(x, self.q.weight, self.q_bias)
        k, v = self._kv(context)
        out = F.scaled_dot_product_attention(
            _heads(q, self.num_heads), _heads(k, self.num_heads), _heads(v, self.num_heads),
            dropout_p=self.attn_drop if self.training else 0.0)
        return self.proj_drop(self.proj(_merge(out)))

    def _kv(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys (no bias) and values (v bias) of the context, (B, M, C) each."""
        kv_bias = torch.cat((torch.zeros_like(self.v_bias), self.v_bias))
        k, v = F.linear(context, self.kv.weight, kv_bias).chunk(2, dim=-1)
        return k, v

    def _few_keys(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Few keys M: q.k = x.(Wq_h^T k) + bq_h.k, and proj(sum p v) = sum p (Wp_h v) + bp, so each query token
        costs two (C x H*M) products instead of the q and output projections (C x C each). Includes `proj`."""
        b, n, c = x.shape
        h, m = self.num_heads, context.shape[-2]
        d = c // h
        scale = d ** -0.5
        k, v = (_per_head(t, h) for t in self._kv(context))                               # (H, B*M, d)
        keys = _per_sample((k @ self.q.weight.view(h, d, c)) * scale, b)                  # (B, H*M, C)
        key_bias = _per_sample((k @ self.q_bias.view(h, d, 1)) * scale, b).transpose(1, 2)  # (B, 1, H*M): bq.k
        p = torch.baddbmm(key_bias, x, keys.transpose(1, 2)).view(b, n, h, m).softmax(dim=-1)
        values = _per_sample(v @ self.proj.weight.view(c, h, d).permute(1, 2, 0), b)     # (B, H*M, C): Wp_h v
        return torch.baddbmm(self.proj.bias, p.view(b, n, h * m), values)

    def _few_queries(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Few queries R: q.k = (Wk_h^T q).x (k has no bias) and sum p v = Wv_h (sum p x) + bv (the weights sum
        to 1), so each key token costs two (C x H*R) products instead of the k and v projections. Returns the
        merged heads before `proj`."""
        b, r, c = x.shape
        h, cc = self.num_heads, context.shape[-1]
        d = c // h
        q = _per_head(F.linear(x, self.q.weight, self.q_bias), h)                         # (H, B*R, d)
        wk, wv = self.kv.weight.view(2, h, d, cc).unbind(0)
        queries = _per_sample((q @ wk) * (d ** -0.5), b)                                 # (B, H*R, Cc)
        p = (queries @ context.transpose(1, 2)).softmax(dim=-1)                          # (B, H*R, M)
        pooled = _per_head_rows(p @ context, h)                                          # (H, B*R, Cc): sum p x
        out = pooled @ wv.transpose(1, 2) + self.v_bias.view(h, 1, d)                    # (H, B*R, d)
        return _merge(out.view(h, b, r, d).transpose(0, 1))


def _per_head(t: torch.Tensor, h: int) -> torch.Tensor:
    """(B, N, H*d) -> (H, B*N, d): a per-head stack that per-head weights (H, d, .) multiply without expanding."""
    b, n, hd = t.shape
    return t.view(b, n, h, hd // h).permute(2, 0, 1, 3).reshape(h, b * n, hd // h)


def _per_head_rows(t: torch.Tensor, h: int) -> torch.Tensor:
    """(B, H*N, X) with rows head-major -> (H, B*N, X)."""
    b, hn, x = t.shape
    return t.view(b, h, hn // h, x).transpose(0, 1).reshape(h, b * (hn // h), x)


def _per_sample(t: torch.Tensor, b: int) -> torch.Tensor:
    """(H, B*N, X) -> (B, H*N, X), rows head-major (the inverse of `_per_head_rows`)."""
    h, bn, x = t.shape
    return t.view(h, b, bn // b, x).transpose(0, 1).reshape(b, h * (bn // b), x)


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
    """Switch activation checkpointing of every encoder/decoder block and IAVCL DiER unit of `model` on or off."""
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
