"""One module per evaluation dataset: its `DatasetSpec`(s), its official release layout and its importer.

The registry (`benchmarks.datasets.registry`) imports every public module of this package (pkgutil; names that
start with `_` are shared helpers) and registers what it exposes:

    ORDER = 7                 # position in the paper's tables (the registry's order; new sets: any larger number)
    SPECS = (RAVDESS,)        # the dataset's DatasetSpec(s)
    LAYOUT = "<RAVDESS>/..."  # the official release layout the importer expects, shown on errors and by --layout
    def import_release(spec, raw, source="auto") -> Plan: ...   # reads names and label files, never media
    SUITES = ("demo",)        # optional: the suites to join instead of ("all", <task>)

A module without `import_release` is generated, not imported (the demo set). "Adding a dataset" in the README
shows a complete example.

Conventions used by every spec:

- Fold folder names: `fold1..foldK` for cross-validation, `session1..` for leave-one-session-out, the subject
  id for leave-one-subject-out (LOSO), `official` for a single official train/test split. AVCAffe's two
  "folds" are its two rated attributes (`arousal`, `valence`): same participants, different label; the mean
  over the two folds is the number the paper's radar plot shows.
- Metric names are those of the metrics registry (checked when the registry loads): uar (mean per-class recall),
  war (accuracy), wf1 (weighted F1), mf1 (macro F1), uf1 (mean of one-vs-rest F1, the micro-expression
  "unweighted F1"), ccc / pcc (concordance / Pearson correlation; for regression the dataset number is the mean
  over targets).
- `paper` keys are `<metric>[_<target>][@<fold>]`, values in percent: "uar", "ccc_arousal", "uar@fold3".
  Model keys are zoo model names: "avfmae-base", "avfmae-large", "avfmae-huge", "hicmae-base".
- `source` says where each fact comes from and how sure we are: H (read in a primary file), M (derived
  indirectly), L (a default to confirm on real data), with the datasets.md source keys.
"""
from __future__ import annotations

CV5 = tuple(f"fold{k}" for k in range(1, 6))
CEA_METRICS = ("uar", "war", "wf1")


def per_fold(metric: str, folds, values) -> dict:
    """Paper numbers of one metric per fold: {"uar@fold1": 37.56, ...}."""
    return {f"{metric}@{f}": v for f, v in zip(folds, values)}


def uar_war(b=None, l=None, h=None, hic=None) -> dict:  # noqa: E741 - (uar, war) pairs per model
    """Paper numbers given as (uar, war) pairs for the base / large / huge AVF-MAE++ and HiCMAE-base models."""
    paper = {}
    for key, pair in (("avfmae-base", b), ("avfmae-large", l), ("avfmae-huge", h), ("hicmae-base", hic)):
        if pair is not None:
            paper[key] = {"uar": pair[0], "war": pair[1]}
    return paper
