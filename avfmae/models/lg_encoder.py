"""The local-global (LG) modality encoder with region ("messenger") tokens and the holistic fourth attention.

Tokens are grouped into R regions, each with its own learnable region token. One LG block:
  1. self-attention inside each region (region token + its tokens);
  2. self-attention among the R region tokens of a sample;
  3. every local token cross-attends to the R region tokens (global -> local);
  4. every region token cross-attends to all local tokens of the sample (local -> global, the holistic view);
  5. MLP on all tokens.
Each step is pre-LN with a residual. Nothing is written in place: the block rebuilds its output tensor, so
autograd never sees a modified view.

Fine-tuning partitions the full token grid into true spatial(-temporal) regions and keeps the region tokens of
every layer. Pre-training runs on the visible tokens only, cut into R consecutive chunks in position order (as
the official code does: chunks are raster-order groups, not true regions), and keeps the local tokens.
For video (`time_chunks=True`) the official chunking follows the region layout along time: the visible tokens
of each block of `region[0]` token-frames are grouped, and each token-frame's visible tokens are split evenly
among the spatial regions (with tube masking every token-frame has the same visible positions). Audio chunks
are plain consecutive runs.
"""
from __future__ import annotations

import torch
from torch import nn

from .layers import (CrossAttention, Mlp, drop_path, layer_norm, linear_ramp, run_block, sinusoid_table,
                     trunc_normal_)


class LGBlock(nn.Module):
    """`second`/`third`/`fourth` switch steps 2-4 off for ablations (their weights are then not created)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, drop_path_rate: float = 0.0,
                 attn_drop: float = 0.0, drop: float = 0.0, second: bool = True, third: bool = True,
                 fourth: bool = True):
        super().__init__()
        self.steps = (second, third, fourth)

        def attn():
            return CrossAttention(dim, num_heads, attn_drop=attn_drop, proj_drop=drop)

        self.first_attn_norm0 = layer_norm(dim)
        self.first_attn = attn()
        if second:
            self.second_attn_norm0 = layer_norm(dim)
            self.second_attn = attn()
        if third:
            self.third_attn_norm0 = layer_norm(dim)
            self.third_attn_norm1 = layer_norm(dim)
            self.third_attn = attn()
        if fourth:
            self.fourth_attn_norm0 = layer_norm(dim)
            self.fourth_attn_norm1 = layer_norm(dim)
            self.fourth_attn = attn()
        self.drop_path = drop_path(drop_path_rate)
        self.norm2 = layer_norm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)

    def forward(self, x: torch.Tensor, batch: int, regions_only: bool = False) -> torch.Tensor:
        """x: (B*R, 1 + L, C), slot 0 the region token of each region; returns the same shape, or with
        `regions_only` just the region tokens (B*R, 1, C): the local tokens' MLP, whose output nobody reads after
        the last block of the fine-tune path, is then skipped."""
        br, n, c = x.shape
        regions = br // batch
        dp = self.drop_path
        x = x + dp(self.first_attn(self.first_attn_norm0(x)))
        region = x[:, 0].reshape(batch, regions, c)
        local = x[:, 1:].reshape(batch, regions * (n - 1), c)
        second, third, fourth = self.steps
        if second:
            region = region + dp(self.second_attn(self.second_attn_norm0(region)))
        if third:
            local = local + dp(self.third_attn(self.third_attn_norm0(local), self.third_attn_norm1(region)))
        if fourth:
            region = region + dp(self.fourth_attn(self.fourth_attn_norm0(region), self.fourth_attn_norm1(local)))
        if regions_only and fourth:  # (without step 4 the local tokens would reach no output: no gradient)
            x = region.reshape(br, 1, c)
        else:
            x = torch.cat((region.reshape(br, 1, c), local.reshape(br, n - 1, c)), dim=1)
        return x + dp(self.mlp(self.norm2(x)))


class LGEncoder(nn.Module):
    """A modality encoder: tokeniser + fixed sinusoid positions + LG blocks + final LayerNorm.

    `grid` is the token grid (video (t, h, w), audio (time, freq)); `region` the tokens per region on each axis.
    """

    def __init__(self, patch_embed: nn.Module, grid: tuple[int, ...], region: tuple[int, ...], dim: int,
                 depth: int, num_heads: int, mlp_ratio: float, drop_path_rate: float = 0.0,
                 time_chunks: bool = False, steps: tuple[bool, bool, bool] = (True, True, True)):
        super().__init__()
        self.grid, self.region = tuple(grid), tuple(region)
        self.time_chunks = time_chunks
        self.num_regions = 1
        for g, r in zip(self.grid, self.region):
            self.num_regions *= g // r
        self.lg_region_tokens = nn.Parameter(torch.zeros(self.num_regions, dim))
        self.patch_embed = patch_embed
        num_tokens = 1
        for g in self.grid:
            num_tokens *= g
        self.register_buffer("pos_embed", sinusoid_table(num_tokens, dim), persistent=False)
        rates = linear_ramp(drop_path_rate, depth)
        second, third, fourth = steps
        self.blocks = nn.ModuleList(LGBlock(dim, num_heads, mlp_ratio, rates[i], second=second, third=third,
                                            fourth=fourth) for i in range(depth))
        self.norm = layer_norm(dim)
        self.grad_checkpointing = False     # recompute each block in backward instead of keeping activations
        trunc_normal_(self.lg_region_tokens)

    # ---- region partition of the full grid (fine-tuning) -------------------------------------------------
    def _to_regions(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, C) grid-major -> (B*R, L, C) with rows b*R + region, tokens in grid order inside a region."""
        b, _, c = x.shape
        shape = [b]
        for g, r in zip(self.grid, self.region):
            shape += [g // r, r]
        x = x.reshape(*shape, c)
        nd = len(self.grid)
        outer = [1 + 2 * i for i in range(nd)]
        inner = [2 + 2 * i for i in range(nd)]
        x = x.permute(0, *outer, *inner, 1 + 2 * nd)
        return x.reshape(b * self.num_regions, -1, c)

    def _with_region_tokens(self, chunks: torch.Tensor, batch: int) -> torch.Tensor:
        tokens = self.lg_region_tokens.unsqueeze(0).expand(batch, -1, -1).reshape(-1, 1, chunks.shape[-1])
        return torch.cat((tokens.to(chunks.dtype), chunks), dim=1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.patch_embed(x) + self.pos_embed.to(x.dtype)

    def forward_regions(self, x: torch.Tensor) -> torch.Tensor:
        """Fine-tune path: input (B, ...) -> per-layer normalised region tokens (B, R, depth, C)."""
        tokens = self.embed(x)
        b = tokens.shape[0]
        h = self._with_region_tokens(self._to_regions(tokens), b)
        per_layer = []
        for i, blk in enumerate(self.blocks):
            h = run_block(blk, self.grad_checkpointing, h, b, i == len(self.blocks) - 1)
            per_layer.append(h[:, 0].reshape(b, self.num_regions, -1))
        return self.norm(torch.stack(per_layer, dim=2))

    def forward_visible(self, x: torch.Tensor, hidden: torch.Tensor) -> list[torch.Tensor]:
        """Pre-train path: `hidden` (B, N) bool, True = masked out. Returns every layer's normalised visible
        tokens, each (B, N_visible, C), in CHUNK order; the last one is the encoder output.

        Official quirk, kept for checkpoint compatibility: the tokens are not put back into position order, so
        for video (where chunk order differs from position order) the decoder later adds the positional
        embeddings of the visible positions in increasing order to tokens in chunk order."""
        keep = ~hidden
        visible = self.patch_embed.embed_selected(x, keep)      # only the visible tokens are embedded
        b, n_vis, c = visible.shape
        visible = visible + self.pos_embed.to(x.dtype).expand(b, -1, -1)[keep].reshape(b, n_vis, c)
        if n_vis % self.num_regions:
            raise ValueError(f"{n_vis} visible tokens cannot be cut into {self.num_regions} equal chunks; "
                             "choose a mask ratio that leaves a multiple of the region count visible")
        h = self._with_region_tokens(self._chunk(visible), b)
        feats = []
        for blk in self.blocks:
            h = run_block(blk, self.grad_checkpointing, h, b)
            feats.append(self.norm(h[:, 1:].reshape(b, n_vis, c)))
        return feats

    def _chunk_shape(self, b: int, n_vis: int, c: int) -> tuple[int, ...]:
        nt, t = self.grid[0] // self.region[0], self.region[0]
        ns = self.num_regions // nt
        return (b, nt, t, ns, n_vis // (nt * t * ns), c)

    def _chunk(self, visible: torch.Tensor) -> torch.Tensor:
        """(B, N_vis, C) in position order -> (B*R, N_vis/R, C) chunks."""
        b, n_vis, c = visible.shape
        if not self.time_chunks:
            return visible.reshape(b * self.num_regions, -1, c)
        if n_vis % (self.grid[0] * (self.num_regions // (self.grid[0] // self.region[0]))):
            raise ValueError(f"{n_vis} visible video tokens do not split evenly over {self.grid[0]} token-frames "
                             f"and the spatial regions; use tube masking with a compatible ratio")
        x = visible.reshape(self._chunk_shape(b, n_vis, c)).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(b * self.num_regions, -1, c)
