"""Slide the model's input window over a whole prepared video and run it.

A window is one evaluation view of the model's contract (16 frames every 4th frame at 25 fps: 2.56 s), planned
with the evaluation code (avfmae.data.views.plan_view / make_views: the same frame sampling, resize, crops,
normalisation and fraction-of-clip audio alignment as the test loader). Windows start every `hop` seconds
(rounded to whole strides) from 0; one more window is added at the end when needed, so the windows cover the
whole video. A video shorter than a window gets one window (the last frame repeated, as the test loader does).
Each window's output is the mean over the contract's spatial crops (identical crops are run once); the video's
output is the mean over its windows. Without audio the audio input is the silent fbank (the model's
missing-modality input); a model trained without a modality gets that modality blanked, as in training.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from avfmae.data import video as V
from avfmae.data.views import make_views, plan_view

from .model import LoadedModel
from .video import PreparedVideo

__all__ = ["Window", "window_starts", "predict_windows"]


@dataclass
class Window:
    index: int
    start: float          # seconds
    end: float
    values: np.ndarray    # probabilities (classification) or outputs (regression)


def window_starts(num_indices: int, clip_len: int, hop_indices: int) -> list[int]:
    """Start positions in the stride-sampled index list: 0, hop, 2 hop, ... and the last full window."""
    last = max(num_indices - clip_len, 0)
    starts = list(range(0, last + 1, max(int(hop_indices), 1)))
    if starts[-1] != last:
        starts.append(last)
    return starts


def predict_windows(lm: LoadedModel, video: PreparedVideo, hop: float = 1.0, batch_size: int = 8) -> list[Window]:
    """Every window's output (see the module docstring)."""
    from avfmae.train.inputs import blank_modalities

    cfg = lm.pcfg
    n = video.num_frames
    indices = V.sample_frame_indices(n, cfg.clip_len, cfg.stride)
    hop_idx = max(1, int(round(hop * video.fps / cfg.stride)))
    starts = window_starts(len(indices), cfg.clip_len, hop_idx)
    offsets = sorted(set(V.spatial_crop_offsets(cfg.short_side_size, cfg.short_side_size, cfg.crop_size,
                                                cfg.num_crops)))
    has_audio = video.waveform is not None
    wave = video.waveform if has_audio else np.zeros(int(round(video.duration * cfg.sample_rate)), np.float32)
    mods = tuple(m for m in lm.modalities if m != "audio" or has_audio)
    plans = [plan_view(indices, s, off, n, wave.shape[0], cfg, segment=k, crop=c)
             for k, s in enumerate(starts) for c, off in enumerate(offsets)]
    per_crop = []
    for b in range(0, len(plans), batch_size):
        views = make_views(video.frames, wave, cfg, plans[b:b + batch_size])
        v = torch.stack([x.video for x in views])
        a = torch.stack([x.audio for x in views])
        v, a = blank_modalities(v, a, mods, lm.silent)
        per_crop.append(lm.outputs(v, a).numpy())
    values = np.concatenate(per_crop).reshape(len(starts), len(offsets), -1).mean(axis=1)
    out = []
    for k, s in enumerate(starts):
        first = indices[s]
        last = indices[min(s + cfg.clip_len - 1, len(indices) - 1)]
        out.append(Window(k, first / video.fps, min(last + cfg.stride, n) / video.fps, values[k]))
    return out
