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


def run_states(plan: RunPlan, store: ResultStore | None) -> dict[str, str]:
    """State per run signature, from the one source `benchmarks.status` reads (jobstatus.run_status: the store's
    results and failure records, the job records and the scheduler): a cancelled job, which writes no failure
    record, counts as failed here as it does there."""
    states = {r.key.signature: r.status for r in plan.runs}
    if store is None:
        return states
    from .jobstatus import run_status

    for st in run_status([r.key for r in plan.runs if r.status != "done"], store):
        states[st.key.signature] = st.state
    return states


def print_plan(plan: RunPlan, executor: str, store: ResultStore | None = None) -> None:
    states = run_states(plan, store)
    rows = [[r.key.dataset, r.key.fold, r.key.seed, r.key.protocol, r.key.recipe.label() or "default",
             states[r.key.signature], r.key.signature] for r in plan.runs]
    if rows:
        print(tabulate(rows, headers=["dataset", "fold", "seed", "protocol", "recipe", "status", "run"],
                       tablefmt="github"))
    c: dict[str, int] = {}
    for state in states.values():
        c[state] = c.get(state, 0) + 1
    elsewhere = c.get("running", 0) + c.get("pending", 0)
    print(f"\n{len(plan.runs)} runs: {c.get('done', 0)} done, {c.get('failed', 0)} failed before, "
          + (f"{elsewhere} running or pending in jobs (not started twice: they share a run lock), " if elsewhere
             else "") + f"{len(plan.runs) - c.get('done', 0)} to run; executor {executor}")
    for spec, path in plan.absent:
        print(f"absent: {spec.name} ({spec.title}) has no prepared splits at {path}/splits/ -> "
              f"python -m benchmarks.data prepare {spec.name} --raw <your copy of the release>")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", default="demo", help="all | cea | dea | mer | demo (default demo)")
    add_suite_args(ap)
    ap.add_argument("--executor", default="auto", choices=["auto", "inline", "local", "slurm"],
                    help="auto (default): slurm where a SLURM cluster answers, else inline")
    ap.add_argument("--parallel", type=int, default=None, help="at most this many runs at once (local, slurm; "
                    "default: the cluster profile's array_parallelism, 16 built in)")
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
    print_plan(the_plan, executor, store)
    print(f"(planned in {time.perf_counter() - t0:.2f} s)")
    if args.dry_run or not the_plan.todo:
        if not args.dry_run:
            ok = _rebuild(store)
            _summary(store, suite)
            return 0 if ok else 1
        return 0

    handles = submit(the_plan.todo, executor, store, args.parallel, f"{suite.name}-{args.model}")
    if handles is None:
        return 2
    if executor == "slurm" and args.no_wait:
        for h in handles:
            print(f"submitted {h.key.dataset}/{h.key.fold}: job {h.job_id}, log {h.stdout}")
        print("follow with: python -m benchmarks.status", suite.name, "--model", args.model)
        return 0
    code = finish(handles, store)
    _summary(store, suite)
    return code


def submit(todo, executor: str, store: ResultStore, parallel: int | None, name: str):
    """Check that the store, work, pipeline and zoo folders are writable, then submit the runs (a pipeline's
    shared stage-1/2 jobs first, the stage-3 runs depending on them on SLURM); None (and the reason printed) when
    a folder cannot be written."""
    from .evaluate import evaluate_run
    from .pipeline import submit_starting_weights
    from .preflight import NotWritable, check_writable

    try:
        check_writable(store)
    except NotWritable as e:
        print(f"error: {e}", file=sys.stderr)
        return None
    return submit_runs(evaluate_run, todo, executor, store=store, array_parallelism=parallel, name=name,
                       prepare=submit_starting_weights)


def _summary(store: ResultStore, suite) -> None:
    """The suite's rows of the main table (and its grid's table with the claims) on the terminal."""
    from . import leaderboard
    from .datasets import registry
    from .leaderboard_ablations import claims
    from .leaderboard_rows import collect

    out = leaderboard.default_out(store)
    main = (out / "main.md").read_text(encoding="utf-8").splitlines() if (out / "main.md").is_file() else []
    titles = {registry.get(d).title for d in suite.datasets}
    table = [ln for ln in main if ln.startswith("| dataset") or ln.startswith("|--")
             or any(ln.startswith(f"| {t} ") for t in titles)]
    if len(table) > 2:
        print(f"\nMain table ({out / 'main.md'}):\n" + "\n".join(table))
    if suite.grid:
        path = out / "ablations" / f"{suite.grid}.md"
        if path.is_file():
            lines = path.read_text(encoding="utf-8").splitlines()
            print(f"\nComparisons ({path}):\n" + "\n".join(ln for ln in lines if ln.startswith("|")))
        rows, _ = collect(store)
        for line in claims(rows, suite.grid):
            print("  " + line)


def finish(handles, store: ResultStore) -> int:
    """Wait for every run, report the failures with their logs, rebuild the leaderboards; exit status."""
    from .runhandle import wait

    wait(handles)
    failed = [h for h in handles if h.exception() is not None]
    for h in failed:
        print(failed_line(h, store), file=sys.stderr)
    report_skipped([h.result() for h in handles if h.exception() is None])
    rebuilt = _rebuild(store)
    return 1 if failed or not rebuilt else 0


def report_skipped(results: list[dict], show: int = 5) -> int:
    """Print how many clips the runs skipped (on_error=skip) and the first few; returns the count."""
    skipped = [(r.get("name", "?"), s) for r in results for s in (r.get("skipped") or [])]
    if skipped:
        runs = len({name for name, _ in skipped})
        print(f"{len(skipped)} clip{'s' * (len(skipped) != 1)} skipped (on_error=skip) in {runs} "
              f"run{'s' * (runs != 1)}; each result lists them under 'skipped' (clip, file, reason):")
        for name, s in skipped[:show]:
            print(f"  {s.get('split', '?')} {s.get('clip')} ({s.get('file')}): {s.get('reason')}")
        if len(skipped) > show:
            print(f"  ... and {len(skipped) - show} more")
    return len(skipped)


def failed_line(handle, store: ResultStore) -> str:
    """`FAILED <run>: <last meaningful error line> (log: <path>)`, never the job's whole stderr. A job that ended
    without writing a failure record (cancelled, killed, timed out) gets one here, so the store, `benchmarks.status`
    and the next plan all say failed."""
    from .jobstatus import last_error_line

    exc = handle.exception()
    message = last_error_line(f"{type(exc).__name__}: {exc}") or type(exc).__name__
    log = handle.stderr or "inline"
    if not store.is_done(handle.key) and store.failure(handle.key) is None:
        try:
            store.put_failure(handle.key, f"{message}\n(job {handle.job_id or '-'}, log {log})",
                              job_id=handle.job_id, log=str(log))
        except OSError as e:
            print(f"warning: could not record the failure of {handle.key.name} in {store.root}: {e}",
                  file=sys.stderr)
    return f"FAILED {handle.key.name}: {message} (log: {log})"


def _rebuild(store: ResultStore) -> bool:
    """Rebuild the leaderboards beside the store; a folder that cannot be written is one clear message (the
    results are stored: `python -m benchmarks.leaderboard build --out DIR` writes the tables elsewhere)."""
    from .leaderboard import build, default_out
    try:
        out = build(store)
    except OSError as e:
        print(f"error: the leaderboards could not be written in {default_out(store)}: {e.strerror or e}"
              f"{f' ({e.filename})' if getattr(e, 'filename', None) else ''}. The results are in the store; "
              "make that folder writable, or write the tables elsewhere with "
              "python -m benchmarks.leaderboard build --out DIR", file=sys.stderr)
        return False
    print(f"leaderboards rebuilt in {out}")
    return True


if __name__ == "__main__":
    from avfmae.cli import run_main

    run_main(main)
