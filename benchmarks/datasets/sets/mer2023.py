"""MER2023 (MER-MULTI): train on Train&Val, test on test1. Its label-file readers serve MER2024 too."""
from __future__ import annotations

from pathlib import Path

from avfmae.data.manifest import ClipRecord

from ..importers._base import (DatasetLayoutError, Plan, find_file, header_index, index_by_stem,
                               read_label_csv, search)
from ..spec import DatasetSpec

ORDER = 3  # position in the paper's tables

MER_MULTI = DatasetSpec(
    name="mer-multi", title="MER-MULTI", task="CEA",
    labels=("neutral", "angry", "happy", "sad", "worried", "surprise"), folds=("official",),
    fold_scheme="official MER2023 split: train on Train&Val, test on test1 (MER-MULTI, 411 clips)",
    metrics=("wf1", "uar", "war"), main_metric="wf1", validation="val",
    paper={
        "avfmae-base": {"uar": 64.87, "wf1": 69.56},
        "avfmae-large": {"uar": 66.34, "wf1": 70.79},
        "avfmae-huge": {"uar": 68.20, "wf1": 72.26},
        "hicmae-base": {"uar": 64.15, "wf1": 71.33},
    },
    source="layout H (MERT: train/, train-label.csv name,discrete,valence; test1/, test1-label.csv); "
           "label order H (MERTools); val carving unknown (L)",
    notes="The official loader reads val.csv; how it was carved from Train&Val is unknown. Like every other "
          "HiCMAE-lineage split we write val.tsv = test.tsv (L); training uses all of Train&Val.",
)

SPECS = (MER_MULTI,)
ALIASES = {"mer2023": "mer-multi", "mer23": "mer-multi"}  # other spellings -> name

LAYOUT = """\
<MER2023>/
  train/<name>.<ext>        Train&Val videos (3,373; the extension varies)
  train-label.csv           columns name, discrete, valence
  test1/<name>.<ext>        MER-MULTI test videos (411)
  test1-label.csv           released after the challenge; columns name, discrete, valence"""

VIDEO_EXT = ("*.mp4", "*.avi", "*.mkv", "*.mov", "*.flv", "*.webm")


def videos(folder: Path, raw: Path) -> dict[str, str]:
    """Clip name -> video path relative to raw, for any video extension below `folder`."""
    found = []
    for pattern in VIDEO_EXT:
        found += search(folder, pattern, max_depth=2)
    return index_by_stem(found, raw)


def read_labels(path: Path, spec: DatasetSpec) -> list[tuple[str, int]]:
    """(clip name, class index) from a MER label csv with columns name and discrete."""
    rows = read_label_csv(path, spec.name)
    numbered = [(n, r) for n, r in enumerate(rows, start=1) if r]
    rows = [r for _, r in numbered]
    if not rows:
        raise DatasetLayoutError(spec.name, path, "label file is empty")
    cols = header_index(rows[0], {"name": ("name", "video", "filename"), "discrete": ("discrete", "emotion")},
                        str(path), spec.name)
    index = {w: i for i, w in enumerate(spec.labels)}
    out = []
    for lineno, row in numbered[1:]:
        if len(row) <= max(cols.values()):
            raise DatasetLayoutError(spec.name, f"{path}:{lineno}",
                                     f"expected {len(rows[0])} columns as in the header, got {row!r}")
        word = row[cols["discrete"]].strip().lower()
        if word not in index:
            raise DatasetLayoutError(spec.name, f"{path}:{lineno}",
                                     f"discrete label {word!r} is not one of {', '.join(spec.labels)}")
        out.append((Path(row[cols["name"]].strip()).stem, index[word]))
    return out


def labelled_records(spec, raw, labels, index, folder, layout) -> list[ClipRecord]:
    """One record per labelled clip; `index` maps clip names to video paths (from `videos`)."""
    out = []
    for name, label in labels:
        if name not in index:
            raise DatasetLayoutError(spec.name, folder / f"{name}.*", "labelled video not found", layout)
        out.append(ClipRecord(name, index[name], None, label, None))
    return out


def import_release(spec: DatasetSpec, raw: Path, source: str = "auto") -> Plan:
    train_csv = find_file(raw, "train-label.csv", "label-6way.csv")
    if train_csv is None:
        raise DatasetLayoutError(spec.name, raw / "train-label.csv", "label file not found", LAYOUT)
    test_csv = find_file(raw, "test1-label.csv", "test1_label.csv")
    if test_csv is None:
        raise DatasetLayoutError(spec.name, raw / "test1-label.csv", "MER-MULTI test labels not found", LAYOUT,
                                 "The test1 labels were released after the challenge with the MER2023 data.")
    for sub in ("train", "test1"):
        if not (raw / sub).is_dir():
            raise DatasetLayoutError(spec.name, raw / sub, "video folder not found", LAYOUT)
    train = labelled_records(spec, raw, read_labels(train_csv, spec), videos(raw / "train", raw), raw / "train",
                             LAYOUT)
    test = labelled_records(spec, raw, read_labels(test_csv, spec), videos(raw / "test1", raw), raw / "test1",
                            LAYOUT)
    folds = {"official": {"train": train, "test": test, "val": list(test)}}
    return Plan(spec, raw, folds, source="video",
                notes=["val.tsv = test.tsv (how the official val.csv was carved is unknown)"])
