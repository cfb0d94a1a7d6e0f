"""The metric registry: every metric name the suite and the trainer know, its kind and its direction, and
``compute`` (the one entry point that turns targets + outputs into named numbers).

    METRICS["uar"]  -> Metric(name="uar", kind="classification", higher_is_better=True, ...)
    check_metric_names(spec.metrics)      # raises naming the unknown names and the known ones
    compute(["uar", "war"], targets, probs, groups=...)      # {"uar": 61.2, "war": 66.0}
    improves("mse", 0.2, best=0.3)        # True: lower is better for mse; ties never improve
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

from . import classification as C
from . import regression as R
from .grouping import average_by_group


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str                   # "classification" | "regression"
    fn: Callable
    higher_is_better: bool
    percent: bool               # reported x100
    from_confusion: bool        # computable from a (pooled) confusion matrix
    description: str


def _m(name, kind, fn, higher, percent, conf, desc):
    return Metric(name, kind, fn, higher, percent, conf, desc)


METRICS: dict[str, Metric] = {m.name: m for m in (
    _m("uar", "classification", C.uar, True, True, True, "mean per-class recall over the classes in y_true"),
    _m("war", "classification", C.war, True, True, True, "accuracy"),
    _m("wf1", "classification", C.wf1, True, True, True, "support-weighted F1"),
    _m("mf1", "classification", C.mf1, True, True, True, "macro F1"),
    _m("uf1", "classification", C.uf1, True, True, True, "unweighted F1 of micro-expression sets (= macro F1)"),
    _m("microf1", "classification", C.microf1, True, True, True, "micro F1 (= accuracy, single label)"),
    _m("ccc", "regression", R.ccc, True, True, False, "Lin's concordance correlation, mean over targets"),
    _m("pcc", "regression", R.pcc, True, True, False, "Pearson correlation, mean over targets"),
    _m("mae", "regression", R.mae, False, False, False, "mean absolute error, mean over targets"),
    _m("mse", "regression", R.mse, False, False, False, "mean squared error, mean over targets"),
    _m("rmse", "regression", R.rmse, False, False, False, "root mean squared error, mean over targets"),
)}
ALIASES = {
    "acc": "war", "accuracy": "war", "wa": "war", "ua": "uar",
    "weighted_f1": "wf1", "wa-f1": "wf1", "waf1": "wf1",
    "macro_f1": "mf1", "f1_macro": "mf1", "micro_f1": "microf1",
}
CLASSIFICATION = tuple(n for n, m in METRICS.items() if m.kind == "classification")
REGRESSION = tuple(n for n, m in METRICS.items() if m.kind == "regression")


def canonical(name: str) -> str:
    """Canonical metric name; raises with the list of known names."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in METRICS:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(METRICS)} (aliases: {', '.join(ALIASES)})")
    return key


def get(name: str) -> Metric:
    return METRICS[canonical(name)]


def check_metric_names(names: Iterable[str], where: str = "") -> tuple[str, ...]:
    """Every name must be a known metric (or alias) and all of one kind; returns them unchanged. Raises
    ValueError naming ``where`` (e.g. the dataset), the unknown names and the known ones."""
    names = tuple(names)
    prefix = f"{where}: " if where else ""
    unknown = []
    for n in names:
        try:
            canonical(n)
        except ValueError:
            unknown.append(n)
    if unknown:
        raise ValueError(f"{prefix}unknown metric(s) {', '.join(map(repr, unknown))}; known: {', '.join(METRICS)} "
                         f"(aliases: {', '.join(ALIASES)})")
    kinds = {get(n).kind for n in names}
    if len(kinds) > 1:
        raise ValueError(f"{prefix}metrics {names} mix classification and regression")
    return names


def higher_is_better(name: str) -> bool:
    return get(name).higher_is_better


def improves(name: str, value: float, best: float | None) -> bool:
    """Whether ``value`` of metric ``name`` is strictly better than ``best`` (None: nothing yet, so True).
    Ties do not improve, so model selection keeps the earlier of two equal epochs. NaN never improves."""
    if value is None or value != value:
        return False
    if best is None or best != best:
        return True
    return value > best if higher_is_better(name) else value < best


def best_index(name: str, values: Sequence[float | None]) -> int | None:
    """Index of the selected value in a sequence under the strictly-better rule (the first of equal bests);
    None values (epochs not validated) are skipped; None when there is none."""
    best, at = None, None
    for i, v in enumerate(values):
        if v is not None and improves(name, v, best):
            best, at = v, i
    return at


def compute(metric_names: Iterable[str], y_true, y_pred_or_scores, *, groups: Sequence[str] | None = None,
            targets: Sequence[str] | None = None, num_classes: int | None = None,
            with_confusion: bool = False) -> dict:
    """Compute the named metrics. Classification accepts labels (n,) or scores (n, C) (argmax); ``groups``
    averages scores per group first (AVCAffe). Regression returns per-target entries ``<metric>_<target>``
    (when D > 1) and their mean under ``<metric>``. ``with_confusion`` adds ``"confusion"`` (classification)."""
    names = list(metric_names)
    keys = [canonical(n) for n in names]
    cls = [n for n, k in zip(names, keys) if k in CLASSIFICATION]
    reg = [n for n, k in zip(names, keys) if k in REGRESSION]
    if cls and reg:
        raise ValueError(f"mixing classification {cls} and regression {reg} metrics in one call")
    y = y_pred_or_scores
    if groups is not None:
        if np.asarray(y).ndim != 2 and not reg:
            raise ValueError("grouping needs class scores (n, C), not hard labels")
        if reg:
            t2, p2 = R.columns_of(y_true, y)
            y_true, y, _ = average_by_group(t2, p2, groups)
        else:
            y_true, y, _ = average_by_group(y_true, y, groups)
    out: dict = {}
    if reg:
        t, p = R.columns_of(y_true, y)
        tnames = list(targets) if targets is not None else [str(i) for i in range(t.shape[1])]
        if len(tnames) != t.shape[1]:
            raise ValueError(f"{len(tnames)} target names for {t.shape[1]} columns")
        for name, key in zip(names, keys):
            per = METRICS[key].fn(t, p)
            if t.shape[1] > 1:
                for tn, v in zip(tnames, per):
                    out[f"{name}_{tn}"] = float(v)
            out[name] = float(per.mean())
        return out
    if num_classes is None and np.asarray(y).ndim == 2:
        num_classes = np.asarray(y).shape[1]
    t, p = C.labels_of(y_true, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about classes only in y_pred; documented in classification
        for name, key in zip(names, keys):
            out[name] = METRICS[key].fn(t, p)
    if with_confusion:
        out["confusion"] = C.confusion(t, p, num_classes)
    return out


__all__ = ["Metric", "METRICS", "ALIASES", "CLASSIFICATION", "REGRESSION", "canonical", "get", "check_metric_names",
           "higher_is_better", "improves", "best_index", "compute"]
