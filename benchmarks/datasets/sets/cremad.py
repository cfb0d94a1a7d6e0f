"""CREMA-D (6- and 4-class): labels from the file names, 5 actor-independent folds."""
from __future__ import annotations

import re
from pathlib import Path

from avfmae.data.manifest import ClipRecord

from ..importers._base import DatasetLayoutError, Plan, folds_by_test_key, is_lfs_pointer
from ..spec import DatasetSpec
from . import CEA_METRICS, CV5, per_fold, uar_war

ORDER = 5  # position in the paper's tables

CREMA_CV5_NOTE = "fold k tests actors 1001+18(k-1) .. 1018+18(k-1); fold 5 tests 1073-1091 (19 actors)"

CREMA_D_6 = DatasetSpec(
    name="crema-d-6", title="CREMA-D (6-class)", task="CEA",
    labels=("ANG", "DIS", "FEA", "HAP", "NEU", "SAD"), folds=CV5,
    fold_scheme=f"5-fold subject-independent by actor: {CREMA_CV5_NOTE}",
    metrics=CEA_METRICS, main_metric="uar", validation="test",
    paper={
        **uar_war(b=(85.10, 85.09), l=(85.69, 85.60), h=(86.02, 85.95)),
        "hicmae-base": {"uar": 84.91, "war": 84.89,
                        **per_fold("uar", CV5, (86.66, 83.27, 87.23, 83.70, 83.88)),
                        **per_fold("war", CV5, (86.67, 83.20, 87.19, 83.79, 83.79))},
    },
    source="layout H (CRE: VideoFlash/*.flv, AudioWAV/*.wav, names AAAA_SSS_EEE_LL); labels and folds H (HiC)",
    notes="Drops the 4 broken clips HiCMAE drops (1076_MTI_NEU_XX, 1076_MTI_SAD_XX, 1064_TIE_SAD_XX, "
          "1064_IEO_DIS_MD) and any clip without a wav: 7,437 clips, fold 1 5974/1463.",
)

CREMA_D_4 = DatasetSpec(
    name="crema-d-4", title="CREMA-D (4-class)", task="CEA",
    labels=("ANG", "HAP", "NEU", "SAD"), folds=CV5,
    fold_scheme=f"same actor folds as CREMA-D (6-class), filtered to 4 classes: {CREMA_CV5_NOTE}",
    metrics=CEA_METRICS, main_metric="uar", validation="test",
    paper=uar_war(h=(94.82, 94.92), hic=(94.00, 94.13)),
    source="class subset H (official code prints ANG, HAP, NEU, SAD); index order and folds L (split files "
           "not published)",
    notes="4,896 clips after the CREMA-D-6 exclusions. Paper size for AVF-MAE++ is #PS 521 (huge).",
)

SPECS = (CREMA_D_6, CREMA_D_4)
ALIASES = {"crema-d": "crema-d-6", "cremad": "crema-d-6"}  # other spellings -> name

LAYOUT = """\
<CREMA-D>/
  VideoFlash/1001_DFA_ANG_XX.flv ...   7,442 videos named ACTOR_SENTENCE_EMOTION_LEVEL
  AudioWAV/1001_DFA_ANG_XX.wav ...     the same names, 16 kHz
(the GitHub repository stores media with Git LFS: clone it and run `git lfs pull`)"""

NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")
# Broken clips HiCMAE excludes, citing the CREMA-D repository.
BROKEN = frozenset({"1076_MTI_NEU_XX", "1076_MTI_SAD_XX", "1064_TIE_SAD_XX", "1064_IEO_DIS_MD"})


def actor_fold(actor: int) -> str:
    """Fold k tests actors 1001+18(k-1) .. 1018+18(k-1); the fifth takes the remaining 19 (1073-1091)."""
    return f"fold{min((actor - 1001) // 18, 4) + 1}"


def import_release(spec: DatasetSpec, raw: Path, source: str = "auto") -> Plan:
    video_dir, wav_dir = raw / "VideoFlash", raw / "AudioWAV"
    if not video_dir.is_dir():
        raise DatasetLayoutError(spec.name, video_dir, "video folder not found", LAYOUT)
    videos = sorted(video_dir.glob("*.flv"))
    if not videos:
        raise DatasetLayoutError(spec.name, video_dir / "1001_DFA_ANG_XX.flv", "no .flv video found", LAYOUT)
    if is_lfs_pointer(videos[0]):
        raise DatasetLayoutError(spec.name, videos[0], "this is a Git LFS pointer, not a video", LAYOUT,
                                 "Run `git lfs pull` inside the cloned CREMA-D repository.")
    has_wavs = wav_dir.is_dir()
    index = {name: i for i, name in enumerate(spec.labels)}
    records, broken, no_wav, other_class = [], 0, 0, 0
    for video in videos:
        m = NAME.match(video.stem)
        if not m:
            continue
        if video.stem in BROKEN:
            broken += 1
            continue
        actor, _, emotion, _ = m.groups()
        if emotion not in index:
            other_class += 1
            continue
        audio = None
        if has_wavs:
            wav = wav_dir / f"{video.stem}.wav"
            if not wav.is_file():
                no_wav += 1
                continue
            audio = wav.relative_to(raw).as_posix()
        records.append(ClipRecord(video.stem, video.relative_to(raw).as_posix(), audio, index[emotion], actor))
    notes = [f"excluded {broken} broken clips (HiCMAE's list)"]
    if no_wav:
        notes.append(f"skipped {no_wav} clips without a wav in AudioWAV/")
    if not has_wavs:
        notes.append("AudioWAV/ not found: audio is read from the .flv files")
    if other_class:
        notes.append(f"left out {other_class} clips of classes outside {', '.join(spec.labels)}")
    folds = folds_by_test_key(spec, records, lambda r: actor_fold(int(r.subject)), what="actor")
    return Plan(spec, raw, folds, source="video", notes=notes, subject_independent=True)
