"""The ablation tables (one per grid: each variant against the grid's reference run, with the difference and a
paired-bootstrap significance mark) and the claims (per variant: is the reference, the method, ahead?).
"""
from __future__ import annotations

import collections

from tabulate import tabulate

from . import clip_predictions
from .datasets import registry
from .leaderboard_rows import Row, shown_row
from .leaderboard_tables import format_cell, table_header


ABLATION_NOTE = (f"`*`: differs significantly from the table's first line on the same clips (paired bootstrap, "
                 f"{clip_predictions.N_BOOT} replicates, seed {clip_predictions.BOOT_SEED}: the 95 % interval of the "
                 "difference excludes 0; `python -m benchmarks.compare` prints the numbers). No mark: not "
                 "significant, or not comparable (incomplete, no stored predictions, other clips).")


def _significant(row: Row, ref: Row) -> bool:
    """Whether ``row`` differs from ``ref`` on the main metric (paired bootstrap CI excludes 0)."""
    from .compare import compare_rows

    if row is ref or not (row.complete and ref.complete):
        return False
    try:
        return compare_rows(row, ref, n_boot=clip_predictions.N_BOOT, seed=clip_predictions.BOOT_SEED).significant
    except ValueError:
        return False


def ablation_tables(rows: list[Row]) -> dict[str, str]:
    grids = collections.defaultdict(list)
    for r in rows:
        if r.grid:
            grids[r.grid].append(r)
    for r in rows:                      # a grid's reference runs head its table
        if r.reference_of in grids:
            grids[r.reference_of].insert(0, r)
    out = {}
    for grid, sel in sorted(grids.items()):
        datasets = sorted({r.dataset for r in sel})
        variants = list(dict.fromkeys((r.model, r.variant) for r in sel))   # the reference first
        body = []
        for model, variant in variants:
            line = [model, variant]
            for d in datasets:
                match = [r for r in sel if r.dataset == d and r.model == model and r.variant == variant]
                first = [r for r in sel if r.dataset == d and r.model == variants[0][0] and r.variant == variants[0][1]]
                cell = format_cell(match[0].metric(registry.get(d).main_metric)) if match else "–"
                delta = _delta_to_reference(match[0], sel) if match else None
                cell += f" (Δ {delta:+.2f})" if delta is not None else ""
                line.append(cell + (" *" if match and first and _significant(match[0], first[0]) else ""))
            body.append(line)
        heads = ["model", "variant"] + [f"{d} ({registry.get(d).main_metric.upper()})" for d in datasets]
        out[grid] = table_header(f"Ablation: {grid}", sel, ABLATION_NOTE) + tabulate(body, headers=heads,
                                                                             tablefmt="github") + "\n"
    return out


def _reference_row(row: Row, rows: list[Row]) -> Row | None:
    refs = [r for r in rows if r.reference_of and r.model == row.model and r.dataset == row.dataset]
    return shown_row(refs)


def _delta_to_reference(row: Row, rows: list[Row]) -> float | None:
    """row's main metric minus its grid reference's (complete rows only; None for the reference itself)."""
    ref = _reference_row(row, rows)
    if ref is None or ref is row:
        return None
    metric = row.spec.main_metric
    a, b = row.metric(metric), ref.metric(metric)
    if a is None or b is None or not (a.complete and b.complete):
        return None
    return a.mean - b.mean


def claims(rows: list[Row], grid: str) -> list[str]:
    """One line per variant of `grid` against its reference: the difference of the main metric, and whether
    the reference (the method) is ahead, stated as it is."""
    sel = [r for r in rows if r.grid == grid]
    out = []
    for r in sel:
        ref = _reference_row(r, rows)
        delta = _delta_to_reference(r, rows)
        if ref is None or delta is None:
            out.append(f"{r.dataset}, {r.variant}: no complete comparison yet")
            continue
        metric = r.spec.main_metric.upper()
        verdict = "holds" if delta < 0 else "does NOT hold"
        sig = "significant" if _significant(r, ref) else "not significant"
        out.append(f"{r.dataset}: {ref.recipe.variant()} {metric} {ref.metric(r.spec.main_metric).mean:.2f} vs "
                   f"{r.recipe.variant()} {r.metric(r.spec.main_metric).mean:.2f}: the reference is "
                   f"{'ahead' if delta < 0 else 'not ahead'} by {-delta:+.2f} ({sig}, paired bootstrap 95 %) -> "
                   f"claim {verdict}")
    return out
