"""`list`: the datasets of a suite, and whether each is prepared under the data root (with its revision)."""
from __future__ import annotations

import json
from pathlib import Path

from benchmarks.datasets.registry import get, list_datasets, suite_names
from benchmarks.datasets.spec import DATA_ROOT_ENV, data_root


def add_parser(subparsers):
    p = subparsers.add_parser("list", help="list the datasets and whether they are prepared",
                              description="List the datasets of a suite (default: the 17 + demo), with their task, "
                                          "classes, folds, and where their split files are expected.")
    p.add_argument("--suite", default=None, help=f"one of {', '.join(suite_names())} (default: all + demo)")
    p.add_argument("--root", type=Path, default=None, help=f"data root (default: ${DATA_ROOT_ENV} or ~/avf-data)")
    p.add_argument("--json", action="store_true", help="print one JSON object per dataset instead of a table")
    return p


def _status(spec, root: Path) -> tuple[str, str]:
    """('prepared', revision) or ('absent', the first missing split file relative to the root)."""
    if spec.is_prepared(root):
        return "prepared", spec.revision(root)
    for fold in spec.folds:
        for split in ("train", "test") + (("val",) if spec.validation == "val" else ()):
            f = spec.split_file(fold, split, root)
            if not f.is_file():
                return "absent", f"missing {f.relative_to(spec.path(root)).as_posix()}"
    return "absent", ""


def rows(suite: str | None, root: Path) -> list[dict]:
    names = list_datasets(suite) if suite else list_datasets("all") + list_datasets("demo")
    out = []
    for name in names:
        spec = get(name)
        status, detail = _status(spec, root)
        out.append({
            "name": spec.name, "task": spec.task,
            "classes": f"{spec.num_classes} targets" if spec.regression else str(spec.num_classes),
            "folds": len(spec.folds), "status": status,
            "revision": detail if status == "prepared" else "absent",
            "path": str(spec.path(root)), "detail": "" if status == "prepared" else detail,
        })
    return out


def format_table(table: list[dict], columns: tuple[str, ...]) -> str:
    widths = {c: max(len(c), *(len(str(r[c])) for r in table)) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in columns) for r in table]
    return "\n".join(line.rstrip() for line in lines)


def run(args) -> int:
    root = (args.root or data_root()).expanduser()
    try:
        table = rows(args.suite, root)
    except KeyError as err:
        print(f"error: {err.args[0]}")
        return 2
    if args.json:
        for r in table:
            print(json.dumps(r))
        return 0
    print(f"data root: {root}")
    if table:
        print(format_table(table, ("name", "task", "classes", "folds", "status", "revision", "path")))
    absent = [r for r in table if r["status"] != "prepared"]
    if absent:
        print(f"\n{len(absent)} not prepared; e.g. {absent[0]['path']}: {absent[0]['detail']}. "
              "Run `python -m benchmarks.data prepare NAME --raw DIR`.")
    return 0
