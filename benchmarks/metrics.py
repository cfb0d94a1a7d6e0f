"""Metrics as the AVF-MAE++ paper reports them: percent (x100), scikit-learn underneath, plus fold/seed aggregation.

Classification (labels are integer class indices):

    uar       unweighted average recall = mean per-class recall over the classes PRESENT IN y_true
              (= sklearn ``balanced_accuracy_score``). A class that is only predicted, never true, has no recall
              and is ignored, so a fold that lacks a class is not punished for it; this is also what
              ``recall_score(average="macro")`` gives whenever every class occurs in y_true (the usual case).
    war       weighted average recall = accuracy.
    wf1       support-weighted F1 (the paper's "WA-F1", MER-MULTI / MER24 / AVCAffe).
    mf1       macro F1 over the classes in y_true or y_pred (sklearn ``f1_score(average="macro")``).
    uf1       micro-expression "unweighted F1" (MEGC): macro F1 over classes, i.e. the same number as ``mf1``.
              Under LOSO it is meant over the pooled predictions of all folds: see ``pooled``.
    microf1   micro F1 (equals accuracy for single-label data; the official code logs it).

Regression (y_true and predictions shaped (n,) or (n, D), one column per target such as arousal/valence/dominance):

    ccc       Lin's concordance correlation coefficient, population moments, per target dimension.
    pcc       Pearson correlation, per target dimension.

For D > 1, ``compute`` returns ``ccc_<target>`` per dimension and ``ccc`` = their mean (same for pcc).

Dataset level (``aggregate``): the paper's number is the arithmetic mean of per-fold metrics (the official code
never pools predictions), with seeds averaged within a fold first. ``complete`` says whether every expected
(fold, seed) contributed; leaderboards must not print a mean for an incomplete row. LOSO micro-expression sets
pool instead (``pooled``: sum the per-fold confusion matrices, score once).
"""
from __future__ import annotations

import math
import re
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

CLASSIFICATION = ("uar", "war", "wf1", "mf1", "uf1", "microf1")
REGRESSION = ("ccc", "pcc")
ALIASES = {
    "acc": "war", "accuracy": "war", "wa": "war", "ua": "uar",
    "weighted_f1": "wf1", "wa-f1": "wf1", "waf1": "wf1",
    "macro_f1": "mf1", "f1_macro": "mf1", "micro_f1": "microf1",
}
METRICS = CLASSIFICATION + REGRESSION


def canonical(name: str) -> str:
    """Canonical metric name; raises with the list of known names."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in METRICS:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(METRICS)} (aliases: {', '.join(ALIASES)})")
    return key


# ----------------------------------------------------------------------------------------------- classification
def _labels(y_true, y_pred_or_scores) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true)
    y = np.asarray(y_pred_or_scores)
    if y.ndim == 2:  # class scores/probabilities -> predicted class
        y = y.argmax(axis=1)
    if y_true.ndim != 1 or y.ndim != 1 or len(y_true) != len(y):
        raise ValueError(f"classification metrics need 1-D labels of equal length, got {y_true.shape} and {y.shape}")
    if len(y_true) == 0:
        raise ValueError("no samples")
    return y_true, y


def uar(y_true, y_pred) -> float:
    t, p = _labels(y_true, y_pred)
    return 100.0 * float(recall_score(t, p, labels=np.unique(t), average="macro", zero_division=0))


def war(y_true, y_pred) -> float:
    t, p = _labels(y_true, y_pred)
    return 100.0 * float(accuracy_score(t, p))


def wf1(y_true, y_pred) -> float:
    t, p = _labels(y_true, y_pred)
    return 100.0 * float(f1_score(t, p, average="weighted", zero_division=0))


def mf1(y_true, y_pred) -> float:
    t, p = _labels(y_true, y_pred)
    return 100.0 * float(f1_score(t, p, average="macro", zero_division=0))


uf1 = mf1


def microf1(y_true, y_pred) -> float:
    t, p = _labels(y_true, y_pred)
    return 100.0 * float(f1_score(t, p, average="micro", zero_division=0))


def confusion(y_true, y_pred, num_classes: int | None = None) -> list[list[int]]:
    """Confusion matrix as nested lists (rows: true class, columns: predicted), C x C for 0..C-1."""
    t, p = _labels(y_true, y_pred)
    if num_classes is None:
        num_classes = int(max(t.max(), p.max())) + 1
    return confusion_matrix(t, p, labels=np.arange(num_classes)).astype(int).tolist()


def from_confusion(metric_names: Iterable[str], cm) -> dict[str, float]:
    """Classification metrics from a confusion matrix (rows true, columns predicted); same numbers as the
    label-based functions. Used to pool LOSO folds: ``from_confusion(names, sum of per-fold matrices)``."""
    cm = np.asarray(cm, dtype=float)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.sum() <= 0:
        raise ValueError(f"need a non-empty square confusion matrix, got shape {cm.shape}")
    tp = np.diag(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    present = support > 0                      # classes in y_true
    seen = present | (predicted > 0)           # classes in y_true or y_pred (sklearn's default label set)
    denom = support + predicted                # 2TP + FP + FN
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=present)
    values = {
        "uar": recall[present].mean(),
        "war": tp.sum() / cm.sum(),
        "wf1": (f1 * support).sum() / support.sum(),
        "mf1": f1[seen].mean(),
        "uf1": f1[seen].mean(),
        "microf1": tp.sum() / cm.sum(),
    }
    out = {}
    for name in metric_names:
        key = canonical(name)
        if key not in values:
            raise ValueError(f"{name!r} cannot be computed from a confusion matrix")
        out[name] = 100.0 * float(values[key])
    return out


# ----------------------------------------------------------------------------------------------- regression
def _columns(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    t = t[:, None] if t.ndim == 1 else t
    p = p[:, None] if p.ndim == 1 else p
    if t.shape != p.shape or t.ndim != 2 or len(t) < 2:
        raise ValueError(f"regression metrics need equal shapes (n,) or (n, D) with n >= 2, got {t.shape}, {p.shape}")
    return t, p


def ccc(y_true, y_pred) -> np.ndarray:
    """Per-dimension CCC x100: 2 cov / (var_t + var_p + (mean_t - mean_p)^2), population (ddof=0) moments."""
    t, p = _columns(y_true, y_pred)
    mt, mp = t.mean(0), p.mean(0)
    cov = ((t - mt) * (p - mp)).mean(0)
    denom = t.var(0) + p.var(0) + (mt - mp) ** 2
    return 100.0 * np.divide(2 * cov, denom, out=np.zeros_like(cov), where=denom > 0)


def pcc(y_true, y_pred) -> np.ndarray:
    """Per-dimension Pearson r x100; 0 where either side is constant."""
    t, p = _columns(y_true, y_pred)
    tc, pc = t - t.mean(0), p - p.mean(0)
    denom = np.sqrt((tc**2).sum(0) * (pc**2).sum(0))
    return 100.0 * np.divide((tc * pc).sum(0), denom, out=np.zeros(t.shape[1]), where=denom > 0)


# ----------------------------------------------------------------------------------------------- grouping
def group_ids(ids: Sequence[str], pattern: str = "") -> list[str]:
    """Group key per clip id: the first match of ``pattern`` (e.g. AVCAffe's ``^aiim\\d+_task_\\d+``), else the id.
    An id the pattern does not match is its own group."""
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
    """Average class scores over clips that share a group key (first-appearance order). Every clip of a group
    must carry the same label, else the grouping is wrong and this raises."""
    y_true = np.asarray(y_true)
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2 or len(scores) != len(y_true) or len(groups) != len(y_true):
        raise ValueError("average_by_group needs (n,) labels, (n, C) scores and n group keys")
    order: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        order.setdefault(str(g), []).append(i)
    keys = list(order)
    labels, merged = [], []
    for g in keys:
        idx = order[g]
        lab = np.unique(y_true[idx])
        if len(lab) != 1:
            raise ValueError(f"group {g!r} mixes labels {lab.tolist()}; check the grouping pattern")
        labels.append(lab[0])
        merged.append(scores[idx].mean(0))
    return np.asarray(labels), np.stack(merged), keys


# ----------------------------------------------------------------------------------------------- compute
def compute(metric_names: Iterable[str], y_true, y_pred_or_scores, *, groups: Sequence[str] | None = None,
            targets: Sequence[str] | None = None, num_classes: int | None = None,
            with_confusion: bool = False) -> dict:
    """Compute the named metrics (percent). Classification accepts labels (n,) or scores (n, C) (argmax);
    ``groups`` averages scores per group first (AVCAffe). Regression returns per-target entries
    ``<metric>_<target>`` and their mean under ``<metric>``. ``with_confusion`` adds ``"confusion"``."""
    names = list(metric_names)
    keys = [canonical(n) for n in names]
    cls = [n for n, k in zip(names, keys) if k in CLASSIFICATION]
    reg = [n for n, k in zip(names, keys) if k in REGRESSION]
    if cls and reg:
        raise ValueError(f"mixing classification {cls} and regression {reg} metrics in one call")
    out: dict = {}
    if reg:
        t, p = _columns(y_true, y_pred_or_scores)
        tnames = list(targets) if targets is not None else [str(i) for i in range(t.shape[1])]
        if len(tnames) != t.shape[1]:
            raise ValueError(f"{len(tnames)} target names for {t.shape[1]} columns")
        for name, key in zip(names, keys):
            per = ccc(t, p) if key == "ccc" else pcc(t, p)
            if t.shape[1] > 1:
                for tn, v in zip(tnames, per):
                    out[f"{name}_{tn}"] = float(v)
            out[name] = float(per.mean())
        return out
    y = y_pred_or_scores
    if groups is not None:
        if np.asarray(y).ndim != 2:
            raise ValueError("grouping needs class scores (n, C), not hard labels")
        y_true, y, _ = average_by_group(y_true, y, groups)
    if num_classes is None and np.asarray(y).ndim == 2:
        num_classes = np.asarray(y).shape[1]
    t, p = _labels(y_true, y)
    fns = {"uar": uar, "war": war, "wf1": wf1, "mf1": mf1, "uf1": uf1, "microf1": microf1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about classes only in y_pred; documented above
        for name, key in zip(names, keys):
            out[name] = fns[key](t, p)
    if with_confusion:
        out["confusion"] = confusion(t, p, num_classes)
    return out


# ----------------------------------------------------------------------------------------------- aggregation
@dataclass(frozen=True)
class Aggregate:
    """One metric over folds x seeds. ``mean`` is the mean of per-fold values (each fold's value is first
    averaged over its seeds), as the paper reports. ``std_fold``: sample std over those per-fold values;
    ``std_seed``: sample std over per-seed dataset means (the run-to-run spread; 0 with one seed);
    ``std``: std_seed when there are several seeds, else std_fold. Means are computed from what is present even
    when ``complete`` is False; consumers decide whether to show them."""
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

    def to_dict(self) -> dict:
        return {"metric": self.metric, "mean": self.mean, "std": self.std, "std_fold": self.std_fold,
                "std_seed": self.std_seed, "n_folds": self.n_folds, "n_seeds": self.n_seeds,
                "complete": self.complete, "missing": [list(m) for m in self.missing], "per_fold": self.per_fold}


def _std(values: Sequence[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def aggregate(values: Mapping[tuple, float] | Iterable[tuple], metric: str = "", *,
              folds: Sequence | None = None, seeds: Sequence | None = None) -> Aggregate:
    """Aggregate ``{(fold, seed): value}`` (or an iterable of ``(fold, seed, value)``). ``folds``/``seeds``
    are what a complete row needs; by default the folds and seeds seen, so a ragged grid is still incomplete.
    NaN values count as missing."""
    items = values.items() if isinstance(values, Mapping) else (((f, s), v) for f, s, v in values)
    grid: dict = {}
    for (f, s), v in items:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        grid[(f, s)] = float(v)
    exp_folds = list(folds) if folds is not None else sorted({f for f, _ in grid}, key=str)
    exp_seeds = list(seeds) if seeds is not None else sorted({s for _, s in grid}, key=str)
    missing = tuple((f, s) for f in exp_folds for s in exp_seeds if (f, s) not in grid)
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
    seed_means = [float(np.mean(v)) for v in by_seed.values()]
    std_seed = _std(seed_means)
    std = std_seed if len(by_seed) > 1 else std_fold
    return Aggregate(metric, mean, std, std_fold, std_seed, len(per_fold), len(by_seed), not missing,
                     missing, per_fold)


def pooled(metric_names: Iterable[str], confusions: Iterable) -> dict[str, float]:
    """Score the sum of per-fold confusion matrices once (MEGC LOSO "pooled" protocol)."""
    mats = [np.asarray(c, dtype=float) for c in confusions]
    if not mats:
        raise ValueError("no confusion matrices to pool")
    size = max(m.shape[0] for m in mats)
    total = np.zeros((size, size))
    for m in mats:
        total[: m.shape[0], : m.shape[1]] += m
    return from_confusion(metric_names, total)
