"""Pre-training decoders: block 0 self-attention; blocks 1.. first cross-attend to an encoder skip feature."""
from __future__ import annotations

import torch
from torch import nn

from .layers import Attention, CrossAttention, Mlp, layer_norm, run_block


class Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = layer_norm(dim)
        self.attn = Attention(dim, num_heads)
        self.norm2 = layer_norm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class SkipBlock(Block):
    """Cross-attention to a skip feature, then the plain block."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float):
        nn.Module.__init__(self)
        self.cross_attn = CrossAttention(dim, num_heads)
        self.cross_norm1 = layer_norm(dim)
        self.cross_norm2 = layer_norm(dim)
        self.norm1 = layer_norm(dim)
        self.attn = Attention(dim, num_heads)
        self.norm2 = layer_norm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = x + self.cross_attn(self.cross_norm1(x), self.cross_norm2(skip))
        return super().forward(x)


class Decoder(nn.Module):
    def __init__(self, dim: int, depth: int, num_heads: int, out_dim: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.blocks = nn.ModuleList(
            [Block(dim, num_heads, mlp_ratio)] + [SkipBlock(dim, num_heads, mlp_ratio) for _ in range(depth - 1)])
        self.norm = layer_norm(dim)
        self.head = nn.Linear(dim, out_dim)
        self.grad_checkpointing = False

    def forward(self, x: torch.Tensor, skips: list[torch.Tensor], return_last: int) -> torch.Tensor:
        """Block j >= 1 attends to skips[-j] (deepest first); predicts the last `return_last` tokens."""
        ck = self.grad_checkpointing
        x = run_block(self.blocks[0], ck, x)
        for j, blk in enumerate(self.blocks[1:], start=1):
            x = run_block(blk, ck, x, skips[-j])
        return self.head(self.norm(x[:, -return_last:]))
