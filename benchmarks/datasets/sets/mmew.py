"""MMEW: 6-class micro-expressions (234 clips after dropping others), LOSO over 30 subjects."""
from __future__ import annotations

import re
from pathlib import Path

from avfmae.data.manifest import ClipRecord

from ..importers._base import DatasetLayoutError, Plan, folds_by_test_key, relpath, search
from ..spec import DatasetSpec
from ._micro import MER_METRICS, SILENT_AUDIO, uf1

ORDER = 15  # position in the paper's tables

MMEW_SUBJECTS = tuple(f"S{n:02d}" for n in range(1, 31))

MMEW = DatasetSpec(
    name="mmew", title="MMEW", task="MER",
    labels=("happiness", "surprise", "sadness", "disgust", "fear", "anger"), folds=MMEW_SUBJECTS,
    fold_scheme="LOSO over the 30 subjects, 6 classes (L: the paper's protocol is unknown)", metrics=MER_METRICS,
    main_metric="uf1", modalities=("video",), fold_aggregate="pool", paper=uf1(83.76, 83.41, 84.33),
    source="layout H (MEX: MMEW_Final/Micro_Expression/<emotion>/<Sxx-yy-zzz>/<n>.jpg); 234 clips after "
           "dropping 'others' H (HTN CSV), class order M (HTN label ids); protocol L",
    notes=f"Candidates were 6-class LOSO (234), 5-class LOSO (226) or 5-fold; we use 6-class LOSO. {SILENT_AUDIO}",
)

SPECS = (MMEW,)

LAYOUT = """\
<MMEW>/
  MMEW_Final/Micro_Expression/happiness/S01-01-001/1.jpg ...   <emotion>/<Sxx-yy-zzz>/ (others are dropped)"""


def import_release(spec: DatasetSpec, raw: Path, source: str = "auto") -> Plan:
    roots = search(raw, "Micro_Expression", max_depth=3, dirs=True)
    if not roots:
        raise DatasetLayoutError(spec.name, raw / "MMEW_Final/Micro_Expression", "micro-expression folder not found",
                                 LAYOUT)
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
                raise DatasetLayoutError(spec.name, clip, "sample folder not named Sxx-yy-zzz", LAYOUT)
            subject = f"S{int(m.group(1)[1:]):02d}"
            records.append(ClipRecord(clip.name, relpath(clip, raw), None, index[name], subject))
    if not records:
        raise DatasetLayoutError(spec.name, roots[0] / "happiness/S01-01-001", "no sample found", LAYOUT)
    folds = folds_by_test_key(spec, records, lambda r: r.subject)
    return Plan(spec, raw, folds, source="video", notes=[f"dropped {other} samples of other classes (others)"],
                subject_independent=True)
