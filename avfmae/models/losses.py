"""Pre-training targets and losses: per-patch-normalised reconstruction targets, masked MSE, HCMCL."""
from __future__ import annotations

import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _normalise_patches(x: torch.Tensor, dim: int) -> torch.Tensor:
    mean = x.mean(dim=dim, keepdim=True)
    std = x.var(dim=dim, unbiased=True, keepdim=True).sqrt()
    return (x - mean) / (std + 1e-6)


def video_target(video: torch.Tensor, patch: int, tubelet: int, frame_diff: bool = True,
                 mean=IMAGENET_MEAN, std=IMAGENET_STD, keep: torch.Tensor | None = None) -> torch.Tensor:
    """(B, 3, T, H, W) normalised input -> (B, N, tubelet*patch*patch*3) targets, layout (frame, y, x, channel).

    Un-normalise to [0, 1], normalise each tubelet per colour channel, then (frame_diff) replace frames 1.. by
    their difference to the normalised frame 0. With `keep` (B, N) bool (the same count per row), only those
    tokens are computed, (B, n_keep, D) in position order: the clip is viewed as patches and the kept ones are
    gathered first, so no full-clip intermediate is made.
    """
    b, c, t, h, w = video.shape
    x = video.reshape(b, c, t // tubelet, tubelet, h // patch, patch, w // patch, patch)
    x = x.permute(0, 2, 4, 6, 3, 5, 7, 1)                 # b, t', h', w', frame, y, x, channel (a view)
    if keep is not None:
        x = x[keep.reshape(x.shape[:4])]                   # (B*n_keep, frame, y, x, channel), a copy of kept only
    x = x.reshape(b, -1, tubelet * patch * patch, c)
    m = torch.tensor(mean, dtype=video.dtype, device=video.device)
    s = torch.tensor(std, dtype=video.dtype, device=video.device)
    x = _normalise_patches(x * s + m, dim=-2)
    if frame_diff and tubelet > 1:
        x = x.reshape(b, x.shape[1], tubelet, patch * patch, c)
        x = torch.cat((x[:, :, :1], x[:, :, 1:] - x[:, :, :1]), dim=2)
    return x.reshape(b, x.shape[1], -1)


def audio_target(audio: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, 1, time, mel) -> (B, N, patch*patch) per-patch-normalised fbank, token index time*(mel/p) + freq."""
    b, c, t, f = audio.shape
    x = audio.reshape(b, c, t // patch, patch, f // patch, patch).permute(0, 2, 4, 3, 5, 1)
    return _normalise_patches(x.reshape(b, (t // patch) * (f // patch), -1), dim=-1)


def masked_mse(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean over features per token, then the weighted mean over tokens (weight: encoder-masked flags)."""
    per_token = ((pred - target) ** 2).mean(dim=-1)
    w = weight.to(per_token.dtype)
    return (per_token * w).sum() / w.sum()


def contrastive_logits(video_feats: torch.Tensor, audio_feats: torch.Tensor, temperature: float) -> torch.Tensor:
    """Mean-pool tokens, L2-normalise, v @ a.T / temperature -> (B, B) video-to-audio logits."""
    v = F.normalize(video_feats.mean(dim=1), dim=-1)
    a = F.normalize(audio_feats.mean(dim=1), dim=-1)
    return v @ a.t() / temperature


def symmetric_infonce(logits_v2a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """In-batch negatives: returns (0.5*(ce_v2a + ce_a2v), ce_v2a, ce_a2v)."""
    labels = torch.arange(logits_v2a.shape[0], device=logits_v2a.device)
    ce_v2a = F.cross_entropy(logits_v2a, labels)
    ce_a2v = F.cross_entropy(logits_v2a.t(), labels)
    return 0.5 * (ce_v2a + ce_a2v), ce_v2a, ce_a2v
