"""One run: (model, weights, dataset, fold, seed, protocol, overrides) -> scores in the result store.

This is the function the executors call with a RunKey, in process, in a local worker or in a SLURM job. It
re-derives everything from the key, resumes from the run's own checkpoint (its work dir is keyed by the run's
signature) and returns the result dict the store keeps.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from . import metrics as M
from .datasets import registry
from .protocols import get_protocol
from .runkey import RunKey
from .store import ResultStore

# RunKey overrides that are not stage-3 config fields (besides arch.* / stage1.* / stage2.*: see pipeline)
RUN_OPTIONS = ("weights", "limit", "preset", "stages", "grid")


def _limited_source(spec, fold: str, split: str, limit: int, work: Path) -> str:
    """A manifest of the first `limit` clips of a split (for quick looks); returned as 'path@root'."""
    from avfmae.data.manifest import read_manifest, write_manifest

    records = read_manifest(spec.split_file(fold, split))
    out = write_manifest(work / "limited" / f"{split}.tsv", records[:limit])
    return f"{out}@{spec.path()}"


def stage3_config(key: RunKey, work: Path, model: str, init: str | None):
    from avfmae.train.config import apply_overrides, stage_config

    from .pipeline import split_overrides

    spec = registry.get(key.dataset)
    proto = get_protocol(key.protocol)
    opts = key.overrides_dict
    limit = int(opts.get("limit", 0) or 0)

    def source(split):
        if limit:
            return _limited_source(spec, key.fold, split, limit, work)
        return spec.split_source(key.fold, split)

    fields = dict(model=model, init=init, seed=key.seed,
                  train=source("train"), test=source("test"), selection=proto.selection,
                  task="regression" if spec.regression else "classification", num_classes=spec.num_classes,
                  modalities=tuple(m for m in ("video", "audio") if m in spec.modalities))
    if spec.validation == "val" and spec.split_file(key.fold, "val").is_file() and proto.selection == "val":
        fields["val"] = source("val")
    cfg = stage_config("stage3", opts.get("preset", proto.preset), **fields)
    extra = [f"{k}={v}" for k, v in sorted(split_overrides(opts)[3].items()) if k not in RUN_OPTIONS]
    return apply_overrides(cfg, extra) if extra else cfg


def score(spec, clip_ids, targets, scores) -> tuple[dict, list | None]:
    """The dataset's metrics on one fold's test predictions (percent), plus the confusion matrix."""
    groups = M.group_ids(clip_ids, spec.group_pattern) if spec.group_pattern else None
    if spec.regression:
        out = M.compute(spec.metrics, np.asarray(targets), np.asarray(scores), groups=groups, targets=spec.labels)
        return out, None
    out = M.compute(spec.metrics, np.asarray(targets), np.asarray(scores), groups=groups,
                    num_classes=spec.num_classes, with_confusion=True)
    confusion = out.pop("confusion", None)
    return out, confusion


def _columns(p: dict) -> tuple:
    """A prediction set (clips, targets, probs | outputs) -> (clip ids, targets, scores)."""
    return p["clips"], p["targets"], p["probs"] if "probs" in p else p["outputs"]


def evaluate_run(key: RunKey) -> dict:
    """Run one key to completion and return its result (the executor's job wrapper stores it)."""
    store = ResultStore()
    work = store.work_dir(key)
    spec = registry.get(key.dataset)
    proto = get_protocol(key.protocol)
    t0 = time.time()
    if proto.kind == "probe":
        from .probe import run_probe
        pred = run_probe(key, work)
    else:
        from avfmae.train import run_stage3

        from .pipeline import starting_weights
        model, init = starting_weights(key, store)
        cfg = stage3_config(key, work, model, init)
        pred = run_stage3(cfg, work)
    preds = pred["predictions"]
    scores, confusion = score(spec, *_columns(preds["selected"]))
    result = {"scores": scores, "confusion": confusion, "timings": {"total_s": round(time.time() - t0, 2)},
              "selected_epoch": pred.get("selected_epoch"), "n_test": len(preds["selected"]["clips"]),
              "protocol": {"name": proto.name, "version": proto.version, "selection": proto.selection,
                           "description": proto.description}}
    if "last" in preds and preds["last"] is not preds["selected"]:
        result["scores_last"], _ = score(spec, *_columns(preds["last"]))
    if pred.get("epochs"):
        result["history"] = pred["epochs"]
    return result
