"""`python -m benchmarks.leaderboard build|--check`: markdown tables (and plots) generated from the result store.

Tables are built from stored results only, never from logs. A dataset's number is the mean of per-fold metrics
(the paper's protocol; micro-expression sets pool their LOSO folds), shown only when every fold is there; the
coverage table names what is missing. The paper's reported numbers stand beside ours with the difference.
Every table names the protocol and version and the date of the newest result it contains, so rebuilding from
the same store gives byte-identical files and `--check` can fail on any difference.

    python -m benchmarks.leaderboard build                          # runs/results -> runs/leaderboards
    python -m benchmarks.leaderboard build --results results --out leaderboards   # the published tables
    python -m benchmarks.leaderboard check --results results --out leaderboards   # CI: committed == generated
"""
from __future__ import annotations

import argparse
import collections
import difflib
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tabulate import tabulate

from avfmae import metrics as M
from . import clip_predictions
from .datasets import registry
from .foldweights import is_per_fold
from .gridspec import REFERENCE
from .recipe import Recipe
from .store import ResultStore

TASK_TITLES = {"CEA": "Categorical emotion analysis", "DEA": "Dimensional emotion analysis",
               "MER": "Micro-expression recognition"}


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
        if self.recipe.limit:
            parts.append(f"first {self.recipe.limit} clips")
        return ", ".join(p for p in parts if p != "default" or len(parts) == 1) + f" [cfg {self.config_hash[:6]}]"

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
        ident = (k.model, weights, k.dataset, k.dataset_revision, k.protocol, k.protocol_version,
                 k.recipe, k.config_hash)     # per-fold weights (one sha per fold): one row over the folds
        try:
            registry.get(k.dataset)
        except KeyError:
            problems.append(f"{rec.get('name')}: dataset {k.dataset!r} is not registered; skipped")
            continue
        row = rows.setdefault(ident, Row(*ident))
        row.runs[(str(k.fold), int(k.seed))] = rec
    return sorted(rows.values(), key=lambda r: (r.spec.task, r.dataset, r.model, r.protocol, r.recipe.label(),
                                                r.config_hash)), problems


def shown_row(rows: list[Row]) -> Row | None:
    """The row a main-table cell shows among one model's rows on one dataset: complete rows before partial ones,
    full data before `limit` quick looks, more folds and seeds first, then the newest. Never merely the first."""
    if not rows:
        return None
    return max(rows, key=lambda r: (r.complete, not r.recipe.limit, len(r.folds_done() & set(r.spec.folds)),
                                    len(r.runs), r.newest(), r.config_hash))


def _fmt(agg: M.Aggregate | None, complete_only: bool = True, ci: tuple | None = None) -> str:
    if agg is None:
        return "–"
    if complete_only and not agg.complete:
        return f"({agg.n_folds} folds)"
    return f"{agg.mean:.2f}" + (f" ± {agg.std:.2f}" if agg.std else "") + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


CI_NOTE = (f"Brackets: 95 % bootstrap confidence interval of the number ({clip_predictions.N_BOOT} replicates, "
           f"seed {clip_predictions.BOOT_SEED}, percentile), from the stored per-clip predictions: subjects are "
           "resampled where the folds are subject-independent, else videos (per-video datasets), else clips "
           "(the `CI over` notes and columns say which); each fold is resampled on its own and the fold rule "
           "applied per replicate; pooled (LOSO) rows resample the pooled predictions. ± is the std over folds "
           "(or seeds). No brackets: results without stored predictions, or seeds of one fold that hold different clips.")


def _paper(spec, model: str, metric: str):
    base = model.split(".")[0]
    return (spec.paper or {}).get(base, {}).get(metric)


def _header(title: str, rows: list[Row], note: str = "") -> str:
    protocols = sorted({f"{r.protocol}-{r.version}" for r in rows}) or ["–"]
    date = max((r.newest() for r in rows), default="no results yet")
    lines = [f"# {title}", "", f"Generated by `python -m benchmarks.leaderboard build` from the result store; "
             f"do not edit. Protocol: {', '.join(protocols)}. Newest result: {date}."]
    if any(r.protocol == "paper" for r in rows):
        lines.append("The `paper` protocol selects each fold's epoch on the test fold, as the official code "
                     "does; `clean` selects on training subjects only.")
    if note:
        lines.append(note)
    return "\n".join(lines) + "\n\n"


PAPER_MODELS = ("hicmae-base", "avfmae-base", "avfmae-large", "avfmae-huge")


def main_table(rows: list[Row]) -> str:
    """Every dataset: the paper's numbers (HiCMAE, B, L, H), then ours per model, with the difference."""
    plain = [r for r in rows if not r.grid]
    models = sorted({r.model for r in plain})
    shown: dict[str, list[Row]] = collections.defaultdict(list)
    datasets = registry.list_datasets("all") + [d for d in registry.list_datasets("demo")
                                                if any(r.dataset == d for r in plain)]
    body = []
    for name in datasets:
        spec = registry.get(name)
        line = [spec.title, spec.task, spec.main_metric.upper()]
        for pm in PAPER_MODELS:
            v = _paper(spec, pm, spec.main_metric)
            line.append(f"{v:.2f}" if v is not None else "–")
        for model in models:
            row = shown_row([r for r in plain if r.dataset == name and r.model == model])
            if row is None:
                line.append("–")
                continue
            shown[model].append(row)
            agg = row.metric(spec.main_metric)
            ours = _fmt(agg, ci=row.interval(spec.main_metric))
            paper = _paper(spec, model, spec.main_metric)
            if paper is not None and agg is not None and agg.complete:
                ours += f" (Δ {agg.mean - paper:+.2f})"
            line.append(ours)
        body.append(line)
    text = _header("Main results", plain, "Paper columns: the numbers reported in the paper (HiCMAE is the "
                   "baseline). Model columns: ours, with the difference to the paper's number for that size.\n"
                   + CI_NOTE)
    heads = ["dataset", "task", "metric"] + [f"paper {m}" for m in PAPER_MODELS] + models
    notes = [f"- {model} on {r.dataset}: {r.protocol}-{r.version}, weights {r.weights or 'random init'}, {r.variant}"
             + _ci_unit_note(r) for model in models for r in shown[model]]
    shown_note = ("\n\nEach model cell shows one row of runs (complete before partial, full data before quick "
                  "looks, then more folds, then the newest); `folds.md` lists every row:\n\n" + "\n".join(notes)
                  if notes else "")
    return text + tabulate(body, headers=heads, tablefmt="github") + shown_note + "\n"


def _ci_unit(r: Row) -> str:
    ci = r.interval(r.spec.main_metric)
    return clip_predictions.UNIT_WORDS[ci[2]] if ci else "–"


def _ci_unit_note(r: Row) -> str:
    return f", CI over {_ci_unit(r)}" if r.interval(r.spec.main_metric) else ""


def task_table(rows: list[Row], task: str) -> str:
    sel = [r for r in rows if r.spec.task == task and not r.grid]
    text = _header(TASK_TITLES[task], sel, "All metrics, mean ± std over folds (seeds averaged within a fold).\n"
                   + CI_NOTE)
    if not sel:
        return text + "No results yet.\n"
    body = []
    for r in sel:
        spec = r.spec
        cells = []
        for m in spec.metrics:
            agg = r.metric(m)
            paper = _paper(spec, r.model, m)
            cells.append(f"{m.upper()} {_fmt(agg, ci=r.interval(m))}"
                         + (f" [paper {paper:.2f}]" if paper is not None else ""))
        body.append([spec.title, r.model, r.variant, f"{r.protocol}-{r.version}", "; ".join(cells), _ci_unit(r)])
    return text + tabulate(body, headers=["dataset", "model", "variant", "protocol", "metrics", "CI over"],
                           tablefmt="github") + "\n"


def fold_table(rows: list[Row]) -> str:
    text = _header("Per-fold results", rows)
    body = []
    for r in rows:
        for (fold, seed), rec in sorted(r.runs.items()):
            scores = ", ".join(f"{k} {v:.2f}" for k, v in sorted(rec["scores"].items()) if isinstance(v, (int, float)))
            body.append([r.dataset, r.model, r.variant, fold, seed, scores, rec.get("selected_epoch", "–")])
    if not body:
        return text + "No results yet.\n"
    return text + tabulate(body, headers=["dataset", "model", "variant", "fold", "seed", "scores", "epoch"],
                           tablefmt="github") + "\n"


def coverage_table(rows: list[Row]) -> str:
    text = _header("Coverage", rows, "Which folds each row has; a mean is shown only for complete rows.")
    body = []
    for r in rows:
        missing = [f for f in r.spec.folds if f not in r.folds_done()]
        body.append([r.dataset, r.model, r.variant, f"{r.protocol}-{r.version}",
                     f"{len(r.folds_done() & set(r.spec.folds))}/{len(r.spec.folds)}",
                     len({s for _, s in r.runs}), ", ".join(missing) or "complete"])
    if not body:
        return text + "No results yet.\n"
    return text + tabulate(body, headers=["dataset", "model", "variant", "protocol", "folds", "seeds", "missing"],
                           tablefmt="github") + "\n"


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
                cell = _fmt(match[0].metric(registry.get(d).main_metric)) if match else "–"
                delta = _delta_to_reference(match[0], sel) if match else None
                cell += f" (Δ {delta:+.2f})" if delta is not None else ""
                line.append(cell + (" *" if match and first and _significant(match[0], first[0]) else ""))
            body.append(line)
        heads = ["model", "variant"] + [f"{d} ({registry.get(d).main_metric.upper()})" for d in datasets]
        out[grid] = _header(f"Ablation: {grid}", sel, ABLATION_NOTE) + tabulate(body, headers=heads,
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


def model_zoo() -> str:
    from avfmae import zoo
    from avfmae.zoo.factory import describe

    body = []
    for name in zoo.list_models():
        if "~" in name:   # in-process ablation variants (zoo.derive), not part of the zoo
            continue
        spec = zoo.get_spec(name)
        d = describe(spec)
        body.append([name, spec.family, f"{d['finetune_params']:,}", f"{d['pretrain_params']:,}",
                     spec.paper_params_m or "–", spec.official_name or "–", spec.description])
    return ("# Model zoo\n\nGenerated from the zoo registry by `python -m benchmarks.leaderboard build`; do not "
            "edit. Fine-tune parameters include an 11-class head for the paper sizes.\n\n"
            + tabulate(body, headers=["model", "family", "fine-tune params", "pre-train params", "paper #PS (M)",
                                      "official name", "description"], tablefmt="github") + "\n")


def render(store: ResultStore) -> tuple[dict[str, str], list]:
    rows, problems = collect(store)
    files = {"main.md": main_table(rows), "cea.md": task_table(rows, "CEA"), "dea.md": task_table(rows, "DEA"),
             "mer.md": task_table(rows, "MER"), "folds.md": fold_table(rows), "coverage.md": coverage_table(rows),
             "MODEL_ZOO.md": model_zoo()}
    for grid, text in ablation_tables(rows).items():
        files[f"ablations/{grid}.md"] = text
    index = ["# Leaderboards", "", "Generated from the result store; see each table for protocol and date.", ""]
    index += [f"- [{name}]({name})" for name in sorted(files)]
    files["README.md"] = "\n".join(index) + "\n"
    return files, problems


def default_out(store: ResultStore) -> Path:
    return Path(store.root).resolve().parent / "leaderboards"


def build(store: ResultStore | None = None, out: Path | None = None) -> Path:
    store = store or ResultStore()
    out = Path(out) if out else default_out(store)
    files, problems = render(store)
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)
    for name, text in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
    from .plots import write_plots
    write_plots(collect(store)[0], out)
    return out


def check(store: ResultStore, out: Path) -> list[str]:
    """Differences between the committed markdown in `out` and what the store generates now, and every store
    file that is not a usable result (a truncated JSON must not pass as "up to date")."""
    files, problems = render(store)
    diffs = [f"result store: {p}" for p in problems]
    for name, text in sorted(files.items()):
        path = out / name
        old = path.read_text() if path.is_file() else ""
        if old != text:
            diffs.append("".join(difflib.unified_diff(old.splitlines(True), text.splitlines(True),
                                                      f"committed/{name}", f"generated/{name}")))
    stale = {p.relative_to(out).as_posix() for p in out.rglob("*.md")} - set(files) if out.is_dir() else set()
    diffs += [f"{name}: no longer generated (delete it)" for name in sorted(stale)]
    return diffs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.leaderboard", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["build", "check"], nargs="?", default="build")
    ap.add_argument("--check", action="store_true", help="same as the `check` command")
    ap.add_argument("--results", help="result store (default $AVF_RESULTS_DIR or runs/results)")
    ap.add_argument("--out", type=Path, help="output folder (default: leaderboards/ beside the store)")
    args = ap.parse_args(argv)
    store = ResultStore(args.results)
    out = args.out or default_out(store)
    if args.check or args.command == "check":
        diffs = check(store, out)
        for d in diffs:
            print(d)
        print(f"{out}: {'up to date' if not diffs else f'{len(diffs)} file(s) differ from the store; run build'}")
        return 1 if diffs else 0
    try:
        print(f"wrote {build(store, out)}")
    except OSError as e:  # a read-only folder: one clear message, not a traceback
        print(f"error: cannot write the leaderboards in {out}: {e.strerror or e}"
              f"{f' ({e.filename})' if getattr(e, 'filename', None) else ''}; make it writable or pass --out DIR",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
