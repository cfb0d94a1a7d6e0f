"""Training data sources: a source string -> the split manifest it names -> clip entries with mapped targets.

A source is a string, so that a config stays flat, hashable and JSON-serialisable: "split.tsv[@ROOT]" plus
options "|name=N|map=0,0,1|weight=W|classes=K|regression=1" (see parse_source). avfmae knows no dataset names;
the benchmark suite writes the source strings of its datasets (DatasetSpec.split_source).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from avfmae.data.manifest import ClipRecord, ManifestError, read_manifest

SOURCE_OPTIONS = ("name", "map", "weight", "classes", "regression")


class SourceError(ValueError):
    """A training source string that cannot be used; the message quotes it and says how to write it."""


@dataclass(frozen=True)
class Source:
    """A parsed source string: a split manifest, its data root and the options that came with it."""
    text: str
    name: str
    root: Path
    manifest: Path
    label_map: tuple | None = None
    weight: float = 1.0
    num_classes: int = 0               # of the (mapped) label space; 0 = unknown (1 + max label)
    regression: bool = False


def _flag(text: str, key: str, value: str) -> bool:
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    raise SourceError(f"source {text!r}: {key}={value!r} is not a flag (write {key}=1 or {key}=0)")


def parse_source(text: str) -> Source:
    """A source string -> Source (no file is read).

    "path/to/split.tsv[@ROOT]" + options "|name=N|map=0,0,1|weight=W|classes=K|regression=1": the stage-2 head
    name (default: the manifest's file name), a label map (-1 drops a label), a sampling weight, the class count
    of the (mapped) label space (default: from the map, else 1 + the largest label seen) and whether the targets
    are regression values. ROOT defaults to the folder above splits/<fold>/ (else the manifest's folder).
    A dataset name is not a source here: the benchmark suite resolves its datasets to manifest sources
    (`benchmarks.datasets` DatasetSpec.split_source)."""
    head, *opts = [p.strip() for p in text.split("|")]
    options = {}
    for o in opts:
        if "=" not in o:
            raise SourceError(f"source option {o!r} in {text!r}: write key=value ({', '.join(SOURCE_OPTIONS)})")
        k, v = o.split("=", 1)
        options[k.strip()] = v.strip()
    unknown = set(options) - set(SOURCE_OPTIONS)
    if unknown:
        raise SourceError(f"source {text!r}: unknown options {sorted(unknown)} ({', '.join(SOURCE_OPTIONS)})")
    if not head:
        raise SourceError(f"source {text!r}: no manifest path before the options")
    if "\x00" in head:
        raise SourceError(f"source {text!r}: a NUL character in the path")
    if not (head.endswith(".tsv") or "@" in head or os.sep in head):
        raise SourceError(
            f"source {text!r}: give a split manifest, path/to/split.tsv[@ROOT] (e.g. "
            f"~/avf-data/demo/splits/fold1/train.tsv). Dataset names such as demo:fold1:train are resolved by the "
            f"benchmark suite (python -m benchmarks.run), not by avfmae.train")
    path, _, root = head.partition("@")
    try:
        manifest, root_path = Path(path).expanduser(), Path(root).expanduser() if root else None
    except RuntimeError as e:  # ~user of an unknown user
        raise SourceError(f"source {text!r}: {e}") from None
    if root:
        if not manifest.is_absolute():
            manifest = root_path / manifest
    else:
        parent = manifest.resolve().parent
        root_path = parent.parent.parent if parent.parent.name == "splits" else parent
    try:
        label_map = tuple(int(x) for x in options["map"].split(",")) if "map" in options else None
        weight = float(options.get("weight", 1.0))
        classes = int(options["classes"]) if "classes" in options else None
    except ValueError:
        raise SourceError(f"source {text!r}: map= takes comma-separated class indices (-1 drops a class), "
                          "weight= a number, classes= an integer") from None
    if (label_map is not None and not label_map) or not (weight >= 0 and math.isfinite(weight)) \
            or (classes is not None and classes < 1):
        raise SourceError(f"source {text!r}: map= needs at least one index, weight= a number >= 0, classes= "
                          "a count of at least 1")
    num_classes = max(max(label_map) + 1, 0) if label_map is not None else 0
    if classes is not None:
        num_classes = classes
    regression = _flag(text, "regression", options["regression"]) if "regression" in options else False
    if regression and (label_map is not None or classes is not None):
        raise SourceError(f"source {text!r}: regression=1 does not go with map= or classes=")
    return Source(text=text, name=options.get("name", manifest.stem), root=Path(root_path), manifest=Path(manifest),
                  label_map=label_map, weight=weight, num_classes=num_classes, regression=regression)


@dataclass(frozen=True)
class Entry:
    """One clip of a training / evaluation set: where it lives and its (mapped) target."""
    root: Path
    record: ClipRecord
    target: object                     # int class, or tuple of floats
    source: int = 0                    # index of its source


def load_entries(sources: Sequence[Source], drop_labels: bool = False) -> list[Entry]:
    """Entries of all sources, labels mapped (records whose label maps to -1 are dropped)."""
    out: list[Entry] = []
    for si, src in enumerate(sources):
        # labels are checked against the source's classes (before the map) when the manifest is read
        raw_classes = len(src.label_map) if src.label_map is not None else (src.num_classes or None)
        records = read_manifest(src.manifest, num_classes=None if drop_labels or src.regression else raw_classes)
        kept = 0
        for r in records:
            target = r.target
            if drop_labels:
                target = 0
            elif src.label_map is not None:
                if isinstance(target, tuple):
                    raise ManifestError(src.manifest, r.line, "a label map was given for regression targets",
                                        "Drop map= from the source")
                if not 0 <= target < len(src.label_map):
                    raise ManifestError(src.manifest, r.line, f"label {target} of clip {r.clip} has no entry in the map "
                                        f"{src.label_map}", "Give one mapped index per original class")
                target = src.label_map[target]
                if target < 0:
                    continue
            out.append(Entry(src.root, r, target, si))
            kept += 1
        if kept == 0:
            raise ManifestError(src.manifest, None, "no usable clips", "Check the manifest and the label map")
    return out


def infer_num_classes(entries: Sequence[Entry]) -> int:
    return 1 + max(int(e.target) for e in entries)


def split_by_subject(entries: Sequence[Entry], fraction: float, seed: int) -> tuple[list[Entry], list[Entry]]:
    """Carve a validation set from training entries by subject (clips without a subject count as their own
    subject): about `fraction` of the subjects, drawn with `seed`. Returns (train, val)."""
    subjects = sorted({e.record.subject or f"clip:{e.record.clip}" for e in entries})
    if len(subjects) < 2:
        raise ValueError("cannot carve a subject-independent validation split from fewer than 2 subjects")
    rng = np.random.default_rng([seed, 17])
    k = min(max(1, int(round(fraction * len(subjects)))), len(subjects) - 1)
    val_subjects = set(rng.choice(subjects, size=k, replace=False).tolist())
    train = [e for e in entries if (e.record.subject or f"clip:{e.record.clip}") not in val_subjects]
    val = [e for e in entries if (e.record.subject or f"clip:{e.record.clip}") in val_subjects]
    return train, val


__all__ = ["SOURCE_OPTIONS", "Source", "Entry", "parse_source", "load_entries", "infer_num_classes",
           "split_by_subject"]
