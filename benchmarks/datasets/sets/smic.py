"""SMIC-HS: all 164 micro-expression clips of the 16 HS subjects, classes from the folder names, LOSO."""
from __future__ import annotations

import re
from pathlib import Path

from avfmae.data.manifest import ClipRecord

from ..importers._base import DatasetLayoutError, Plan, folds_by_test_key, relpath, search
from ..spec import DatasetSpec
from ._micro import MEGC3, MEGC_NOTE, MER_METRICS, SILENT_AUDIO, uf1

ORDER = 13  # position in the paper's tables

SMIC_SUBJECTS = tuple(f"s{n}" for n in range(1, 21) if n not in (7, 10, 16, 17))

SMIC = DatasetSpec(
    name="smic", title="SMIC (HS)", task="MER", labels=MEGC3, folds=SMIC_SUBJECTS,
    fold_scheme="LOSO over the 16 SMIC-HS subjects (MEGC2019)", metrics=MER_METRICS, main_metric="uf1",
    modalities=("video",), fold_aggregate="pool", paper=uf1(83.23, 83.79, 83.55),
    source="layout H (MEX: SMIC/HS/sN/micro/<class>/<clip>/ or SMIC_all_cropped/HS/...); labels from folder "
           "names H; 164 = 70/51/43 H (HTN)",
    notes=f"{MEGC_NOTE} SMIC's classes are natively negative/positive/surprise. {SILENT_AUDIO}",
)

SPECS = (SMIC,)
ALIASES = {"smic-hs": "smic"}  # other spellings -> name

LAYOUT = """\
<SMIC>/
  SMIC/HS/s1/micro/negative/s1_ne_01/*.bmp ...   HS (100 fps) samples; classes negative, positive, surprise
  (or face-cropped: SMIC_all_cropped/HS/s1/micro/<class>/<clip>/reg_*.bmp)"""


def import_release(spec: DatasetSpec, raw: Path, source: str = "auto") -> Plan:
    hs_dirs = search(raw, "HS", max_depth=3, dirs=True)
    cropped = [d for d in hs_dirs if any("crop" in p.lower() for p in d.relative_to(raw).parts)]
    plain = [d for d in hs_dirs if d not in cropped]
    if source == "auto":
        source = "video" if plain else "faces" if cropped else "video"
    candidates = plain if source == "video" else cropped
    if not candidates:
        raise DatasetLayoutError(spec.name, raw / ("SMIC/HS" if source == "video" else "SMIC_all_cropped/HS"),
                                 "SMIC-HS folder not found", LAYOUT)
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
                                 LAYOUT)
    folds = folds_by_test_key(spec, records, lambda r: r.subject)
    return Plan(spec, raw, folds, source=source, notes=[f"source: {source}", f"HS folder: {relpath(hs, raw)}"],
                subject_independent=True)
