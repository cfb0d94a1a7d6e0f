"""torch Dataset over manifest records: clip on disk -> model tensors.

    records = read_manifest(root / "splits/fold1/test.tsv")
    ds = ClipDataset(records, root, mode="test")                  # all 2 x 2 views per clip
    loader = torch.utils.data.DataLoader(ds, batch_size=8, num_workers=2)

Modes
    "test"         all num_segments x num_crops views of the clip (official test views, segment-major):
                   video (V, 3, 16, 160, 160), audio (V, 1, 256, 128); average the model outputs over V.
    "eval-centre"  one view: the centre temporal window, centre crop: video (3, 16, 160, 160), audio (1, 256, 128).
    "train"        one random view: a uniformly random window start in the stride-4 index list (torch RNG, which
                   DataLoader seeds per worker). With `video_transform`, the 16 decoded uint8 (H, W, 3) frames
                   (original size) are handed to it and it must return the video tensor; without, they get the
                   evaluation resize + normalisation. `audio_transform`, when given, maps the normalised
                   (1, 256, 128) fbank to the audio tensor (e.g. SpecAugment).

Gain: by default no gain in "test"/"eval-centre" (the official loader applies its random Beta gain even at test
time; we do not) and the official random gain (`official_gain`, numpy global RNG) in "train". Pass `gain=` to
override (None, a number, or a callable).

Bad clips: `on_error="raise"` (default) raises the ClipError/ManifestError. `on_error="skip"` logs a warning
naming the clip, its file and the reason, appends a `SkippedClip` to `dataset.skipped`, and returns the next
good clip instead (so an item's "index"/"clip" can differ from the index asked for; the item's "skipped"
field lists, ";"-separated, the clip ids skipped to reach it). With DataLoader workers `dataset.skipped` fills
in the worker processes; the log lines and the items' "skipped" field are what reach the main process.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from . import audio as A
from . import video as V
from .errors import ClipError
from .manifest import ClipRecord, ManifestError, resolve
from .readers import load_audio, open_video
from .views import PreprocessConfig, make_views, plan_view

log = logging.getLogger("avfmae.data")

MODES = ("test", "eval-centre", "train")
_DEFAULT = object()

__all__ = ["MODES", "SkippedClip", "ClipDataset", "skipped_in_batch"]


@dataclass(frozen=True)
class SkippedClip:
    index: int
    clip: str
    path: str
    reason: str


class ClipDataset(Dataset):
    """Clips of a manifest as model tensors; see the module docstring for modes, gain and the bad-clip policy.

    Item: dict with "video", "audio", "target" (int64 scalar, or float32 vector for regression), "index" (record
    index actually returned), "clip" (its id), "skipped" (";"-joined ids skipped to reach it, "" if none)."""

    def __init__(self, records: Sequence[ClipRecord], root: str | os.PathLike, mode: str = "test",
                 cfg: PreprocessConfig = PreprocessConfig(), video_transform: Callable | None = None,
                 audio_transform: Callable | None = None, on_error: str = "raise", gain=_DEFAULT,
                 backend: str = "auto"):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
        self.records = list(records)
        self.root = Path(root)
        self.mode = mode
        self.cfg = cfg if mode != "eval-centre" else cfg.replace(num_segments=1, num_crops=1)
        self.video_transform = video_transform
        self.audio_transform = audio_transform
        self.on_error = on_error
        self.gain = (A.official_gain if mode == "train" else None) if gain is _DEFAULT else gain
        self.backend = backend
        self.skipped: list[SkippedClip] = []

    def __len__(self) -> int:
        return len(self.records)

    # ------------------------------------------------------------------------------------------------ loading
    def paths(self, index: int) -> tuple[Path, Path | None]:
        """Absolute video and audio paths of a record (ManifestError if one escapes the data root)."""
        r = self.records[index]
        return resolve(self.root, r.video), (resolve(self.root, r.audio) if r.audio else None)

    def _target(self, r: ClipRecord) -> torch.Tensor:
        if isinstance(r.target, tuple):
            return torch.tensor(r.target, dtype=torch.float32)
        return torch.tensor(int(r.target), dtype=torch.int64)

    def load(self, index: int) -> dict:
        """The item of record `index`, raising on a bad clip (no skipping)."""
        r = self.records[index]
        video_path, audio_path = self.paths(index)
        source = open_video(video_path, backend=self.backend, probe=False)  # decode errors surface in get_frames
        waveform = load_audio(video_path, audio_path, self.cfg.sample_rate)
        if self.mode == "train":
            video, audio = self._train_view(source, waveform)
        else:
            views = make_views(source, waveform, self.cfg, gain=self.gain)
            if self.mode == "test":
                video, audio = torch.stack([v.video for v in views]), torch.stack([v.audio for v in views])
            else:
                video, audio = views[0].video, views[0].audio
        return {"video": video, "audio": audio, "target": self._target(r), "index": index, "clip": r.clip}

    def _train_view(self, source, waveform: np.ndarray):
        cfg = self.cfg
        indices = V.sample_frame_indices(source.num_frames, cfg.clip_len, cfg.stride)
        last_start = max(len(indices) - cfg.clip_len, 0)
        seg_start = int(torch.randint(last_start + 1, (1,)).item())
        span = max(cfg.short_side_size - cfg.crop_size, 0)
        offset = int(torch.randint(span + 1, (1,)).item()) if span else 0
        plan = plan_view(indices, seg_start, offset, source.num_frames, waveform.shape[0], cfg)
        if self.video_transform is not None:
            frames = source.get_frames(plan.frame_indices)
            video = self.video_transform(frames)
            seg = A.select_window(waveform, plan.sample_range[0], plan.sample_range[1], cfg.sample_rate,
                                  cfg.target_length * cfg.frame_shift / 1000.0, cfg.short_audio_samples)
            audio = A.waveform_to_model_input(seg, self.gain, cfg.num_mel_bins, cfg.target_length, cfg.sample_rate,
                                              cfg.frame_shift, cfg.fbank_mean, cfg.fbank_std)
        else:
            (view,) = make_views(source, waveform, cfg, [plan], gain=self.gain)
            video, audio = view.video, view.audio
        if self.audio_transform is not None:
            audio = self.audio_transform(audio)
        return video, audio

    # ------------------------------------------------------------------------------------------- bad clips
    def _report(self, index: int, exc: Exception) -> SkippedClip:
        r = self.records[index]
        path = getattr(exc, "path", None) or str(self.root / r.video)
        reason = str(exc)
        entry = SkippedClip(index, r.clip, str(path), reason)
        self.skipped.append(entry)
        log.warning("skipping clip %s (record %d, %s): %s", r.clip, index, path, reason)
        return entry

    def __getitem__(self, index: int) -> dict:
        n = len(self.records)
        if not -n <= index < n:
            raise IndexError(index)
        index %= n
        skipped_ids: list[str] = []
        for attempt in range(n):
            i = (index + attempt) % n
            try:
                item = self.load(i)
            except (ClipError, ManifestError) as exc:
                if self.on_error == "raise":
                    raise
                skipped_ids.append(self._report(i, exc).clip)
                continue
            item["skipped"] = ";".join(skipped_ids)
            return item
        raise ClipError(self.root, f"all {n} clips of the dataset failed to load (see the warnings above)",
                        "Check the dataset root and the manifest", kind="all-failed")


def skipped_in_batch(batch: dict) -> list[str]:
    """Clip ids skipped while building a collated batch (from the items' "skipped" fields)."""
    out: list[str] = []
    for s in batch.get("skipped", []):
        out.extend(x for x in s.split(";") if x)
    return out
