"""Clip embeddings of a model: the pooled feature (`forward_features`, the classifier head's input), and on
request the last layer's region tokens or every layer's region-mean, per clip.

    from avfmae.extract import extract_features
    ids, feats, targets = extract_features(model, records, root)        # manifest clips, centre view

Each clip is its centre evaluation view (one temporal window in the middle, the full frame), built with the
model's input contract by the clip loader of training, evaluation and the probe
(avfmae.train.clips.ClipSet, "centre" mode): exactly what the probe protocol's frozen features are. Modalities
the model was not trained with get the blank input (zeros for video, the silent fbank for audio), as in
training.
"""
from __future__ import annotations

from typing import Iterable, NamedTuple, Sequence

import numpy as np
import torch

__all__ = ["Features", "EXTRAS", "extract_features", "features_of_batch", "centre_config"]

EXTRAS = ("regions", "layers")


class Features(NamedTuple):
    ids: list                  # clip ids, in order
    feats: np.ndarray          # (N, D) float32 pooled embeddings
    targets: list              # the records' targets (int class or tuple of floats); None for unlabelled clips
    extra: dict = {}           # name -> (N, ...) arrays: region_video/region_audio (N, R, C), layers_video/... (N, L, C)


def centre_config(model):
    """The evaluation preprocessing of the model's input contract, centre view only."""
    from avfmae.train.inputs import preprocess_config

    return preprocess_config(model.spec).replace(num_segments=1, num_crops=1)


def features_of_batch(model, video: torch.Tensor, audio: torch.Tensor, extras: Sequence[str] = (),
                      modalities: Sequence[str] = ("video", "audio"), silent: float | None = None) -> dict:
    """{"feature": (B, D), plus the requested extras} as numpy float32, for one batch of model inputs."""
    from avfmae.train.inputs import blank_modalities, preprocess_config, silent_fbank_value

    unknown = set(extras) - set(EXTRAS)
    if unknown:
        raise ValueError(f"unknown extras {sorted(unknown)}; choose from {EXTRAS}")
    if "audio" not in modalities or "video" not in modalities:
        if silent is None:
            silent = silent_fbank_value(preprocess_config(model.spec))
        video, audio = blank_modalities(video, audio, modalities, silent)
    device = next(model.parameters()).device
    with torch.inference_mode():
        if not extras:
            return {"feature": model.forward_features(video.to(device), audio.to(device)).float().cpu().numpy()}
        out = model.forward_all(video.to(device), audio.to(device))
    res = {"feature": out.feature.float().cpu().numpy()}
    if "regions" in extras:  # (B, R, depth, C) -> the last layer's region tokens (B, R, C)
        res["region_video"] = out.region_video[:, :, -1].float().cpu().numpy()
        res["region_audio"] = out.region_audio[:, :, -1].float().cpu().numpy()
    if "layers" in extras:   # every layer's mean over regions (B, depth, C)
        res["layers_video"] = out.region_video.mean(1).float().cpu().numpy()
        res["layers_audio"] = out.region_audio.mean(1).float().cpu().numpy()
    return res


def extract_features(model, clips: Iterable, root, extras: Sequence[str] = (), batch_size: int = 8,
                     modalities: Sequence[str] = ("video", "audio"), num_workers: int = 0,
                     on_error: str = "raise", progress: bool = False) -> Features:
    """Embeddings of manifest clips (ClipRecords, paths relative to `root`), centre view, in order.
    on_error="skip" drops unreadable clips (they are then missing from `ids`)."""
    from pathlib import Path

    from avfmae.train.clips import ClipSet, TrainAug, collate
    from avfmae.train.sources import Entry

    model.eval()
    records = list(clips)
    # the loader's target slot only carries a number; the records' own targets (None for unlabelled) are returned
    entries = [Entry(Path(root), r, r.target if r.target is not None else -1) for r in records]
    ds = ClipSet(entries, centre_config(model), "centre", TrainAug(kind="none"), on_error=on_error)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, num_workers=num_workers, collate_fn=collate)
    ids, targets, parts = [], [], {}
    seen: set[int] = set()      # with on_error="skip" a neighbour stands in for a bad clip: keep each clip once
    bar = None
    if progress:
        from avfmae import progress as P

        bar = P.bar(total=len(records), desc="features", unit="clip")
    for batch in loader:
        index = [int(i) for i in batch["index"]]
        keep = [k for k, i in enumerate(index) if i not in seen and not seen.add(i)]
        if keep:
            sel = torch.tensor(keep)
            res = features_of_batch(model, batch["video"][sel], batch["audio"][sel], extras, modalities)
            for k, v in res.items():
                parts.setdefault(k, []).append(v)
            ids += [batch["clip"][k] for k in keep]
            targets += [records[index[k]].target for k in keep]
        if bar:
            bar.update(len(index))
    if bar:
        bar.close()
    if not ids:
        return Features([], np.zeros((0, 0), np.float32), [], {})
    arrays = {k: np.concatenate(v) for k, v in parts.items()}
    feats = arrays.pop("feature")
    return Features(ids, feats, targets, arrays)
