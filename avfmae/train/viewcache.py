"""The view cache: every clip decoded once into the views training and evaluation use, kept in a torch file.

With `cache=True` every clip is decoded once into uint8 frames at the model's input size plus its normalised
fbank, for `train_windows` evenly spaced temporal windows (training: one drawn per sample) or for the
evaluation views (centre view / segments x crops). Frames are stored as the uint8 the resize produced, so a
cached evaluation view is bit-identical to a live one. Training augmentation then runs on the cached frames (the
random resized crop starts from the input-size frame instead of the decoded frame); see avfmae.train.clips.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from avfmae.data import video as V
from avfmae.atomic import atomic_write
from avfmae.data.errors import ClipError, in_manifest
from avfmae.data.manifest import ManifestError, resolve
from avfmae.data.views import PreprocessConfig, plan_test_views, view_audio, view_frames

from .sources import Entry

log = logging.getLogger("avfmae.train")


def normalise_u8(frames: torch.Tensor, pcfg: PreprocessConfig, out: torch.Tensor | None = None) -> torch.Tensor:
    return V.normalize_video(frames, pcfg.video_mean, pcfg.video_std, out=out)


def normalise_views(frames: Sequence, pcfg: PreprocessConfig) -> torch.Tensor:
    """uint8 views (each (T, H, W, 3)) -> (V, 3, T, H, W) float32 normalised; a view that is the same object as an
    earlier one (the identical full-frame crops of view_frames) is copied instead of normalised again."""
    first = frames[0]
    t, h, w = first.shape[:3]
    out = torch.empty((len(frames), 3, t, h, w), dtype=torch.float32)
    done: dict[int, int] = {}
    for v, f in enumerate(frames):
        if id(f) in done:
            out[v].copy_(out[done[id(f)]])
        else:
            normalise_u8(f, pcfg, out=out[v])
            done[id(f)] = v
    return out


def view_plans(kind: str, pcfg: PreprocessConfig, windows: int) -> PreprocessConfig:
    """The PreprocessConfig whose test-view plan gives the views of `kind`: train (windows x 1), centre (1 x 1),
    test (segments x crops)."""
    if kind == "train":
        return pcfg.replace(num_segments=windows, num_crops=1)
    if kind == "centre":
        return pcfg.replace(num_segments=1, num_crops=1)
    if kind == "test":
        return pcfg
    raise ValueError(kind)


def _open_clip(entry: Entry, pcfg: PreprocessConfig):
    from avfmae.data.readers import load_audio, open_video

    video_path = resolve(entry.root, entry.record.video)
    audio_path = resolve(entry.root, entry.record.audio) if entry.record.audio else None
    source = open_video(video_path, probe=False)
    return source, load_audio(video_path, audio_path, pcfg.sample_rate)


def decode_view_parts(entry: Entry, pcfg: PreprocessConfig) -> tuple[list, torch.Tensor, torch.Tensor]:
    """All planned views of a clip: uint8 frames (a list of V (T, H, W, 3) arrays; identical views are one
    object), normalised fbank (V, 1, t, mel), fbank rows (V,)."""
    source, wav = _open_clip(entry, pcfg)
    plans = plan_test_views(source.num_frames, wav.shape[0], pcfg)
    audio = view_audio(wav, plans, pcfg)
    return (view_frames(source, plans, pcfg), torch.stack([a for a, _, _ in audio]),
            torch.tensor([n for _, n, _ in audio], dtype=torch.int32))


def decode_views(entry: Entry, pcfg: PreprocessConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All planned views of a clip: uint8 frames (V, T, H, W, 3), normalised fbank (V, 1, t, mel), fbank rows (V,)."""
    frames, audio, rows = decode_view_parts(entry, pcfg)
    return torch.from_numpy(np.stack(frames)), audio, rows


def skipped_clip(entry: Entry, reason: str | Exception) -> dict:
    """What a result records of a clip skipped under on_error='skip': the clip, its file, and why (the error,
    which names the manifest line)."""
    try:
        file = str(resolve(entry.root, entry.record.video))
    except (ManifestError, OSError, TypeError, ValueError):
        file = str(entry.record.video)
    return {"clip": entry.record.clip, "file": file, "reason": str(reason)}


class _DecodeAll(torch.utils.data.Dataset):
    def __init__(self, entries, pcfg):
        self.entries, self.pcfg = entries, pcfg

    def __len__(self):
        return len(self.entries)

    def __getitem__(self, i):
        try:
            return i, decode_views(self.entries[i], self.pcfg), None
        except (ClipError, ManifestError) as e:
            return i, None, str(in_manifest(e, self.entries[i].record))


def _cache_key(entries: Sequence[Entry], pcfg: PreprocessConfig) -> str:
    h = hashlib.sha256(json.dumps(asdict(pcfg), sort_keys=True, default=list).encode())
    for e in entries:
        vp = resolve(e.root, e.record.video)
        st = vp.stat() if vp.exists() else None
        h.update(f"{vp}|{e.record.audio}|{st.st_size if st else -1}|{st.st_mtime_ns if st else -1}\n".encode())
    return h.hexdigest()[:16]


class ViewCache:
    """uint8 frames + fbank of every planned view of every clip, decoded once and kept in a torch file.

    `video` (N, V, T, H, W, 3) uint8, `audio` (N, V, 1, t, mel) float32, `fbank_rows` (N, V) int32; `index[k]` is
    the entry index of row k (bad clips are left out when on_error='skip')."""

    def __init__(self, video, audio, fbank_rows, index, path=None, skipped=()):
        self.video, self.audio, self.fbank_rows = video, audio, fbank_rows
        self.index = list(index)
        self.skipped = [dict(s) for s in skipped]    # {clip, file, reason} of each clip left out (on_error=skip)
        self.row_of = {e: k for k, e in enumerate(self.index)}
        self.path = path

    @property
    def num_views(self) -> int:
        return int(self.video.shape[1])

    @classmethod
    def build(cls, entries: Sequence[Entry], pcfg: PreprocessConfig, cache_dir: str | os.PathLike, tag: str,
              num_workers: int = 0, on_error: str = "raise", progress: bool = True) -> "ViewCache":
        cache_dir = Path(cache_dir)
        path = cache_dir / f"{tag}-{_cache_key(entries, pcfg)}.pt"
        if path.is_file():
            try:
                d = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
                return cls(d["video"], d["audio"], d["fbank_rows"], d["index"].tolist(), path, d.get("skipped", ()))
            except Exception as e:  # a torn or foreign file: rebuild it
                log.warning("view cache %s unreadable (%s); rebuilding", path, e)
        cache_dir.mkdir(parents=True, exist_ok=True)
        loader = torch.utils.data.DataLoader(_DecodeAll(list(entries), pcfg), batch_size=None, shuffle=False,
                                             num_workers=num_workers)
        rows: dict[int, tuple] = {}
        bad = []
        from avfmae import progress as P
        for i, views, err in P.iterate(loader, total=len(entries), desc=f"caching {tag} views", unit="clip",
                                       disable=not progress, leave=False):
            if err is not None:
                if on_error == "raise":
                    raise ClipError(err)
                log.warning("skipping clip %s", err)
                bad.append(skipped_clip(entries[i], err))
                continue
            rows[i] = views
        index = sorted(rows)
        if not index:
            raise ClipError(cache_dir, f"no clip of the {tag} set could be decoded", "Check the data root")
        video = torch.stack([rows[i][0] for i in index])
        audio = torch.stack([rows[i][1] for i in index])
        nfb = torch.stack([rows[i][2] for i in index])
        blob = {"video": video, "audio": audio, "fbank_rows": nfb, "index": torch.tensor(index), "skipped": bad}
        atomic_write(path, lambda f: torch.save(blob, f))
        return cls(video, audio, nfb, index, path, bad)


__all__ = ["ViewCache", "view_plans", "decode_views", "decode_view_parts", "normalise_u8", "normalise_views",
           "skipped_clip"]
