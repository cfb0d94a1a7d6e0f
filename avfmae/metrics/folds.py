"""From per-fold results to a dataset's number: the mean of per-fold values, or one value over pooled folds.

    mean  the paper's protocol (the official code never pools predictions): each fold's value (averaged over its
          seeds first), then the arithmetic mean over folds.
    pool  leave-one-subject-out micro-expression sets (MEGC): per seed, the per-fold confusion matrices are
          summed and the metric is computed once on the pooled matrix; then the mean over seeds.

``aggregate_folds(mode, name, results, folds=..., seeds=...)`` applies the rule a dataset states
(``DatasetSpec.fold_aggregate``); the leaderboard calls it. ``complete`` says whether every expected
(fold, seed) contributed; tables must not print a number for an incomplete row.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np

from .classification import from_confusion, sum_confusions
from .registry import get

AGGREGATION_MODES = ("mean", "pool")


@dataclass(frozen=True)
class Aggregate:
    """One metric over folds x seeds. ``mean``: the dataset's number. ``std_fold``: sample std over per-fold
    values (mean mode; 0 when pooled); ``std_seed``: sample std over per-seed dataset numbers (0 with one seed);
    ``std``: std_seed when there are several seeds, else std_fold. Numbers are computed from what is present
    even when ``complete`` is False; consumers decide whether to show them."""
    metric: str
    mean: float
    std: float
    std_fold: float
    std_seed: float
    n_folds: int
    n_seeds: int
    complete: bool
    missing: tuple = ()
    per_fold: dict = field(default_factory=dict)
    mode: str = "mean"

    def to_dict(self) -> dict:
        return {"metric": self.metric, "mean": self.mean, "std": self.std, "std_fold": self.std_fold,
                "std_seed": self.std_seed, "n_folds": self.n_folds, "n_seeds": self.n_seeds,
                "complete": self.complete, "missing": [list(m) for m in self.missing], "per_fold": self.per_fold,
                "mode": self.mode}


def _std(values: Sequence[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _expected(grid_keys, folds, seeds):
    exp_folds = list(folds) if folds is not None else sorted({f for f, _ in grid_keys}, key=str)
    exp_seeds = list(seeds) if seeds is not None else sorted({s for _, s in grid_keys}, key=str)
    missing = tuple((f, s) for f in exp_folds for s in exp_seeds if (f, s) not in grid_keys)
    return missing


def aggregate(values: Mapping[tuple, float] | Iterable[tuple], metric: str = "", *,
              folds: Sequence | None = None, seeds: Sequence | None = None) -> Aggregate:
    """Mean of per-fold values. ``values``: ``{(fold, seed): value}`` or an iterable of ``(fold, seed, value)``.
    ``folds``/``seeds`` are what a complete row needs; by default the folds and seeds seen, so a ragged grid is
    still incomplete. None/NaN values count as missing."""
    items = values.items() if isinstance(values, Mapping) else (((f, s), v) for f, s, v in values)
    grid: dict = {}
    for (f, s), v in items:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        grid[(f, s)] = float(v)
    missing = _expected(set(grid), folds, seeds)
    by_fold: dict = defaultdict(list)
    by_seed: dict = defaultdict(list)
    for (f, s), v in grid.items():
        by_fold[f].append(v)
        by_seed[s].append(v)
    per_fold = {f: float(np.mean(v)) for f, v in sorted(by_fold.items(), key=lambda kv: str(kv[0]))}
    if not per_fold:
        return Aggregate(metric, math.nan, math.nan, math.nan, math.nan, 0, 0, False, missing, {})
    mean = float(np.mean(list(per_fold.values())))
    std_fold = _std(list(per_fold.values()))
    std_seed = _std([float(np.mean(v)) for v in by_seed.values()])
    std = std_seed if len(by_seed) > 1 else std_fold
    return Aggregate(metric, mean, std, std_fold, std_seed, len(per_fold), len(by_seed), not missing, missing,
                     per_fold)


def pooled(metric_names: Iterable[str], confusions: Iterable) -> dict[str, float]:
    """Score the sum of per-fold confusion matrices once (the MEGC LOSO "pooled" protocol)."""
    return from_confusion(metric_names, sum_confusions(confusions))


def aggregate_pooled(confusions: Mapping[tuple, object], metric: str, *, folds: Sequence | None = None,
                     seeds: Sequence | None = None) -> Aggregate:
    """``{(fold, seed): confusion matrix}`` -> per seed, the metric on the sum of that seed's matrices; the
    mean (and sample std) over seeds. Missing or None matrices count as missing (fold, seed) pairs."""
    grid = {k: c for k, c in confusions.items() if c is not None and len(c)}
    missing = _expected(set(grid), folds, seeds)
    by_seed: dict = defaultdict(list)
    for (f, s), c in grid.items():
        by_seed[s].append(c)
    if not by_seed:
        return Aggregate(metric, math.nan, math.nan, math.nan, math.nan, 0, 0, False, missing, {}, "pool")
    per_seed = [pooled([metric], mats)[metric] for _, mats in sorted(by_seed.items(), key=lambda kv: str(kv[0]))]
    std_seed = _std(per_seed)
    n_folds = len({f for f, _ in grid})
    return Aggregate(metric, float(np.mean(per_seed)), std_seed, 0.0, std_seed, n_folds, len(by_seed),
                     not missing, missing, {}, "pool")


def aggregate_folds(mode: str, metric: str, results: Mapping[tuple, Mapping], *, folds: Sequence | None = None,
                    seeds: Sequence | None = None) -> Aggregate | None:
    """The dataset's number for ``metric`` from per-run results ``{(fold, seed): {"scores": {...},
    "confusion": [[...]] | None}}`` under the dataset's aggregation ``mode`` ("mean" | "pool"). None when no
    run carries the metric (mean) or a confusion matrix (pool). Pooling needs a metric computable from a
    confusion matrix; asking to pool another one (e.g. ccc) raises."""
    if mode not in AGGREGATION_MODES:
        raise ValueError(f"fold aggregation must be one of {AGGREGATION_MODES}, not {mode!r}")
    if mode == "pool":
        if not get(metric).from_confusion:
            raise ValueError(f"metric {metric!r} cannot be pooled over folds (only confusion-matrix metrics); "
                             "use fold_aggregate='mean' for this dataset")
        mats = {k: r.get("confusion") for k, r in results.items()}
        if all(not m for m in mats.values()):
            return None
        return aggregate_pooled(mats, metric, folds=folds, seeds=seeds)
    values = {k: (r.get("scores") or {}).get(metric) for k, r in results.items()}
    if all(v is None for v in values.values()):
        return None
    return aggregate(values, metric, folds=folds, seeds=seeds)


def check_aggregation(mode: str, metric_names: Iterable[str], where: str = "") -> None:
    """A dataset's (fold_aggregate, metrics) pair must be scoreable: pooling only confusion-matrix metrics."""
    prefix = f"{where}: " if where else ""
    if mode not in AGGREGATION_MODES:
        raise ValueError(f"{prefix}fold aggregation must be one of {AGGREGATION_MODES}, not {mode!r}")
    if mode == "pool":
        bad = [n for n in metric_names if not get(n).from_confusion]
        if bad:
            raise ValueError(f"{prefix}metrics {bad} cannot be pooled over folds; pool only confusion-matrix metrics")


__all__ = ["AGGREGATION_MODES", "Aggregate", "aggregate", "pooled", "aggregate_pooled", "aggregate_folds",
           "check_aggregation"]
