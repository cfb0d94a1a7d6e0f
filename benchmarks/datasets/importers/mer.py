"""MER2023 (MER-MULTI: Train&Val -> test1) and MER2024 (5-fold CV over the 5,030 labelled clips)."""
from __future__ import annotations

import csv
from pathlib import Path

from avfmae.data.manifest import ClipRecord

from ..spec import DatasetSpec
from ._base import DatasetLayoutError, Plan, find_file, header_index, index_by_stem, search, stable_order

LAYOUT_2023 = """\
<MER2023>/
  train/<name>.<ext>        Train&Val videos (3,373; the extension varies)
  train-label.csv           columns name, discrete, valence
  test1/<name>.<ext>        MER-MULTI test videos (411)
  test1-label.csv           released after the challenge; columns name, discrete, valence"""

LAYOUT_2024 = """\
<MER2024>/
  video-labeled/<name>.<ext>   the 5,030 labelled clips
  label-disdim.csv             columns name, discrete, ... (the labels of video-labeled/)"""

VIDEO_EXT = ("*.mp4", "*.avi", "*.mkv", "*.mov", "*.flv", "*.webm")


def _videos(folder: Path, raw: Path) -> dict[str, str]:
    found = []
    for pattern in VIDEO_EXT:
        found += search(folder, pattern, max_depth=2)
    return index_by_stem(found, raw)


def _read_labels(path: Path, spec: DatasetSpec) -> list[tuple[str, int]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.reader(f) if r]
    if not rows:
        raise DatasetLayoutError(spec.name, path, "label file is empty")
    cols = header_index(rows[0], {"name": ("name", "video", "filename"), "discrete": ("discrete", "emotion")},
                        str(path), spec.name)
    index = {w: i for i, w in enumerate(spec.labels)}
    out = []
    for lineno, row in enumerate(rows[1:], start=2):
        word = row[cols["discrete"]].strip().lower()
        if word not in index:
            raise DatasetLayoutError(spec.name, f"{path}:{lineno}",
                                     f"discrete label {word!r} is not one of {', '.join(spec.labels)}")
        out.append((Path(row[cols["name"]].strip()).stem, index[word]))
    return out


def _records(spec, raw, labels, videos, folder, layout) -> list[ClipRecord]:
    out = []
    for name, label in labels:
        if name not in videos:
            raise DatasetLayoutError(spec.name, folder / f"{name}.*", "labelled video not found", layout)
        out.append(ClipRecord(name, videos[name], None, label, None))
    return out


def import_mer2023(spec: DatasetSpec, raw: Path, source: str = "auto") -> Plan:
    train_csv = find_file(raw, "train-label.csv", "label-6way.csv")
    if train_csv is None:
        raise DatasetLayoutError(spec.name, raw / "train-label.csv", "label file not found", LAYOUT_2023)
    test_csv = find_file(raw, "test1-label.csv", "test1_label.csv")
    if test_csv is None:
        raise DatasetLayoutError(spec.name, raw / "test1-label.csv", "MER-MULTI test labels not found", LAYOUT_2023,
                                 "The test1 labels were released after the challenge with the MER2023 data.")
    for sub in ("train", "test1"):
        if not (raw / sub).is_dir():
            raise DatasetLayoutError(spec.name, raw / sub, "video folder not found", LAYOUT_2023)
    train = _records(spec, raw, _read_labels(train_csv, spec), _videos(raw / "train", raw), raw / "train",
                     LAYOUT_2023)
    test = _records(spec, raw, _read_labels(test_csv, spec), _videos(raw / "test1", raw), raw / "test1",
                    LAYOUT_2023)
    folds = {"official": {"train": train, "test": test, "val": list(test)}}
    return Plan(spec, raw, folds, source="video",
                notes=["val.tsv = test.tsv (how the official val.csv was carved is unknown)"])


def import_mer2024(spec: DatasetSpec, raw: Path, source: str = "auto") -> Plan:
    label_csv = find_file(raw, "label-disdim.csv", "video-labeled/label-disdim.csv")
    if label_csv is None:
        raise DatasetLayoutError(spec.name, raw / "label-disdim.csv", "label file not found", LAYOUT_2024)
    folder = raw / "video-labeled"
    if not folder.is_dir():
        raise DatasetLayoutError(spec.name, folder, "video folder not found", LAYOUT_2024)
    records = _records(spec, raw, _read_labels(label_csv, spec), _videos(folder, raw), folder, LAYOUT_2024)
    # Stratified 5 folds: each class in a machine-independent hashed order, dealt round-robin.
    fold_of: dict[str, str] = {}
    for label in range(spec.num_classes):
        names = stable_order([r.clip for r in records if r.target == label], salt=spec.name)
        for i, name in enumerate(names):
            fold_of[name] = spec.folds[i % len(spec.folds)]
    folds = {}
    for fold in spec.folds:
        folds[fold] = {"train": [r for r in records if fold_of[r.clip] != fold],
                       "test": [r for r in records if fold_of[r.clip] == fold]}
    return Plan(spec, raw, folds, source="video",
                notes=[f"folds generated: per class sha256('{spec.name}:<name>') order, dealt round-robin"])
