"""`prepare NAME --raw DIR`: import a dataset from its official release folder into the data root."""
from __future__ import annotations

from pathlib import Path

from benchmarks.datasets.importers import (SOURCES, DatasetLayoutError, PlacementError, layout_of, plan_import,
                                           prepare)
from benchmarks.datasets.registry import get, list_datasets
from benchmarks.datasets.spec import DATA_ROOT_ENV, data_root


def add_parser(subparsers):
    p = subparsers.add_parser(
        "prepare", help="import a dataset from its official release folder",
        description="Read the official release at --raw, place its media under the data root and write the split "
                    "manifests splits/<fold>/{train,val,test}.tsv.")
    p.add_argument("name", help=f"dataset: {', '.join(list_datasets('all'))}")
    p.add_argument("--raw", type=Path, help="the release folder, laid out as its publishers distribute it")
    p.add_argument("--root", type=Path, default=None, help=f"data root (default: ${DATA_ROOT_ENV} or ~/avf-data)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--link", dest="mode", action="store_const", const="link",
                      help="hard-link the media into the data root (default; one filesystem needed)")
    mode.add_argument("--copy", dest="mode", action="store_const", const="copy", help="copy the media")
    mode.add_argument("--in-place", dest="mode", action="store_const", const="in-place",
                      help="write splits/ into the release folder and symlink the data root entry to it")
    p.add_argument("--source", choices=SOURCES, default="auto",
                   help="official videos, or the face-frame layout where one exists (default: auto)")
    p.add_argument("--dry-run", action="store_true", help="read the release and print the folds; write nothing")
    p.add_argument("--layout", action="store_true", help="print the release layout the importer expects and exit")
    return p


def summarize(plan) -> str:
    """Per-fold split sizes, the label histogram (all clips; per-fold test counts for up to 12 folds), notes."""
    spec = plan.spec
    lines = [f"{spec.name}: {spec.fold_scheme}"]
    splits = [s for s in ("train", "val", "test") if any(s in sp for sp in plan.folds.values())]
    if len(plan.folds) <= 12:
        lines.append(f"  {'fold':<12}" + "".join(f"{s:>8}" for s in splits))
        for fold, sp in plan.folds.items():
            lines.append(f"  {fold:<12}" + "".join(f"{len(sp.get(s, [])):>8}" for s in splits))
    else:  # LOSO: one fold per subject
        sizes = {s: [len(sp.get(s, [])) for sp in plan.folds.values()] for s in splits}
        lines.append(f"  {len(plan.folds)} folds ({', '.join(list(plan.folds)[:3])}, ...); sizes per fold: "
                     + ", ".join(f"{s} {min(v)}-{max(v)}" for s, v in sizes.items()))
    clips = {r.clip: r for sp in plan.folds.values() for recs in sp.values() for r in recs}
    lines.append(f"  {len(clips)} distinct clips")
    if spec.regression:
        for i, name in enumerate(spec.labels):
            values = [r.target[i] for r in clips.values()]
            lines.append(f"  {name:<12} min {min(values):.3f}  mean {sum(values) / len(values):.3f}  "
                         f"max {max(values):.3f}")
    else:
        per_fold = len(plan.folds) <= 12
        width = max(len(n) for n in spec.labels)
        lines.append("  label histogram: all clips" + ("; test clips per fold" if per_fold else ""))
        for i, name in enumerate(spec.labels):
            row = f"    {i:>2} {name:<{width}} {sum(r.target == i for r in clips.values()):>7}"
            if per_fold:
                row += "  |" + "".join(f"{sum(r.target == i for r in sp['test']):>6}" for sp in plan.folds.values())
            lines.append(row)
    lines += [f"  note: {n}" for n in plan.notes]
    return "\n".join(lines)


def run(args) -> int:
    try:
        spec = get(args.name)
    except KeyError as err:
        print(f"error: {err.args[0]}")
        return 2
    if args.layout:
        print(layout_of(spec.name))
        return 0
    if args.raw is None:
        print(f"error: --raw DIR is required: the {spec.title} release folder, laid out as\n{layout_of(spec.name)}")
        return 2
    root = (args.root or data_root()).expanduser()
    try:
        if args.dry_run:
            print(summarize(plan_import(spec.name, args.raw, args.source)))
            return 0
        print(f"preparing {spec.name} from {args.raw} into {spec.path(root)}")
        result = prepare(spec.name, args.raw, root=root, mode=args.mode, source=args.source)
    except (DatasetLayoutError, PlacementError) as err:
        print(f"error: {err}")
        return 2
    print(summarize(result.plan))
    print(f"prepared {spec.name} ({result.mode}) at {result.path}, revision {result.revision}")
    return 0
