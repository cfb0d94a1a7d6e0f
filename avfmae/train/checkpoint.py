"""Training checkpoints: written atomically, holding everything a resumed run needs to continue bit for bit.

Contents (one torch file, `<work_dir>/checkpoint.pt`):
    model, optimizer, scheduler (its parameters), scaler (fp16 loss scaling), rng (python, numpy, torch CPU and
    CUDA states), step (optimiser steps done), config (the stage config as a dict), stage, extra (the stage's own
    state: per-epoch history, best metric, ...), time (wall seconds so far), torch version.

Atomic: written to a temporary file in the same folder, flushed and fsync-ed, then renamed over the old one, so a
kill at any moment (SIGKILL included) leaves either the previous or the new checkpoint, never half of one.
Loading uses weights_only=True with the few plain types a checkpoint holds; nothing else is unpickled.
"""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_write

CHECKPOINT = "checkpoint.pt"


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    np_state = state["numpy"]
    np.random.set_state((np_state[0], np.asarray(np_state[1], dtype=np.uint32), *np_state[2:]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _numpy_state_plain(state) -> tuple:
    # numpy's state holds an ndarray; store it as a tensor so weights_only loading accepts it
    return (state[0], torch.from_numpy(np.asarray(state[1]).astype(np.int64)), *state[2:])


def atomic_save(obj, path: str | os.PathLike) -> Path:
    """torch.save, atomically (see avfmae.atomic)."""
    return atomic_write(path, lambda f: torch.save(obj, f))


def save_checkpoint(path: str | os.PathLike, *, model, optimizer, schedule=None, scaler=None, step: int,
                    config: dict, stage: str, extra: dict | None = None, elapsed: float = 0.0) -> Path:
    rng = rng_state()
    rng["numpy"] = _numpy_state_plain(rng["numpy"])
    module = getattr(model, "module", model)
    obj = {
        "model": module.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": schedule.state_dict() if schedule is not None else {},
        "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else {},
        "rng": rng,
        "step": int(step),
        "config": config,
        "stage": stage,
        "extra": extra or {},
        "time": float(elapsed),
        "torch": str(torch.__version__),
    }
    return atomic_save(obj, path)


def load_checkpoint(path: str | os.PathLike) -> dict:
    obj = torch.load(path, map_location="cpu", weights_only=True)
    np_state = obj["rng"]["numpy"]
    obj["rng"]["numpy"] = (np_state[0], np.asarray(np_state[1].numpy(), dtype=np.uint32), *np_state[2:])
    return obj


def restore(obj: dict, *, model, optimizer, scaler=None, restore_rng: bool = True) -> int:
    """Load a checkpoint's states into the live objects; returns the step to continue from."""
    module = getattr(model, "module", model)
    module.load_state_dict(obj["model"])
    optimizer.load_state_dict(obj["optimizer"])
    if scaler is not None and obj.get("scaler"):
        scaler.load_state_dict(obj["scaler"])
    if restore_rng:
        set_rng_state(obj["rng"])
    return int(obj["step"])


def config_differences(saved: dict, current: dict, ignore: tuple = ()) -> list[str]:
    """Fields whose values differ between a checkpoint's config and the current one (lists == tuples)."""
    def norm(v):
        return list(v) if isinstance(v, tuple) else v
    keys = sorted(set(saved) | set(current))
    return [f"{k}: checkpoint {saved.get(k)!r} vs now {current.get(k)!r}" for k in keys
            if k not in ignore and norm(saved.get(k)) != norm(current.get(k))]


__all__ = ["CHECKPOINT", "rng_state", "set_rng_state", "atomic_save", "save_checkpoint", "load_checkpoint",
           "restore", "config_differences"]
