"""CASME II: the MEGC2019 composite 3-class subset (145 clips, 24 subjects), LOSO over frame folders."""
from __future__ import annotations

from pathlib import Path

from ..importers._base import DatasetLayoutError, Plan, search
from ..spec import DatasetSpec
from ._micro import MEGC3, MEGC_NOTE, MER_METRICS, SILENT_AUDIO, check_coding, composite, parse_composite, uf1

ORDER = 12  # position in the paper's tables

CASME2_SUBJECTS = tuple(f"sub{n:02d}" for n in range(1, 27) if n not in (10, 18))

CASME2 = DatasetSpec(
    name="casme-ii", title="CASME II", task="MER", labels=MEGC3, folds=CASME2_SUBJECTS,
    fold_scheme="LOSO over the 24 composite subjects (MEGC2019)", metrics=MER_METRICS, main_metric="uf1",
    modalities=("video",), fold_aggregate="pool", paper=uf1(93.58, 94.03, 94.11),
    source="layout H (MEX: CASME2_RAW_selected/subNN/<clip>/imgN.jpg or Cropped/...; "
           "CASME2-coding-20140508.xlsx); composite membership and labels H (HTN CSV, 145 = 88/32/25)",
    notes=f"{MEGC_NOTE} CASME II negative = disgust, repression. {SILENT_AUDIO}",
)

SPECS = (CASME2,)
ALIASES = {"casme2": "casme-ii", "casmeii": "casme-ii"}  # other spellings -> name

LAYOUT = """\
<CASME II>/
  CASME2_RAW_selected/sub01/EP02_01f/img46.jpg ...   raw frames of each sample
  (or face-cropped: Cropped/sub01/EP02_01f/reg_img46.jpg ...)
  CASME2-coding-20140508.xlsx                        optional: cross-checks 'Estimated Emotion'"""

# The composite list (HTNet's `combined_3_class2_for_optical_flow.csv`, counted in datasets.md):
# one subject per line, then `clip:label` with label 0 negative, 1 positive, 2 surprise.
COMPOSITE = """\
sub01 EP02_01f:1 EP19_05f:0 EP19_06f:0
sub02 EP01_11f:0 EP02_04f:0 EP03_02f:0 EP06_01f:0 EP06_02f:0 EP09_01:1 EP11_01:2 EP13_04:2 EP14_01:2
sub03 EP01_2:2 EP07_04:0 EP09_03:0 EP18_06:0 EP19_08:0
sub04 EP12_02f:0 EP13_06f:0
sub05 EP02_07:2 EP03_01:1 EP03_06:2 EP04_05:2 EP04_06:2 EP12_03f:2
sub06 EP01_01:1 EP02_31:2 EP15_02:2 EP16_05:0
sub07 EP01_01:0 EP06_02_01:0 EP06_02_02:0 EP08_02:0 EP15_01:0
sub08 EP13_01f:0
sub09 EP02_01f:1 EP05_05:1 EP06_01f:0 EP06_02f:1 EP09_04:0 EP09_05:0 EP09f:1 EP13_01:0 EP15_05:1 EP17_08:0
sub11 EP08_01f:0 EP13_02f:0 EP13_03f:0 EP13_05f:0
sub12 EP01_02:0 EP02_05:2 EP03_04:1 EP04_16:0 EP06_06:2 EP08_01:2 EP08_03:2 EP08_07:1 EP09_02:0 EP09_06:0
sub12 EP16_02:0
sub13 EP03_01:1 EP09_10:1
sub14 EP09_03:1 EP09_04:1 EP09_06:1
sub15 EP03_02:1 EP04_02:2 EP08_02:0
sub16 EP01_05:1 EP01_08:0 EP04_02f:1
sub17 EP01_06:1 EP01_13:2 EP01_15:1 EP02_01:0 EP02_03:0 EP02_11:0 EP02_18f:0 EP03_02:0 EP03_09:1 EP05_02:1
sub17 EP05_03:1 EP05_03f:0 EP05_04:0 EP05_09:0 EP05_10:0 EP06_04:0 EP06_07:1 EP06_08:0 EP07_01:0 EP08_02:0
sub17 EP10_06:0 EP11_01:0 EP11_02:0 EP12_03:0 EP13_03:0 EP13_04:0 EP13_06:0 EP13_09:1 EP15_04:0 EP16_01f:0
sub17 EP18_07:0
sub19 EP01_01f:1 EP01_02f:1 EP02_01:2 EP06_01f:2 EP08_02:1 EP11_04f:2 EP13_01:0 EP16_01:0 EP16_02:0 EP19_02:2
sub19 EP19_03:2
sub20 EP01_03:0 EP06_03:0
sub21 EP05_02:0
sub22 EP01_12:0 EP13_08:0
sub23 EP02_01:1 EP03_14f:0 EP04_03f:0 EP05_24f:0 EP05_25f:0 EP12_02f:0 EP12_03:0 EP13_04:0
sub24 EP01_08:0 EP02_02f:0 EP18_03:2
sub25 EP09_02:0 EP10_01:0 EP10_10:2 EP12_01:2 EP18_04f:0
sub26 EP03_10:1 EP09_04:0 EP09_09:0 EP13_02:1 EP13_11:0 EP16_01:0 EP18_44:0 EP18_47:0 EP18_49:0 EP18_50:0
sub26 EP18_51:0
"""


def import_release(spec: DatasetSpec, raw: Path, source: str = "auto") -> Plan:
    table = parse_composite(COMPOSITE)
    raw_root = next(iter(search(raw, "CASME2_RAW_selected", 3, dirs=True) + search(raw, "CASME2_RAW", 3, dirs=True)
                         + search(raw, "CASME2-RAW", 3, dirs=True)), None)
    crop_root = next(iter(search(raw, "Cropped", 3, dirs=True) + search(raw, "CASME2_Cropped", 3, dirs=True)), None)
    if source == "auto":
        source = "video" if raw_root else "faces" if crop_root else "video"
    root = raw_root if source == "video" else crop_root
    if root is None:
        raise DatasetLayoutError(spec.name, raw / ("CASME2_RAW_selected" if source == "video" else "Cropped"),
                                 "sample folder not found", LAYOUT)
    dirs = {(s.name, c.name): c for s in root.iterdir() if s.is_dir() and s.name.startswith("sub")
            for c in s.iterdir() if c.is_dir()}
    plan = composite(spec, raw, table, dirs, LAYOUT, source)
    coding = next(iter(search(raw, "CASME2-coding*.xlsx", 3) + search(raw, "CASME2-coding*.csv", 3)), None)
    mapping = {"disgust": 0, "repression": 0, "happiness": 1, "surprise": 2}
    check_coding(plan, coding, table, lambda s: f"sub{int(float(s)):02d}" if str(s).strip() else "", mapping)
    return plan
