"""Patch tokenisers: tubelets for video, square patches for the fbank. Tokens are flattened grid-major."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _PatchEmbed(nn.Module):
    """A strided convolution (kernel = stride) with a second way in: `embed_selected` embeds only chosen tokens,
    as one matrix product over their patches (pre-training embeds 10 % of the video tokens this way)."""

    proj: nn.Conv2d | nn.Conv3d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, *S) -> (B, N, C * prod(kernel)), tokens grid-major, features in the conv weight's order."""
        b, c, *size = x.shape
        kernel = self.proj.kernel_size
        shape = [b, c]
        for s, k in zip(size, kernel):
            shape += [s // k, k]
        nd = len(kernel)
        x = x.reshape(shape).permute(0, *range(2, 2 + 2 * nd, 2), 1, *range(3, 3 + 2 * nd, 2))
        return x.reshape(b, -1, c * torch.Size(kernel).numel())

    def embed_selected(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Tokens where `keep` (B, N) is True, (B, n_keep, C) in position order; equal to forward(x)[keep]."""
        b = x.shape[0]
        selected = self.patches(x)[keep]
        out = F.linear(selected, self.proj.weight.flatten(1), self.proj.bias)
        return out.reshape(b, -1, out.shape[-1])


class VideoPatchEmbed(_PatchEmbed):
    """(B, 3, T, H, W) -> (B, T/t * H/p * W/p, C); token index t*(H/p*W/p) + h*(W/p) + w."""

    def __init__(self, patch_size: int, tubelet_size: int, embed_dim: int, in_chans: int = 3):
        super().__init__()
        k = (tubelet_size, patch_size, patch_size)
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=k, stride=k)


class AudioPatchEmbed(_PatchEmbed):
    """(B, 1, time, mel) -> (B, time/p * mel/p, C); token index time*(mel/p) + freq."""

    def __init__(self, patch_size: int, embed_dim: int, in_chans: int = 1):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
