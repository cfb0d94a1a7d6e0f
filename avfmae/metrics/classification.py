"""Classification metrics in percent (x100), scikit-learn underneath. Labels are integer class indices; scores
(n, C) are argmaxed.

    uar      unweighted average recall = mean per-class recall over the classes PRESENT IN y_true
             (= sklearn ``balanced_accuracy_score``). A class only predicted, never true, has no recall and is
             ignored, so a fold that lacks a class is not punished for it; this equals
             ``recall_score(average="macro")`` whenever every class occurs in y_true (the usual case).
    war      weighted average recall = accuracy.
    wf1      support-weighted F1 (the paper's "WA-F1": MER-MULTI / MER24 / AVCAffe).
    mf1      macro F1 over the classes in y_true or y_pred (sklearn ``f1_score(average="macro")``).
    uf1      micro-expression "unweighted F1" (MEGC): macro F1 over classes, the same number as ``mf1``.
             Under LOSO it is meant over the pooled predictions of all folds: see ``avfmae.metrics.folds``.
    microf1  micro F1 (equals accuracy for single-label data; the official code logs it).
"""
from __future__ import annotations

from typing import Iterable

import numpy as np


def _sk():
    """sklearn.metrics, imported on first use: loading the dataset registry (which checks metric names) must
    not pay ~4 s for scikit-learn."""
    from sklearn import metrics
    return metrics


def labels_of(y_true, y_pred_or_scores) -> tuple[np.ndarray, np.ndarray]:
    """(y_true, y_pred) as 1-D arrays; (n, C) scores become their argmax."""
    y_true = np.asarray(y_true)
    y = np.asarray(y_pred_or_scores)
    if y.ndim == 2:
        y = y.argmax(axis=1)
    if y_true.ndim != 1 or y.ndim != 1 or len(y_true) != len(y):
        raise ValueError(f"classification metrics need 1-D labels of equal length, got {y_true.shape} and {y.shape}")
    if len(y_true) == 0:
        raise ValueError("no samples")
    return y_true, y


def uar(y_true, y_pred) -> float:
    t, p = labels_of(y_true, y_pred)
    return 100.0 * float(_sk().recall_score(t, p, labels=np.unique(t), average="macro", zero_division=0))


def war(y_true, y_pred) -> float:
    t, p = labels_of(y_true, y_pred)
    return 100.0 * float(_sk().accuracy_score(t, p))


def wf1(y_true, y_pred) -> float:
    t, p = labels_of(y_true, y_pred)
    return 100.0 * float(_sk().f1_score(t, p, average="weighted", zero_division=0))


def mf1(y_true, y_pred) -> float:
    t, p = labels_of(y_true, y_pred)
    return 100.0 * float(_sk().f1_score(t, p, average="macro", zero_division=0))


uf1 = mf1


def microf1(y_true, y_pred) -> float:
    t, p = labels_of(y_true, y_pred)
    return 100.0 * float(_sk().f1_score(t, p, average="micro", zero_division=0))


def confusion(y_true, y_pred, num_classes: int | None = None) -> list[list[int]]:
    """Confusion matrix as nested lists (rows: true class, columns: predicted), C x C for 0..C-1."""
    t, p = labels_of(y_true, y_pred)
    if num_classes is None:
        num_classes = int(max(t.max(), p.max())) + 1
    return _sk().confusion_matrix(t, p, labels=np.arange(num_classes)).astype(int).tolist()


def _from_confusion_values(cm: np.ndarray) -> dict[str, float]:
    tp = np.diag(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    present = support > 0                      # classes in y_true
    seen = present | (predicted > 0)           # classes in y_true or y_pred (sklearn's default label set)
    denom = support + predicted                # 2TP + FP + FN
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=present)
    return {"uar": recall[present].mean(), "war": tp.sum() / cm.sum(), "wf1": (f1 * support).sum() / support.sum(),
            "mf1": f1[seen].mean(), "uf1": f1[seen].mean(), "microf1": tp.sum() / cm.sum()}


CONFUSION_METRICS = ("uar", "war", "wf1", "mf1", "uf1", "microf1")


def from_confusion(metric_names: Iterable[str], cm) -> dict[str, float]:
    """Classification metrics from a confusion matrix (rows true, columns predicted); the same numbers as the
    label-based functions. Used to pool LOSO folds (the sum of per-fold matrices scored once)."""
    from .registry import canonical

    cm = np.asarray(cm, dtype=float)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.sum() <= 0:
        raise ValueError(f"need a non-empty square confusion matrix, got shape {cm.shape}")
    values = _from_confusion_values(cm)
    out = {}
    for name in metric_names:
        key = canonical(name)
        if key not in values:
            raise ValueError(f"{name!r} cannot be computed from a confusion matrix (only {', '.join(values)})")
        out[name] = 100.0 * float(values[key])
    return out


def sum_confusions(confusions: Iterable) -> np.ndarray:
    """The element-wise sum of confusion matrices (smaller ones padded with zeros at the end)."""
    mats = [np.asarray(c, dtype=float) for c in confusions]
    if not mats:
        raise ValueError("no confusion matrices to pool")
    size = max(m.shape[0] for m in mats)
    total = np.zeros((size, size))
    for m in mats:
        total[: m.shape[0], : m.shape[1]] += m
    return total


__all__ = ["labels_of", "uar", "war", "wf1", "mf1", "uf1", "microf1", "confusion", "from_confusion",
           "sum_confusions", "CONFUSION_METRICS"]
