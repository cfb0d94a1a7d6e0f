"""`python -m benchmarks.compare A B`: is A better than B? Per dataset, the difference of the main metric, its
95 % confidence interval and a paired test, on the SAME test clips, as a markdown table.

A and B are model names (zoo names or anything stored as a run's model). Two variants of one model are told apart
by run-key filters, per side:

    --recipe-a/--recipe-b ITEMS   comma-separated `key=value` items the run's recipe must contain (as `--set`
                                  takes them or the leaderboard's `variant` column prints them, e.g.
                                  `epochs=2` or `stage3.epochs=2`), or `default` for the plain recipe
    --config-a/--config-b PREFIX  the run's config hash starts with PREFIX (the `[cfg ......]` of the tables)
    --protocol P, --dataset D     both sides (repeat --dataset; default: every dataset both sides have)

Where several rows of a side match, the closest match wins (the fewest recipe items, so `--recipe-b stages=3`
picks a grid's base variant over `stages=3,arch.fusion_depth=1`), then the leaderboard's rule (complete before
partial, full data before quick looks, then more folds, the newest). Incomplete rows are compared only on the same folds (the dataset
column then says which folds); that is not the dataset's number. The difference is A - B of the
dataset's number (its fold rule; pooled LOSO rows pooled), recomputed from the stored per-clip predictions. The
interval and the test come from one paired bootstrap: per replicate the same clusters (subjects on
subject-independent folds, else videos or clips) are resampled for both sides, within each fold. The interval is
the percentile interval of the replicated differences; p is two-sided (twice the smaller share of replicates on
either side of zero; `<1/n_boot` when none crossed). A difference is marked `*` when its interval excludes 0. When A
and B do not hold the same clips on a dataset (another revision, clip limit or skipped clips), that dataset is
refused with the reason, and the command exits 1.

    python -m benchmarks.compare avfmae-micro avfmae-micro --recipe-a stage3.epochs=2 --recipe-b default
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from tabulate import tabulate

from avfmae.metrics.intervals import bootstrap_p, percentile_interval

from . import clip_predictions
from .store import ResultStore


@dataclass(frozen=True)
class Comparison:
    dataset: str
    metric: str
    a: float
    b: float
    diff: float
    low: float
    high: float
    p: float
    unit: str
    n_boot: int

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0


def compare_rows(row_a, row_b, metric: str | None = None, *, n_boot: int = 1000, seed: int = 0,
                 level: float = 0.95) -> Comparison:
    """Paired bootstrap of A - B for two complete leaderboard rows of one dataset; ValueError when they do not
    hold the same clips or lack stored predictions."""
    spec = row_a.spec
    if row_b.dataset != row_a.dataset:
        raise ValueError(f"rows of different datasets ({row_a.dataset} vs {row_b.dataset})")
    metric = metric or spec.main_metric
    diff, reps, unit = clip_predictions.paired(spec, row_a.runs, row_b.runs, metric, n_boot=n_boot, seed=seed)
    low, high = percentile_interval(reps, level)
    a, b = row_a.metric(metric).mean, row_b.metric(metric).mean
    return Comparison(spec.name, metric, a, b, diff, low, high, bootstrap_p(reps), unit, n_boot)


def recipe_matches(row, items: str | None) -> bool:
    """Whether a row's recipe carries every `key=value` item of ``items`` (`default`: the plain recipe)."""
    if not items:
        return True
    if items.strip() == "default":
        return row.recipe.variant() == "default"
    from .recipe import Recipe

    have = set(row.recipe.label(hide=()).split(","))
    pairs = dict(i.strip().split("=", 1) for i in items.split(",") if i.strip())
    want = Recipe.parse(pairs).label(hide=()).split(",")      # `epochs=2` and `stage3.epochs=2` alike
    return all(w in have for w in want if w)


def pick(rows, model: str, recipe: str | None, config: str | None, protocol: str | None):
    from .leaderboard_rows import shown_row

    sel = [r for r in rows if r.model == model and recipe_matches(r, recipe)
           and (not config or r.config_hash.startswith(config)) and (not protocol or r.protocol == protocol)]
    by_ds: dict = {}
    for r in sel:
        by_ds.setdefault(r.dataset, []).append(r)
    out = {}
    for d, rs in by_ds.items():
        fewest = min(_n_items(r) for r in rs)           # the closest match: no recipe items beyond the filter's
        out[d] = shown_row([r for r in rs if _n_items(r) == fewest])
    return out


def _n_items(row) -> int:
    return len([i for i in row.recipe.label().split(",") if i])


def _p(c: Comparison) -> str:
    return f"<{1 / c.n_boot:.4g}" if c.p == 0 else f"{c.p:.3f}"


def run(store: ResultStore, a: str, b: str, *, recipe_a=None, recipe_b=None, config_a=None, config_b=None,
        protocol=None, datasets=None, n_boot: int = 1000, seed: int = 0) -> tuple[str, list[str]]:
    """(markdown, refusals)."""
    from .leaderboard_rows import collect

    rows, _ = collect(store)
    side_a = pick(rows, a, recipe_a, config_a, protocol)
    side_b = pick(rows, b, recipe_b, config_b, protocol)
    names = sorted(set(side_a) & set(side_b)) if not datasets else list(datasets)
    body, refused = [], []
    for d in names:
        ra, rb = side_a.get(d), side_b.get(d)
        if ra is None or rb is None:
            refused.append(f"{d}: no matching row for {'A' if ra is None else 'B'}")
            continue
        if ra is rb:
            refused.append(f"{d}: A and B select the same runs ({ra.variant}); give --recipe-a/-b or --config-a/-b")
            continue
        if not (ra.complete and rb.complete) and ra.folds_done() != rb.folds_done():
            refused.append(f"{d}: refused: incomplete rows on different folds ({', '.join(sorted(ra.folds_done()))} "
                           f"vs {', '.join(sorted(rb.folds_done()))})")
            continue
        try:
            c = compare_rows(ra, rb, n_boot=n_boot, seed=seed)
        except ValueError as e:
            refused.append(f"{d}: refused: {e}")
            continue
        part = "" if ra.complete and rb.complete else f" (folds {', '.join(sorted(ra.folds_done()))} only)"
        body.append([d + part, c.metric.upper(), f"{c.a:.2f}", f"{c.b:.2f}", f"{c.diff:+.2f}" + (" *" if c.significant else ""),
                     f"[{c.low:+.2f}, {c.high:+.2f}]", _p(c), clip_predictions.UNIT_WORDS[c.unit]])
    label_a = " ".join(x for x in (a, recipe_a and f"[{recipe_a}]", config_a and f"cfg {config_a}") if x)
    label_b = " ".join(x for x in (b, recipe_b and f"[{recipe_b}]", config_b and f"cfg {config_b}") if x)
    text = [f"# {label_a} (A) vs {label_b} (B)", "",
            f"Difference A - B of each dataset's main metric; 95 % paired-bootstrap interval ({n_boot} replicates, "
            f"seed {seed}) resampling the `resampled` units within each fold; p two-sided; `*`: the interval "
            "excludes 0.", ""]
    if body:
        text.append(tabulate(body, headers=["dataset", "metric", "A", "B", "A - B", "95 % CI", "p", "resampled"],
                             tablefmt="github"))
    else:
        text.append("Nothing to compare.")
    if refused:
        text += ["", "Not compared:", ""] + [f"- {r}" for r in refused]
    return "\n".join(text) + "\n", refused


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", help="model A")
    ap.add_argument("b", help="model B (may equal A when the recipe/config filters differ)")
    for side in ("a", "b"):
        ap.add_argument(f"--recipe-{side}", help="comma-separated key=value recipe items, or 'default'")
        ap.add_argument(f"--config-{side}", help="config hash prefix")
    ap.add_argument("--protocol", help="only runs of this protocol")
    ap.add_argument("--dataset", action="append", help="only this dataset (repeatable)")
    ap.add_argument("--results", help="result store (default $AVF_RESULTS_DIR or runs/results)")
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    text, refused = run(ResultStore(args.results), args.a, args.b, recipe_a=args.recipe_a, recipe_b=args.recipe_b,
                        config_a=args.config_a, config_b=args.config_b, protocol=args.protocol,
                        datasets=args.dataset, n_boot=args.n_boot, seed=args.seed)
    print(text, end="")
    return 1 if refused or "Nothing to compare." in text else 0


if __name__ == "__main__":
    sys.exit(main())
