"""One item of the official AVF-MAE++ pre-training loader (mp4 + wav), with every random choice explicit.

    choices = sample_pretrain_choices(num_frames=100, image_size=(128, 128))   # draws like the official loader
    item = pretrain_item("videos/clipP.mp4", "audio_16k/clipP.wav", choices)
    item.video (3, 16, 160, 160)  item.audio (1, 256, 128)  item.masks {"mask_video_encoder": (800,) bool, ...}

The item, step by step (official `VideoMAE` dataset + `DataAugmentationForVideoMAE`):
  1. start: segment_offset (1-based) = 1 + randint((n - clip_len*stride + 1)) from numpy (1 when the clip is
     shorter than clip_len*stride); frame ids per `pretrain_frame_ids` (stride 4, clamped at the clip end);
  2. GroupMultiScaleCrop(160, scales [1, .875, .75, .66], max_distort 1, fixed offsets incl. the 8 extra ones):
     a (w, h) pair and an (x, y) corner drawn with python's `random`; crop (possibly non-square), PIL BILINEAR
     resize to 160 x 160; /255, ImageNet normalisation, layout (3, T, H, W);
  3. audio: t0 = start timestamp of the first frame, t1 = end timestamp of frame min(last id + stride, n - 1),
     decord float32 timestamps; offset int(t0*16000), count int((t1-t0)*16000) in float32; samples
     [offset, offset + count) of the wav (int16/32768), DC removal, gain, fbank, pad/cut 256, normalisation;
  4. masks, drawn from numpy in this order: video tube, video running cell, [the audio gain], audio encoder,
     audio decoder.
Seeding python `random` and numpy as the official run did makes `sample_pretrain_choices` replay its draws.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

from . import audio as A
from . import video as V
from .readers import FrameSource, load_audio, open_video, read_wav
from .views import PreprocessConfig

if TYPE_CHECKING:
    from avfmae.models.masking import DualMaskGenerator

__all__ = [
    "PretrainChoices", "PretrainItem", "official_wav_path", "sample_segment_offset", "pretrain_frame_ids",
    "multiscale_crop_candidates", "sample_multiscale_crop", "sample_pretrain_choices", "pretrain_audio_range",
    "pretrain_video", "pretrain_audio", "pretrain_item",
]


@dataclass(frozen=True)
class PretrainChoices:
    """The random choices of one pre-training item."""

    segment_offset: int                       # 1-based start (official `segment_offsets`); first frame = offset - 1
    crop: tuple                               # (w, h, x, y) of GroupMultiScaleCrop
    gain: float | None = None                 # audio gain (None = none)
    masks: dict = field(default_factory=dict)  # bool (N,) arrays, see avfmae.models.masking


@dataclass
class PretrainItem:
    video: torch.Tensor        # (3, T, size, size)
    audio: torch.Tensor        # (1, target_length, mel)
    masks: dict
    frame_ids: list
    audio_offset: int          # samples
    audio_count: int
    audio_times: tuple         # float32 (t0, t1)
    fbank_frames: int


def official_wav_path(video_path: str | os.PathLike) -> Path:
    """The official loader's wav for a pre-training video: 'videos' -> 'audio_16k' and '.mp4' -> '.wav'."""
    return Path(str(video_path).replace("videos", "audio_16k").replace(".mp4", ".wav"))


def sample_segment_offset(num_frames: int, cfg: PreprocessConfig = PreprocessConfig(),
                          rng: np.random.RandomState | None = None) -> int:
    """Official `_sample_train_indices` for one segment: 1 + randint(n - clip_len*stride + 1), or 1 (no draw)
    when the clip is too short."""
    span = (int(num_frames) - cfg.clip_len * cfg.stride + 1)
    if span > 0:
        return int((np.random if rng is None else rng).randint(span)) + 1
    return 1


def pretrain_frame_ids(num_frames: int, segment_offset: int, clip_len: int = 16, stride: int = 4) -> list[int]:
    """Frame ids (0-based) from a 1-based offset: id = offset - 1, the offset advances by `stride` only while
    offset + stride < n, so short clips repeat their last reachable frame."""
    ids, offset = [], int(segment_offset)
    for _ in range(clip_len):
        ids.append(offset - 1)
        if offset + stride < num_frames:
            offset += stride
    return [min(max(i, 0), num_frames - 1) for i in ids]


def multiscale_crop_candidates(image_w: int, image_h: int, size: int = 160,
                               scales: Sequence[float] = (1.0, 0.875, 0.75, 0.66), max_distort: int = 1):
    """GroupMultiScaleCrop's candidate (w, h) pairs, and a function giving the 13 fixed corners of a pair."""
    base = min(image_w, image_h)
    sizes = [int(base * s) for s in scales]
    crop_h = [size if abs(x - size) < 3 else x for x in sizes]
    crop_w = [size if abs(x - size) < 3 else x for x in sizes]
    pairs = [(w, h) for i, h in enumerate(crop_h) for j, w in enumerate(crop_w) if abs(i - j) <= max_distort]

    def corners(w: int, h: int) -> list[tuple[int, int]]:
        ws, hs = (image_w - w) // 4, (image_h - h) // 4
        return [(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs),
                (0, 2 * hs), (4 * ws, 2 * hs), (2 * ws, 4 * hs), (2 * ws, 0),
                (ws, hs), (3 * ws, hs), (ws, 3 * hs), (3 * ws, 3 * hs)]

    return pairs, corners


def sample_multiscale_crop(image_w: int, image_h: int, cfg: PreprocessConfig = PreprocessConfig(),
                           rng: random.Random | None = None) -> tuple[int, int, int, int]:
    """(w, h, x, y) drawn as GroupMultiScaleCrop does: choice of a pair, then choice of a fixed corner, from
    python's `random` (or `rng`)."""
    r = random if rng is None else rng
    pairs, corners = multiscale_crop_candidates(image_w, image_h, cfg.crop_size, cfg.pretrain_scales,
                                                cfg.pretrain_max_distort)
    w, h = r.choice(pairs)
    x, y = r.choice(corners(w, h))
    return int(w), int(h), int(x), int(y)


def sample_pretrain_choices(num_frames: int, image_size: tuple[int, int], cfg: PreprocessConfig = PreprocessConfig(),
                            masks: "DualMaskGenerator | None" = None, gain: A.Gain = A.official_gain,
                            py_rng: random.Random | None = None,
                            np_rng: np.random.RandomState | None = None) -> PretrainChoices:
    """Draw every random choice in the official order (numpy: start, video masks, gain, audio masks; python
    random: crop). `image_size` is (width, height) of the decoded frames. `gain=official_gain` draws the official
    Beta gain from `np_rng`; pass None for no gain or a number."""
    if masks is None:
        from avfmae.models.masking import DualMaskGenerator  # lazy: avfmae.models imports the model stack

        masks = DualMaskGenerator()
    gen = masks
    offset = sample_segment_offset(num_frames, cfg, np_rng)
    crop = sample_multiscale_crop(int(image_size[0]), int(image_size[1]), cfg, py_rng)
    m = {"mask_video_encoder": gen.video_encoder.sample(np_rng),
         "mask_video_decoder": gen.video_decoder.sample(np_rng)}
    if gain is A.official_gain:
        g = A.official_gain(np_rng)
    else:
        g = A.resolve_gain(gain)
    m["mask_audio_encoder"] = gen.audio_encoder.sample(np_rng)
    m["mask_audio_decoder"] = gen.audio_decoder.sample(np_rng)
    return PretrainChoices(offset, crop, g, m)


def pretrain_audio_range(timestamps: np.ndarray, sample_rate: int = 16000) -> tuple[int, int, tuple]:
    """(offset, count, (t0, t1)) from float32 timestamps [[t0, .], [., t1]] of the first and the end frame."""
    ts = np.asarray(timestamps, dtype=np.float32).reshape(-1, 2)
    t0, t1 = ts[0, 0], ts[-1, 1]
    off, cnt = A.timestamp_sample_range(t0, t1, sample_rate)
    return off, cnt, (float(t0), float(t1))


def pretrain_video(frames: Sequence[np.ndarray], crop: Sequence[int],
                   cfg: PreprocessConfig = PreprocessConfig()) -> torch.Tensor:
    """Decoded uint8 frames + crop (w, h, x, y) -> (3, T, size, size) normalised float32."""
    w, h, x, y = (int(v) for v in crop)
    resized = V.multiscale_crop_resize(frames, w, h, x, y, cfg.crop_size)
    return V.normalize_video(resized, cfg.video_mean, cfg.video_std)


def pretrain_audio(segment: np.ndarray, gain: A.Gain, cfg: PreprocessConfig = PreprocessConfig()
                   ) -> tuple[torch.Tensor, int]:
    """Audio window -> ((1, target_length, mel) normalised, fbank frames before pad/cut)."""
    seg = np.asarray(segment, dtype=np.float32).reshape(-1)
    min_len = int(round(0.025 * cfg.sample_rate))
    if seg.shape[0] < min_len:
        seg = np.concatenate([seg, np.zeros(min_len - seg.shape[0], np.float32)])
    fb, n = A.wav_to_fbank(seg, gain, cfg.num_mel_bins, cfg.target_length, cfg.sample_rate, cfg.frame_shift)
    return A.normalize_fbank(fb, cfg.fbank_mean, cfg.fbank_std)[None], n


def pretrain_item(video: str | os.PathLike | FrameSource, wav: str | os.PathLike | None,
                  choices: PretrainChoices, cfg: PreprocessConfig = PreprocessConfig()) -> PretrainItem:
    """Build the item for explicit `choices` from a video (path or opened FrameSource) and its wav (None: the
    video's audio track)."""
    source = video if isinstance(video, FrameSource) else open_video(video)
    n = source.num_frames
    ids = pretrain_frame_ids(n, choices.segment_offset, cfg.clip_len, cfg.stride)
    frames = source.get_frames(ids)
    end_frame = min(ids[-1] + cfg.stride, n - 1)
    off, cnt, times = pretrain_audio_range(source.frame_timestamps([ids[0], end_frame]), cfg.sample_rate)
    if wav is not None:
        seg = read_wav(wav, cfg.sample_rate, offset=off, count=max(cnt, 0))
        whole = None
    else:
        whole = load_audio(source.path, None, cfg.sample_rate)
        seg = whole[off:off + max(cnt, 0)]
    if seg.shape[0] <= cfg.short_audio_samples:  # official short-clip rule: whole file if it is < 2.56 s
        whole = read_wav(wav, cfg.sample_rate) if whole is None else whole
        if whole.shape[0] < cfg.target_length * cfg.frame_shift / 1000.0 * cfg.sample_rate:
            seg = whole
    audio, nfb = pretrain_audio(seg, choices.gain, cfg)
    return PretrainItem(pretrain_video(frames, choices.crop, cfg), audio, dict(choices.masks), ids, off, cnt, times,
                        nfb)
