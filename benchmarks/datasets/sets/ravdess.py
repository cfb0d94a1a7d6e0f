"""RAVDESS (speech): labels from the file-name codes, 6 actor-independent folds of 4 actors."""
from __future__ import annotations

import re
from pathlib import Path

from avfmae.data.manifest import ClipRecord

from ..importers._base import DatasetLayoutError, Plan, folds_by_test_key, relpath, search
from ..spec import DatasetSpec
from . import CEA_METRICS, uar_war

ORDER = 7  # position in the paper's tables

RAVDESS = DatasetSpec(
    name="ravdess", title="RAVDESS", task="CEA",
    labels=("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"),
    folds=tuple(f"fold{k}" for k in range(1, 7)),
    fold_scheme="6-fold subject-independent: fold k tests actors 4k-3 .. 4k (speech only, 1200/240)",
    metrics=CEA_METRICS, main_metric="uar", validation="test",
    paper=uar_war(h=(87.44, 87.57), hic=(87.96, 87.99)),
    source="layout and file-name codes H (RAVZ); labels = emotion code - 1 H; folds H (HiC, SVFAP)",
    notes="Faces from the video-only file (modality 02), audio from the audio-only wav (03) of the same take, "
          "as HiCMAE; the full-AV file (01) stands in for a missing one. Paper #PS prints '512' (huge).",
)

SPECS = (RAVDESS,)

LAYOUT = """\
<RAVDESS>/                                   (Zenodo record 1188976, zips unpacked side by side)
  Actor_01/01-01-03-01-01-01-01.mp4          Video_Speech_Actor_01.zip: full-AV (01) and video-only (02)
  Actor_01/02-01-03-01-01-01-01.mp4
  Actor_01/03-01-03-01-01-01-01.wav          Audio_Speech_Actors_01-24.zip: audio-only (03)
  ... Actor_24/  (each zip may also sit in its own folder, e.g. Video_Speech_Actor_01/Actor_01/)
name MM-VV-EE-II-SS-RR-AA: modality, vocal channel (01 speech), emotion 01..08, intensity, statement,
repetition, actor"""

NAME = re.compile(r"^(0[123])-(0[12])-(0[1-8])-(0[12])-(0[12])-(0[12])-(\d\d)$")


def actor_fold(actor: int) -> str:
    return f"fold{(actor - 1) // 4 + 1}"


def import_release(spec: DatasetSpec, raw: Path, source: str = "auto") -> Plan:
    takes: dict[str, dict[str, Path]] = {}
    for path in search(raw, "*.mp4", max_depth=4) + search(raw, "*.wav", max_depth=4):
        m = NAME.match(path.stem)
        if not m or m.group(2) != "01":  # speech only
            continue
        modality = m.group(1)
        if (modality == "03") != (path.suffix == ".wav"):
            continue
        take = path.stem[3:]  # VV-EE-II-SS-RR-AA, shared by the 01/02/03 files of one take
        takes.setdefault(take, {}).setdefault(modality, path)
    if not takes:
        raise DatasetLayoutError(spec.name, raw / "Actor_01/01-01-03-01-01-01-01.mp4",
                                 "no RAVDESS speech file (MM-01-EE-II-SS-RR-AA.mp4/.wav) found", LAYOUT)
    records, no_audio = [], 0
    for take, files in sorted(takes.items()):
        emotion, actor = int(take.split("-")[1]), take.split("-")[5]
        if "02" in files and "03" in files:      # HiCMAE: faces from video-only, voice from audio-only
            video, audio = files["02"], files["03"]
        elif "01" in files:                      # the full-AV file carries both
            video, audio = files["01"], files.get("03")
        else:
            no_audio += 1
            continue
        records.append(ClipRecord(take, relpath(video, raw), relpath(audio, raw) if audio else None,
                                  emotion - 1, actor))
    notes = []
    if no_audio:
        notes.append(f"skipped {no_audio} takes with a video-only file but neither a wav nor a full-AV file")
    folds = folds_by_test_key(spec, records, lambda r: actor_fold(int(r.subject)), what="actor")
    return Plan(spec, raw, folds, source="video", notes=notes, subject_independent=True)
