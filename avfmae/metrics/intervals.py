"""Bootstrap intervals of a dataset's number (its fold rule applied per replicate) and paired differences.

A dataset's number comes from several runs ``{(fold, seed): Run}`` under a fold rule (``folds.py``):

    mean  resample each fold's test set on its own (a stratified bootstrap), score every (fold, seed) run on the
          resampled clips, average a fold's seeds, then the folds: one replicate of the dataset's number.
    pool  concatenate each seed's folds first (the pooled predictions), resample the pooled set, score per seed,
          average the seeds.

What is resampled are clusters (``Run.clusters``: a subject, a video or the clip itself per clip): whole clusters
are drawn with replacement and all their clips come along; runs that share a stratum (the seeds of one fold, or
the two sides of a comparison) see the same draw, so differences are paired. A cluster drawn twice counts twice:
per-video groups (``Run.groups``) are tagged with the draw, so its videos are not merged into one.

    point, reps = bootstrap_rule("uar", runs, "mean", n_boot=300, seed=0)
    diff, reps = paired_bootstrap("uar", runs_a, runs_b, "pool")
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .classification import from_confusion, labels_of
from .registry import compute, get


@dataclass(frozen=True)
class Run:
    """One run's test predictions: targets, scores (class scores or regression outputs), a cluster id per clip
    and, where the dataset scores per video, a group id per clip. ``kwargs`` go to ``compute`` (targets=...)."""
    clips: tuple
    targets: np.ndarray
    scores: np.ndarray
    clusters: tuple
    groups: tuple | None = None


def _concat(runs: Sequence[Run]) -> Run:
    return Run(tuple(c for r in runs for c in r.clips), np.concatenate([r.targets for r in runs]),
               np.concatenate([r.scores for r in runs]), tuple(c for r in runs for c in r.clusters),
               None if runs[0].groups is None else tuple(g for r in runs for g in r.groups))


def strata(runs: Mapping[tuple, Run], mode: str) -> dict:
    """``{stratum: {seed: Run}}``: one stratum per fold (mean), or one pooled stratum (pool: each seed's folds
    concatenated in fold order)."""
    if mode not in ("mean", "pool"):
        raise ValueError(f"fold rule must be 'mean' or 'pool', not {mode!r}")
    out: dict = defaultdict(dict)
    if mode == "mean":
        for (f, s), r in runs.items():
            out[str(f)][s] = r
        return dict(out)
    by_seed: dict = defaultdict(list)
    for (f, s), r in sorted(runs.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))):
        by_seed[s].append(r)
    return {"pooled": {s: _concat(rs) for s, rs in by_seed.items()}}


class _Scorer:
    """One metric of one run on a draw of its stratum's clusters (``draw``: how often each unit was drawn).
    Confusion-matrix metrics without groups: the draw's counts times the per-cluster confusion counts; others:
    the clips of each drawn cluster repeated as often as it was drawn."""

    def __init__(self, metric: str, run: Run, units: Sequence, kwargs: dict):
        self.metric, self.run, self.kwargs = metric, run, kwargs
        pos = {c: j for j, c in enumerate(units)}
        cid = np.array([pos[c] for c in run.clusters], dtype=int)
        self.order = np.argsort(cid, kind="stable")
        self.cid_sorted = cid[self.order]
        self.fast = get(metric).from_confusion and run.groups is None
        if self.fast:
            t, p = labels_of(run.targets, run.scores)
            self.k = int(max(t.max() + 1, p.max() + 1, kwargs.get("num_classes") or 0))
            self.table = np.zeros((len(units), self.k * self.k))
            np.add.at(self.table, (cid, t * self.k + p), 1)

    def __call__(self, counts: np.ndarray | None) -> float:
        r = self.run
        if self.fast:
            cm = (self.table.sum(0) if counts is None else counts @ self.table).reshape(self.k, self.k)
            return from_confusion([self.metric], cm)[self.metric]
        if counts is None:
            idx, copy = np.arange(len(r.targets)), None
        else:
            rep = counts[self.cid_sorted]
            idx = np.repeat(self.order, rep)
            starts = np.cumsum(rep) - rep
            copy = np.arange(len(idx)) - np.repeat(starts, rep)    # which draw of its cluster a clip copy is
        groups = None
        if r.groups is not None:
            groups = [r.groups[i] if copy is None else f"{copy[n]}|{r.groups[i]}" for n, i in enumerate(idx)]
        return compute([self.metric], r.targets[idx], r.scores[idx], groups=groups, **self.kwargs)[self.metric]


def _value(scorers: dict, draws: dict | None) -> float:
    """The fold rule on one draw: per stratum the mean over seeds, then the mean over strata."""
    return float(np.mean([np.mean([sc(None if draws is None else draws[st]) for sc in seeds.values()])
                          for st, seeds in scorers.items()]))


def _units(*strata_maps: dict) -> dict:
    """Per stratum, the sorted cluster ids to draw from; every side and seed must hold the same ones."""
    out = {}
    for st in strata_maps[0]:
        runs = [r for m in strata_maps for r in m.get(st, {}).values()]
        sets = [frozenset(r.clusters) for r in runs]
        clips = [frozenset(r.clips) for r in runs]
        if any(s != sets[0] for s in sets) or any(c != clips[0] for c in clips) or \
                any(st not in m for m in strata_maps):
            raise ValueError(f"{st}: the runs do not hold the same test clips; a paired bootstrap needs the same "
                             "clips on every side and seed (same dataset revision, fold and clip limit)")
        out[st] = sorted(sets[0], key=str)
    if any(set(m) != set(out) for m in strata_maps):
        raise ValueError(f"the runs cover different folds: {[sorted(m) for m in strata_maps]}")
    return out


def _draws(units: dict, n_boot: int, seed: int):
    """Per replicate and stratum, how often each unit (cluster) is drawn (n draws with replacement of n)."""
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        yield {st: np.bincount(rng.integers(0, len(u), len(u)), minlength=len(u))
               for st, u in units.items()}


def bootstrap_rule(metric: str, runs: Mapping[tuple, Run], mode: str, *, n_boot: int = 300, seed: int = 0,
                   **kwargs) -> tuple[float, np.ndarray]:
    """(the dataset's number from the runs, ``n_boot`` bootstrap replicates of it). Seeded."""
    if not runs:
        raise ValueError("bootstrap_rule needs at least one run")
    st = strata(runs, mode)
    units = _units(st)
    scorers = {k: {s: _Scorer(metric, r, units[k], kwargs) for s, r in seeds.items()} for k, seeds in st.items()}
    reps = np.array([_value(scorers, d) for d in _draws(units, n_boot, seed)])
    return _value(scorers, None), reps


def paired_bootstrap(metric: str, runs_a: Mapping[tuple, Run], runs_b: Mapping[tuple, Run], mode: str, *,
                     n_boot: int = 1000, seed: int = 0, **kwargs) -> tuple[float, np.ndarray]:
    """(A's number - B's number, ``n_boot`` paired replicates of the difference: both sides scored on the same
    resampled clusters). Raises when A and B do not hold the same clips per fold."""
    sa, sb = strata(runs_a, mode), strata(runs_b, mode)
    units = _units(sa, sb)
    sc_a = {k: {s: _Scorer(metric, r, units[k], kwargs) for s, r in v.items()} for k, v in sa.items()}
    sc_b = {k: {s: _Scorer(metric, r, units[k], kwargs) for s, r in v.items()} for k, v in sb.items()}
    reps = np.array([_value(sc_a, d) - _value(sc_b, d) for d in _draws(units, n_boot, seed)])
    return _value(sc_a, None) - _value(sc_b, None), reps


def percentile_interval(reps: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(reps, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_p(reps: np.ndarray) -> float:
    """Two-sided paired-bootstrap p-value of a difference: twice the smaller share of replicates on either side
    of zero (capped at 1). 0 means no replicate crossed zero (report it as < 1/n_boot)."""
    reps = np.asarray(reps)
    return float(min(1.0, 2 * min(np.mean(reps <= 0), np.mean(reps >= 0))))


__all__ = ["Run", "strata", "bootstrap_rule", "paired_bootstrap", "percentile_interval", "bootstrap_p"]
