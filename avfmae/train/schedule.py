"""Per-step learning-rate schedule: linear warm-up from 0, then half-cosine towards the minimum, exactly the
official `cosine_scheduler` array (VideoMAE / HiCMAE `utils.py`) evaluated per optimiser step:

    warm-up steps w (> 0):   lr(s) = peak * s / (w - 1)                 s < w   (numpy linspace(0, peak, w))
    then:                    lr(s) = min + (peak - min) / 2 * (1 + cos(pi * (s - w) / (total - w)))

Each parameter group's lr is the schedule value times its layer-decay `lr_scale`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class CosineSchedule:
    peak: float
    minimum: float
    total_steps: int
    warmup_steps: int = 0

    def __call__(self, step: int) -> float:
        w = min(self.warmup_steps, self.total_steps)
        if step < w:
            return self.peak * step / (w - 1) if w > 1 else 0.0
        span = max(self.total_steps - w, 1)
        i = min(max(step - w, 0), span)
        return self.minimum + 0.5 * (self.peak - self.minimum) * (1.0 + math.cos(math.pi * i / span))

    def apply(self, optimizer, step: int) -> float:
        lr = self(step)
        for g in optimizer.param_groups:
            g["lr"] = lr * g.get("lr_scale", 1.0)
        return lr

    def state_dict(self) -> dict:
        return {"peak": self.peak, "minimum": self.minimum, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps}


def warmup_steps_for(warmup_epochs: float, warmup_steps: int, steps_per_epoch: int) -> int:
    return int(warmup_steps) if warmup_steps >= 0 else int(round(warmup_epochs * steps_per_epoch))


__all__ = ["CosineSchedule", "warmup_steps_for"]
