"""Check a whole prepared dataset for `python -m benchmarks.data doctor`: every manifest of every fold and split
(parsed by avfmae.data.manifest), every distinct clip's media (benchmarks.datasets.clipcheck, optionally in
worker processes), the label histograms (targets' range for regression sets) and the subjects and clips shared by
train and test of a fold. `diagnose` returns the report dict that benchmarks.data.doctor_report prints and writes.
"""
from __future__ import annotations

import csv
import io
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

from avfmae.data.manifest import ManifestError, read_manifest
from benchmarks.datasets.clipcheck import ClipCheck, check_clip
from benchmarks.datasets.spec import SPLITS, data_root


def _check_star(args) -> ClipCheck:
    return check_clip(*args)


def _line_numbers(path: Path) -> dict:
    """clip id -> line number in the manifest (header = line 1)."""
    out = {}
    try:
        rows = csv.reader(io.StringIO(path.read_text(encoding="utf-8")), delimiter="\t")
        for lineno, row in enumerate(rows, start=1):
            if lineno > 1 and row and row[0].strip():
                out.setdefault(row[0].strip(), lineno)
    except (OSError, UnicodeDecodeError):
        pass
    return out


def _resolve_dataset(name: str, root: Path | None):
    """(spec or None, dataset folder, folds, labels or None, regression, needs_audio, validation)."""
    p = Path(name).expanduser()
    if p.is_dir() and (p / "splits").is_dir():
        folds = tuple(sorted(d.name for d in (p / "splits").iterdir() if d.is_dir()))
        return None, p, folds, None, None, True, "test"
    from benchmarks.datasets.registry import get

    spec = get(name)
    return (spec, spec.path((root or data_root()).expanduser()), spec.folds, spec.labels, spec.regression,
            spec.has_audio, spec.validation)


def diagnose(name: str, root: Path | None = None, folds=None, workers: int = 1, deep: bool = False,
             min_frames: int = 16, min_audio: float = 0.5, progress: bool = False) -> dict:
    """Run every check; returns the report dict (see `format_report`). Raises KeyError for an unknown name."""
    spec, path, all_folds, labels, regression, needs_audio, validation = _resolve_dataset(name, root)
    if not (path / "splits").is_dir():
        raise FileNotFoundError(f"{path}/splits not found: the dataset is not prepared there. Run `python -m "
                                f"benchmarks.data prepare {name} --raw DIR` (or pass --root)")
    if folds:
        unknown = [f for f in folds if f not in all_folds]
        if unknown:
            raise KeyError(f"unknown fold(s) {', '.join(unknown)}; folds: {', '.join(all_folds)}")
    folds = list(folds or all_folds)
    num_classes = len(labels) if (labels and not regression) else None
    num_targets = len(labels) if (labels and regression) else None
    issues: list[dict] = []
    manifests: dict = {}   # (fold, split) -> list of records
    where: dict = {}       # (video, audio) -> list of (fold, split, manifest rel path, line, clip id)
    for fold in folds:
        for split in SPLITS:
            mpath = path / "splits" / fold / f"{split}.tsv"
            rel_m = mpath.relative_to(path).as_posix() if path in mpath.parents else str(mpath)
            required = split in ("train", "test") or (split == "val" and validation == "val")
            if not mpath.is_file():
                if required:
                    issues.append({"severity": "error", "fold": fold, "split": split, "manifest": rel_m,
                                   "line": None, "clip": "", "file": str(mpath), "problem": "manifest missing"})
                continue
            try:
                recs = read_manifest(mpath, num_classes=num_classes, num_targets=num_targets)
            except ManifestError as exc:
                issues.append({"severity": "error", "fold": fold, "split": split, "manifest": rel_m,
                               "line": exc.line, "clip": "", "file": str(mpath),
                               "problem": f"{exc.problem}. {exc.fix}" if exc.fix else exc.problem})
                continue
            manifests[(fold, split)] = recs
            lines = _line_numbers(mpath)
            for r in recs:
                where.setdefault((r.video, r.audio), []).append((fold, split, rel_m, lines.get(r.clip), r.clip))
    items = sorted(where)
    tasks = [(str(path), v, a, needs_audio, deep, min_frames, min_audio) for v, a in items]
    results: list[ClipCheck] = []
    bar = None
    if progress and tasks:
        from avfmae import progress as P

        bar = P.bar(total=len(tasks), desc="doctor", unit="clip", file=sys.stderr)
    if workers > 1 and len(tasks) > 1:
        import multiprocessing

        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            for res in pool.map(_check_star, tasks, chunksize=max(1, min(32, len(tasks) // (4 * workers)))):
                results.append(res)
                if bar:
                    bar.update(1)
    else:
        for t in tasks:
            results.append(_check_star(t))
            if bar:
                bar.update(1)
    if bar:
        bar.close()
    checks = {}
    for (v, a), res in zip(items, results):
        checks[(v, a)] = res
        for sev, entries in (("error", res.errors), ("warning", res.warnings)):
            for file, problem in entries:
                for fold, split, rel_m, line, clip in where[(v, a)]:
                    issues.append({"severity": sev, "fold": fold, "split": split, "manifest": rel_m, "line": line,
                                   "clip": clip, "file": file, "problem": problem})
    # ----- per fold/split summary, histograms, overlap
    splits_summary = []
    histograms: dict = {}
    regression_stats: dict = {}
    for (fold, split), recs in manifests.items():
        bad = sum(1 for r in recs if checks[(r.video, r.audio)].errors)
        warn = sum(1 for r in recs if checks[(r.video, r.audio)].warnings and not checks[(r.video, r.audio)].errors)
        frames = [checks[(r.video, r.audio)].frames for r in recs if not checks[(r.video, r.audio)].errors]
        splits_summary.append({"fold": fold, "split": split, "clips": len(recs), "unusable": bad, "flagged": warn,
                               "subjects": len({r.subject for r in recs if r.subject}),
                               "median_frames": sorted(frames)[len(frames) // 2] if frames else 0})
        if any(r.is_regression for r in recs):
            vals = [r.target for r in recs if r.is_regression]
            dims = len(vals[0]) if vals else 0
            regression_stats[f"{fold}/{split}"] = [
                {"min": min(v[i] for v in vals), "max": max(v[i] for v in vals),
                 "mean": sum(v[i] for v in vals) / len(vals)} for i in range(dims)]
        else:
            histograms[f"{fold}/{split}"] = dict(sorted(Counter(int(r.target) for r in recs).items()))
    overlap = []
    for fold in folds:
        tr, te = manifests.get((fold, "train")), manifests.get((fold, "test"))
        if tr is None or te is None:
            continue
        subj = sorted({r.subject for r in tr if r.subject} & {r.subject for r in te if r.subject})
        clips = sorted({r.video for r in tr} & {r.video for r in te})
        overlap.append({"fold": fold, "subjects": subj, "clips": clips})
        for what, found, show in (("subject(s)", subj, 8), ("clip(s)", clips, 5)):
            if found:
                listed = ", ".join(found[:show]) + (" ..." if len(found) > show else "")
                issues.append({"severity": "warning", "fold": fold, "split": "train+test", "manifest": "",
                               "line": None, "clip": "", "file": "",
                               "problem": f"{len(found)} {what} in both train and test: {listed}"})
    n_err = sum(1 for i in issues if i["severity"] == "error")
    return {
        "dataset": spec.name if spec else str(path), "path": str(path), "folds": folds,
        "labels": list(labels) if labels else None, "regression": bool(regression),
        "clips_checked": len(items), "unusable_clips": sum(1 for c in checks.values() if c.errors),
        "flagged_clips": sum(1 for c in checks.values() if c.warnings and not c.errors),
        "errors": n_err, "warnings": len(issues) - n_err, "splits": splits_summary, "histograms": histograms,
        "regression_stats": regression_stats, "overlap": overlap, "issues": issues,
        "clips": [asdict(c) for c in checks.values()], "deep": deep,
    }
