"""Ablation grids: plain Python files in benchmarks/grids/ that define `GRID = Grid(...)`.

    python -m benchmarks.grid list
    python -m benchmarks.grid masking --dry-run          # the table of runs, done / to run
    python -m benchmarks.grid masking --executor slurm   # submit only the missing runs (job arrays)

A grid is model(s) x variants x datasets x folds x seeds. A variant is a dict of recipe items (benchmarks.recipe)
recorded in each run key and checked when the grid is planned: model-architecture fields go to the model
(`arch.<field>`, e.g. arch.fusion_depth=1), stage-3 fields to fine-tuning (e.g. epochs=5), and `stages` /
`stage1.<field>` / `stage2.<field>` ask the run to pre-train (and inject) first with those settings; such
pre-trainings are shared by every fold and seed that needs them.
"""
from __future__ import annotations

import argparse
import sys

from .gridspec import available, load
from .plan import PlannedRun, plan
from .recipe import RecipeError
from .request import add_grid_args, grid_request_from_args
from .store import ResultStore


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.grid", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", help="grid name (file in benchmarks/grids/), or `list`")
    add_grid_args(ap)
    ap.add_argument("--executor", default="auto", choices=["auto", "inline", "local", "slurm"],
                    help="auto (default): slurm where a SLURM cluster answers, else inline")
    ap.add_argument("--parallel", type=int, default=None,
                    help="array throttle: at most this many at once (default: the cluster profile's "
                         "array_parallelism, 16 built in)")
    ap.add_argument("--dry-run", action="store_true", help="print the table of runs and stop")
    ap.add_argument("--no-wait", action="store_true", help="submit and return (follow with benchmarks.status)")
    ap.add_argument("--results", help="result store folder (default $AVF_RESULTS_DIR or runs/results)")
    return ap


def main(argv=None) -> int:
    from .executors import resolve_executor
    from .run import finish, print_plan, submit

    ap = build_parser()
    args = ap.parse_args(argv)
    if args.name == "list":
        for name in available():
            g = load(name)
            print(f"{name:<16} {g.description}  [{g.paper}]")
        return 0
    store = ResultStore(args.results)
    try:
        the_plan = plan(grid_request_from_args(args.name, args), store)
    except (RecipeError, KeyError) as e:
        print(f"error: {e.args[0] if isinstance(e, KeyError) else e}", file=sys.stderr)
        return 2
    executor = resolve_executor(args.executor)
    print(f"grid {args.name}: {load(args.name).description}")
    _print_variants(the_plan.runs)
    print_plan(the_plan, executor, store)
    if args.dry_run or not the_plan.todo:
        return 0
    handles = submit(the_plan.todo, executor, store, args.parallel, f"grid-{args.name}")
    if handles is None:
        return 2
    if args.no_wait:
        print(f"submitted {len(handles)} runs; follow with: python -m benchmarks.status {args.name} (same options)")
        return 0
    return finish(handles, store)


def _print_variants(runs: list[PlannedRun]) -> None:
    seen = []
    for r in runs:
        v = r.key.recipe.variant()
        if (r.key.model, v) not in seen:
            seen.append((r.key.model, v))
    for model, v in seen:
        print(f"  variant: {model} {v}")


if __name__ == "__main__":
    from avfmae.cli import run_main

    run_main(main)
