"""Per-video grouping: clips that belong to one video are scored as one (their class scores averaged first).

AVCAffe cuts each participant-task recording into clips; the official ``merge()`` averages the clips' scores
per participant-task before the metric. A dataset states its grouping as a regex (``group_pattern``): clips
whose ids share its first match form one group.
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np


def group_ids(ids: Sequence[str], pattern: str = "") -> list[str]:
    """Group key per clip id: the first match of ``pattern`` (e.g. AVCAffe's ``^aiim\\d+_task_\\d+``), else the
    id itself (an id the pattern does not match is its own group)."""
    if not pattern:
        return [str(i) for i in ids]
    rx = re.compile(pattern)
    out = []
    for i in ids:
        m = rx.search(str(i))
        out.append(m.group(0) if m else str(i))
    return out


def participant_task(clip_id: str) -> str:
    """AVCAffe's grouping in the official ``merge()``: the first three '_'-separated fields of the file stem."""
    stem = re.split(r"[\\/]", str(clip_id))[-1].rsplit(".", 1)[0]
    return "_".join(stem.split("_")[:3])


def average_by_group(y_true, scores, groups) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Average scores (class scores (n, C), or regression outputs) over clips that share a group key
    (first-appearance order). Every clip of a group must carry the same target, else the grouping is wrong and
    this raises."""
    y_true = np.asarray(y_true)
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2 or len(scores) != len(y_true) or len(groups) != len(y_true):
        raise ValueError("average_by_group needs n targets, (n, C) scores and n group keys")
    order: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        order.setdefault(str(g), []).append(i)
    keys = list(order)
    labels, merged = [], []
    for g in keys:
        idx = order[g]
        lab = np.unique(y_true[idx], axis=0)
        if len(lab) != 1:
            raise ValueError(f"group {g!r} mixes labels {lab.tolist()}; check the grouping pattern")
        labels.append(lab[0])
        merged.append(scores[idx].mean(0))
    return np.asarray(labels), np.stack(merged), keys


__all__ = ["group_ids", "participant_task", "average_by_group"]
