"""Patch tokenisers: tubelets for video, square patches for the fbank. Tokens are flattened grid-major."""
from __future__ import annotations

import torch
from torch import nn


class VideoPatchEmbed(nn.Module):
    """(B, 3, T, H, W) -> (B, T/t * H/p * W/p, C); token index t*(H/p*W/p) + h*(W/p) + w."""

    def __init__(self, patch_size: int, tubelet_size: int, embed_dim: int, in_chans: int = 3):
        super().__init__()
        k = (tubelet_size, patch_size, patch_size)
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=k, stride=k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class AudioPatchEmbed(nn.Module):
    """(B, 1, time, mel) -> (B, time/p * mel/p, C); token index time*(mel/p) + freq."""

    def __init__(self, patch_size: int, embed_dim: int, in_chans: int = 1):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)
