"""`python -m benchmarks.status [SUITE|GRID] [--model M]`: done / running / pending / failed / missing.

For a grid, the runs are the grid's plan. For a suite, the runs are those of `--model` (or, without it, every
run of the suite's datasets that was ever submitted or stored). Job ids and log paths come from the submission
records; states from the scheduler (squeue / scontrol / sacct) and the result store.
"""
from __future__ import annotations

import argparse
import sys

from tabulate import tabulate

from .jobstatus import read_records, run_status, summarize
from .runkey import RunKey
from .store import ResultStore


def _suite_keys(name: str, model: str | None, store: ResultStore, seeds) -> list[RunKey]:
    from .plan import make_plan
    from .suites import get_suite

    suite = get_suite(name)
    if model:
        return [r.key for r in make_plan(model, list(suite.datasets), suite.protocol, seeds=seeds,
                                         store=store).runs]
    keys = {}
    for rec in read_records(store.root.parent / "submitit").values():
        k = RunKey.from_dict(rec["key"])
        if k.dataset in suite.datasets:
            keys[k.signature] = k
    for rec in store.iter_results():
        k = rec["key"]
        if k.dataset in suite.datasets:
            keys[k.signature] = k
    return sorted(keys.values(), key=lambda k: k.name)


def main(argv=None) -> int:
    from .gridspec import available, load

    ap = argparse.ArgumentParser(prog="python -m benchmarks.status", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("target", nargs="?", default="all", help="a suite (all, cea, dea, mer, demo) or a grid name")
    ap.add_argument("--model", help="for a suite: the model whose planned runs to show")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--results", help="result store folder")
    ap.add_argument("--all", action="store_true", help="list done runs too (default: only the others)")
    args = ap.parse_args(argv)
    store = ResultStore(args.results)
    if args.target in available():
        keys = [r.key for r in load(args.target).plan(store).runs]
    else:
        keys = _suite_keys(args.target, args.model, store, args.seeds)
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
