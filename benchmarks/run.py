"""`python -m benchmarks.run --model NAME --suite SUITE`: evaluate a zoo model on a suite, store, rebuild tables.

Examples
    python -m benchmarks.run --model avfmae-small --suite demo            # the embedded default, CPU, minutes
    python -m benchmarks.run --model avfmae-large --weights ckpt.pth --suite all --dry-run
    python -m benchmarks.run --model avfmae-base.mafw-s2 --suite cea --executor slurm
    python -m benchmarks.run --model avfmae-tiny --suite demo --limit 24 --folds fold1

Every run (model + weights, dataset @ revision, protocol @ version, fold, seed, overrides) is one JSON in the
result store; runs already there are skipped, so re-running a command resumes it. Absent datasets are
reported with the exact folder expected and the command that prepares them; the rest still run.
"""
from __future__ import annotations

import argparse
import sys
import time

from tabulate import tabulate

from .executors import resolve_executor, submit_runs
from .plan import RunPlan, plan
from .recipe import RecipeError
from .request import add_suite_args, suite_request_from_args
from .store import ResultStore
from .suites import get_suite


def print_plan(plan: RunPlan, executor: str) -> None:
    rows = [[r.key.dataset, r.key.fold, r.key.seed, r.key.protocol, r.key.recipe.label() or "default", r.status,
             r.key.signature] for r in plan.runs]
    if rows:
        print(tabulate(rows, headers=["dataset", "fold", "seed", "protocol", "recipe", "status", "run"],
                       tablefmt="github"))
    c = plan.counts()
    print(f"\n{len(plan.runs)} runs: {c.get('done', 0)} done, {c.get('failed', 0)} failed before, "
          f"{c.get('missing', 0)} to run; executor {executor}")
    for spec, path in plan.absent:
        print(f"absent: {spec.name} ({spec.title}) has no prepared splits at {path}/splits/ -> "
              f"python -m benchmarks.data prepare {spec.name} --raw <your copy of the release>")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", default="demo", help="all | cea | dea | mer | demo (default demo)")
    add_suite_args(ap)
    ap.add_argument("--executor", default="auto", choices=["auto", "inline", "local", "slurm"],
                    help="auto: slurm where sbatch exists, else inline")
    ap.add_argument("--parallel", type=int, default=None, help="at most this many runs at once (local, slurm)")
    ap.add_argument("--dry-run", action="store_true", help="print the plan (done / to run / absent data) and stop")
    ap.add_argument("--no-wait", action="store_true", help="submit and return (slurm); see benchmarks.status")
    ap.add_argument("--results", help="result store folder (default $AVF_RESULTS_DIR or runs/results)")
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    store = ResultStore(args.results)
    suite = get_suite(args.suite)
    executor = resolve_executor(args.executor)
    if suite.name == "demo" and not args.dry_run:
        from .pipeline import ensure_demo_data
        ensure_demo_data()
    t0 = time.perf_counter()
    try:
        the_plan = plan(suite_request_from_args(suite.name, args), store)
    except RecipeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print_plan(the_plan, executor)
    print(f"(planned in {time.perf_counter() - t0:.2f} s)")
    if args.dry_run or not the_plan.todo:
        if not args.dry_run:
            _rebuild(store)
        return 0

    from .evaluate import evaluate_run
    from .pipeline import submit_starting_weights
    handles = submit_runs(evaluate_run, the_plan.todo, executor, store=store, array_parallelism=args.parallel,
                          name=f"{suite.name}-{args.model}", prepare=submit_starting_weights)
    if executor == "slurm" and args.no_wait:
        for h in handles:
            print(f"submitted {h.key.dataset}/{h.key.fold}: job {h.job_id}, log {h.stdout}")
        print("follow with: python -m benchmarks.status", suite.name, "--model", args.model)
        return 0
    return finish(handles, store)


def finish(handles, store: ResultStore) -> int:
    """Wait for every run, report the failures with their logs, rebuild the leaderboards; exit status."""
    from .executors import wait

    wait(handles)
    failed = [h for h in handles if h.exception() is not None]
    for h in failed:
        print(f"FAILED {h.key.name}: {h.exception()!r} (log: {h.stderr or 'inline'})", file=sys.stderr)
    _rebuild(store)
    return 1 if failed else 0


def _rebuild(store: ResultStore) -> None:
    from .leaderboard import build
    out = build(store)
    print(f"leaderboards rebuilt in {out}")


if __name__ == "__main__":
    sys.exit(main())
