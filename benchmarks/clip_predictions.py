"""Per-clip predictions in the result store, and what is computed from them: the audit's recomputation, the
leaderboard's confidence intervals and the paired comparisons of `benchmarks.compare`.

A result's ``"predictions"`` (written by `benchmarks.evaluate`) is ``avfmae.metrics.compact_predictions`` of the
selected epoch's test predictions (clip ids, targets, class scores or regression outputs, rounded to 8 decimals)
plus, from the fold's manifests:

    subjects              the subject id of each clip ('' where the manifest has none)
    subject_independent   every test clip has a subject and no test subject is in the fold's train/val split

Confidence intervals resample clusters (`avfmae.metrics.intervals`): subjects where every run of a row is
subject-independent; else the dataset's videos (AVCAffe's participant-task groups); else clips.
"""
from __future__ import annotations

import numpy as np

from avfmae import metrics as M
from avfmae.metrics.intervals import Run, bootstrap_rule, paired_bootstrap, percentile_interval

DECIMALS = 8
N_BOOT = 300          # leaderboard intervals: fixed count and seed, so `leaderboard check` is deterministic
BOOT_SEED = 0
UNIT_WORDS = {"subject": "subjects", "video": "videos", "clip": "clips"}


def _subjects(spec, fold: str, clips: list) -> tuple[list, bool]:
    """Per clip, its subject from the fold's test manifest; and whether the fold is subject-independent."""
    from avfmae.data.manifest import read_manifest

    test = spec.split_file(fold, "test")
    if not test.is_file():
        return [""] * len(clips), False
    by_clip = {r.clip: r.subject or "" for r in read_manifest(test)}
    subjects = [by_clip.get(str(c), "") for c in clips]
    seen: set = set()
    for split in ("train", "val"):
        f = spec.split_file(fold, split)
        if f.is_file():
            seen |= {r.subject for r in read_manifest(f) if r.subject}
    return subjects, bool(subjects) and all(subjects) and not (set(subjects) & seen)


def stored_predictions(spec, fold: str, clips, targets, scores) -> dict:
    """The compact per-clip record a result keeps (see the module docstring)."""
    comp = M.compact_predictions(clips, targets, scores, decimals=DECIMALS)
    comp["subjects"], comp["subject_independent"] = _subjects(spec, str(fold), comp["clips"])
    return comp


def metric_kwargs(spec) -> dict:
    return {"targets": spec.labels} if spec.regression else {"num_classes": spec.num_classes}


def recompute(spec, compact: dict) -> tuple[dict, list | None]:
    """The dataset's scores (and confusion matrix) recomputed from a stored compact record, the way
    `benchmarks.evaluate.score` computes them from a run's outputs."""
    from .evaluate import score

    return score(spec, compact["clips"], compact["targets"], M.expand_scores(compact).tolist())


def unit_of(spec, records) -> str:
    """What a row's intervals resample: "subject" | "video" | "clip" (see the module docstring)."""
    preds = [r.get("predictions") or {} for r in records]
    if preds and all(p.get("subject_independent") for p in preds):
        return "subject"
    return "video" if spec.group_pattern else "clip"


def to_run(spec, compact: dict, unit: str) -> Run:
    clips = [str(c) for c in compact["clips"]]
    groups = tuple(M.group_ids(clips, spec.group_pattern)) if spec.group_pattern else None
    clusters = {"subject": lambda: compact["subjects"], "video": lambda: groups or clips,
                "clip": lambda: clips}[unit]()
    return Run(tuple(clips), np.asarray(compact["targets"]), M.expand_scores(compact), tuple(clusters), groups)


def row_runs(spec, runs: dict, unit: str | None = None) -> tuple[dict, str] | None:
    """``{(fold, seed): Run}`` and the unit for a row's stored results; None when a result lacks predictions."""
    if not runs or any(not isinstance(r.get("predictions"), dict) for r in runs.values()):
        return None
    unit = unit or unit_of(spec, runs.values())
    return {k: to_run(spec, r["predictions"], unit) for k, r in runs.items()}, unit


def interval(spec, runs: dict, metric: str, *, n_boot: int = N_BOOT, seed: int = BOOT_SEED,
             level: float = 0.95) -> tuple[float, float, str] | None:
    """(low, high, unit) of the 95 % bootstrap interval of a row's number for ``metric`` (its fold rule per
    replicate); None when some result has no stored predictions."""
    got = row_runs(spec, runs)
    if got is None:
        return None
    rr, unit = got
    _, reps = bootstrap_rule(metric, rr, spec.fold_aggregate, n_boot=n_boot, seed=seed, **metric_kwargs(spec))
    return (*percentile_interval(reps, level), unit)


def paired(spec, runs_a: dict, runs_b: dict, metric: str, *, n_boot: int = 1000, seed: int = 0):
    """(difference A - B, replicates, unit) on the same clips; raises ValueError when the clip sets differ or a
    side has no stored predictions. The unit is subjects only when both sides are subject-independent."""
    unit = unit_of(spec, [*runs_a.values(), *runs_b.values()])
    a, b = row_runs(spec, runs_a, unit), row_runs(spec, runs_b, unit)
    if a is None or b is None:
        raise ValueError("a compared result has no stored per-clip predictions (re-run it with this version)")
    diff, reps = paired_bootstrap(metric, a[0], b[0], spec.fold_aggregate, n_boot=n_boot, seed=seed,
                                  **metric_kwargs(spec))
    return diff, reps, unit


__all__ = ["DECIMALS", "N_BOOT", "BOOT_SEED", "UNIT_WORDS", "stored_predictions", "metric_kwargs", "recompute",
           "unit_of", "to_run", "row_runs", "interval", "paired"]
