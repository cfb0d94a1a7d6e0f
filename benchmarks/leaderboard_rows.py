"""Leaderboard rows: stored results grouped into one Row per (model, weights, dataset @ revision, protocol @
version, recipe + config hash) over folds x seeds, the row's number per metric (the dataset's fold rule, from
avfmae.metrics) and its bootstrap interval, and which row a main-table cell shows. Read from the result store
only, never from logs; benchmarks.leaderboard_tables and benchmarks.leaderboard_ablations render them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from avfmae import metrics as M
from . import clip_predictions
from .datasets import registry
from .foldweights import is_per_fold
from .gridspec import REFERENCE
from .plan import PIPELINE_WEIGHTS
from .recipe import Recipe
from .store import ResultStore


@dataclass
class Row:
    """All runs of one (model, weights, dataset @ revision, protocol @ version, recipe + config hash), over folds x seeds."""
    model: str
    weights: str
    dataset: str
    revision: str
    protocol: str
    version: str
    recipe: Recipe
    config_hash: str
    runs: dict = field(default_factory=dict)      # (fold, seed) -> result record
    cis: dict = field(default_factory=dict, repr=False, compare=False)   # metric -> (low, high, unit) | None

    @property
    def spec(self):
        return registry.get(self.dataset)

    @property
    def grid(self) -> str | None:
        """The ablation grid of a variant row (None for a plain run and for a grid's reference run, which the
        main table shows too)."""
        return None if self.reference_of else (self.recipe.grid or None)

    @property
    def reference_of(self) -> str | None:
        g = self.recipe.grid
        return g[: -len(REFERENCE)] if g.endswith(REFERENCE) else None

    @property
    def variant(self) -> str:
        """How the row's runs were made, enough to tell two rows of one model apart."""
        parts = [("reference: " if self.reference_of else "") + self.recipe.variant()]
        if self.given_weights:
            parts.append(self.given_weights)
        if self.recipe.limit:
            parts.append(f"first {self.recipe.limit} clips")
        return ", ".join(p for p in parts if p != "default" or len(parts) == 1) + f" [cfg {self.config_hash[:6]}]"

    @property
    def given_weights(self) -> str:
        """'weights 1a2b3c4d' (the sha of the one file) or 'weights per fold (name)' for weights given with the
        command (--weights, a zoo tag), so rows of one model from two checkpoints differ by more than their cfg
        hash; '' for random init and pipeline-trained starting weights."""
        if self.weights.startswith("per-fold:"):
            return f"weights per fold ({Path(self.weights.split(':', 1)[1]).name})"
        return f"weights {self.weights[:8]}" if self.weights and self.weights != PIPELINE_WEIGHTS else ""

    def folds_done(self) -> set:
        return {f for f, _ in self.runs}

    @property
    def complete(self) -> bool:
        return set(self.spec.folds) <= self.folds_done()

    def metric(self, name: str) -> M.Aggregate | None:
        """The dataset's number for ``name``: its fold rule (mean of folds, or pooled LOSO) from avfmae.metrics."""
        seeds = sorted({s for _, s in self.runs})
        return M.aggregate_folds(self.spec.fold_aggregate, name, self.runs, folds=list(self.spec.folds), seeds=seeds)

    def interval(self, name: str) -> tuple | None:
        """(low, high, unit) of the 95 % bootstrap interval of the row's number for ``name``, from the stored
        per-clip predictions (seeded, fixed replicate count); None when a result has none or the row is partial."""
        if name not in self.cis:
            agg = self.metric(name)
            ok = agg is not None and agg.complete
            try:
                self.cis[name] = clip_predictions.interval(self.spec, self.runs, name) if ok else None
            except ValueError:   # e.g. the seeds of a fold hold different clips (skipped ones): no interval
                self.cis[name] = None
        return self.cis[name]

    def newest(self) -> str:
        return max(r.get("created_at", "") for r in self.runs.values())


def collect(store: ResultStore) -> tuple[list[Row], list]:
    results, problems = store.scan()
    rows: dict[tuple, Row] = {}
    for rec in results:
        k = rec["key"]
        weights = f"per-fold:{k.recipe.weights}" if is_per_fold(k.recipe.weights) else k.weights_sha
        # per-fold weights (one sha per fold): one row over the folds; the recipe as the run's identity has it
        # (no runtime fields, no path of a one-file weights reference), so folds run with other switches or
        # another path to the same file share the row
        ident = (k.model, weights, k.dataset, k.dataset_revision, k.protocol, k.protocol_version,
                 Recipe.parse(k.identity_recipe()), k.config_hash)
        try:
            registry.get(k.dataset)
        except KeyError:
            problems.append(f"{rec.get('name')}: dataset {k.dataset!r} is not registered; skipped")
            continue
        row = rows.setdefault(ident, Row(*ident))
        slot = (str(k.fold), int(k.seed))
        # two results of one fold and seed in a row: per-fold weights whose file for that fold was replaced and
        # scored again (another sha); the newest stands for the row, not whichever file was listed last
        if slot not in row.runs or rec.get("created_at", "") >= row.runs[slot].get("created_at", ""):
            row.runs[slot] = rec
    return sorted(rows.values(), key=lambda r: (r.spec.task, r.dataset, r.model, r.protocol, r.recipe.label(),
                                                r.config_hash)), problems


def fine_tuned(row: Row) -> bool:
    """Whether the row scores a fine-tuned model (fine-tuning protocols, or eval of given fine-tuned weights):
    what the paper's numbers are; a linear probe on frozen features is another quantity."""
    from .protocols import PROTOCOLS

    proto = PROTOCOLS.get(row.protocol)
    return proto is None or proto.kind != "probe"


def shown_row(rows: list[Row]) -> Row | None:
    """The row a main-table cell shows among one model's rows on one dataset: complete rows before partial ones,
    fine-tuned before linear-probe rows (the paper columns beside them are fine-tuned numbers), full data before
    `limit` quick looks, more folds and seeds first, then the newest. Never merely the first."""
    if not rows:
        return None
    return max(rows, key=lambda r: (r.complete, fine_tuned(r), not r.recipe.limit,
                                    len(r.folds_done() & set(r.spec.folds)), len(r.runs), r.newest(), r.config_hash))
