"""CAS(ME)^3 Part A: 3-class micro-expressions from the label spreadsheet, each onset..offset frame range
gathered into its own clip folder `clips/<subject>_<file>_<onset>/`; LOSO over 87 subjects."""
from __future__ import annotations

import re
from pathlib import Path

from avfmae.data.manifest import ClipRecord

from ..importers._base import DatasetLayoutError, Plan, folds_by_test_key, header_index, relpath, search
from ..importers._xlsx import read_table
from ..spec import DatasetSpec
from ._micro import MEGC3, MER_METRICS, SILENT_AUDIO, gather, uf1

ORDER = 14  # position in the paper's tables

CASME3_SUBJECTS = tuple(f"spNO.{n}" for n in (
    1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 17, 39, 40, 41, 42, 77, 138, 139, 142, 144, 145, 146, 147,
    148, 149, 150, 152, 153, 154, 155, 156, 157, 158, 160, 161, 162, 163, 165, 166, 167, 169, 170, 171, 172, 174,
    175, 176, 177, 178, 179, 180, 181, 182, 183, 184, 186, 187, 188, 189, 190, 192, 193, 194, 195, 196, 197, 200,
    201, 202, 203, 204, 206, 207, 208, 209, 210, 211, 212, 213, 214, 215, 216, 217))

CASME3 = DatasetSpec(
    name="casme3", title="CAS(ME)^3", task="MER", labels=MEGC3, folds=CASME3_SUBJECTS,
    fold_scheme="LOSO over the 87 Part A subjects with a 3-class micro-expression", metrics=MER_METRICS,
    main_metric="uf1", modalities=("video",), fold_aggregate="pool", paper=uf1(63.18, 67.88, 65.34),
    source="labels H (MEX: part_A/annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx, sheet 'label'); frames "
           "<Subject>/<Filename>/color/<n>.jpg H (HTN); 3-class mapping and 687 = 449/54/184 H (HTN CSV); "
           "protocol M",
    notes="Part A micro-expressions; positive = happy, negative = disgust, fear, anger, sad, surprise = surprise; "
          "others dropped. Each expression's onset..offset frames are gathered into clips/<subject>_<file>_"
          f"<onset>/ by the importer. {SILENT_AUDIO}",
)

SPECS = (CASME3,)
ALIASES = {"cas(me)3": "casme3", "cas(me)^3": "casme3", "casme^3": "casme3"}  # other spellings -> name

LAYOUT = """\
<CAS(ME)^3>/
  part_A/annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx   sheet 'label': Subject (spNO.N), Filename (a..m),
                                                                Onset, Apex, Offset, ..., emotion
  <...>/spNO.1/a/color/1.jpg ...                                 frames of each recording (folder case may differ)"""


CASME3_MAP = {"disgust": 0, "fear": 0, "anger": 0, "sad": 0, "sadness": 0, "happy": 1, "happiness": 1,
              "surprise": 2}


def _casme3_subject(text) -> str:
    m = re.search(r"(\d+)", str(text))
    return f"spNO.{int(m.group(1))}" if m else str(text)


def import_release(spec: DatasetSpec, raw: Path, source: str = "auto") -> Plan:
    labels = (search(raw, "cas(me)3_part_A_ME_label*.xlsx", 4) + search(raw, "*part_A*ME*label*.xlsx", 4)
              + search(raw, "*part_A*ME*label*.csv", 4))
    if not labels:
        raise DatasetLayoutError(spec.name, raw / "part_A/annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx",
                                 "label spreadsheet not found", LAYOUT)
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
                                     LAYOUT)
        color = subject_dirs[subject] / file / "color"
        frames = [color / f"{n}.jpg" for n in range(min(onset, offset), max(onset, offset) + 1)]
        frames = [f for f in frames if f.is_file()]
        if not frames:
            raise DatasetLayoutError(spec.name, color / f"{onset}.jpg", f"no frame of {subject}/{file} "
                                     f"{onset}..{offset} found", LAYOUT)
        clip = f"{subject}_{file}_{onset}"
        rel = f"clips/{clip}"
        derived[rel] = gather([relpath(f, raw) for f in frames])
        records.append(ClipRecord(clip, rel, None, CASME3_MAP[emotion], subject))
    notes = [f"dropped {other} expressions outside the 3-class mapping (others)"]
    if skipped:
        notes.append(f"skipped {len(skipped)} rows with a non-numeric onset/offset: {', '.join(skipped[:5])}")
    folds = folds_by_test_key(spec, records, lambda r: r.subject)
    return Plan(spec, raw, folds, source="video", notes=notes, derived=derived, subject_independent=True)
