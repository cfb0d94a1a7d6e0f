"""Split manifests: the one on-disk clip-list format every dataset is imported into.

A manifest is a UTF-8 TSV file with a header line and one clip per line:

    clip    video    audio    target    subject

- `clip`: a unique id within the manifest.
- `video`: path relative to the dataset root: a video file (mp4, or any container decord/PyAV reads) or a
  folder of frames (jpg/png, sorted by name).
- `audio`: path relative to the dataset root of a wav, or empty to use the audio track of `video`.
- `target`: an integer class index, or comma-separated floats for dimensional (regression) datasets.
- `subject`: speaker/subject id (for subject-independent folds), may be empty.

Paths are relative so a dataset folder can move; a path may not escape the dataset root.
"""
from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterable, Sequence, Union

from avfmae.atomic import atomic_write_text

COLUMNS = ("clip", "video", "audio", "target", "subject")
Target = Union[int, tuple]


class ManifestError(ValueError):
    """A manifest line that cannot be used; the message names the file, the line and what to do."""

    def __init__(self, path: str | os.PathLike, line: int | None, problem: str, fix: str):
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}. {fix}")
        self.path, self.line, self.problem, self.fix = str(path), line, problem, fix

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (self.path, self.line, self.problem, self.fix))


@dataclass(frozen=True)
class ClipRecord:
    clip: str
    video: str
    audio: str | None
    target: Target
    subject: str | None = None
    manifest: str | None = field(default=None, compare=False)   # where the record was read (for messages)
    line: int | None = field(default=None, compare=False)

    @property
    def where(self) -> str:
        """`manifest:line` of the record, or '' when it was not read from a file."""
        if self.manifest is None:
            return ""
        return f"{self.manifest}:{self.line}" if self.line is not None else self.manifest

    @property
    def is_regression(self) -> bool:
        return isinstance(self.target, tuple)

    def target_text(self) -> str:
        if isinstance(self.target, tuple):
            return ",".join(repr(float(v)) for v in self.target)
        return str(int(self.target))


def _parse_target(text: str) -> Target:
    text = text.strip()
    if "," in text or "." in text or "e" in text.lower():
        values = tuple(float(v) for v in text.split(","))
        if not all(math.isfinite(v) for v in values):
            raise ValueError("not finite")
        return values
    return int(text)


def check_target(record: ClipRecord, num_classes: int | None = None, num_targets: int | None = None) -> None:
    """A record's target against the class count (0..num_classes-1) or the regression target count; raises
    ManifestError naming the record's manifest and line."""
    target = record.target
    where = (record.manifest or "<records>", record.line)
    if isinstance(target, int) and num_classes is not None and not 0 <= target < num_classes:
        raise ManifestError(*where, f"unknown label {target} of clip {record.clip!r}: valid labels are "
                            f"0..{num_classes - 1} (the dataset has {num_classes} classes)",
                            "Fix the label, or check that the manifest belongs to this dataset")
    if isinstance(target, tuple) and num_targets is not None and len(target) != num_targets:
        raise ManifestError(*where, f"{len(target)} regression targets for clip {record.clip!r}, expected "
                            f"{num_targets}", "Fix the targets of this clip")
    if num_targets is not None and not isinstance(target, tuple):
        raise ManifestError(*where, f"target {target!r} of clip {record.clip!r} is a class label, but the dataset "
                            f"has {num_targets} regression targets", "Write the targets as comma-separated floats")
    if num_classes is not None and isinstance(target, tuple):
        raise ManifestError(*where, f"target {record.target_text()} of clip {record.clip!r} is regression values, "
                            f"but the dataset has {num_classes} classes", "Write the class index (an integer)")


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        start = data.rfind(b"\n", 0, e.start) + 1
        raise ManifestError(path, data.count(b"\n", 0, e.start) + 1,
                            f"byte 0x{data[e.start]:02x} at column {e.start - start + 1} is not UTF-8",
                            "Re-save the manifest as UTF-8 (e.g. `iconv -f latin1 -t utf-8 OLD > NEW`) or "
                            "re-create it with the importer") from None


def _check_relative(path: str, manifest: Path, line: int, column: str) -> str:
    pure = PurePosixPath(path.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts:
        raise ManifestError(
            manifest, line, f"{column} path {path!r} escapes the dataset root",
            "Write paths relative to the dataset root, without '..' (re-run the importer)",
        )
    return str(pure)


def read_manifest(path: str | os.PathLike, num_classes: int | None = None,
                  num_targets: int | None = None) -> list[ClipRecord]:
    """Read and validate a manifest. Raises ManifestError naming the file and line of the first bad line."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(path, None, "manifest file not found",
                            "Run `python -m benchmarks.data prepare NAME --raw DIR` to create it")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ManifestError(path, None, f"cannot be read ({e.strerror or e})",
                            "Check the file's permissions and that it is a regular file") from None
    text = _decode(path, data)
    if "\x00" in text:
        raise ManifestError(path, text.count("\n", 0, text.index("\x00")) + 1, "NUL byte in the file",
                            "This is not a text manifest; re-create it with the importer")
    reader = csv.reader(io.StringIO(text), delimiter="\t")
    rows = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))
    except csv.Error as e:
        raise ManifestError(path, reader.line_num + 1, f"unreadable line ({e})",
                            "Fix or delete this line (fields are tab-separated, at most 128 KiB)") from None
    if not rows or tuple(c.strip() for c in rows[0][1]) != COLUMNS:
        raise ManifestError(path, 1, f"header must be {' '.join(COLUMNS)} (tab-separated)",
                            "Re-create the manifest with the importer")
    records, seen = [], {}
    kind = None  # (line, kind of the first target): every line must agree
    for lineno, row in rows[1:]:
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(COLUMNS):
            raise ManifestError(path, lineno, f"expected {len(COLUMNS)} tab-separated fields, found {len(row)}",
                                "Fix or delete this line")
        clip, video, audio, target_text, subject = (c.strip() for c in row)
        if not clip or not video:
            raise ManifestError(path, lineno, "empty clip id or video path", "Fix or delete this line")
        if clip in seen:
            raise ManifestError(path, lineno, f"clip id {clip!r} already used on line {seen[clip]}",
                                "Clip ids must be unique within a manifest")
        seen[clip] = lineno
        try:
            target = _parse_target(target_text)
        except ValueError:
            raise ManifestError(path, lineno, f"target {target_text!r} is neither an integer class nor floats",
                                "Fix the label of this clip") from None
        record = ClipRecord(
            clip=clip,
            video=_check_relative(video, path, lineno, "video"),
            audio=_check_relative(audio, path, lineno, "audio") if audio else None,
            target=target,
            subject=subject or None,
            manifest=str(path),
            line=lineno,
        )
        check_target(record, num_classes, num_targets)
        this = "class" if isinstance(target, int) else f"{len(target)} regression targets"
        if kind is None:
            kind = (lineno, this)
        elif this != kind[1]:
            raise ManifestError(path, lineno, f"target {target_text!r} ({this}) does not match line {kind[0]} "
                                f"({kind[1]})", "Every clip of a manifest has the same kind of target")
        records.append(record)
    return records


def write_manifest(path: str | os.PathLike, records: Iterable[ClipRecord]) -> Path:
    """Write atomically (temp file + rename): a reader never sees half a manifest."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t", lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in records:
        writer.writerow([r.clip, r.video, r.audio or "", r.target_text(), r.subject or ""])
    return atomic_write_text(path, buf.getvalue())


def resolve(root: str | os.PathLike, relative: str) -> Path:
    """Absolute path of a manifest entry under `root`, refusing anything that escapes it (symlinks included)."""
    root_path = Path(root).resolve()
    full = (root_path / relative).resolve()
    if root_path != full and root_path not in full.parents:
        raise ManifestError(root, None, f"path {relative!r} resolves outside the data root ({full})",
                            "Keep every clip inside the dataset folder")
    return full


def class_histogram(records: Sequence[ClipRecord]) -> dict[int, int]:
    hist: dict[int, int] = {}
    for r in records:
        if isinstance(r.target, int):
            hist[r.target] = hist.get(r.target, 0) + 1
    return dict(sorted(hist.items()))
