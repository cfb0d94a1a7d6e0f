"""What each stage-config field may hold: its type (from the dataclass), and its range or its choices.

`check_fields(cfg)` runs when a stage config is made (CommonConfig.__post_init__), so a recipe, a grid file or an
override with `reprob=25` (a percentage where a probability goes), `rrc_scale=(1, 0.08)` (bounds swapped),
`epochs=1.5` or `betas=(0.9, 1.2)` is refused when the run is planned, with the field's name and what it takes,
instead of training silently with a different augmentation or failing inside a job.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing

__all__ = ["RULES", "check_fields", "lists_to_tuples"]


def _at_least(lo):
    return (lambda v: v >= lo), f">= {lo}"


_POSITIVE = (lambda v: v > 0), "> 0"
_COUNT = _at_least(0)
_ONE_OR_MORE = _at_least(1)
_UNIT = (lambda v: 0 <= v <= 1), "in [0, 1]"
_UNIT_OPEN = (lambda v: 0 <= v < 1), "in [0, 1)"


def _choice(*options):
    return (lambda v: v in options), "one of " + ", ".join(options)


# field -> (test of the value, what it takes); None values pass where the type allows None
RULES: dict[str, tuple] = {
    "seed": _COUNT, "epochs": _ONE_OR_MORE, "max_steps": _COUNT, "batch_size": _ONE_OR_MORE,
    "accum_steps": _ONE_OR_MORE, "blr": _POSITIVE, "min_lr": _COUNT, "warmup_epochs": _COUNT,
    "warmup_steps": ((lambda v: v >= -1), ">= 0 (or -1: from warmup_epochs)"), "weight_decay": _COUNT,
    "betas": ((lambda v: len(v) == 2 and all(_number(b) and 0 <= b < 1 for b in v)), "two numbers in [0, 1)"),
    "eps": _POSITIVE, "layer_decay": ((lambda v: 0 < v <= 1), "in (0, 1] (1: off)"), "clip_grad": _POSITIVE,
    "drop_path": _UNIT_OPEN, "threads": _COUNT, "dist_timeout_s": _ONE_OR_MORE,
    "num_workers": _COUNT, "train_windows": _ONE_OR_MORE, "checkpoint_every": _COUNT, "log_every": _ONE_OR_MORE,
    "eval_every": _ONE_OR_MORE, "smoothing": _UNIT_OPEN, "mixup": _COUNT, "cutmix": _COUNT,
    "mixup_prob": _UNIT, "mixup_switch_prob": _UNIT, "hflip": _UNIT, "reprob": _UNIT,
    "rrc_scale": ((lambda v: len(v) == 2 and all(_number(s) for s in v) and 0 < v[0] <= v[1] <= 1),
                  "two numbers lo, hi with 0 < lo <= hi <= 1 (area fractions of the random resized crop)"),
    "freqm": _COUNT, "timem": _COUNT, "shared_classes": _COUNT, "num_classes": _COUNT,
    "val_fraction": ((lambda v: 0 < v < 1), "in (0, 1)"), "test_segments": _COUNT, "test_crops": _COUNT,
    "amp": _choice("auto", "bf16", "fp16", "off"), "resume": _choice("auto", "never", "require"),
    "on_error": _choice("raise", "skip"), "label_mode": _choice("heads", "shared"),
    "sampling": _choice("proportional", "uniform"), "task": _choice("classification", "regression"),
    "selection": _choice("test", "val", "last"), "loss": _choice("auto", "ce", "mse", "ccc", "l1"),
}


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _allowed(hint) -> tuple:
    """The python types a field's annotation admits (int for float too; tuple also from a list)."""
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union \
        else (hint,)
    return tuple(typing.get_origin(a) or a for a in args)


def _type_ok(value, allowed: tuple) -> bool:
    if value is None:
        return type(None) in allowed
    if isinstance(value, bool):
        return bool in allowed
    if isinstance(value, int) and (int in allowed or float in allowed):
        return True
    if isinstance(value, float):
        return float in allowed and math.isfinite(value)
    return isinstance(value, tuple(a for a in allowed if isinstance(a, type) and a is not type(None)))


def _kind(allowed: tuple) -> str:
    names = {bool: "true/false", int: "an integer", float: "a number", str: "a string", tuple: "a tuple",
             type(None): "None"}
    return " or ".join(names.get(a, getattr(a, "__name__", str(a))) for a in allowed)


@functools.lru_cache(maxsize=None)
def _hints(cls) -> dict:
    return {name: _allowed(hint) for name, hint in typing.get_type_hints(cls).items()}


def lists_to_tuples(cfg) -> None:
    """A list given for a tuple field (JSON, a python caller) becomes a tuple, in place (frozen dataclass)."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, list) and tuple in _hints(type(cfg))[f.name]:
            object.__setattr__(cfg, f.name, tuple(value))


def check_fields(cfg) -> None:
    """Raise ValueError naming the first field of `cfg` (a stage config) whose value has the wrong type or lies
    outside its range (RULES)."""
    hints = _hints(type(cfg))
    stage = getattr(cfg, "stage", "") or type(cfg).__name__
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        allowed = hints[f.name]
        if not _type_ok(value, allowed):
            raise ValueError(f"{stage}: {f.name}={value!r} ({type(value).__name__}): {f.name} takes "
                             f"{_kind(allowed)}")
        rule = RULES.get(f.name)
        if rule is not None and value is not None:
            test, what = rule
            try:
                ok = bool(test(value))
            except TypeError:
                ok = False
            if not ok:
                raise ValueError(f"{stage}: {f.name}={value!r}: {f.name} must be {what}")
