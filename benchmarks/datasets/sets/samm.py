"""SAMM: the MEGC2019 composite 3-class subset (133 clips, 28 subjects), LOSO over frame folders."""
from __future__ import annotations

import re
from pathlib import Path

from ..importers._base import DatasetLayoutError, Plan, search
from ..spec import DatasetSpec
from ._micro import MEGC3, MEGC_NOTE, MER_METRICS, SILENT_AUDIO, check_coding, composite, parse_composite, uf1

ORDER = 11  # position in the paper's tables

SAMM_SUBJECTS = tuple(f"{n:03d}" for n in range(6, 38) if n not in (8, 25, 27, 29))

SAMM = DatasetSpec(
    name="samm", title="SAMM", task="MER", labels=MEGC3, folds=SAMM_SUBJECTS,
    fold_scheme="LOSO over the 28 composite subjects (MEGC2019)", metrics=MER_METRICS, main_metric="uf1",
    modalities=("video",), fold_aggregate="pool", paper=uf1(81.58, 82.53, 81.62),
    source="layout H (MEX: <sss>/<sss>_<ind>_<n>/*.jpg, SAMM_Micro_FACS_Codes_v2.xlsx); composite membership "
           "and labels H (HTN CSV, 133 = 92/26/15); protocol M (HTNet row matches the composite numbers)",
    notes=f"{MEGC_NOTE} SAMM negative = anger, contempt, disgust, fear, sadness. {SILENT_AUDIO}",
)

SPECS = (SAMM,)

LAYOUT = """\
<SAMM>/
  SAMM/006/006_1_2/006_05562.jpg ...         one folder per micro-movement: <subject>/<subject>_<inducement>_<n>/
  SAMM_Micro_FACS_Codes_v2.xlsx              optional: cross-checks 'Estimated Emotion'"""

# The composite list (HTNet's `combined_3_class2_for_optical_flow.csv`, counted in datasets.md):
# one subject per line, then `clip:label` with label 0 negative, 1 positive, 2 surprise.
COMPOSITE = """\
006 006_1_2:0 006_1_3:0 006_1_4:0 006_1_5:0 006_1_6:0 006_2_4:0 006_3_4:0 006_3_5:2 006_5_10:0 006_5_11:0 006_5_9:2
007 007_3_1:0 007_5_3:2 007_6_1:1 007_6_2:1 007_6_3:1 007_6_5:1 007_7_1:2 007_7_5:1
009 009_2_1:0 009_3_2:0 009_3_3:0 009_3_4:2
010 010_2_1:0 010_2_8:0 010_4_1:0 010_4_2:0
011 011_1_4:0 011_2_1:0 011_2_2:0 011_2_3:0 011_2_7:1 011_3_1:0 011_3_4:1 011_3_5:1 011_3_6:1 011_4_1:0 011_4_12:0
011 011_4_13:0 011_4_2:0 011_5_1:0 011_6_1:0 011_6_13:1 011_6_5:1 011_6_6:1 011_7_1:0 011_7_10:0
012 012_3_1:0 012_3_2:0 012_7_1:2
013 013_1_10:0 013_1_11:0 013_1_12:0 013_1_8:0 013_1_9:0 013_7_7:0
014 014_1_1:0 014_2_3:2 014_2_4:1 014_3_3:1 014_3_4:1 014_5_2:0 014_6_1:1 014_6_2:1 014_6_3:1 014_7_1:1
015 015_5_1:0 015_5_2:0 015_5_3:2
016 016_7_1:0 016_7_2:2 016_7_3:0 016_7_5:2 016_7_8:1
017 017_3_1:0 017_3_2:2 017_3_4:0 017_6_1:0
018 018_3_1:0 018_5_1:0 018_7_1:2
019 019_4_1:1
020 020_4_1:0 020_4_2:1 020_7_1:0 020_7_10:1
021 021_7_1:0 021_7_2:0
022 022_2_3:0 022_3_2:0 022_3_3:1 022_4_1:0 022_5_1:1
023 023_1_1:0
024 024_2_1:0
026 026_1_1:0 026_2_1:0 026_2_2:0 026_2_3:0 026_3_3:0 026_3_4:0 026_5_1:0 026_6_1:0 026_7_3:0
028 028_4_1:0 028_4_3:2 028_4_4:2
030 030_1_1:0 030_1_2:0 030_5_1:0
031 031_3_1:0
032 032_3_1:0 032_3_2:0 032_4_2:0 032_6_1:0
033 033_1_3:1 033_1_4:0 033_1_5:0 033_2_1:0 033_2_2:0
034 034_3_1:0 034_7_2:0 034_7_3:0
035 035_1_1:0 035_4_1:0 035_4_2:0 035_5_2:0 035_5_3:0 035_6_3:0 035_7_1:2 035_7_2:0
036 036_7_3:0
037 037_3_2:0
"""


def import_release(spec: DatasetSpec, raw: Path, source: str = "auto") -> Plan:
    table = parse_composite(COMPOSITE)
    dirs = {}
    for d in search(raw, "[0-9][0-9][0-9]_*_*", max_depth=4, dirs=True):
        if re.fullmatch(r"\d{3}_\d+_\d+", d.name) and d.parent.name == d.name[:3]:
            dirs[(d.parent.name, d.name)] = d
    if not dirs:
        raise DatasetLayoutError(spec.name, raw / "SAMM/006/006_1_2", "no SAMM sample folder found", LAYOUT)
    plan = composite(spec, raw, table, dirs, LAYOUT, "video")
    coding = next(iter(search(raw, "SAMM_Micro_FACS_Codes*.xlsx", 3) + search(raw, "SAMM_Micro_FACS_Codes*.csv", 3)),
                  None)
    negative = ("anger", "contempt", "disgust", "fear", "sadness")
    mapping = {**{e: 0 for e in negative}, "happiness": 1, "surprise": 2}
    check_coding(plan, coding, table, lambda s: f"{int(float(s)):03d}" if str(s).strip() else "", mapping)
    return plan
