"""Training data: sources -> clip entries -> (optionally cached) views -> deterministic sharded batches.

Sources (strings, see avfmae.train.config): "DATASET:FOLD:SPLIT" (a registered dataset), or "split.tsv[@ROOT]",
each optionally followed by "|name=N|map=0,0,1|weight=W|classes=K" (stage-2 head name, label map where -1 drops a
label, sampling weight, class count).

Determinism (what makes a resumed run and a 2-process run equal to an uninterrupted single-process one): every
random choice is a pure function of (seed, step or epoch, position), never of a global RNG stream:
    * the epoch's order is a permutation drawn from (seed, epoch);
    * each sample's augmentation (window, crop, flip, RandAugment, erasing, gain) from (seed, epoch, position);
    * each micro-batch's randomness in the training step (masks, mixup, drop path) from (seed, step, shard),
      shard = rank * accum_steps + micro-step, so 1 process x 2 micro-batches == 2 processes x 1 micro-batch.

View cache (`cache=True`): every clip is decoded once into uint8 frames at the model's input size plus its
normalised fbank, for `train_windows` evenly spaced temporal windows (training: one drawn per sample) or for the
evaluation views (centre view / segments x crops). Frames are stored as the uint8 the resize produced, so a
cached evaluation view is bit-identical to a live one. Training augmentation then runs on the cached frames (the
random resized crop starts from the input-size frame instead of the decoded frame). The random audio gain is
applied to the cached log-mel as the exact log-domain shift ln(g) / std on the unpadded fbank rows.

Modalities: a model trained or tested on one modality gets a constant, information-free input for the other:
silent audio (the normalised fbank of an all-zero waveform) or a blank video (all zeros after normalisation,
i.e. a frame of the ImageNet mean colour). The architecture and the weights stay the same.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from avfmae.atomic import atomic_write
from avfmae.data import audio as A
from avfmae.data import video as V
from avfmae.data.errors import ClipError, in_manifest
from avfmae.data.manifest import ClipRecord, ManifestError, read_manifest, resolve
from avfmae.data.views import PreprocessConfig, make_views, plan_view

log = logging.getLogger("avfmae.train")


# ------------------------------------------------------------------------------------------------------ sources
class SourceError(ValueError):
    """A training source string that cannot be used; the message quotes it and says how to write it."""


@dataclass(frozen=True)
class Source:
    text: str
    name: str
    root: Path
    manifest: Path
    label_map: tuple | None = None
    weight: float = 1.0
    num_classes: int = 0               # of the (mapped) label space; 0 = unknown (1 + max label)
    regression: bool = False
    dataset: str | None = None         # registered dataset name when given as DATASET:FOLD:SPLIT
    labels: tuple = ()


def _registry_source(text: str) -> tuple:
    from benchmarks.datasets import registry  # lazy: avfmae does not depend on the benchmark suite otherwise

    parts = text.split(":")
    if len(parts) != 3:
        raise ValueError(f"source {text!r}: write DATASET:FOLD:SPLIT (e.g. demo:fold1:train) or a manifest path")
    spec = registry.get(parts[0])
    return spec, spec.split_file(parts[1], parts[2]), spec.path()


def parse_source(text: str) -> Source:
    """A source string -> Source (no file is read except the dataset registry)."""
    head, *opts = [p.strip() for p in text.split("|")]
    options = {}
    for o in opts:
        if "=" not in o:
            raise SourceError(f"source option {o!r} in {text!r}: write key=value (name, map, weight, classes)")
        k, v = o.split("=", 1)
        options[k.strip()] = v.strip()
    unknown = set(options) - {"name", "map", "weight", "classes"}
    if unknown:
        raise SourceError(f"source {text!r}: unknown options {sorted(unknown)} (name, map, weight, classes)")
    spec = None
    if "\x00" in head:
        raise SourceError(f"source {text!r}: a NUL character in the path")
    if head.endswith(".tsv") or "@" in head or os.sep in head:
        path, _, root = head.partition("@")
        try:
            manifest, root_path = Path(path).expanduser(), Path(root).expanduser() if root else None
        except RuntimeError as e:  # ~user of an unknown user
            raise SourceError(f"source {text!r}: {e}") from None
        if root:
            if not manifest.is_absolute():
                manifest = root_path / manifest
        else:
            parent = manifest.resolve().parent
            root_path = parent.parent.parent if parent.parent.name == "splits" else parent
        name = manifest.stem
    else:
        spec, manifest, root_path = _registry_source(head)
        name = spec.name
    try:
        label_map = tuple(int(x) for x in options["map"].split(",")) if "map" in options else None
        weight = float(options.get("weight", 1.0))
        classes = int(options["classes"]) if "classes" in options else None
    except ValueError:
        raise SourceError(f"source {text!r}: map= takes comma-separated class indices (-1 drops a class), "
                          "weight= a number, classes= an integer") from None
    if (label_map is not None and not label_map) or not (weight >= 0 and math.isfinite(weight)) \
            or (classes is not None and classes < 1):
        raise SourceError(f"source {text!r}: map= needs at least one index, weight= a number >= 0, classes= "
                          "a count of at least 1")
    if spec is not None and not spec.regression:
        num_classes = spec.num_classes
    else:
        num_classes = 0
    if label_map is not None:
        num_classes = max(max(label_map) + 1, 0)
    if classes is not None:
        num_classes = classes
    return Source(text=text, name=options.get("name", name), root=Path(root_path), manifest=Path(manifest),
                  label_map=label_map, weight=weight, num_classes=num_classes,
                  regression=bool(spec.regression) if spec is not None else False,
                  dataset=spec.name if spec is not None else None,
                  labels=tuple(spec.labels) if spec is not None else ())


@dataclass(frozen=True)
class Entry:
    """One clip of a training / evaluation set: where it lives and its (mapped) target."""
    root: Path
    record: ClipRecord
    target: object                     # int class, or tuple of floats
    source: int = 0                    # index of its source


def load_entries(sources: Sequence[Source], drop_labels: bool = False) -> list[Entry]:
    """Entries of all sources, labels mapped (records whose label maps to -1 are dropped)."""
    out: list[Entry] = []
    for si, src in enumerate(sources):
        # labels are checked against the source's classes (before the map) when the manifest is read
        raw_classes = len(src.label_map) if src.label_map is not None else (src.num_classes or None)
        records = read_manifest(src.manifest, num_classes=None if drop_labels or src.regression else raw_classes,
                                num_targets=len(src.labels) if src.regression and src.labels and not drop_labels
                                else None)
        kept = 0
        for r in records:
            target = r.target
            if drop_labels:
                target = 0
            elif src.label_map is not None:
                if isinstance(target, tuple):
                    raise ManifestError(src.manifest, r.line, "a label map was given for regression targets",
                                        "Drop map= from the source")
                if not 0 <= target < len(src.label_map):
                    raise ManifestError(src.manifest, r.line, f"label {target} of clip {r.clip} has no entry in the map "
                                        f"{src.label_map}", "Give one mapped index per original class")
                target = src.label_map[target]
                if target < 0:
                    continue
            out.append(Entry(src.root, r, target, si))
            kept += 1
        if kept == 0:
            raise ManifestError(src.manifest, None, "no usable clips", "Check the manifest and the label map")
    return out


def infer_num_classes(entries: Sequence[Entry]) -> int:
    return 1 + max(int(e.target) for e in entries)


def split_by_subject(entries: Sequence[Entry], fraction: float, seed: int) -> tuple[list[Entry], list[Entry]]:
    """Carve a validation set from training entries by subject (clips without a subject count as their own
    subject): about `fraction` of the subjects, drawn with `seed`. Returns (train, val)."""
    subjects = sorted({e.record.subject or f"clip:{e.record.clip}" for e in entries})
    if len(subjects) < 2:
        raise ValueError("cannot carve a subject-independent validation split from fewer than 2 subjects")
    rng = np.random.default_rng([seed, 17])
    k = min(max(1, int(round(fraction * len(subjects)))), len(subjects) - 1)
    val_subjects = set(rng.choice(subjects, size=k, replace=False).tolist())
    train = [e for e in entries if (e.record.subject or f"clip:{e.record.clip}") not in val_subjects]
    val = [e for e in entries if (e.record.subject or f"clip:{e.record.clip}") in val_subjects]
    return train, val


# --------------------------------------------------------------------------------------------- preprocessing
def preprocess_config(spec) -> PreprocessConfig:
    """The data pipeline's config from a ModelSpec's input contract."""
    c = spec.input
    return PreprocessConfig(clip_len=c.num_frames, stride=c.frame_stride, short_side_size=c.img_size,
                            crop_size=c.img_size, num_segments=c.test_segments, num_crops=c.test_crops,
                            num_mel_bins=c.num_mel_bins, target_length=c.target_length, sample_rate=c.sample_rate,
                            fbank_mean=c.fbank_mean, fbank_std=c.fbank_std, video_mean=tuple(c.mean),
                            video_std=tuple(c.std))


def silent_fbank_value(pcfg: PreprocessConfig) -> float:
    """The normalised fbank value of an all-zero waveform (every bin is log(float eps))."""
    zeros = np.zeros(int(pcfg.sample_rate * pcfg.target_length * pcfg.frame_shift / 1000.0), np.float32)
    fb, _ = A.wav_to_fbank(zeros, None, pcfg.num_mel_bins, pcfg.target_length, pcfg.sample_rate, pcfg.frame_shift)
    return float(A.normalize_fbank(fb, pcfg.fbank_mean, pcfg.fbank_std)[0, 0])


def blank_modalities(video: torch.Tensor, audio: torch.Tensor, modalities: Sequence[str], silent: float
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace the inputs of the modalities not in `modalities` by constant, information-free ones."""
    if "video" not in modalities:
        video = torch.zeros_like(video)
    if "audio" not in modalities:
        audio = torch.full_like(audio, silent)
    return video, audio


def _to_uint8(video: torch.Tensor, pcfg: PreprocessConfig) -> torch.Tensor:
    """(3, T, H, W) normalised -> (T, H, W, 3) uint8, exactly inverting normalize_video of uint8 frames."""
    mean = torch.tensor(pcfg.video_mean, dtype=torch.float32)[:, None, None, None]
    std = torch.tensor(pcfg.video_std, dtype=torch.float32)[:, None, None, None]
    return ((video * std + mean) * 255.0).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 3, 0).contiguous()


def _normalise_u8(frames: torch.Tensor, pcfg: PreprocessConfig) -> torch.Tensor:
    return V.normalize_video(frames, pcfg.video_mean, pcfg.video_std)


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


def decode_views(entry: Entry, pcfg: PreprocessConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All planned views of a clip: uint8 frames (V, T, H, W, 3), normalised fbank (V, 1, t, mel), fbank rows (V,)."""
    from avfmae.data.readers import load_audio, open_video

    video_path = resolve(entry.root, entry.record.video)
    audio_path = resolve(entry.root, entry.record.audio) if entry.record.audio else None
    source = open_video(video_path, probe=False)
    wav = load_audio(video_path, audio_path, pcfg.sample_rate)
    views = make_views(source, wav, pcfg, gain=None)
    return (torch.stack([_to_uint8(v.video, pcfg) for v in views]), torch.stack([v.audio for v in views]),
            torch.tensor([v.fbank_frames for v in views], dtype=torch.int32))


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

    def __init__(self, video, audio, fbank_rows, index, path=None):
        self.video, self.audio, self.fbank_rows = video, audio, fbank_rows
        self.index = list(index)
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
                return cls(d["video"], d["audio"], d["fbank_rows"], d["index"].tolist(), path)
            except Exception as e:  # a torn or foreign file: rebuild it
                log.warning("view cache %s unreadable (%s); rebuilding", path, e)
        cache_dir.mkdir(parents=True, exist_ok=True)
        loader = torch.utils.data.DataLoader(_DecodeAll(list(entries), pcfg), batch_size=None, shuffle=False,
                                             num_workers=num_workers)
        rows: dict[int, tuple] = {}
        bad = []
        from tqdm import tqdm
        for i, views, err in tqdm(loader, total=len(entries), desc=f"caching {tag} views", unit="clip",
                                  disable=not progress, leave=False):
            if err is not None:
                if on_error == "raise":
                    raise ClipError(err)
                log.warning("skipping clip %s", err)
                bad.append(err)
                continue
            rows[i] = views
        index = sorted(rows)
        if not index:
            raise ClipError(cache_dir, f"no clip of the {tag} set could be decoded", "Check the data root")
        video = torch.stack([rows[i][0] for i in index])
        audio = torch.stack([rows[i][1] for i in index])
        nfb = torch.stack([rows[i][2] for i in index])
        blob = {"video": video, "audio": audio, "fbank_rows": nfb, "index": torch.tensor(index)}
        atomic_write(path, lambda f: torch.save(blob, f))
        return cls(video, audio, nfb, index, path)


# ----------------------------------------------------------------------------------------------------- datasets
def sample_seed(seed: int, epoch: int, position: int) -> int:
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 11, int(epoch), int(position)]).generate_state(1)[0]
               & 0x7FFFFFFF)


def shard_seed(seed: int, step: int, shard: int, salt: int = 0) -> int:
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 13, int(step), int(shard), int(salt)])
               .generate_state(1)[0] & 0x7FFFFFFF)


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
        self.entries = list(entries)
        self.pcfg, self.mode, self.aug, self.cache, self.on_error = pcfg, mode, aug, cache, on_error
        self._video_tf = None
        if cache is not None:  # only cached clips exist
            self.entries = [self.entries[i] for i in cache.index]
        self.skipped: list[str] = []

    def __len__(self):
        return len(self.entries)

    def _transform(self):
        if self._video_tf is None:
            from avfmae.data.augment import AugmentConfig, PretrainVideoTransform, VideoTrainTransform

            a = self.aug
            cfg = AugmentConfig(input_size=self.pcfg.crop_size, scale=tuple(a.scale), hflip=a.hflip,
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
            video = _normalise_u8(torch.from_numpy(np.stack(frames_list)), pcfg)
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
            frames, audio, _ = decode_views(self.entries[i], view_plans(self.mode, self.pcfg, 1))
        video = torch.stack([_normalise_u8(f, self.pcfg) for f in frames])
        if self.mode == "centre":
            video, audio = video[0], audio[0]
        return {"video": video, "audio": audio, **self._meta(i)}

    def __getitem__(self, key) -> dict:
        i, seed = key if isinstance(key, tuple) else (key, None)
        try:
            if self.mode == "train":
                return self._train_item(i, seed if seed is not None else i)
            return self._eval_item(i)
        except (ClipError, ManifestError) as exc:
            e = self.entries[i]
            if self.on_error == "raise":
                raise in_manifest(exc, e.record) from None
            # skip: a neighbour stands in (the batch keeps its size); the log names the clip and its manifest line
            log.warning("skipping %s", in_manifest(exc, e.record))
            self.skipped.append(e.record.clip)
            return self[((i + 1) % len(self.entries), seed) if seed is not None else (i + 1) % len(self.entries)]


def collate(items: list[dict]) -> dict:
    out = {}
    for k in items[0]:
        vals = [it[k] for it in items]
        out[k] = torch.stack(vals) if isinstance(vals[0], torch.Tensor) else vals
    return out


# ------------------------------------------------------------------------------------------------------ batches
@dataclass(frozen=True)
class Layout:
    """How a global batch is cut: per-shard batch, accumulation, processes, this process's rank."""
    batch_size: int
    accum_steps: int = 1
    world_size: int = 1
    rank: int = 0

    @property
    def shards(self) -> int:
        return self.accum_steps * self.world_size

    @property
    def global_batch(self) -> int:
        return self.batch_size * self.shards

    def my_shards(self) -> list[int]:
        return [self.rank * self.accum_steps + m for m in range(self.accum_steps)]


def steps_per_epoch(n: int, layout: Layout) -> int:
    """Optimiser steps per epoch (drop_last, as the official loaders); at least 1."""
    return max(1, n // layout.global_batch)


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, 7, int(epoch)]).permutation(n)


def step_keys(n: int, layout: Layout, seed: int, step: int, spe: int) -> list[list[tuple[int, int]]]:
    """For optimiser step `step`: this rank's micro-batches as lists of (entry index, sample seed)."""
    epoch, pos = divmod(step, spe)
    order = epoch_order(n, seed, epoch)
    g = layout.global_batch
    if n < g:  # tiny sets: wrap around so a step always has a full global batch
        order = np.resize(order, g * (pos + 1))
    out = []
    for shard in layout.my_shards():
        lo = pos * g + shard * layout.batch_size
        out.append([(int(order[j]), sample_seed(seed, epoch, j)) for j in range(lo, lo + layout.batch_size)])
    return out


def uniform_keys(n: int, layout: Layout, seed: int, spe: int):
    """keys_fn(step) for plain shuffled epochs over n entries (see step_keys)."""
    return lambda step: step_keys(n, layout, seed, step, spe)


def mixture_keys(sizes: Sequence[int], weights: Sequence[float], layout: Layout, seed: int, total_steps: int):
    """keys_fn(step) for source-homogeneous batches: every optimiser step draws ONE source (probability
    proportional to `weights`) for its whole global batch, and takes the next global batch of that source's own
    stream of shuffled epochs. Entry indices are offsets into the concatenation of the sources, in order.
    Pure in (seed, step): the source choices for all steps are drawn up front from (seed)."""
    sizes = [int(x) for x in sizes]
    p = np.asarray(weights, dtype=np.float64)
    p = p / p.sum()
    choices = np.random.default_rng([int(seed) & 0xFFFFFFFF, 19]).choice(len(sizes), size=max(total_steps, 1), p=p)
    ordinal = np.zeros_like(choices)
    seen = np.zeros(len(sizes), dtype=np.int64)
    for t, c in enumerate(choices):
        ordinal[t] = seen[c]
        seen[c] += 1
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    g = layout.global_batch

    def keys(step: int) -> list[list[tuple[int, int]]]:
        src = int(choices[step])
        n, base = sizes[src], int(offsets[src])
        out = []
        for shard in layout.my_shards():
            batch = []
            for j in range(ordinal[step] * g + shard * layout.batch_size,
                           ordinal[step] * g + (shard + 1) * layout.batch_size):
                epoch, pos = divmod(j, n)
                order = epoch_order(n, seed * 1000 + src, epoch)
                batch.append((base + int(order[pos]), sample_seed(seed * 1000 + src, epoch, j)))
            out.append(batch)
        return out

    keys.choices = choices
    return keys


class _StepSampler(torch.utils.data.Sampler):
    def __init__(self, keys_fn, start, stop, accum):
        self.keys_fn, self.start, self.stop, self.accum = keys_fn, start, stop, accum

    def __iter__(self):
        for step in range(self.start, self.stop):
            yield from self.keys_fn(step)

    def __len__(self):
        return (self.stop - self.start) * self.accum


def iterate_steps(ds: ClipSet, keys_fn, start: int, stop: int, accum_steps: int = 1, num_workers: int = 0
                  ) -> Iterator[tuple[int, list[dict]]]:
    """(step, [micro-batches of this rank]) for steps start..stop-1, loaded in order (with prefetching workers).
    `keys_fn(step)` gives this rank's micro-batches as lists of (entry index, sample seed)."""
    loader = torch.utils.data.DataLoader(ds, batch_sampler=_StepSampler(keys_fn, start, stop, accum_steps),
                                         num_workers=num_workers, collate_fn=collate, persistent_workers=False,
                                         prefetch_factor=2 if num_workers else None)
    it = iter(loader)
    for step in range(start, stop):
        yield step, [next(it) for _ in range(accum_steps)]


def eval_batches(ds: ClipSet, batch_size: int, rank: int = 0, world_size: int = 1, num_workers: int = 0
                 ) -> Iterator[dict]:
    """Evaluation batches of this rank's contiguous share of the set (no padding, no duplicates)."""
    n = len(ds)
    per = math.ceil(n / world_size)
    idx = list(range(rank * per, min(n, (rank + 1) * per)))
    if not idx:
        return iter(())
    sampler = [idx[i:i + batch_size] for i in range(0, len(idx), batch_size)]
    return iter(torch.utils.data.DataLoader(ds, batch_sampler=sampler, num_workers=num_workers, collate_fn=collate))


__all__ = ["Source", "Entry", "parse_source", "load_entries", "infer_num_classes", "split_by_subject",
           "preprocess_config", "silent_fbank_value", "blank_modalities", "ViewCache", "ClipSet", "TrainAug",
           "collate", "Layout", "steps_per_epoch", "epoch_order", "step_keys", "uniform_keys", "mixture_keys",
           "iterate_steps", "eval_batches",
           "sample_seed", "shard_seed", "view_plans", "decode_views"]
