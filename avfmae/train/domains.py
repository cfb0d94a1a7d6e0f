"""What each stage-config field may hold besides its type: its range or its choices (avfmae.fieldcheck checks
both when a config is made).

So a recipe, a grid file or an override with `reprob=25` (a percentage where a probability goes),
`rrc_scale=(1, 0.08)` (bounds swapped), `epochs=1.5` or `betas=(0.9, 1.2)` is refused when the run is planned,
naming the field and what it takes, instead of training silently with a different augmentation or failing inside
a job.
"""
from __future__ import annotations

import re

from ..fieldcheck import FRACTION, POSITIVE, UNIT, UNIT_OPEN, at_least, choice, number
from ..models.geometry import HEAD_ACTIVATIONS
from ..zoo.weights import TAG_RULE, valid_tag

__all__ = ["RULES"]

_COUNT = at_least(0)
_ONE_OR_MORE = at_least(1)

RULES: dict[str, tuple] = {
    "seed": _COUNT, "epochs": _ONE_OR_MORE, "max_steps": _COUNT, "batch_size": _ONE_OR_MORE,
    "accum_steps": _ONE_OR_MORE, "blr": POSITIVE, "min_lr": _COUNT, "warmup_epochs": _COUNT,
    "warmup_steps": ((lambda v: v >= -1), ">= 0 (or -1: from warmup_epochs)"), "weight_decay": _COUNT,
    "betas": ((lambda v: len(v) == 2 and all(number(b) and 0 <= b < 1 for b in v)), "two numbers in [0, 1)"),
    "eps": POSITIVE, "layer_decay": ((lambda v: 0 < v <= 1), "in (0, 1] (1: off)"),
    "clip_grad": ((lambda v: v >= 0), ">= 0 (0 or None: no clipping)"),
    "drop_path": UNIT_OPEN, "threads": _COUNT, "dist_timeout_s": _ONE_OR_MORE,
    "num_workers": _COUNT, "train_windows": _ONE_OR_MORE, "checkpoint_every": _COUNT, "log_every": _ONE_OR_MORE,
    "eval_every": _ONE_OR_MORE, "smoothing": UNIT_OPEN, "mixup": _COUNT, "cutmix": _COUNT,
    "mixup_prob": UNIT, "mixup_switch_prob": UNIT, "hflip": UNIT, "reprob": UNIT,
    "rrc_scale": ((lambda v: len(v) == 2 and all(number(s) for s in v) and 0 < v[0] <= v[1] <= 1),
                  "two numbers lo, hi with 0 < lo <= hi <= 1 (area fractions of the random resized crop)"),
    "freqm": _COUNT, "timem": _COUNT, "shared_classes": _COUNT, "num_classes": _COUNT,
    "val_fraction": FRACTION, "test_segments": _COUNT, "test_crops": _COUNT,
    "amp": choice("auto", "bf16", "fp16", "off"), "resume": choice("auto", "never", "require"),
    "on_error": choice("raise", "skip"), "label_mode": choice("heads", "shared"),
    "sampling": choice("proportional", "uniform"), "task": choice("classification", "regression"),
    "selection": choice("test", "val", "last"), "loss": choice("auto", "ce", "mse", "ccc", "l1"),
    "head_activation": choice(*(name for name in HEAD_ACTIVATIONS if name)),
    "device": ((lambda v: re.fullmatch(r"auto|cpu|cuda(:\d+)?", v) is not None), "auto, cpu, cuda or cuda:N"),
    "export_tag": (valid_tag, TAG_RULE),          # checked at the end of training otherwise, by the export
}
