"""Micro-expression sets (SAMM, CASME II, SMIC-HS, CAS(ME)^3 Part A, MMEW): frame folders, LOSO folds.

All are video-only image sequences; the manifest's audio column stays empty (the model gets silent audio).
SAMM and CASME II follow the MEGC2019 composite list (`megc2019.py`); their coding spreadsheets, when present,
only cross-check the labels. CAS(ME)^3 marks expressions as frame ranges inside long recordings, so each one
is gathered into its own folder `clips/<subject>_<file>_<onset>/` (hard links or copies of its frames).
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from avfmae.data.manifest import ClipRecord

from ..spec import DatasetSpec
from . import megc2019
from ._base import DatasetLayoutError, Plan, folds_by_test_key, header_index, relpath, search
from ._xlsx import read_table

LAYOUT_SAMM = """\
<SAMM>/
  SAMM/006/006_1_2/006_05562.jpg ...         one folder per micro-movement: <subject>/<subject>_<inducement>_<n>/
  SAMM_Micro_FACS_Codes_v2.xlsx              optional: cross-checks 'Estimated Emotion'"""
LAYOUT_CASME2 = """\
<CASME II>/
  CASME2_RAW_selected/sub01/EP02_01f/img46.jpg ...   raw frames of each sample
  (or face-cropped: Cropped/sub01/EP02_01f/reg_img46.jpg ...)
  CASME2-coding-20140508.xlsx                        optional: cross-checks 'Estimated Emotion'"""
LAYOUT_SMIC = """\
<SMIC>/
  SMIC/HS/s1/micro/negative/s1_ne_01/*.bmp ...   HS (100 fps) samples; classes negative, positive, surprise
  (or face-cropped: SMIC_all_cropped/HS/s1/micro/<class>/<clip>/reg_*.bmp)"""
LAYOUT_CASME3 = """\
<CAS(ME)^3>/
  part_A/annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx   sheet 'label': Subject (spNO.N), Filename (a..m),
                                                                Onset, Apex, Offset, ..., emotion
  <...>/spNO.1/a/color/1.jpg ...                                 frames of each recording (folder case may differ)"""
LAYOUT_MMEW = """\
<MMEW>/
  MMEW_Final/Micro_Expression/happiness/S01-01-001/1.jpg ...   <emotion>/<Sxx-yy-zzz>/ (others are dropped)"""

def _composite(spec: DatasetSpec, raw: Path, table: dict, clip_dirs: dict[tuple[str, str], Path], layout: str,
               source: str) -> Plan:
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


def _check_coding(plan: Plan, coding: Path | None, table, subject_of, mapping: dict[str, int]) -> None:
    """Compare the composite labels with the coding file's 'Estimated Emotion' (notes only)."""
    if coding is None:
        plan.notes.append("no coding spreadsheet found: labels from the composite list only")
        return
    rows = read_table(coding)
    h = next((i for i, r in enumerate(rows) if r and str(r[0] or "").strip().lower() == "subject"), None)
    if h is None:
        plan.notes.append(f"{coding.name}: no header row starting with 'Subject'; labels not cross-checked")
        return
    cols = header_index(rows[h], {"subject": ("Subject",), "file": ("Filename",),
                                  "emotion": ("Estimated Emotion", "Emotion")}, str(coding), plan.spec.name)
    disagree = []
    for row in rows[h + 1:]:
        if len(row) <= max(cols.values()) or row[cols["file"]] is None:
            continue
        key = (subject_of(row[cols["subject"]]), str(row[cols["file"]]).strip())
        emotion = str(row[cols["emotion"]] or "").strip().lower()
        if key in table and mapping.get(emotion, -1) != table[key]:
            disagree.append(f"{key[1]} ({emotion})")
    plan.notes.append(f"{coding.name}: {len(disagree)} composite labels differ from the coding file"
                      + (f": {', '.join(disagree[:5])}" if disagree else ""))


def import_samm(spec: DatasetSpec, raw: Path, source: str = "auto") -> Plan:
    table = megc2019.parse(megc2019.SAMM)
    dirs = {}
    for d in search(raw, "[0-9][0-9][0-9]_*_*", max_depth=4, dirs=True):
        if re.fullmatch(r"\d{3}_\d+_\d+", d.name) and d.parent.name == d.name[:3]:
            dirs[(d.parent.name, d.name)] = d
    if not dirs:
        raise DatasetLayoutError(spec.name, raw / "SAMM/006/006_1_2", "no SAMM sample folder found", LAYOUT_SAMM)
    plan = _composite(spec, raw, table, dirs, LAYOUT_SAMM, "video")
    coding = next(iter(search(raw, "SAMM_Micro_FACS_Codes*.xlsx", 3) + search(raw, "SAMM_Micro_FACS_Codes*.csv", 3)),
                  None)
    negative = ("anger", "contempt", "disgust", "fear", "sadness")
    mapping = {**{e: 0 for e in negative}, "happiness": 1, "surprise": 2}
    _check_coding(plan, coding, table, lambda s: f"{int(float(s)):03d}" if str(s).strip() else "", mapping)
    return plan


def import_casme2(spec: DatasetSpec, raw: Path, source: str = "auto") -> Plan:
    table = megc2019.parse(megc2019.CASME2)
    raw_root = next(iter(search(raw, "CASME2_RAW_selected", 3, dirs=True) + search(raw, "CASME2_RAW", 3, dirs=True)
                         + search(raw, "CASME2-RAW", 3, dirs=True)), None)
    crop_root = next(iter(search(raw, "Cropped", 3, dirs=True) + search(raw, "CASME2_Cropped", 3, dirs=True)), None)
    if source == "auto":
        source = "video" if raw_root else "faces" if crop_root else "video"
    root = raw_root if source == "video" else crop_root
    if root is None:
        raise DatasetLayoutError(spec.name, raw / ("CASME2_RAW_selected" if source == "video" else "Cropped"),
                                 "sample folder not found", LAYOUT_CASME2)
    dirs = {(s.name, c.name): c for s in root.iterdir() if s.is_dir() and s.name.startswith("sub")
            for c in s.iterdir() if c.is_dir()}
    plan = _composite(spec, raw, table, dirs, LAYOUT_CASME2, source)
    coding = next(iter(search(raw, "CASME2-coding*.xlsx", 3) + search(raw, "CASME2-coding*.csv", 3)), None)
    mapping = {"disgust": 0, "repression": 0, "happiness": 1, "surprise": 2}
    _check_coding(plan, coding, table, lambda s: f"sub{int(float(s)):02d}" if str(s).strip() else "", mapping)
    return plan


def import_smic(spec: DatasetSpec, raw: Path, source: str = "auto") -> Plan:
    hs_dirs = search(raw, "HS", max_depth=3, dirs=True)
    cropped = [d for d in hs_dirs if any("crop" in p.lower() for p in d.relative_to(raw).parts)]
    plain = [d for d in hs_dirs if d not in cropped]
    if source == "auto":
        source = "video" if plain else "faces" if cropped else "video"
    candidates = plain if source == "video" else cropped
    if not candidates:
        raise DatasetLayoutError(spec.name, raw / ("SMIC/HS" if source == "video" else "SMIC_all_cropped/HS"),
                                 "SMIC-HS folder not found", LAYOUT_SMIC)
    hs = candidates[0]
    index = {name: i for i, name in enumerate(spec.labels)}
    records = []
    for subject in sorted(p for p in hs.iterdir() if p.is_dir() and re.fullmatch(r"s\d+", p.name)):
        for cls_dir in sorted((subject / "micro").glob("*")) if (subject / "micro").is_dir() else []:
            if cls_dir.name.lower() not in index:
                continue
            for clip in sorted(c for c in cls_dir.iterdir() if c.is_dir()):
                records.append(ClipRecord(clip.name, relpath(clip, raw), None, index[cls_dir.name.lower()],
                                          subject.name))
    if not records:
        raise DatasetLayoutError(spec.name, hs / "s1/micro/negative/s1_ne_01", "no micro-expression sample found",
                                 LAYOUT_SMIC)
    folds = folds_by_test_key(spec, records, lambda r: r.subject)
    return Plan(spec, raw, folds, source=source, notes=[f"source: {source}", f"HS folder: {relpath(hs, raw)}"],
                subject_independent=True)


CASME3_MAP = {"disgust": 0, "fear": 0, "anger": 0, "sad": 0, "sadness": 0, "happy": 1, "happiness": 1,
              "surprise": 2}


def _casme3_subject(text) -> str:
    m = re.search(r"(\d+)", str(text))
    return f"spNO.{int(m.group(1))}" if m else str(text)


def import_casme3(spec: DatasetSpec, raw: Path, source: str = "auto") -> Plan:
    labels = (search(raw, "cas(me)3_part_A_ME_label*.xlsx", 4) + search(raw, "*part_A*ME*label*.xlsx", 4)
              + search(raw, "*part_A*ME*label*.csv", 4))
    if not labels:
        raise DatasetLayoutError(spec.name, raw / "part_A/annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx",
                                 "label spreadsheet not found", LAYOUT_CASME3)
    path = labels[0]
    try:
        rows = read_table(path, "label") if path.suffix == ".xlsx" else read_table(path)
    except ValueError:
        rows = read_table(path)
    cols = header_index(rows[0], {"subject": ("Subject",), "file": ("Filename",), "onset": ("Onset", "OnsetFrame"),
                                  "offset": ("Offset", "OffsetFrame"), "emotion": ("emotion", "Estimated Emotion")},
                        str(path), spec.name)
    subject_dirs = {}
    for d in search(raw, "sp[Nn][Oo].*", max_depth=5, dirs=True):
        subject_dirs.setdefault(_casme3_subject(d.name), d)
    records, derived, other, skipped = [], {}, 0, []
    for lineno, row in enumerate(rows[1:], start=2):
        if len(row) <= max(cols.values()) or row[cols["subject"]] in (None, ""):
            continue
        emotion = str(row[cols["emotion"]] or "").strip().lower()
        if emotion not in CASME3_MAP:
            other += 1
            continue
        subject, file = _casme3_subject(row[cols["subject"]]), str(row[cols["file"]]).strip()
        try:
            onset, offset = int(float(row[cols["onset"]])), int(float(row[cols["offset"]]))
        except (TypeError, ValueError):
            skipped.append(f"{path.name}:{lineno}")
            continue
        if subject not in subject_dirs:
            raise DatasetLayoutError(spec.name, raw / f"<...>/{subject}", "frame folder of this subject not found",
                                     LAYOUT_CASME3)
        color = subject_dirs[subject] / file / "color"
        frames = [color / f"{n}.jpg" for n in range(min(onset, offset), max(onset, offset) + 1)]
        frames = [f for f in frames if f.is_file()]
        if not frames:
            raise DatasetLayoutError(spec.name, color / f"{onset}.jpg", f"no frame of {subject}/{file} "
                                     f"{onset}..{offset} found", LAYOUT_CASME3)
        clip = f"{subject}_{file}_{onset}"
        rel = f"clips/{clip}"
        derived[rel] = _gather([relpath(f, raw) for f in frames])
        records.append(ClipRecord(clip, rel, None, CASME3_MAP[emotion], subject))
    notes = [f"dropped {other} expressions outside the 3-class mapping (others)"]
    if skipped:
        notes.append(f"skipped {len(skipped)} rows with a non-numeric onset/offset: {', '.join(skipped[:5])}")
    folds = folds_by_test_key(spec, records, lambda r: r.subject)
    return Plan(spec, raw, folds, source="video", notes=notes, derived=derived, subject_independent=True)


def _gather(frames: list[str]):
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


def import_mmew(spec: DatasetSpec, raw: Path, source: str = "auto") -> Plan:
    roots = search(raw, "Micro_Expression", max_depth=3, dirs=True)
    if not roots:
        raise DatasetLayoutError(spec.name, raw / "MMEW_Final/Micro_Expression", "micro-expression folder not found",
                                 LAYOUT_MMEW)
    index = {name: i for i, name in enumerate(spec.labels)}
    records, other = [], 0
    for cls_dir in sorted(p for p in roots[0].iterdir() if p.is_dir()):
        name = cls_dir.name.lower()
        for clip in sorted(c for c in cls_dir.iterdir() if c.is_dir()):
            if name not in index:
                other += 1
                continue
            m = re.match(r"(S\d+)-", clip.name, re.IGNORECASE)
            if not m:
                raise DatasetLayoutError(spec.name, clip, "sample folder not named Sxx-yy-zzz", LAYOUT_MMEW)
            subject = f"S{int(m.group(1)[1:]):02d}"
            records.append(ClipRecord(clip.name, relpath(clip, raw), None, index[name], subject))
    if not records:
        raise DatasetLayoutError(spec.name, roots[0] / "happiness/S01-01-001", "no sample found", LAYOUT_MMEW)
    folds = folds_by_test_key(spec, records, lambda r: r.subject)
    return Plan(spec, raw, folds, source="video", notes=[f"dropped {other} samples of other classes (others)"],
                subject_independent=True)
