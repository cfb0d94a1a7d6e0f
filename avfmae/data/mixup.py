"""Mixup / CutMix for audio-visual batches, with soft targets and label smoothing.

    mix = AVMixup(num_classes=11)                       # official: mixup 0.8, CutMix 1.0, prob 1, switch 0.5,
    video, audio, soft = mix(video, audio, target)      #           label smoothing 0.1, per batch, video only
    loss = soft_target_cross_entropy(model(video, audio), soft)

What is mixed (the official recipe, timm `Mixup` in "batch" mode as HiCMAE/AVF-MAE++ use it):
    * one draw per batch: with probability `prob` the batch is mixed; CutMix (Beta(cutmix_alpha)) is chosen with
      probability `switch_prob` when both are on, else mixup (Beta(mixup_alpha)); each sample i is mixed with
      sample B-1-i (the batch flipped);
    * mixup: x = lam * x + (1 - lam) * x_flipped;
    * CutMix on video (B, C, T, H, W): one box in (H, W), the same for every frame, pasted from the flipped batch;
      box side sqrt(1 - lam) of the frame, centre uniform, clipped at the border, and lam corrected to
      1 - box area / frame area (`correct_lam`, as timm);
    * targets: one-hot with label smoothing (off = smoothing / K, on = 1 - smoothing + off), then
      lam * y + (1 - lam) * y_flipped. Rows sum to 1.

Audio:
    * `mix_audio=False` (default, paper-compatible): the audio is returned untouched while the labels are mixed.
      This is what the official code does (inherited from HiCMAE); the audio of a mixed sample then only carries
      its own label's evidence, a known quirk (avfmae.md 5.3, item 4).
    * `mix_audio=True`: the audio gets the same lam. Mixup mixes the (normalised log-mel) fbanks linearly with
      the same lam. CutMix replaces a time band of the fbank (all mel bins, axis -2) with the flipped batch's,
      its length round((1 - lam) * frames) with lam the corrected video lam, so audio and video swap the same
      fraction of their content; the band start is uniform.

Randomness: draws come from `self.rng` (numpy Generator, seeded by `seed`), or from the `rng` passed to a call.
The last draw is kept in `self.last` (a MixParams) for logging and tests. Only the official per-batch mode is
implemented.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["MixParams", "one_hot_smooth", "mixup_target", "cutmix_box", "time_band", "AVMixup",
           "soft_target_cross_entropy"]


@dataclass(frozen=True)
class MixParams:
    lam: float                      # label weight of the sample's own target (1.0: not mixed)
    kind: str                       # "none", "mixup" or "cutmix"
    box: tuple | None = None        # CutMix (top, bottom, left, right) in the frame
    audio_band: tuple | None = None  # CutMix with mix_audio: (start, end) fbank frames
    audio_lam: float | None = None  # the audio's own weight (None: audio not mixed)


def one_hot_smooth(target: torch.Tensor, num_classes: int, smoothing: float = 0.0) -> torch.Tensor:
    """(B,) int64 -> (B, K) float32: on = 1 - smoothing + smoothing / K, off = smoothing / K."""
    off = smoothing / num_classes
    on = 1.0 - smoothing + off
    out = torch.full((target.shape[0], num_classes), off, dtype=torch.float32, device=target.device)
    return out.scatter_(1, target.long().view(-1, 1), on)


def mixup_target(target: torch.Tensor, num_classes: int, lam: float = 1.0, smoothing: float = 0.0) -> torch.Tensor:
    """Soft targets of a batch mixed with its flip: lam * y + (1 - lam) * y.flip(0), y smoothed one-hot."""
    y = one_hot_smooth(target, num_classes, smoothing)
    return y * lam + y.flip(0) * (1.0 - lam)


def cutmix_box(height: int, width: int, lam: float, rng: np.random.Generator,
               minmax: tuple | None = None) -> tuple[tuple[int, int, int, int], float]:
    """A CutMix box (top, bottom, left, right) and the corrected lam = 1 - box area / (H W).

    Without `minmax`: side ratio sqrt(1 - lam), centre uniform, clipped at the borders (timm's rand_bbox).
    With `minmax` (lo, hi): box sides uniform in [lo, hi] of each side, fully inside the frame."""
    if minmax is not None:
        lo, hi = minmax
        ch = int(rng.integers(int(height * lo), int(height * hi) + 1))
        cw = int(rng.integers(int(width * lo), int(width * hi) + 1))
        top = int(rng.integers(0, height - ch + 1))
        left = int(rng.integers(0, width - cw + 1))
        box = (top, top + ch, left, left + cw)
    else:
        ratio = np.sqrt(1.0 - lam)
        ch, cw = int(height * ratio), int(width * ratio)
        cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
        box = (int(np.clip(cy - ch // 2, 0, height)), int(np.clip(cy + ch // 2, 0, height)),
               int(np.clip(cx - cw // 2, 0, width)), int(np.clip(cx + cw // 2, 0, width)))
    area = (box[1] - box[0]) * (box[3] - box[2])
    return box, 1.0 - area / float(height * width)


def time_band(length: int, lam: float, rng: np.random.Generator) -> tuple[int, int]:
    """(start, end) of a band of round((1 - lam) * length) frames at a uniform start."""
    band = int(round((1.0 - lam) * length))
    band = min(max(band, 0), length)
    start = int(rng.integers(0, length - band + 1))
    return start, start + band


class AVMixup:
    """Per-batch Mixup/CutMix of (video, audio, target) with soft, smoothed targets. See the module docstring.

    video (B, C, T, H, W) or (B, C, H, W); audio (B, 1, time, mel) or None; target (B,) int64 class ids.
    Returns new tensors (inputs are not modified): (video, audio, soft targets (B, K) float32)."""

    def __init__(self, num_classes: int, mixup_alpha: float = 0.8, cutmix_alpha: float = 1.0,
                 cutmix_minmax: tuple | None = None, prob: float = 1.0, switch_prob: float = 0.5,
                 label_smoothing: float = 0.1, mix_audio: bool = False, correct_lam: bool = True,
                 mode: str = "batch", seed: int | None = None):
        if mode != "batch":
            raise ValueError(f"only the official per-batch mode is implemented, not {mode!r}")
        if num_classes < 1:
            raise ValueError("num_classes must be >= 1")
        self.num_classes = int(num_classes)
        self.mixup_alpha, self.cutmix_alpha = float(mixup_alpha), float(cutmix_alpha)
        self.cutmix_minmax = tuple(cutmix_minmax) if cutmix_minmax is not None else None
        if self.cutmix_minmax is not None:
            self.cutmix_alpha = max(self.cutmix_alpha, 1.0)  # as timm: minmax forces CutMix on
        self.prob, self.switch_prob = float(prob), float(switch_prob)
        self.label_smoothing = float(label_smoothing)
        self.mix_audio = bool(mix_audio)
        self.correct_lam = bool(correct_lam) or self.cutmix_minmax is not None
        self.rng = np.random.default_rng(seed)
        self.last = MixParams(1.0, "none")

    @classmethod
    def from_config(cls, cfg, num_classes: int, seed: int | None = None) -> "AVMixup":
        """From an avfmae.data.augment.AugmentConfig."""
        return cls(num_classes, cfg.mixup, cfg.cutmix, cfg.cutmix_minmax, cfg.mixup_prob, cfg.mixup_switch_prob,
                   cfg.smoothing, cfg.mix_audio, True, cfg.mixup_mode, seed)

    def _draw(self, rng: np.random.Generator) -> tuple[float, bool]:
        """(lam, use_cutmix) of one batch, drawn as timm's `_params_per_batch`."""
        lam, use_cutmix = 1.0, False
        mix_on = self.mixup_alpha > 0 or self.cutmix_alpha > 0
        if mix_on and rng.random() < self.prob:
            if self.mixup_alpha > 0 and self.cutmix_alpha > 0:
                use_cutmix = bool(rng.random() < self.switch_prob)
                alpha = self.cutmix_alpha if use_cutmix else self.mixup_alpha
            elif self.mixup_alpha > 0:
                alpha = self.mixup_alpha
            else:
                use_cutmix, alpha = True, self.cutmix_alpha
            lam = 1.0 if (use_cutmix and self.cutmix_minmax is not None) else float(rng.beta(alpha, alpha))
        return lam, use_cutmix

    def __call__(self, video: torch.Tensor, audio: torch.Tensor | None, target: torch.Tensor,
                 rng: np.random.Generator | None = None):
        rng = self.rng if rng is None else rng
        lam, use_cutmix = self._draw(rng)
        kind = "none" if lam >= 1.0 and not use_cutmix else ("cutmix" if use_cutmix else "mixup")
        box = band = None
        audio_lam = None
        if kind == "mixup":
            video = video * lam + video.flip(0) * (1.0 - lam)
            if self.mix_audio and audio is not None:
                audio = audio * lam + audio.flip(0) * (1.0 - lam)
                audio_lam = lam
        elif kind == "cutmix":
            h, w = video.shape[-2:]
            box, corrected = cutmix_box(h, w, lam, rng, self.cutmix_minmax)
            if self.correct_lam:
                lam = corrected
            t0, t1, l0, l1 = box
            video = video.clone()
            video[..., t0:t1, l0:l1] = video.flip(0)[..., t0:t1, l0:l1]
            if self.mix_audio and audio is not None:
                band = time_band(audio.shape[-2], lam, rng)
                audio = audio.clone()
                audio[..., band[0]:band[1], :] = audio.flip(0)[..., band[0]:band[1], :]
                audio_lam = 1.0 - (band[1] - band[0]) / float(audio.shape[-2])
        else:
            video = video.clone()
        if audio is not None and audio_lam is None:
            audio = audio.clone()
        soft = mixup_target(target, self.num_classes, lam, self.label_smoothing)
        self.last = MixParams(float(lam), kind, box, band, audio_lam)
        return video, audio, soft

    def __repr__(self) -> str:
        return (f"AVMixup(K={self.num_classes}, mixup={self.mixup_alpha}, cutmix={self.cutmix_alpha}, "
                f"prob={self.prob}, switch={self.switch_prob}, smoothing={self.label_smoothing}, "
                f"mix_audio={self.mix_audio})")


def soft_target_cross_entropy(logits: torch.Tensor, soft_targets: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of -sum_k y_k log softmax(logits)_k (timm's SoftTargetCrossEntropy)."""
    return torch.sum(-soft_targets * torch.log_softmax(logits, dim=-1), dim=-1).mean()
