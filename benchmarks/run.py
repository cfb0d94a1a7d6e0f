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

from .executors import resolve_executor, submit_runs, wait
from .plan import Plan, make_plan
from .protocols import PROTOCOLS
from .store import ResultStore
from .suites import get_suite


def parse_overrides(items: list[str]) -> dict:
    out = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"--set {item!r}: write key=value (a stage-3 config field, e.g. epochs=5)")
        k, v = item.split("=", 1)
        out[k.strip()] = _scalar(v.strip())
    return out


def _scalar(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def print_plan(plan: Plan, executor: str) -> None:
    rows = [[r.key.dataset, r.key.fold, r.key.seed, r.key.protocol, r.status, r.key.signature] for r in plan.runs]
    if rows:
        print(tabulate(rows, headers=["dataset", "fold", "seed", "protocol", "status", "run"], tablefmt="github"))
    c = plan.counts()
    print(f"\n{len(plan.runs)} runs: {c.get('done', 0)} done, {c.get('failed', 0)} failed before, "
          f"{c.get('missing', 0)} to run; executor {executor}")
    for spec, path in plan.absent:
        print(f"absent: {spec.name} ({spec.title}) has no prepared splits at {path}/splits/ -> "
              f"python -m benchmarks.data prepare {spec.name} --raw <your copy of the release>")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="zoo model, optionally with a weights tag: avfmae-base.mytag")
    ap.add_argument("--suite", default="demo", help="all | cea | dea | mer | demo (default demo)")
    ap.add_argument("--datasets", nargs="+", help="only these datasets of the suite")
    ap.add_argument("--folds", nargs="+", help="only these folds (names as in `python -m benchmarks.data list`)")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--weights", help="weights to start from: zoo tag, local .safetensors/.pth, or hf:<repo>:<file>")
    ap.add_argument("--protocol", choices=sorted(PROTOCOLS), help="default: the suite's (paper)")
    ap.add_argument("--executor", default="auto", choices=["auto", "inline", "local", "slurm"],
                    help="auto: slurm where sbatch exists, else inline")
    ap.add_argument("--parallel", type=int, default=None, help="at most this many runs at once (local, slurm)")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N clips of each split (quick looks)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="stage-3 config override, recorded in the run key (repeatable)")
    ap.add_argument("--dry-run", action="store_true", help="print the plan (done / to run / absent data) and stop")
    ap.add_argument("--no-wait", action="store_true", help="submit and return (slurm); see benchmarks.status")
    ap.add_argument("--results", help="result store folder (default $AVF_RESULTS_DIR or runs/results)")
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    store = ResultStore(args.results)
    suite = get_suite(args.suite)
    datasets = suite.datasets if not args.datasets else [d for d in args.datasets]
    protocol = args.protocol or suite.protocol
    overrides = parse_overrides(args.overrides)
    if args.limit:
        overrides["limit"] = args.limit
    if suite.preset != "paper":
        overrides.setdefault("preset", suite.preset)
    executor = resolve_executor(args.executor)

    model = args.model
    if suite.stages != "3" and args.weights is None and "." not in model:
        overrides.setdefault("stages", suite.stages)
    if suite.name == "demo" and not args.dry_run:
        from .pipeline import ensure_demo_data
        ensure_demo_data()
    pipeline = str(overrides.get("stages", "3")) != "3"
    t0 = time.perf_counter()
    plan = make_plan(model, list(datasets), protocol, weights=args.weights, folds=args.folds, seeds=args.seeds,
                     overrides=overrides, store=store, weights_id="pipeline" if pipeline else None)
    print_plan(plan, executor)
    print(f"(planned in {time.perf_counter() - t0:.2f} s)")
    if args.dry_run or not plan.todo:
        if not args.dry_run:
            _rebuild(store)
        return 0

    from .evaluate import evaluate_run
    handles = submit_runs(evaluate_run, plan.todo, executor, store=store, array_parallelism=args.parallel,
                          name=f"{suite.name}-{model}")
    if executor == "slurm" and args.no_wait:
        for h in handles:
            print(f"submitted {h.key.dataset}/{h.key.fold}: job {h.job_id}, log {h.stdout}")
        print("follow with: python -m benchmarks.status", suite.name)
        return 0
    return finish(handles, store)


def finish(handles, store: ResultStore) -> int:
    """Wait for every run, report the failures with their logs, rebuild the leaderboards; exit status."""
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
