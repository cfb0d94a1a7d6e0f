"""DatasetSpec: everything the suite knows about one evaluation dataset, as frozen data.

On disk a prepared dataset lives at `$AVF_DATA_ROOT/<spec.root>/`:

    splits/<fold>/train.tsv    manifests in the avfmae.data.manifest format (paths relative to the dataset root)
    splits/<fold>/test.tsv
    splits/<fold>/val.tsv      only where the dataset has a separate validation split
    <media>                    wherever the importer put it (video files or frame folders, wavs)

The revision is a short hash of the split files and the label map, so a result records exactly which
split files it was computed on.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

TASKS = ("CEA", "DEA", "MER")
SPLITS = ("train", "val", "test")
DATA_ROOT_ENV = "AVF_DATA_ROOT"
# Written by `python -m benchmarks.data extract` (detector, its version, crop settings): faces made another way
# make another revision. Absent for datasets prepared from the official face frames.
EXTRACTION_RECORD = "faces_pipeline.json"


def data_root() -> Path:
    """`$AVF_DATA_ROOT`, else `~/avf-data`."""
    return Path(os.environ.get(DATA_ROOT_ENV) or Path.home() / "avf-data").expanduser()


@dataclass(frozen=True)
class DatasetSpec:
    name: str                      # registry key, lower-case: "mafw-11", "crema-d-6", "demo"
    title: str                     # as the paper's tables print it: "MAFW (11-class)"
    task: str                      # "CEA" | "DEA" | "MER"
    labels: tuple[str, ...]        # class names in label-index order; for regression, the target names
    folds: tuple[str, ...]         # fold folder names under splits/
    fold_scheme: str               # human description: "official 5-fold", "leave-one-session-out", "LOSO"
    metrics: tuple[str, ...]       # metric names of avfmae.metrics (checked at load)
    main_metric: str               # the one the main leaderboard shows
    validation: str = "test"       # "test": the official code selects on the test fold; "val": val.tsv exists
    modalities: tuple[str, ...] = ("video", "audio")
    regression: bool = False
    root: str = ""                 # folder under $AVF_DATA_ROOT; defaults to name
    paper: dict = field(default_factory=dict, compare=False)  # {"avfmae-huge": {"uar": 46.05, ...}, "hicmae-base": ...}
    source: str = ""               # where the release layout / labels come from (and how sure we are)
    notes: str = ""
    # How per-fold results become the dataset's number: "mean" of per-fold metrics (the AVF-MAE++ code), or
    # "pool": one metric over the pooled test predictions of all folds (LOSO micro-expression protocol).
    fold_aggregate: str = "mean"
    # Regex; clips whose ids share its first match are scored as one video (their class probabilities averaged
    # before the metric): AVCAffe's participant-task. Empty: every clip is scored on its own.
    group_pattern: str = ""
    # Other files of the dataset folder whose bytes enter the revision (the demo set: its generator's marker, so a
    # new generator version is a new revision even where the split files come out the same).
    revision_files: tuple[str, ...] = ()

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"{self.name}: task {self.task!r} not in {TASKS}")
        if self.main_metric not in self.metrics:
            raise ValueError(f"{self.name}: main metric {self.main_metric!r} not in {self.metrics}")
        if self.validation not in ("test", "val"):
            raise ValueError(f"{self.name}: validation must be 'test' or 'val'")
        if self.fold_aggregate not in ("mean", "pool"):
            raise ValueError(f"{self.name}: fold_aggregate must be 'mean' or 'pool'")

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def has_audio(self) -> bool:
        return "audio" in self.modalities

    def path(self, root: Path | None = None) -> Path:
        return (root or data_root()) / (self.root or self.name)

    def split_file(self, fold: str, split: str, root: Path | None = None) -> Path:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
        return self.path(root) / "splits" / fold / f"{split}.tsv"

    def split_source(self, fold: str, split: str, root: Path | None = None, **options) -> str:
        """The avfmae.train source string of one split: "<manifest>@<dataset folder>|name=..|classes=K" (or
        "|regression=1"); `options` (name, map, weight, classes) are added or replace the defaults."""
        opts = {"name": self.name, **({"regression": 1} if self.regression else {"classes": self.num_classes})}
        opts.update(options)
        text = f"{self.split_file(fold, split, root)}@{self.path(root)}"
        return "|".join([text, *(f"{k}={v}" for k, v in opts.items() if v is not None)])

    def is_prepared(self, root: Path | None = None) -> bool:
        return all(self.split_file(f, s, root).is_file() for f in self.folds for s in ("train", "test"))

    def revision(self, root: Path | None = None) -> str:
        """12-hex hash of the label map, every split file's and the `revision_files`' bytes; 'absent' when not
        prepared."""
        if not self.is_prepared(root):
            return "absent"
        h = hashlib.sha256("\n".join(self.labels).encode())
        for fold in self.folds:
            for split in SPLITS:
                f = self.split_file(fold, split, root)
                if f.is_file():
                    h.update(f"{fold}/{split}\n".encode())
                    h.update(f.read_bytes())
        for name in (*self.revision_files, EXTRACTION_RECORD):
            f = self.path(root) / name
            if f.is_file():
                h.update(f"{name}\n".encode())
                h.update(f.read_bytes())
        return h.hexdigest()[:12]
