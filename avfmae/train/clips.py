"""The clip set of training and evaluation: entries -> model inputs (augmented training views, test views).

One Dataset serves every stage, evaluation, the linear probe and feature extraction (avfmae.extract): "train"
items are one random view, augmented from a per-sample seed (window, crop, flip, RandAugment, erasing, gain: a
pure function of (seed, epoch, position), see avfmae.train.sampling); "centre" and "test" items are the
evaluation views of the official test pipeline. The random audio gain is applied to a cached log-mel as the
exact log-domain shift ln(g) / std on the unpadded fbank rows.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from avfmae.data import audio as A
from avfmae.data import video as V
from avfmae.data.errors import ClipError, in_manifest
from avfmae.data.manifest import ManifestError, resolve
from avfmae.data.views import PreprocessConfig, plan_view

from .sources import Entry
from .viewcache import ViewCache, decode_view_parts, normalise_u8, normalise_views, skipped_clip, view_plans

log = logging.getLogger("avfmae.train")

MODES = ("train", "centre", "test")
AUG_KINDS = ("finetune", "pretrain", "none")


@dataclass(frozen=True)
class TrainAug:
    """Per-sample training augmentation settings (a subset of avfmae.data.augment.AugmentConfig + gain)."""
    kind: str = "finetune"            # finetune (RandAugment, RRC, flip, erasing) | pretrain (multiscale crop) | none
    rand_augment: str | None = None
    scale: tuple = (0.08, 1.0)
    hflip: float = 0.5
    reprob: float = 0.0
    gain: bool = True
    freqm: int = 0
    timem: int = 0


class ClipSet(torch.utils.data.Dataset):
    """Items of a list of entries, indexed by (entry index, sample seed) for training or by entry index for
    evaluation. Modes: "train" (one random view, augmented), "centre" (the centre view), "test" (all views,
    stacked: video (V, 3, T, H, W), audio (V, 1, t, mel))."""

    def __init__(self, entries: Sequence[Entry], pcfg: PreprocessConfig, mode: str, aug: TrainAug = TrainAug(),
                 cache: ViewCache | None = None, on_error: str = "raise"):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
        if aug.kind not in AUG_KINDS:
            raise ValueError(f"TrainAug.kind must be one of {AUG_KINDS}, not {aug.kind!r}")
        self.entries = list(entries)
        self.pcfg, self.mode, self.aug, self.cache, self.on_error = pcfg, mode, aug, cache, on_error
        self._video_tf = None
        if cache is not None:  # only cached clips exist
            self.entries = [self.entries[i] for i in cache.index]
        # {clip, file, reason} of every clip skipped (on_error="skip"): those the cache left out, then those that
        # failed here (in this process: DataLoader workers keep their own list; `predict` finds those as well)
        self.skipped: list[dict] = list(cache.skipped) if cache is not None else []

    def __len__(self):
        return len(self.entries)

    def _transform(self):
        if self._video_tf is None:
            from avfmae.data.augment import AugmentConfig, PretrainVideoTransform, VideoTrainTransform

            a = self.aug
            cfg = AugmentConfig(input_size=self.pcfg.crop_size, resize_to=self.pcfg.short_side_size,
                                scale=tuple(a.scale), hflip=a.hflip,
                                auto_augment=a.rand_augment, reprob=a.reprob, mean=tuple(self.pcfg.video_mean),
                                std=tuple(self.pcfg.video_std), pretrain_flip=0.0)
            if a.kind == "pretrain":
                self._video_tf = PretrainVideoTransform(cfg)
            elif a.kind == "finetune":
                self._video_tf = VideoTrainTransform(cfg)
            else:
                self._video_tf = False
        return self._video_tf

    def _target(self, e: Entry) -> torch.Tensor:
        if isinstance(e.target, tuple):
            return torch.tensor(e.target, dtype=torch.float32)
        return torch.tensor(int(e.target), dtype=torch.int64)

    def _meta(self, i: int) -> dict:
        e = self.entries[i]
        return {"target": self._target(e), "clip": e.record.clip, "source": e.source, "index": i}

    # ---------------------------------------------------------------------------------------------- train
    def _train_item(self, i: int, seed: int) -> dict:
        rng = np.random.default_rng(seed)
        g = torch.Generator().manual_seed(int(rng.integers(2 ** 31 - 1)))
        gain = float(rng.beta(10, 10) + 0.5) if self.aug.gain else None
        pcfg = self.pcfg
        if self.cache is not None:
            v = int(rng.integers(self.cache.num_views))
            frames = self.cache.video[i, v]
            audio = self.cache.audio[i, v].clone()
            if gain is not None:  # exact log-domain equivalent of scaling the waveform by `gain`
                rows = int(min(self.cache.fbank_rows[i, v], audio.shape[-2]))
                audio[..., :rows, :] += math.log(gain) / pcfg.fbank_std   # 2 ln(g) / (2 std)
            frames_list = [f.numpy() for f in frames]
        else:
            frames_list, audio = self._live_train_view(i, rng, gain)
        tf = self._transform()
        if tf:
            video = tf(frames_list, generator=g)
        else:
            video = normalise_u8(torch.from_numpy(np.stack(frames_list)), pcfg)
        if self.aug.freqm or self.aug.timem:
            from avfmae.data.augment import AudioTrainTransform

            audio = AudioTrainTransform(self.aug.freqm, self.aug.timem, mean=pcfg.fbank_mean,
                                        std=pcfg.fbank_std)(audio, generator=g)
        return {"video": video, "audio": audio, **self._meta(i)}

    def _live_train_view(self, i: int, rng: np.random.Generator, gain):
        from avfmae.data.readers import load_audio, open_video

        e, pcfg = self.entries[i], self.pcfg
        video_path = resolve(e.root, e.record.video)
        audio_path = resolve(e.root, e.record.audio) if e.record.audio else None
        source = open_video(video_path, probe=False)
        wav = load_audio(video_path, audio_path, pcfg.sample_rate)
        indices = V.sample_frame_indices(source.num_frames, pcfg.clip_len, pcfg.stride)
        start = int(rng.integers(max(len(indices) - pcfg.clip_len, 0) + 1))
        plan = plan_view(indices, start, 0, source.num_frames, wav.shape[0], pcfg)
        if self.aug.kind == "finetune":    # its transform starts from PIL images: no array round trip
            frames = source.get_images(plan.frame_indices)
        else:
            frames = source.get_frames(plan.frame_indices)
        if self.aug.kind == "none":
            frames = [V.resize_frame(f, pcfg.crop_size) for f in frames]
        seg = A.select_window(wav, plan.sample_range[0], plan.sample_range[1], pcfg.sample_rate,
                              pcfg.target_length * pcfg.frame_shift / 1000.0, pcfg.short_audio_samples)
        audio = A.waveform_to_model_input(seg, gain, pcfg.num_mel_bins, pcfg.target_length, pcfg.sample_rate,
                                          pcfg.frame_shift, pcfg.fbank_mean, pcfg.fbank_std)
        return frames, audio

    # ----------------------------------------------------------------------------------------------- eval
    def _eval_item(self, i: int) -> dict:
        if self.cache is not None:
            frames, audio = self.cache.video[i], self.cache.audio[i]
        else:
            frames, audio, _ = decode_view_parts(self.entries[i], view_plans(self.mode, self.pcfg, 1))
        video = normalise_views(frames, self.pcfg)
        if self.mode == "centre":
            video, audio = video[0], audio[0]
        return {"video": video, "audio": audio, **self._meta(i)}

    def __getitem__(self, key) -> dict:
        i, seed = key if isinstance(key, tuple) else (key, None)
        n = len(self.entries)
        for attempt in range(n):
            j = (i + attempt) % n
            try:
                if self.mode == "train":
                    return self._train_item(j, seed if seed is not None else j)
                return self._eval_item(j)
            except (ClipError, ManifestError) as exc:
                e = self.entries[j]
                if self.on_error == "raise":
                    raise in_manifest(exc, e.record) from None
                # skip: a neighbour stands in (the batch keeps its size); the log names the clip and its manifest
                # line
                err = in_manifest(exc, e.record)
                log.warning("skipping %s", err)
                if all(s["clip"] != e.record.clip for s in self.skipped):
                    self.skipped.append(skipped_clip(e, err))
        raise ClipError(f"all {n} clips of the set failed to load (see the warnings above)", kind="all-failed")


def collate(items: list[dict]) -> dict:
    out = {}
    for k in items[0]:
        vals = [it[k] for it in items]
        out[k] = torch.stack(vals) if isinstance(vals[0], torch.Tensor) else vals
    return out


__all__ = ["MODES", "AUG_KINDS", "TrainAug", "ClipSet", "collate"]
