"""Evaluation views: a decoded clip -> (segments x crops) pairs of model tensors, as the official test loader.

    cfg = PreprocessConfig()                               # official defaults: 16 frames, stride 4, 160 px, 2x2
    views = load_clip_views("clips/a.mp4", None, cfg)      # list[View], segment-major
    views[0].video  # (3, 16, 160, 160) float32     views[0].audio  # (1, 256, 128) float32

Gain: `gain=None` (default) leaves the waveform as it is. The official loader multiplies every view's waveform
by a random Beta(10,10)+0.5 gain, even at test time; pass `gain=official_gain` to do the same (one draw per
view, in view order), or a number.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from typing import Mapping, Sequence

import numpy as np
import torch

from . import audio as A
from . import video as V
from .readers import FrameSource, load_audio, open_video

__all__ = ["PreprocessConfig", "ViewPlan", "View", "plan_view", "plan_test_views", "view_frames", "view_audio",
           "make_views", "load_clip_views", "stack_views"]


@dataclass(frozen=True)
class PreprocessConfig:
    """Every number of the official preprocessing, with the official defaults (MAFW fine-tune scripts)."""

    clip_len: int = 16                 # frames per view
    stride: int = 4                    # frame_sample_rate
    short_side_size: int = 160         # frames are resized to short_side_size x short_side_size (square)
    crop_size: int = 160               # spatial crop of each view (== short_side_size: crops are the full frame)
    num_segments: int = 2              # test_num_segment
    num_crops: int = 2                 # test_num_crop
    num_mel_bins: int = 128
    target_length: int = 256           # fbank frames (2.56 s at 10 ms)
    sample_rate: int = 16000
    frame_shift: float = 10.0          # ms
    fbank_mean: float = A.FBANK_MEAN
    fbank_std: float = A.FBANK_STD
    video_mean: tuple = V.IMAGENET_MEAN
    video_std: tuple = V.IMAGENET_STD
    short_audio_samples: int = 1024    # window <= this and clip < 2.56 s -> whole waveform
    pretrain_scales: tuple = (1.0, 0.875, 0.75, 0.66)   # GroupMultiScaleCrop
    pretrain_max_distort: int = 1

    @property
    def num_views(self) -> int:
        return self.num_segments * self.num_crops

    def replace(self, **changes) -> "PreprocessConfig":
        return PreprocessConfig(**{**asdict(self), **changes})

    @classmethod
    def from_official_args(cls, args: Mapping) -> "PreprocessConfig":
        """Build from the official argument names (as in a golden's `dataset_args` / `args`); unknown keys are
        ignored, missing ones keep the defaults. freqm/timem other than 0 are refused (augmentation, not here)."""
        names = {
            "clip_len": "clip_len", "num_frames": "clip_len", "frame_sample_rate": "stride",
            "sampling_rate": "stride", "short_side_size": "short_side_size", "crop_size": "crop_size",
            "input_size": "crop_size", "test_num_segment": "num_segments", "test_num_crop": "num_crops",
            "num_mel_bins": "num_mel_bins", "target_length": "target_length", "norm_mean": "fbank_mean",
            "norm_std": "fbank_std", "GroupMultiScaleCrop_scales": "pretrain_scales",
        }
        for k in ("freqm", "timem"):
            if args.get(k, 0):
                raise ValueError(f"{k}={args[k]} (SpecAugment) is an augmentation, not part of this pipeline")
        kw = {}
        for key, value in args.items():
            if key in names:
                target = names[key]
                kw[target] = tuple(value) if isinstance(value, list) else value
        if "input_size" in args and "short_side_size" not in args:
            kw["short_side_size"] = args["input_size"]
        types = {f.name: f.type for f in fields(cls)}
        for k, v in list(kw.items()):
            if types[k] == "int":
                kw[k] = int(v)
            elif types[k] == "float":
                kw[k] = float(v)
        return cls(**kw)


@dataclass(frozen=True)
class ViewPlan:
    """Where one view comes from: which frames, which crop, which audio samples."""

    segment: int
    crop: int
    seg_start: int                      # position in the stride-sampled index list
    frame_indices: tuple                # clip_len frame ids (0-based)
    crop_offset: int                    # along the longer side of the resized frame
    audio_frames: tuple                 # (start_frame, end_frame)
    sample_range: tuple                 # [a, b) in the waveform


@dataclass
class View:
    plan: ViewPlan
    video: torch.Tensor                 # (3, T, H, W) float32, normalised
    audio: torch.Tensor                 # (1, target_length, mel) float32, normalised
    fbank_frames: int = 0               # fbank frames before pad/cut
    gain: float | None = None
    extra: dict = field(default_factory=dict)


def plan_view(indices: Sequence[int], seg_start: int, crop_offset: int, num_frames: int, num_samples: int,
              cfg: PreprocessConfig, segment: int = 0, crop: int = 0) -> ViewPlan:
    """The frame ids and audio range of the view starting at `seg_start` of the stride-sampled `indices`."""
    frame_ids = tuple(int(i) for i in indices[seg_start:seg_start + cfg.clip_len])
    if len(frame_ids) < cfg.clip_len:  # only possible for a custom seg_start past the last full window
        frame_ids = frame_ids + (frame_ids[-1],) * (cfg.clip_len - len(frame_ids))
    af = A.test_audio_frames(indices, seg_start, num_frames, cfg.clip_len, cfg.stride)
    sr = A.fraction_sample_range(af[0], af[1], num_frames, num_samples)
    return ViewPlan(segment, crop, int(seg_start), frame_ids, int(crop_offset), af, sr)


def plan_test_views(num_frames: int, num_samples: int, cfg: PreprocessConfig = PreprocessConfig()) -> list[ViewPlan]:
    """All num_segments x num_crops views of a clip, segment-major (the official test order within a clip)."""
    indices = V.sample_frame_indices(num_frames, cfg.clip_len, cfg.stride)
    starts = V.segment_starts(len(indices), cfg.clip_len, cfg.num_segments)
    offsets = V.spatial_crop_offsets(cfg.short_side_size, cfg.short_side_size, cfg.crop_size, cfg.num_crops)
    return [plan_view(indices, s, offsets[c], num_frames, num_samples, cfg, k, c)
            for k, s in enumerate(starts) for c in range(cfg.num_crops)]


def view_frames(source: FrameSource, plans: Sequence[ViewPlan], cfg: PreprocessConfig = PreprocessConfig()
                ) -> list[np.ndarray]:
    """The uint8 (T, crop, crop, 3) frames of every planned view, before normalisation. Each distinct frame is
    decoded and resized once; identical views (e.g. the 2 full-frame crops) are the same array object."""
    wanted = sorted({i for p in plans for i in p.frame_indices})
    decoded = source.get_frames(wanted)
    resized = dict(zip(wanted, (V.resize_frame(f, cfg.short_side_size) for f in decoded)))
    videos: dict[tuple, np.ndarray] = {}
    out = []
    for p in plans:
        vkey = (p.frame_indices, p.crop_offset)
        if vkey not in videos:
            frames = np.stack([resized[i] for i in p.frame_indices], axis=0)
            videos[vkey] = V.spatial_crop(frames, p.crop_offset, cfg.crop_size)
        out.append(videos[vkey])
    return out


def view_audio(waveform: np.ndarray, plans: Sequence[ViewPlan], cfg: PreprocessConfig = PreprocessConfig(),
               gain: A.Gain = None) -> list[tuple[torch.Tensor, int, float | None]]:
    """(normalised fbank (1, t, mel), fbank frames before pad/cut, gain) of every planned view; `gain` is
    resolved once per view, in view order; identical (window, gain) pairs are computed once."""
    waveform = np.asarray(waveform, dtype=np.float32).reshape(-1)
    audios: dict[tuple, tuple] = {}
    out = []
    for p in plans:
        g = A.resolve_gain(gain)
        akey = (p.sample_range, g)
        if akey not in audios:
            seg = A.select_window(waveform, p.sample_range[0], p.sample_range[1], cfg.sample_rate,
                                  cfg.target_length * cfg.frame_shift / 1000.0, cfg.short_audio_samples)
            fb, n = A.wav_to_fbank(seg, g, cfg.num_mel_bins, cfg.target_length, cfg.sample_rate, cfg.frame_shift)
            audios[akey] = (A.normalize_fbank(fb, cfg.fbank_mean, cfg.fbank_std)[None], n)
        out.append((*audios[akey], g))
    return out


def make_views(source: FrameSource, waveform: np.ndarray, cfg: PreprocessConfig = PreprocessConfig(),
               plans: Sequence[ViewPlan] | None = None, gain: A.Gain = None) -> list[View]:
    """Decode, resize and normalise every planned view (default: all test views). Each distinct frame is decoded
    and resized once; `gain` is resolved once per view, in view order."""
    waveform = np.asarray(waveform, dtype=np.float32).reshape(-1)
    if plans is None:
        plans = plan_test_views(source.num_frames, waveform.shape[0], cfg)
    frames = view_frames(source, plans, cfg)
    videos: dict[int, torch.Tensor] = {}     # identical views are normalised once
    for f in frames:
        if id(f) not in videos:
            videos[id(f)] = V.normalize_video(f, cfg.video_mean, cfg.video_std)
    audio = view_audio(waveform, plans, cfg, gain)
    return [View(p, videos[id(f)], a, n, g) for p, f, (a, n, g) in zip(plans, frames, audio)]


def load_clip_views(video_path: str | os.PathLike, audio_path: str | os.PathLike | None,
                    cfg: PreprocessConfig = PreprocessConfig(), gain: A.Gain = None,
                    backend: str = "auto") -> list[View]:
    """Read a clip (video file or frame folder; wav or the video's audio track) and make all its test views."""
    source = open_video(video_path, backend=backend)
    waveform = load_audio(video_path, audio_path, cfg.sample_rate)
    return make_views(source, waveform, cfg, gain=gain)


def stack_views(views: Sequence[View]) -> tuple[torch.Tensor, torch.Tensor]:
    """-> video (V, 3, T, H, W), audio (V, 1, target_length, mel)."""
    return torch.stack([v.video for v in views]), torch.stack([v.audio for v in views])
