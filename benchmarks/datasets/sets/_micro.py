"""What the five micro-expression sets share (SAMM, CASME II, SMIC-HS, CAS(ME)^3 Part A, MMEW): their protocol
facts and the importer machinery for frame-folder releases.

All are video-only image sequences scored with LOSO folds and pooled UF1/UAR; the manifest's audio column stays
empty (the model gets silent audio). SAMM and CASME II follow the MEGC2019 composite list (each holds its part
of the list as `COMPOSITE`); their coding spreadsheets, when present, only cross-check the labels.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from avfmae.data.manifest import ClipRecord

from ..importers._base import DatasetLayoutError, Plan, folds_by_test_key, header_index, relpath
from ..importers._xlsx import read_table
from ..spec import DatasetSpec

MEGC3 = ("negative", "positive", "surprise")
MER_METRICS = ("uf1", "uar")

SILENT_AUDIO = (
    "Video-only dataset: the model's audio branch receives silent audio, i.e. the fbank of an all-zero "
    "waveform of the clip's duration. This is our choice; the paper does not say how AVF-MAE++ fed its audio "
    "branch for micro-expression sets."
)
MEGC_NOTE = ("MEGC2019 composite 3-class protocol: positive = happiness, surprise = surprise, negative = the "
             "dataset's negative emotions; membership follows the composite list (442 clips over 68 subjects).")


def uf1(b, l, h) -> dict:  # noqa: E741
    """Paper UF1 of the base / large / huge AVF-MAE++ models."""
    return {"avfmae-base": {"uf1": b}, "avfmae-large": {"uf1": l}, "avfmae-huge": {"uf1": h}}


def parse_composite(text: str) -> dict[tuple[str, str], int]:
    """{(subject, clip): label} from a composite list: one subject per line, then `clip:label` items with label
    0 negative, 1 positive, 2 surprise (a subject may continue on the next line)."""
    out = {}
    for line in text.splitlines():
        subject, *items = line.split()
        for item in items:
            clip, label = item.rsplit(":", 1)
            out[(subject, clip)] = int(label)
    return out


def composite(spec: DatasetSpec, raw: Path, table: dict, clip_dirs: dict[tuple[str, str], Path], layout: str,
              source: str) -> Plan:
    """LOSO plan over the clips of a composite list, each found in `clip_dirs` ({(subject, clip): folder})."""
    records, missing = [], []
    for (subject, clip), label in sorted(table.items()):
        folder = clip_dirs.get((subject, clip))
        if folder is None:
            missing.append(f"{subject}/{clip}")
            continue
        records.append(ClipRecord(f"{subject}_{clip}" if not clip.startswith(subject) else clip,
                                  relpath(folder, raw), None, label, subject))
    if missing:
        raise DatasetLayoutError(spec.name, missing[0], f"{len(missing)} clips of the MEGC2019 composite list have "
                                 "no frame folder, the first", layout)
    folds = folds_by_test_key(spec, records, lambda r: r.subject)
    return Plan(spec, raw, folds, source=source, notes=[f"source: {source}", "MEGC2019 composite membership"],
                subject_independent=True)


def check_coding(plan: Plan, coding: Path | None, table, subject_of, mapping: dict[str, int]) -> None:
    """Compare the composite labels with the coding file's 'Estimated Emotion' (notes only)."""
    if coding is None:
        plan.notes.append("no coding spreadsheet found: labels from the composite list only")
        return
    try:
        rows = read_table(coding)
    except Exception as e:  # noqa: BLE001 - openpyxl/zipfile/xml raise many types for a broken workbook
        raise DatasetLayoutError(plan.spec.name, coding, f"cannot read the coding spreadsheet ({type(e).__name__}: "
                                 f"{e})", fix="Restore the release's original file, or remove it (it only "
                                 "cross-checks the composite labels).") from None
    h = next((i for i, r in enumerate(rows) if r and str(r[0] or "").strip().lower() == "subject"), None)
    if h is None:
        plan.notes.append(f"{coding.name}: no header row starting with 'Subject'; labels not cross-checked")
        return
    cols = header_index(rows[h], {"subject": ("Subject",), "file": ("Filename",),
                                  "emotion": ("Estimated Emotion", "Emotion")}, str(coding), plan.spec.name)
    disagree = []
    for number, row in enumerate(rows[h + 1:], start=h + 2):
        if len(row) <= max(cols.values()) or row[cols["file"]] is None:
            continue
        try:
            key = (subject_of(row[cols["subject"]]), str(row[cols["file"]]).strip())
        except (TypeError, ValueError, OverflowError):
            raise DatasetLayoutError(plan.spec.name, f"{coding}:{number}",
                                     f"subject {row[cols['subject']]!r} is not a subject number") from None
        emotion = str(row[cols["emotion"]] or "").strip().lower()
        if key in table and mapping.get(emotion, -1) != table[key]:
            disagree.append(f"{key[1]} ({emotion})")
    plan.notes.append(f"{coding.name}: {len(disagree)} composite labels differ from the coding file"
                      + (f": {', '.join(disagree[:5])}" if disagree else ""))


def gather(frames: list[str]):
    """Builder of a clip folder holding the given frames as 000001.jpg, ... (sorted = temporal order)."""
    def build(raw: Path, dest: Path, mode: str) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        for rel in frames:
            src = raw / rel
            out = dest / f"{int(Path(rel).stem):06d}{src.suffix.lower()}"
            if out.exists():
                continue
            if mode == "copy":
                shutil.copy2(src, out)
            else:
                try:
                    os.link(src, out)
                except OSError:
                    shutil.copy2(src, out)
    return build
