"""What every importer shares: the layout error, the import plan, fold assembly, and file lookup helpers.

An importer only *reads names and label files* of an official release (it never decodes media) and returns a
`Plan`: the clips of every fold and split with paths relative to the release folder, plus any media it must
derive (for example a frame range gathered into its own folder). `benchmarks.datasets.importers.prepare`
then places the media under the data root (hard links, copies, or the release folder itself) and writes the
split manifests.
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from avfmae.data.manifest import ClipRecord

from ..spec import DatasetSpec


class DatasetLayoutError(FileNotFoundError):
    """The release folder does not look like the official layout. The message names the missing file or
    folder, what was expected there, and what to do."""

    def __init__(self, dataset: str, path: str | os.PathLike, problem: str, layout: str = "", fix: str = ""):
        lines = [f"{dataset}: {problem}: {path}"]
        if layout:
            lines.append("Expected the official release layout:\n" + layout.rstrip())
        if fix:
            lines.append(fix)
        super().__init__("\n".join(lines))
        self.dataset, self.path, self.problem = dataset, str(path), problem


# A builder creates one derived media path (file or folder) at `dest`; it may read anything under `raw`.
Builder = Callable[[Path, Path, str], None]  # (raw, dest, mode) -> None


@dataclass
class Plan:
    spec: DatasetSpec
    raw: Path
    folds: dict[str, dict[str, list[ClipRecord]]]
    source: str = "video"                                    # "video" (official media) or "faces" (pre-extracted)
    notes: list[str] = field(default_factory=list)
    derived: dict[str, Builder] = field(default_factory=dict)  # relative path -> builder of that path
    subject_independent: bool = False                        # train and test of a fold share no subject

    def media(self) -> set[str]:
        """Relative paths that must be present under the dataset root (derived ones excluded)."""
        paths = set()
        for splits in self.folds.values():
            for records in splits.values():
                for r in records:
                    paths.add(r.video)
                    if r.audio:
                        paths.add(r.audio)
        return paths - set(self.derived)

    def check(self) -> None:
        """Invariants every importer must meet; a failure is a bug in the importer, not in the data."""
        spec = self.spec
        if list(self.folds) != list(spec.folds):
            raise AssertionError(f"{spec.name}: plan folds {list(self.folds)} != spec folds {list(spec.folds)}")
        for fold, splits in self.folds.items():
            for split in ("train", "test"):
                if not splits.get(split):
                    raise AssertionError(f"{spec.name}: fold {fold} has an empty {split} split")
            if spec.validation == "val" and "val" not in splits:
                raise AssertionError(f"{spec.name}: fold {fold} lacks the val split the spec promises")
            train_ids = {r.clip for r in splits["train"]}
            overlap = train_ids & {r.clip for r in splits["test"]}
            if overlap:
                raise AssertionError(f"{spec.name}: fold {fold}: clips in both train and test: {sorted(overlap)[:5]}")
            if self.subject_independent:
                shared = {r.subject for r in splits["train"]} & {r.subject for r in splits["test"]}
                if shared:
                    raise AssertionError(f"{spec.name}: fold {fold}: subjects in train and test: {sorted(shared)[:5]}")
            for records in splits.values():
                for r in records:
                    if spec.regression:
                        if not isinstance(r.target, tuple) or len(r.target) != spec.num_classes:
                            raise AssertionError(f"{spec.name}: clip {r.clip}: bad regression target {r.target}")
                    elif not isinstance(r.target, int) or not 0 <= r.target < spec.num_classes:
                        raise AssertionError(f"{spec.name}: clip {r.clip}: bad class index {r.target}")


def folds_by_test_key(spec: DatasetSpec, records: Iterable[ClipRecord], test_fold: Callable[[ClipRecord], str],
                      what: str = "subject") -> dict[str, dict[str, list[ClipRecord]]]:
    """Folds where each clip is tested in exactly one fold (`test_fold(record)`) and trained on in all others.

    Raises DatasetLayoutError when a clip maps to no fold of the spec, or a fold gets no test clip."""
    records = sorted(records, key=lambda r: r.clip)
    by_fold: dict[str, list[ClipRecord]] = {f: [] for f in spec.folds}
    unknown: dict[str, int] = {}
    for r in records:
        fold = test_fold(r)
        if fold in by_fold:
            by_fold[fold].append(r)
        else:
            unknown[str(fold)] = unknown.get(str(fold), 0) + 1
    if unknown:
        raise DatasetLayoutError(
            spec.name, ", ".join(f"{k} ({n} clips)" for k, n in sorted(unknown.items())),
            f"clips whose {what} belongs to no fold of the protocol ({spec.fold_scheme})",
            fix="These clips are not part of the paper's protocol; remove them from the release folder or check "
                "that the folder holds the dataset's official release.")
    empty = [f for f, rs in by_fold.items() if not rs]
    if empty:
        raise DatasetLayoutError(
            spec.name, ", ".join(empty), f"no clip found for these test folds ({spec.fold_scheme})",
            fix="The release folder seems incomplete: check that every subject/session was extracted.")
    folds = {}
    for fold in spec.folds:
        test = by_fold[fold]
        train = [r for f, rs in by_fold.items() if f != fold for r in rs]
        folds[fold] = {"train": train, "test": test}
        if spec.validation == "val":
            folds[fold]["val"] = list(test)
    return folds


def stable_order(items: Iterable[str], salt: str) -> list[str]:
    """A pseudo-random but machine-independent order: by sha256(salt:item)."""
    return sorted(items, key=lambda s: hashlib.sha256(f"{salt}:{s}".encode()).hexdigest())


def relpath(path: Path, raw: Path) -> str:
    return path.relative_to(raw).as_posix()


def find_dir(raw: Path, *candidates: str) -> Path | None:
    """The first of `candidates` (relative paths, tried in order) that is a folder under raw, else None."""
    for c in candidates:
        p = raw / c
        if p.is_dir():
            return p
    return None


def find_file(raw: Path, *candidates: str) -> Path | None:
    for c in candidates:
        p = raw / c
        if p.is_file():
            return p
    return None


def search(raw: Path, pattern: str, max_depth: int = 4, dirs: bool = False) -> list[Path]:
    """Files (or folders) under raw whose name matches the glob `pattern`, at most `max_depth` levels down,
    sorted. Hidden folders and our own output (splits/, clips/) are skipped."""
    out = []
    base_depth = len(raw.parts)
    for dirpath, dirnames, filenames in os.walk(raw):
        here = Path(dirpath)
        depth = len(here.parts) - base_depth
        dirnames[:] = sorted(d for d in dirnames
                             if not d.startswith(".") and not (depth == 0 and d in ("splits", "clips")))
        names = dirnames if dirs else filenames
        out.extend(here / n for n in names if Path(n).match(pattern))
        if depth + 1 >= max_depth:
            dirnames[:] = []
    return sorted(out)


def index_by_stem(paths: Iterable[Path], raw: Path) -> dict[str, str]:
    """stem -> path relative to raw (the first one found, in sorted order)."""
    index: dict[str, str] = {}
    for p in sorted(paths):
        index.setdefault(p.stem, relpath(p, raw))
    return index


def read_label_text(path: Path, dataset: str, lenient: bool = False) -> str:
    """The text of a label file, or a DatasetLayoutError naming the file (and the line of a bad byte).

    `lenient` decodes bad bytes as U+FFFD (for files the release itself ships in mixed encodings); otherwise a
    byte that is not UTF-8 is an error. A folder, a dangling or looping symlink, an unreadable file: an error."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise DatasetLayoutError(dataset, path, f"label file cannot be read ({e.strerror or e})",
                                 fix="Check that it is a readable file of the official release.") from None
    if lenient:
        return data.decode("utf-8-sig", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise DatasetLayoutError(dataset, f"{path}:{line}", f"byte {data[e.start:e.start + 1]!r} is not UTF-8",
                                 fix="Save the file as UTF-8 (or restore the release's original file).") from None


def read_label_csv(path: Path, dataset: str) -> list[list[str]]:
    """Rows of a UTF-8 csv label file (blank lines as empty rows); bad bytes or csv syntax name file:line."""
    reader = csv.reader(io.StringIO(read_label_text(path, dataset), newline=""))
    rows = []
    try:
        for row in reader:
            rows.append(row)
    except csv.Error as e:
        raise DatasetLayoutError(dataset, f"{path}:{reader.line_num}", f"not a readable csv row ({e})") from None
    return rows


LFS_HEADER = b"version https://git-lfs"


def is_lfs_pointer(path: Path) -> bool:
    """True for a Git LFS pointer stub (what a plain zip download of an LFS repository contains)."""
    try:
        if path.stat().st_size > 1024:
            return False
        with open(path, "rb") as f:
            return f.read(len(LFS_HEADER)) == LFS_HEADER
    except OSError:
        return False


def natural_key(text: str) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text)]


def header_index(row: list, names: dict[str, tuple[str, ...]], where: str, dataset: str) -> dict[str, int]:
    """Map logical column names to positions in a header row, matching case- and space-insensitively."""
    def norm(x) -> str:
        return re.sub(r"[\s_]+", "", str(x or "")).lower()
    cells = [norm(c) for c in row]
    out = {}
    for key, options in names.items():
        pos = next((cells.index(norm(o)) for o in options if norm(o) in cells), None)
        if pos is None:
            raise DatasetLayoutError(dataset, where, f"no column {options[0]!r} in the header {row!r}")
        out[key] = pos
    return out
