"""Per-clip predictions kept with a result, so every metric can be recomputed and the run audited, and
bootstrap confidence intervals over clips or over clusters (subjects, videos).

    compact = compact_predictions(clips, targets, scores)            # JSON-able, rounded
    recompute(["uar", "war"], compact)                               # == the stored scores
    low, high = bootstrap_ci("uar", targets, scores, clusters=subjects)   # 95 % percentile interval
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from .grouping import group_ids
from .intervals import Run, bootstrap_rule, percentile_interval
from .registry import compute, get

COMPACT_VERSION = 1


def compact_predictions(clips: Sequence[str], targets, scores, top_k: int | None = None,
                        decimals: int = 6) -> dict:
    """A compact, JSON-able record of per-clip outputs: ``{"version", "clips", "targets", "scores"}``, scores
    rounded to ``decimals``. With ``top_k`` (classification only), ``"scores"`` holds the k highest scores per
    clip and ``"top_k_classes"`` their class indices (``"num_classes"`` keeps the width); argmax metrics are
    still exact, per-video averaging is not (missing classes count as 0)."""
    clips = [str(c) for c in clips]
    s = np.asarray(scores, dtype=float)
    t = np.asarray(targets)
    if len(clips) != len(s) or len(clips) != len(t):
        raise ValueError(f"compact_predictions: {len(clips)} clips, {len(t)} targets, {len(s)} score rows")
    out = {"version": COMPACT_VERSION, "clips": clips, "targets": t.tolist()}
    if top_k is None:
        out["scores"] = np.round(s, decimals).tolist()
        return out
    if s.ndim != 2 or not 0 < top_k <= s.shape[1]:
        raise ValueError(f"top_k={top_k} needs class scores (n, C) with C >= top_k, got shape {s.shape}")
    idx = np.argsort(-s, axis=1, kind="stable")[:, :top_k]
    out["top_k_classes"] = idx.tolist()
    out["scores"] = np.round(np.take_along_axis(s, idx, axis=1), decimals).tolist()
    out["num_classes"] = int(s.shape[1])
    return out


def expand_scores(compact: dict) -> np.ndarray:
    """The (n, C) or (n, D) score array of a compact record (top-k records: zeros for the classes left out)."""
    s = np.asarray(compact["scores"], dtype=float)
    if "top_k_classes" not in compact:
        return s
    full = np.zeros((len(s), int(compact["num_classes"])))
    np.put_along_axis(full, np.asarray(compact["top_k_classes"], dtype=int), s, axis=1)
    return full


def recompute(spec_metrics: Iterable[str], compact: dict, *, group_pattern: str = "",
              target_names: Sequence[str] | None = None, num_classes: int | None = None) -> dict:
    """The named metrics recomputed from a compact record (same arguments as the dataset's scoring: its
    grouping pattern, its target names, its class count)."""
    names = list(spec_metrics)
    groups = group_ids(compact["clips"], group_pattern) if group_pattern else None
    if groups is not None and "top_k_classes" in compact:
        raise ValueError("per-video grouping needs full scores; this record keeps only the top-k")
    kind = {get(n).kind for n in names}
    kwargs = {"targets": target_names} if kind == {"regression"} else {"num_classes": num_classes}
    return compute(names, np.asarray(compact["targets"]), expand_scores(compact), groups=groups, **kwargs)


def bootstrap(metric: str, y_true, y_pred_or_scores, *, clusters: Sequence | None = None, n_boot: int = 1000,
              seed: int = 0, **compute_kwargs) -> np.ndarray:
    """``n_boot`` bootstrap replicates of one metric on one prediction set: clips resampled with replacement,
    or, with ``clusters`` (a subject / video id per clip), whole clusters resampled with replacement (all their
    clips come along). ``compute_kwargs`` go to ``compute`` (groups=..., targets=...). Seeded. One run of
    ``intervals.bootstrap_rule``, which also does a dataset's folds and seeds."""
    y_true = np.asarray(y_true)
    s = np.asarray(y_pred_or_scores)
    n = len(y_true)
    if n == 0 or len(s) != n:
        raise ValueError(f"bootstrap needs equal, non-empty targets and outputs ({n} vs {len(s)})")
    if clusters is not None and len(clusters) != n:
        raise ValueError(f"{len(clusters)} cluster ids for {n} clips")
    groups = compute_kwargs.pop("groups", None)
    clips = tuple(range(n))
    run = Run(clips, y_true, s, clips if clusters is None else tuple(clusters),
              None if groups is None else tuple(groups))
    return bootstrap_rule(metric, {(0, 0): run}, "mean", n_boot=n_boot, seed=seed, **compute_kwargs)[1]


def bootstrap_ci(metric: str, y_true, y_pred_or_scores, *, clusters: Sequence | None = None, level: float = 0.95,
                 n_boot: int = 1000, seed: int = 0, **compute_kwargs) -> tuple[float, float]:
    """Percentile bootstrap interval (``level``, default 95 %) of one metric; see ``bootstrap``."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    return percentile_interval(bootstrap(metric, y_true, y_pred_or_scores, clusters=clusters, n_boot=n_boot,
                                         seed=seed, **compute_kwargs), level)


__all__ = ["COMPACT_VERSION", "compact_predictions", "expand_scores", "recompute", "bootstrap", "bootstrap_ci"]
