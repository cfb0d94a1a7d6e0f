"""Werewolf-XL (PAD regression): speaker clips `GG_PP_NNN`, 5 game-independent folds of 6 games (HiCMAE).

The release layout is the least certain of all (Baidu-cloud archives we could not inspect), so the importer
is lenient: it finds the PAD label table (.csv or .xlsx) by its columns and the clips by their ids anywhere
below the release folder.
"""
from __future__ import annotations

import re
from pathlib import Path

from avfmae.data.manifest import ClipRecord

from ..importers._base import DatasetLayoutError, Plan, folds_by_test_key, index_by_stem, relpath, search
from ..spec import DatasetSpec
from ..importers._xlsx import read_table
from . import CV5

ORDER = 10  # position in the paper's tables

WEREWOLF_XL = DatasetSpec(
    name="werewolf-xl", title="Werewolf-XL", task="DEA",
    labels=("arousal", "valence", "dominance"), folds=CV5, regression=True,
    fold_scheme="5-fold game(session)-independent: fold k tests games 6k-5 .. 6k (HiCMAE/SVFAP)",
    metrics=("ccc", "pcc"), main_metric="ccc", validation="test",
    paper={
        "avfmae-huge": {"ccc_arousal": 44.99, "ccc_valence": 72.19, "ccc_dominance": 52.35,
                        "ccc": (44.99 + 72.19 + 52.35) / 3},
        "hicmae-base": {"ccc_arousal": 33.74, "ccc_valence": 69.23, "ccc_dominance": 40.66,
                        "ccc": (33.74 + 69.23 + 40.66) / 3},
    },
    source="release layout L (Baidu-cloud archives, not inspected); clip ids GG_PP_NNN H (HiC); folds H; "
           "metric CCC vs PCC unconfirmed (L); paper model size unstated (filed under huge, L)",
    notes="Targets are the averaged external PAD ratings, written in the order arousal, valence, dominance "
          "(pleasure = valence) by column name from the label file. The paper's table does not name its model "
          "size nor whether the numbers are CCC or PCC.",
)

SPECS = (WEREWOLF_XL,)
ALIASES = {"werewolf": "werewolf-xl"}  # other spellings -> name

LAYOUT = """\
<Werewolf-XL>/
  <any>/<PAD labels>.csv|.xlsx          one row per speaker clip: a clip column (VideoName / name / clip)
                                        and Arousal, Valence (or Pleasure) and Dominance columns
  <any>/07_01_200.mp4 ...               speaker clips named GG_PP_NNN (game, player seat, clip index)
or, face-aligned (HiCMAE preprocessing): openface/07_01_200/*.jpg and audio_16k/07_01_200.wav"""

CLIP = re.compile(r"^(\d\d)_(\d\d)_(\d+)$")
NAME_COLS = ("videoname", "video_name", "name", "clip", "clipname", "filename", "video")
TARGET_COLS = {"arousal": ("arousal", "a"), "valence": ("valence", "pleasure", "p", "v"),
               "dominance": ("dominance", "d")}


def _norm(x) -> str:
    return re.sub(r"[\s_]+", "", str(x or "")).lower()


def _find_label_table(raw: Path, spec: DatasetSpec):
    candidates = search(raw, "*.csv", max_depth=4) + search(raw, "*.xlsx", max_depth=4)
    for path in candidates:
        try:
            rows = read_table(path)
        except Exception:  # noqa: BLE001 - an unreadable table is simply not the label table
            continue
        for h, header in enumerate(rows[:5]):
            cells = [_norm(c) for c in header]
            name = next((cells.index(_norm(c)) for c in NAME_COLS if _norm(c) in cells), None)
            targets = {t: next((cells.index(o) for o in opts if o in cells), None) for t, opts in TARGET_COLS.items()}
            if name is not None and all(v is not None for v in targets.values()):
                return path, rows[h + 1:], name, [targets[t] for t in spec.labels]
    raise DatasetLayoutError(spec.name, raw, "no PAD label table (clip, arousal, valence/pleasure, dominance "
                             "columns) found below", LAYOUT)


def import_release(spec: DatasetSpec, raw: Path, source: str = "auto") -> Plan:
    table, rows, name_col, target_cols = _find_label_table(raw, spec)
    videos = index_by_stem(search(raw, "*.mp4", max_depth=5) + search(raw, "*.avi", max_depth=5), raw)
    videos = {k: v for k, v in videos.items() if CLIP.match(k)}
    faces = raw / "openface"
    wavs = raw / "audio_16k"
    if source == "auto":
        source = "video" if videos else "faces" if faces.is_dir() else "video"
    if source == "video" and not videos:
        raise DatasetLayoutError(spec.name, raw / "<any>/01_01_001.mp4", "no speaker clip named GG_PP_NNN found",
                                 LAYOUT)
    if source == "faces" and not (faces.is_dir() and wavs.is_dir()):
        raise DatasetLayoutError(spec.name, faces if not faces.is_dir() else wavs, "face-frame layout incomplete",
                                 LAYOUT)
    records, missing = [], 0
    for lineno, row in enumerate(rows, start=2):
        if len(row) <= max([name_col] + target_cols) or not str(row[name_col] or "").strip():
            continue
        clip = Path(str(row[name_col]).strip()).stem
        if not CLIP.match(clip):
            continue
        try:
            target = tuple(float(row[c]) for c in target_cols)
        except (TypeError, ValueError):
            raise DatasetLayoutError(spec.name, f"{table}:{lineno}", f"non-numeric PAD values in {row!r}") from None
        if source == "video":
            if clip not in videos:
                missing += 1
                continue
            video, audio = videos[clip], None
        else:
            folder, wav = faces / clip, wavs / f"{clip}.wav"
            if not folder.is_dir() or not wav.is_file():
                missing += 1
                continue
            video, audio = relpath(folder, raw), relpath(wav, raw)
        records.append(ClipRecord(clip, video, audio, target, clip[:5]))
    if not records:
        raise DatasetLayoutError(spec.name, table, "no labelled clip of the table was found on disk", LAYOUT)
    notes = [f"source: {source}", f"labels: {relpath(table, raw)} (targets in the order {', '.join(spec.labels)})"]
    if missing:
        notes.append(f"skipped {missing} labelled clips without media (HiCMAE keeps 14,457 of 14,632)")
    folds = folds_by_test_key(spec, records, lambda r: f"fold{(int(r.clip[:2]) - 1) // 6 + 1}", what="game")
    return Plan(spec, raw, folds, source=source, notes=notes, subject_independent=True)
