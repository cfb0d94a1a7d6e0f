"""Fixtures of the training tests: a tiny synthetic set and tiny stage configs.

The tiny set is the synthetic demo set at its smallest (3 subjects, 1 clip per class and subject, 1 s, 32 px:
18 clips, one subject per fold), generated once into a temp folder and reused (generation resumes and skips
existing clips, so concurrent or repeated test sessions share it).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from avfmae.train.config import stage_config

TINY = dict(seed=0, subjects=3, clips_per_class=1, seconds=1.0, size=32)


def tiny_demo(root: str | os.PathLike | None = None) -> Path:
    from benchmarks.datasets import synth

    out = Path(root) if root else Path(tempfile.gettempdir()) / "avfmae-train-tests" / "tiny-demo"
    if not (out / "splits" / "fold1" / "test.tsv").is_file():
        synth.generate(out, workers=1, progress=False, **TINY)
    return out


def tiny_stage3(data: Path, **overrides):
    """A stage-3 config on the tiny set with avfmae-micro: batch 2, 4 steps an epoch, 2 epochs, no AMP, cached."""
    base = dict(model="avfmae-micro", train=f"{data}/splits/fold1/train.tsv", test=f"{data}/splits/fold1/test.tsv",
                batch_size=2, epochs=2, warmup_steps=1, blr=0.05, progress=False, checkpoint_every=2, log_every=1,
                cache=True, num_workers=0, threads=1, device="cpu", amp="off", max_steps=0, tensorboard=False,
                mixup=0.8, cutmix=1.0, drop_path=0.1)
    base.update(overrides)
    return stage_config("stage3", "cpu", **base)


def tiny_stage1(data: Path, **overrides):
    base = dict(model="avfmae-micro", data=(f"{data}/splits/fold1/train.tsv",), batch_size=2, epochs=1,
                warmup_steps=1, progress=False, checkpoint_every=2, log_every=1, cache=True, num_workers=0,
                threads=1, device="cpu", amp="off", tensorboard=False)
    base.update(overrides)
    return stage_config("stage1", "cpu", **base)


__all__ = ["TINY", "tiny_demo", "tiny_stage3", "tiny_stage1"]
