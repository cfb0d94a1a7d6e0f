"""`python -m benchmarks.audit [--results DIR]`: recompute every stored result's scores from its per-clip
predictions and report any that do not match (exit 1).

Each result written by `benchmarks.evaluate` keeps its selected epoch's test predictions (`"predictions"`, see
`benchmarks.clip_predictions`). The audit rescores them with the dataset's scoring (its metrics, per-video
grouping, class count) and compares every stored score (to ``--tol``, default 1e-4 percent points), the confusion
matrix and ``n_test``. A result without predictions (written before they were kept) cannot be audited: it is
listed, and fails the audit only with ``--strict``.

    python -m benchmarks.audit                       # runs/results (or $AVF_RESULTS_DIR)
    python -m benchmarks.audit --results results --strict
"""
from __future__ import annotations

import argparse
import math
import sys

from .clip_predictions import recompute
from .datasets import registry
from .store import ResultStore


def audit_record(rec: dict, tol: float = 1e-4) -> list[str] | None:
    """The mismatches of one stored result ([] when it checks out); None when it has no predictions."""
    comp = rec.get("predictions")
    if not isinstance(comp, dict):
        return None
    spec = registry.get(rec["key"].dataset)
    try:
        scores, confusion = recompute(spec, comp)
    except (KeyError, ValueError, TypeError) as e:
        return [f"its predictions cannot be scored: {e}"]
    out = []
    for name, stored in sorted(rec["scores"].items()):
        if not isinstance(stored, (int, float)) or isinstance(stored, bool):
            continue
        got = scores.get(name)
        if got is None:
            out.append(f"{name}: stored {stored}, not computed from the predictions")
        elif not (math.isfinite(got) and abs(got - stored) <= tol):
            out.append(f"{name}: stored {stored:.6f}, recomputed {got:.6f}")
    if rec.get("confusion") is not None and confusion is not None and rec["confusion"] != confusion:
        out.append("confusion matrix differs from the one recomputed from the predictions")
    if rec.get("n_test") is not None and rec["n_test"] != len(comp.get("clips", [])):
        out.append(f"n_test {rec['n_test']} but {len(comp.get('clips', []))} predicted clips")
    return out


def audit(store: ResultStore, tol: float = 1e-4) -> tuple[dict, list, list, int]:
    """({result name: [mismatch, ...]} for failing results, [names without predictions], store problems,
    number of results read)."""
    results, problems = store.scan()
    bad, unaudited = {}, []
    for rec in results:
        try:
            registry.get(rec["key"].dataset)
        except KeyError:
            problems.append(f"{rec.get('name')}: dataset {rec['key'].dataset!r} is not registered; not audited")
            continue
        found = audit_record(rec, tol)
        if found is None:
            unaudited.append(rec["name"])
        elif found:
            bad[rec["name"]] = found
    return bad, unaudited, problems, len(results)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.audit", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", help="result store (default $AVF_RESULTS_DIR or runs/results)")
    ap.add_argument("--tol", type=float, default=1e-4, help="allowed absolute difference per score")
    ap.add_argument("--strict", action="store_true", help="results without predictions fail the audit too")
    args = ap.parse_args(argv)
    store = ResultStore(args.results)
    bad, unaudited, problems, n = audit(store, args.tol)
    for name, lines in sorted(bad.items()):
        print(f"MISMATCH {name}")
        for line in lines:
            print(f"  {line}")
    for name in unaudited:
        print(f"{'FAIL' if args.strict else 'note'}: {name} has no stored predictions (cannot be audited)")
    for p in problems:
        print(f"store: {p}")
    print(f"{store.root}: {n} results, {len(bad)} mismatching, {len(unaudited)} without predictions")
    return 1 if bad or problems or (args.strict and unaudited) else 0


if __name__ == "__main__":
    sys.exit(main())
