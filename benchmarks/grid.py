"""Ablation grids: plain Python files in benchmarks/grids/ that define `GRID = Grid(...)`.

    python -m benchmarks.grid list
    python -m benchmarks.grid masking --dry-run          # the table of runs, done / to run
    python -m benchmarks.grid masking --executor slurm   # submit only the missing runs (job arrays)

A grid is model(s) x variants x datasets x folds x seeds. A variant is a dict of overrides recorded in each run
key: model-architecture fields go to the model (`arch.<field>`, e.g. arch.fusion_depth=1), stage-3 fields to
fine-tuning (e.g. epochs=5), and `stages` / `stage1.<field>` / `stage2.<field>` ask the run to pre-train (and
inject) first with those settings; such pre-trainings are shared by every fold and seed that needs them.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys

from .gridspec import available, load
from .plan import PlannedRun
from .store import ResultStore


def main(argv=None) -> int:
    from .executors import resolve_executor, submit_runs
    from .run import finish, print_plan

    ap = argparse.ArgumentParser(prog="python -m benchmarks.grid", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", help="grid name (file in benchmarks/grids/), or `list`")
    ap.add_argument("--executor", default="auto", choices=["auto", "inline", "local", "slurm"])
    ap.add_argument("--parallel", type=int, default=None, help="array throttle: at most this many at once")
    ap.add_argument("--dry-run", action="store_true", help="print the table of runs and stop")
    ap.add_argument("--no-wait", action="store_true", help="submit and return (follow with benchmarks.status)")
    ap.add_argument("--models", nargs="+", help="replace the grid's models (e.g. avfmae-small)")
    ap.add_argument("--datasets", nargs="+", help="replace the grid's datasets (e.g. demo)")
    ap.add_argument("--folds", nargs="+", help="only these folds")
    ap.add_argument("--cpu", action="store_true", help="CPU training presets (preset=cpu in every run)")
    ap.add_argument("--results", help="result store folder")
    args = ap.parse_args(argv)
    if args.name == "list":
        for name in available():
            g = load(name)
            print(f"{name:<16} {g.description}  [{g.paper}]")
        return 0
    grid = load(args.name)
    changes = {k: tuple(v) for k, v in (("models", args.models), ("datasets", args.datasets),
                                         ("folds", args.folds)) if v}
    if args.cpu:
        changes["base"] = {**grid.base, "preset": "cpu"}
    if changes:
        grid = dataclasses.replace(grid, **changes)
    store = ResultStore(args.results)
    plan = grid.plan(store)
    executor = resolve_executor(args.executor)
    print(f"grid {grid.name}: {grid.description}")
    _print_variants(plan.runs)
    print_plan(plan, executor)
    if args.dry_run or not plan.todo:
        return 0
    from .evaluate import evaluate_run
    handles = submit_runs(evaluate_run, plan.todo, executor, store=store, array_parallelism=args.parallel,
                          name=f"grid-{grid.name}")
    if args.no_wait:
        print(f"submitted {len(handles)} runs; follow with: python -m benchmarks.status {grid.name}")
        return 0
    return finish(handles, store)


def _print_variants(runs: list[PlannedRun]) -> None:
    seen = []
    for r in runs:
        v = {k: val for k, val in r.key.overrides_dict.items() if k != "grid"}
        if (r.key.model, v) not in seen:
            seen.append((r.key.model, v))
    for model, v in seen:
        print(f"  variant: {model} {v or '(default)'}")


if __name__ == "__main__":
    sys.exit(main())
