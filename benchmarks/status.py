"""`python -m benchmarks.status [SUITE|GRID] [options]`: done / running / pending / failed / missing.

Give it the options of the command that submitted the runs and it plans the same runs (one planner: the same
keys as `benchmarks.run ... --dry-run` or `benchmarks.grid ... --dry-run`):

    python -m benchmarks.status demo --model avfmae-micro          # after: benchmarks.run --model avfmae-micro
    python -m benchmarks.status masking --models avfmae-micro --datasets demo --cpu

For a suite without `--model`, the runs are every run of the suite's datasets that was ever submitted or stored.
Job ids and log paths come from the submission records; states from the scheduler (squeue / scontrol / sacct)
and the result store.
"""
from __future__ import annotations

import argparse
import sys

from tabulate import tabulate

from .jobstatus import read_records, run_status, summarize
from .plan import plan
from .recipe import RecipeError
from .request import add_suite_args, grid_request_from_args, suite_request_from_args
from .runkey import RunKey
from .store import ResultStore


def _submitted_keys(suite_name: str, store: ResultStore) -> list[RunKey]:
    from .suites import get_suite

    suite = get_suite(suite_name)
    keys = {}
    for rec in read_records(store.root.parent / "submitit").values():
        try:
            k = RunKey.from_dict(rec["key"])
        except (TypeError, ValueError):   # a record of an older key format
            continue
        if k.dataset in suite.datasets:
            keys[k.signature] = k
    for rec in store.iter_results():
        k = rec["key"]
        if k.dataset in suite.datasets:
            keys[k.signature] = k
    return sorted(keys.values(), key=lambda k: k.name)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.status", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("target", nargs="?", default="all", help="a suite (all, cea, dea, mer, demo) or a grid name (default: all)")
    suite = ap.add_argument_group("for a suite: the options given to benchmarks.run")
    add_suite_args(suite, model_required=False)
    grid = ap.add_argument_group("for a grid: the options given to benchmarks.grid")
    grid.add_argument("--models", nargs="+", help="replace the grid's models")
    grid.add_argument("--cpu", action="store_true", help="CPU training presets (preset=cpu in every run)")
    ap.add_argument("--results", help="result store folder (default $AVF_RESULTS_DIR or runs/results)")
    ap.add_argument("--all", action="store_true", help="list done runs too (default: only the others)")
    return ap


def keys_for(args: argparse.Namespace, store: ResultStore) -> list[RunKey]:
    from .gridspec import available

    if args.target in available():
        return plan(grid_request_from_args(args.target, args), store).keys
    if args.model:
        return plan(suite_request_from_args(args.target, args), store).keys
    return _submitted_keys(args.target, store)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    store = ResultStore(args.results)
    try:
        keys = keys_for(args, store)
    except (RecipeError, KeyError) as e:
        print(f"error: {e.args[0] if isinstance(e, KeyError) else e}", file=sys.stderr)
        return 2
    statuses = run_status(keys, store)
    rows = [[s.key.dataset, s.key.model, s.key.fold, s.key.seed, s.state, s.job_id or "–", s.scheduler_state or "–",
             s.stderr or s.stdout or "–", s.detail or ""] for s in statuses if args.all or s.state != "done"]
    if rows:
        print(tabulate(rows, headers=["dataset", "model", "fold", "seed", "state", "job", "scheduler", "log",
                                      "detail"], tablefmt="github"))
    counts = summarize(statuses)
    print(f"{args.target}: " + ", ".join(f"{n} {state}" for state, n in counts.items()) + f" ({len(statuses)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
