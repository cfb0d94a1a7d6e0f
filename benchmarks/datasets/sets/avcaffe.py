"""AVCAffe: 6-s segments labelled by their participant-task self-report; the official 86/20 participant split.

The spec's two folds are the two rated attributes: `arousal` and `valence` hold the same clips and
participants, each with its own 5-class target.
"""
from __future__ import annotations

import re
from pathlib import Path

from avfmae.data.manifest import ClipRecord

from ..importers._base import DatasetLayoutError, Plan, natural_key, read_label_text, relpath
from ..spec import DatasetSpec

ORDER = 9  # position in the paper's tables

AVCAFFE = DatasetSpec(
    name="avcaffe", title="AVCAffe", task="DEA",
    # One 5-point scale per attribute, index 0 = high: arousal Excited..Calm, valence Pleasant..Unpleasant.
    labels=("excited|pleasant", "wide-awake|pleased", "neutral", "dull|unsatisfied", "calm|unpleasant"),
    folds=("arousal", "valence"),
    fold_scheme="official participant split (86 train / 20 test); one fold per rated attribute",
    metrics=("wf1", "uar", "war"), main_metric="wf1", validation="test",
    paper={
        "avfmae-base": {"wf1@arousal": 43.02, "wf1@valence": 46.93, "wf1": (43.02 + 46.93) / 2},
        "avfmae-large": {"wf1@arousal": 45.21, "wf1@valence": 47.83, "wf1": (45.21 + 47.83) / 2},
        "avfmae-huge": {"wf1@arousal": 47.25, "wf1@valence": 49.66, "wf1": (47.25 + 49.66) / 2},
        "hicmae-base": {"wf1@arousal": 43.18, "wf1@valence": 44.20, "wf1": (43.18 + 44.20) / 2},
    },
    source="layout H (AVC: videos/shorter_segments/aiimNNN/task_K/*.avi, ground_truths/<attr>.txt); label "
           "order H (official loader); test participants H; metric weighted F1 per video M (SVFAP, HICP)",
    notes="Clip probabilities are averaged per participant-task video before scoring (group_pattern). Clips "
          "listed in info/no_audio_files.txt are dropped. 'wf1' is the mean of the two attributes (the radar "
          "plot's 48.46 for huge). The paper marks this row with an unexplained '*'.",
    group_pattern=r"^aiim\d+_task_\d+",
)

SPECS = (AVCAFFE,)

LAYOUT = """\
<AVCAffe>/
  ground_truths/arousal.txt                           lines 'aiim001_task_1, <label>' (also valence.txt)
  info/no_audio_files.txt                             clips without speech (dropped)
  videos/shorter_segments/aiim001/task_1/*.avi        ~6 s clips of each participant's task"""

TEST_PARTICIPANTS = frozenset(f"aiim{n:03d}" for n in (
    1, 2, 13, 14, 43, 44, 53, 54, 57, 58, 63, 64, 67, 68, 77, 78, 99, 100, 107, 108))
# The official loader's index order per attribute (index 0 = the high end of the scale).
WORDS = {
    "arousal": ("excited", "wideawake", "neutral", "dull", "calm"),
    "valence": ("pleasant", "pleased", "neutral", "unsatisfied", "unpleasant"),
}
KEY = re.compile(r"^(aiim\d{3})_task_(\d+)$")


def _parse_label(text: str, attribute: str) -> int | None:
    word = re.sub(r"[\s_-]+", "", text).lower()
    if word in WORDS[attribute]:
        return WORDS[attribute].index(word)
    if word.isdigit() and 0 <= int(word) < 5:  # already an index
        return int(word)
    return None


def read_ground_truth(path: Path, attribute: str, dataset: str) -> dict[str, int]:
    out = {}
    for lineno, line in enumerate(read_label_text(path, dataset, lenient=True).splitlines(), start=1):
        if not line.strip():
            continue
        key, _, value = line.partition(",")
        key = key.strip()
        if not KEY.match(key):
            if lineno == 1:
                continue  # a header line
            raise DatasetLayoutError(dataset, f"{path}:{lineno}", f"expected 'aiimNNN_task_K, <label>', got {line!r}")
        label = _parse_label(value.strip(), attribute)
        if label is None:
            raise DatasetLayoutError(dataset, f"{path}:{lineno}",
                                     f"{attribute} label {value.strip()!r} is none of {', '.join(WORDS[attribute])}")
        out[key] = label
    return out


def import_release(spec: DatasetSpec, raw: Path, source: str = "auto") -> Plan:
    truths = {}
    for attribute in spec.folds:
        path = raw / "ground_truths" / f"{attribute}.txt"
        if not path.is_file():
            raise DatasetLayoutError(spec.name, path, "ground-truth file not found", LAYOUT)
        truths[attribute] = read_ground_truth(path, attribute, spec.name)
    seg_root = raw / "videos" / "shorter_segments"
    if not seg_root.is_dir():
        raise DatasetLayoutError(spec.name, seg_root, "segment folder not found", LAYOUT)
    no_audio = set()
    na_file = raw / "info" / "no_audio_files.txt"
    if na_file.is_file():
        no_audio = {Path(t.strip().replace("\\", "/")).stem for t in
                    read_label_text(na_file, spec.name, lenient=True).replace(",", "\n").splitlines() if t.strip()}
    clips: list[tuple[str, str, str, str]] = []  # (clip id, relpath, participant, participant_task key)
    dropped, unlabelled = 0, 0
    for pdir in sorted(p for p in seg_root.iterdir() if p.is_dir() and p.name.startswith("aiim")):
        for tdir in sorted((t for t in pdir.iterdir() if t.is_dir() and t.name.startswith("task_")),
                           key=lambda t: natural_key(t.name)):
            key = f"{pdir.name}_{tdir.name}"
            if any(key not in truths[a] for a in spec.folds):
                unlabelled += 1
                continue
            for video in sorted(tdir.glob("*.avi"), key=lambda v: natural_key(v.name)):
                if video.stem in no_audio:
                    dropped += 1
                    continue
                clip = video.stem if video.stem.startswith(f"{key}_") else f"{key}_{video.stem}"
                clips.append((clip, relpath(video, raw), pdir.name, key))
    if not clips:
        raise DatasetLayoutError(spec.name, seg_root / "aiim001/task_1/*.avi", "no labelled segment found", LAYOUT)
    folds = {}
    for attribute in spec.folds:
        recs = [ClipRecord(c, rel, None, truths[attribute][key], pid) for c, rel, pid, key in clips]
        folds[attribute] = {"train": [r for r in recs if r.subject not in TEST_PARTICIPANTS],
                            "test": [r for r in recs if r.subject in TEST_PARTICIPANTS]}
    notes = [f"dropped {dropped} clips listed in info/no_audio_files.txt"]
    if unlabelled:
        notes.append(f"skipped {unlabelled} participant-task folders without both ground truths")
    return Plan(spec, raw, folds, source="video", notes=notes, subject_independent=True)
