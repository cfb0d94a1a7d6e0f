"""Regression metrics per target dimension. y_true and predictions are shaped (n,) or (n, D), one column per
target (arousal / valence / dominance). Each function returns a (D,) array.

    ccc   Lin's concordance correlation x100: 2 cov / (var_t + var_p + (mean_t - mean_p)^2), population (ddof=0)
          moments; 0 where the denominator is 0 (both sides constant and equal).
    pcc   Pearson correlation x100; 0 where either side is constant.
    mae   mean absolute error, mse mean squared error, rmse its root: in target units (not percent).
"""
from __future__ import annotations

import numpy as np


def columns_of(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    t = t[:, None] if t.ndim == 1 else t
    p = p[:, None] if p.ndim == 1 else p
    if t.shape != p.shape or t.ndim != 2 or len(t) < 2:
        raise ValueError(f"regression metrics need equal shapes (n,) or (n, D) with n >= 2, got {t.shape}, {p.shape}")
    return t, p


def ccc(y_true, y_pred) -> np.ndarray:
    t, p = columns_of(y_true, y_pred)
    mt, mp = t.mean(0), p.mean(0)
    cov = ((t - mt) * (p - mp)).mean(0)
    denom = t.var(0) + p.var(0) + (mt - mp) ** 2
    return 100.0 * np.divide(2 * cov, denom, out=np.zeros_like(cov), where=denom > 0)


def pcc(y_true, y_pred) -> np.ndarray:
    t, p = columns_of(y_true, y_pred)
    tc, pc = t - t.mean(0), p - p.mean(0)
    denom = np.sqrt((tc**2).sum(0) * (pc**2).sum(0))
    return 100.0 * np.divide((tc * pc).sum(0), denom, out=np.zeros(t.shape[1]), where=denom > 0)


def mae(y_true, y_pred) -> np.ndarray:
    t, p = columns_of(y_true, y_pred)
    return np.abs(t - p).mean(0)


def mse(y_true, y_pred) -> np.ndarray:
    t, p = columns_of(y_true, y_pred)
    return ((t - p) ** 2).mean(0)


def rmse(y_true, y_pred) -> np.ndarray:
    return np.sqrt(mse(y_true, y_pred))


__all__ = ["columns_of", "ccc", "pcc", "mae", "mse", "rmse"]
