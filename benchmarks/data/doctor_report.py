"""The `python -m benchmarks.data doctor` report (the dict of benchmarks.datasets.diagnosis.diagnose): printed as
tables (per fold and split, label histograms, overlap, the issues naming manifest line and file), or written as
JSON or as a TSV of the issues.
"""
from __future__ import annotations

import json
from pathlib import Path

from avfmae.atomic import atomic_write_text
from benchmarks.datasets.spec import SPLITS


def _cut(v, width: int = 90) -> str:
    s = "" if v is None else str(v)
    return s if len(s) <= width else s[:width - 3] + "..."


def _short_path(file: str, base: str, width: int = 70) -> str:
    """`file` relative to the dataset folder when inside it, else cut from the left."""
    if file and base and file.startswith(base.rstrip("/") + "/"):
        file = file[len(base.rstrip("/")) + 1:]
    return file if len(file) <= width else "..." + file[-(width - 3):]


def format_report(rep: dict, max_issues: int = 40) -> str:
    from tabulate import tabulate

    out = [f"dataset {rep['dataset']} at {rep['path']}: {len(rep['folds'])} fold(s), {rep['clips_checked']} "
           f"distinct clips checked{' (deep)' if rep['deep'] else ''}"]
    if rep["splits"]:
        out.append("")
        out.append(tabulate([(s["fold"], s["split"], s["clips"], s["subjects"], s["median_frames"], s["unusable"],
                              s["flagged"]) for s in rep["splits"]],
                            headers=("fold", "split", "clips", "subjects", "median frames", "unusable", "flagged"),
                            tablefmt="simple"))
    if rep["histograms"]:
        keys = list(rep["histograms"])
        classes = sorted({c for h in rep["histograms"].values() for c in h})
        names = rep["labels"] or []
        out.append("\nlabel histogram (clips per class):")
        if len(keys) <= 12:
            rows = [[c, names[c] if c < len(names) else ""] + [rep["histograms"][k].get(c, 0) for k in keys]
                    for c in classes]
            out.append(tabulate(rows, headers=["id", "label"] + keys, tablefmt="simple"))
        else:  # many folds (LOSO): per split, the sum over folds and the per-fold range
            splits = sorted({k.split("/")[1] for k in keys}, key=SPLITS.index)
            rows = []
            for c in classes:
                row = [c, names[c] if c < len(names) else ""]
                for sp in splits:
                    v = [rep["histograms"][k].get(c, 0) for k in keys if k.endswith("/" + sp)]
                    row.append(f"{sum(v)} ({min(v)}-{max(v)}/fold)")
                rows.append(row)
            out.append(tabulate(rows, headers=["id", "label"] + splits, tablefmt="simple"))
        missing = [(k, names[c] if c < len(names) else c) for k in keys if k.endswith("/test")
                   for c in range(len(names)) if rep["histograms"][k].get(c, 0) == 0] if names else []
        if missing:
            out.append(f"note: {len(missing)} (fold, class) pair(s) with no test clip, e.g. "
                       + ", ".join(f"{k}: {n}" for k, n in missing[:4]))
    if rep["regression_stats"]:
        out.append("\nregression targets (min / mean / max):")
        names = rep["labels"] or []
        rows = [[k] + [f"{d['min']:.3f} / {d['mean']:.3f} / {d['max']:.3f}" for d in v]
                for k, v in rep["regression_stats"].items()]
        out.append(tabulate(rows, headers=["fold/split"] + list(names), tablefmt="simple"))
    if rep["overlap"]:
        bad = [o for o in rep["overlap"] if o["subjects"] or o["clips"]]
        out.append(f"\nsubject overlap train/test: {len(bad)} of {len(rep['overlap'])} fold(s)"
                   + ("" if not bad else ": " + ", ".join(f"{o['fold']} ({len(o['subjects'])} subjects, "
                                                        f"{len(o['clips'])} clips)" for o in bad)))
    for sev in ("error", "warning"):
        items = [i for i in rep["issues"] if i["severity"] == sev]
        if not items:
            continue
        title = "UNUSABLE (errors)" if sev == "error" else "flagged (warnings)"
        out.append(f"\n{title}: {len(items)}")
        rows = [(f"{i['manifest']}:{i['line']}" if i["line"] else i["manifest"] or f"{i['fold']}", i["clip"],
                 _short_path(i["file"], rep["path"]), _cut(i["problem"])) for i in items[:max_issues]]
        out.append(tabulate(rows, headers=("manifest:line", "clip", "file (in the dataset folder)", "problem"),
                            tablefmt="simple"))
        if len(items) > max_issues:
            out.append(f"... and {len(items) - max_issues} more (see --report)")
    verdict = ("OK: every clip is usable" if rep["errors"] == 0 else
               f"FAILED: {rep['errors']} error(s), {rep['unusable_clips']} unusable clip(s)")
    out.append(f"\n{verdict}; {rep['warnings']} warning(s), {rep['flagged_clips']} flagged clip(s)")
    return "\n".join(out)


def write_report(rep: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".tsv":
        cols = ("severity", "fold", "split", "manifest", "line", "clip", "file", "problem")
        lines = ["\t".join(cols)] + ["\t".join("" if i[c] is None else str(i[c]).replace("\t", " ") for c in cols)
                                     for i in rep["issues"]]
        text = "\n".join(lines) + "\n"
    else:
        text = json.dumps(rep, indent=1, default=str)
    atomic_write_text(path, text)
