"""What the three stages share: run setup, the model's data contract, caches, evaluation, metrics, result files."""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from avfmae import zoo

from avfmae import metrics
from avfmae.atomic import atomic_write, atomic_write_text, remove_stale

from .clips import ClipSet, TrainAug
from .inputs import blank_modalities, preprocess_config, silent_fbank_value
from .sampling import Layout, eval_batches
from .sources import Entry
from .viewcache import ViewCache, view_plans
from .distributed import DistInfo, gather_objects, init_distributed
from .optim import scaled_lr

log = logging.getLogger("avfmae.train")


@dataclass
class Context:
    cfg: object
    info: DistInfo
    spec: object
    pcfg: object
    work_dir: Path
    cache_dir: Path
    silent: float
    layout: Layout

    @property
    def device(self) -> torch.device:
        return self.info.device

    def lr(self, base: float) -> float:
        return scaled_lr(base, self.layout.global_batch)


def setup(cfg, work_dir: str | os.PathLike) -> Context:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    info = init_distributed(cfg.device, cfg.threads, cfg.dist_timeout_s)
    spec = zoo.get_spec(cfg.model)
    pcfg = preprocess_config(spec)
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else work / "cache"
    if info.is_main:
        for folder in (work, cache_dir):  # temp files of a killed run's writers (checkpoints can be GBs)
            for p in remove_stale(folder):
                log.info("removed %s, left by a killed writer", p)
        atomic_write_text(work / "config.json", json.dumps({"stage": cfg.stage, **cfg.to_dict()}, indent=1,
                                                          default=list))
    layout = Layout(cfg.batch_size, cfg.accum_steps, info.world_size, info.rank)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed % (2 ** 32))
    return Context(cfg, info, spec, pcfg, work, cache_dir, silent_fbank_value(pcfg), layout)


def build_cache(ctx: Context, entries: list[Entry], kind: str, tag: str) -> ViewCache | None:
    """The view cache of a set (built by rank 0, then read by every rank), or None when caching is off."""
    cfg = ctx.cfg
    if not cfg.cache:
        return None
    pc = view_plans(kind, ctx.pcfg, cfg.train_windows)
    from .distributed import barrier
    if ctx.info.is_main:
        ViewCache.build(entries, pc, ctx.cache_dir, tag, cfg.num_workers, cfg.on_error, cfg.progress)
    barrier(ctx.info)
    return ViewCache.build(entries, pc, ctx.cache_dir, tag, 0, cfg.on_error, False)


def eval_set(ctx: Context, entries: list[Entry], kind: str, tag: str) -> ClipSet:
    """A "centre" (one view) or "test" (segments x crops) evaluation set."""
    return ClipSet(entries, ctx.pcfg, kind, TrainAug(kind="none"), build_cache(ctx, entries, kind, tag),
                   ctx.cfg.on_error)


def to_device(ctx: Context, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    video = batch["video"].to(ctx.device, non_blocking=True)
    audio = batch["audio"].to(ctx.device, non_blocking=True)
    return blank_modalities(video, audio, ctx.cfg.modalities, ctx.silent)


@torch.no_grad()
def predict(ctx: Context, model: torch.nn.Module, ds: ClipSet, regression: bool = False, activation=None,
            batch_size: int | None = None) -> dict:
    """Per-clip outputs averaged over the views: class probabilities (softmax per view, then the mean) or
    regression outputs. Every rank scores its share; all ranks get the gathered, ordered result."""
    from .loop import amp_settings

    was_training = model.training
    model.eval()
    dtype, _ = amp_settings(ctx.cfg.amp, ctx.device)
    rows = []
    bs = batch_size or ctx.cfg.batch_size
    for batch in eval_batches(ds, bs, ctx.info.rank, ctx.info.world_size, ctx.cfg.num_workers):
        video, audio = to_device(ctx, batch)
        multi = video.dim() == 6
        b = video.shape[0]
        if multi:
            v = video.shape[1]
            video, audio = video.flatten(0, 1), audio.flatten(0, 1)
        with torch.autocast(ctx.device.type, dtype=dtype, enabled=dtype is not None):
            out = model(video, audio)
        out = out.float()
        if activation is not None:
            out = activation(out)
        scores = out if regression else torch.softmax(out, dim=-1)
        if multi:
            scores = scores.reshape(b, v, -1).mean(1)
        for i in range(b):
            t = batch["target"][i]
            rows.append((int(batch["index"][i]), batch["clip"][i],
                         t.tolist() if t.dim() else int(t), scores[i].cpu().tolist()))
    if was_training:
        model.train()
    by_index = {}
    for r in sorted((r for part in gather_objects(ctx.info, rows) for r in part), key=lambda r: r[0]):
        by_index.setdefault(r[0], r)   # a skipped clip's stand-in repeats its neighbour: counted once
    all_rows = list(by_index.values())
    key = "outputs" if regression else "probs"
    return {"clips": [r[1] for r in all_rows], "targets": [r[2] for r in all_rows], key: [r[3] for r in all_rows],
            "skipped": skipped_of(ds, by_index)}


def skipped_of(ds: ClipSet, predicted) -> list[dict]:
    """{clip, file, reason} of each clip of `ds` without a prediction (skipped, on_error="skip"), plus those the
    view cache left out; the reason is the logged error where this process saw it."""
    from .viewcache import skipped_clip

    if not isinstance(ds, ClipSet):
        return []
    known = {s["clip"]: s for s in ds.skipped}
    out = list(ds.cache.skipped) if ds.cache is not None else []
    seen = {s["clip"] for s in out}
    for i, e in enumerate(ds.entries):
        if i not in predicted and e.record.clip not in seen:
            out.append(known.get(e.record.clip) or skipped_clip(e, "could not be read (on_error=skip; the run's "
                                                                    "log names the error)"))
            seen.add(e.record.clip)
    return out


# -------------------------------------------------------------------------------------------------------- metrics
DEFAULT_SCORES = {False: ("uar", "war"), True: ("ccc", "mse")}


def scores(pred: dict, regression: bool, names: tuple = ()) -> dict:
    """Metrics of a predict() result through avfmae.metrics: uar/war (classification) or ccc (mean over targets)
    / ccc_<k> per target / mse (regression), plus any of `names` (e.g. the validation metric)."""
    if not pred["clips"]:
        return {}
    wanted = list(dict.fromkeys(DEFAULT_SCORES[regression] + tuple(names)))
    if regression:
        t = np.asarray(pred["targets"], float).reshape(len(pred["targets"]), -1)
        p = np.asarray(pred["outputs"], float).reshape(len(pred["outputs"]), -1)
        out = metrics.compute(wanted, t, p)
        if t.shape[1] == 1:   # compute names per-target entries only for D > 1; training logs them always
            out["ccc_0"] = out["ccc"]
        return out
    return metrics.compute(wanted, pred["targets"], np.asarray(pred["probs"]))


def write_json(ctx: Context, name: str, obj: dict) -> Path | None:
    if not ctx.info.is_main:
        return None
    text = json.dumps(obj, indent=1, default=str)
    return atomic_write(ctx.work_dir / name, lambda f: f.write(text), binary=False)


class EpochLoss:
    """Wraps a training step to sum its loss over the epoch in the loop's `extra` (saved in checkpoints, so a
    resumed epoch keeps its sum). Set `.loop` once the TrainLoop exists; `mean(loop)` at the epoch's end."""

    KEY = "epoch_acc"

    def __init__(self, step_fn):
        self.step_fn, self.loop = step_fn, None

    def __call__(self, m, batch, seed):
        loss, logs = self.step_fn(m, batch, seed)
        acc = self.loop.extra.setdefault(self.KEY, {"loss": 0.0, "n": 0})
        acc["loss"] += float(loss.detach())
        acc["n"] += 1
        return loss, logs

    @classmethod
    def mean(cls, loop) -> float:
        """The epoch's mean training loss; resets the sum for the next epoch."""
        acc = loop.extra.pop(cls.KEY, {"loss": 0.0, "n": 0})
        return acc["loss"] / max(acc["n"], 1)


__all__ = ["Context", "setup", "build_cache", "eval_set", "to_device", "predict", "scores",
           "write_json", "EpochLoss"]
