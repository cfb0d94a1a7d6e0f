"""The one metrics module of the project: what training selects epochs with and what the suite reports.

    classification  uar, war, wf1, mf1, uf1, microf1, confusion matrices (percent)
    regression      ccc, pcc (percent), mae, mse, rmse (target units), per target dimension
    registry        METRICS (name -> kind, direction, function), check_metric_names, improves, compute
    grouping        per-video scoring (AVCAffe: clips averaged per participant-task before the metric)
    folds           per-fold results -> the dataset's number: mean of folds, or pooled (LOSO)
    predictions     compact per-clip predictions, recompute, bootstrap confidence intervals
    intervals       bootstrap of a dataset's number under its fold rule (clusters, strata), paired differences

Only numpy and scikit-learn; nothing here imports torch or ``benchmarks``.
"""
from .classification import (CONFUSION_METRICS, confusion, from_confusion, labels_of, mf1, microf1, sum_confusions,
                             uar, uf1, war, wf1)
from .folds import (AGGREGATION_MODES, Aggregate, aggregate, aggregate_folds, aggregate_pooled, check_aggregation,
                    pooled)
from .grouping import average_by_group, group_ids, participant_task
from .predictions import bootstrap, bootstrap_ci, compact_predictions, expand_scores, recompute
from .registry import (ALIASES, CLASSIFICATION, METRICS, REGRESSION, Metric, best_index, canonical,
                       check_metric_names, compute, get, higher_is_better, improves)
from .regression import ccc, columns_of, mae, mse, pcc, rmse

__all__ = [
    "uar", "war", "wf1", "mf1", "uf1", "microf1", "confusion", "from_confusion", "sum_confusions", "labels_of",
    "CONFUSION_METRICS", "ccc", "pcc", "mae", "mse", "rmse", "columns_of", "Metric", "METRICS", "ALIASES",
    "CLASSIFICATION", "REGRESSION", "canonical", "get", "check_metric_names", "higher_is_better", "improves",
    "best_index", "compute", "group_ids", "participant_task", "average_by_group", "AGGREGATION_MODES", "Aggregate",
    "aggregate", "pooled", "aggregate_pooled", "aggregate_folds", "check_aggregation", "compact_predictions",
    "expand_scores", "recompute", "bootstrap", "bootstrap_ci",
]
