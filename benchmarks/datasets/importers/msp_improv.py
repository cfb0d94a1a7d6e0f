"""MSP-IMPROV: consensus labels from `Evaluation.txt`, 6 leave-one-session-out folds."""
from __future__ import annotations

import re
from pathlib import Path

from avfmae.data.manifest import ClipRecord

from ..spec import DatasetSpec
from ._base import DatasetLayoutError, Plan, find_file, folds_by_test_key, index_by_stem, search

LAYOUT = """\
<MSP-IMPROV>/
  Evaluation.txt                                   blocks 'UTD-IMPROV-S01A-F01-P-FM01.avi; A; A:..; V:..; D:..; N:..;'
  session1/S01A/P/MSP-IMPROV-S01A-F01-P-FM01.avi   (and .wav beside it), sessions 1..6"""

BLOCK = re.compile(r"^(?:UTD|MSP)-IMPROV-([A-Za-z0-9-]+)\.(?:avi|wav)\s*;\s*([A-Za-z])\s*;")
LETTERS = {"A": 0, "H": 1, "N": 2, "S": 3}


def parse_evaluation(path: Path) -> dict[str, str]:
    """Utterance id (with the MSP-IMPROV- prefix of the file names) -> consensus letter."""
    out = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = BLOCK.match(line.strip())
        if m:
            out[f"MSP-IMPROV-{m.group(1)}"] = m.group(2).upper()
    return out


def session_of(utt: str) -> int:
    """'MSP-IMPROV-S01A-F01-P-FM01' -> 1: the speaker field F0k / M0k belongs to session k."""
    speaker = utt.split("-")[3]
    return int(speaker[1:])


def import_msp_improv(spec: DatasetSpec, raw: Path, source: str = "auto") -> Plan:
    evaluation = find_file(raw, "Evaluation.txt", "evaluation.txt")
    if evaluation is None:
        found = search(raw, "Evaluation.txt", max_depth=3)
        if not found:
            raise DatasetLayoutError(spec.name, raw / "Evaluation.txt", "label file not found", LAYOUT)
        evaluation = found[0]
    labels = parse_evaluation(evaluation)
    if not labels:
        raise DatasetLayoutError(spec.name, evaluation, "no 'UTD-IMPROV-<id>.avi; <L>; ...' block found", LAYOUT)
    videos = index_by_stem(search(raw, "MSP-IMPROV-*.avi", max_depth=6), raw)
    wavs = index_by_stem(search(raw, "MSP-IMPROV-*.wav", max_depth=6), raw)
    if not videos:
        raise DatasetLayoutError(spec.name, raw / "session1/S01A/P/MSP-IMPROV-S01A-F01-P-FM01.avi",
                                 "no MSP-IMPROV-*.avi video found", LAYOUT)
    records, no_video, other = [], 0, 0
    for utt, letter in sorted(labels.items()):
        if letter not in LETTERS:
            other += 1
            continue
        if utt not in videos:
            no_video += 1
            continue
        speaker = utt.split("-")[3]
        records.append(ClipRecord(utt, videos[utt], wavs.get(utt), LETTERS[letter], speaker))
    notes = [f"dropped {other} utterances labelled O (other) or X (no agreement)"]
    if no_video:
        notes.append(f"skipped {no_video} labelled utterances without a video")
    folds = folds_by_test_key(spec, records, lambda r: f"session{session_of(r.clip)}", what="session")
    return Plan(spec, raw, folds, source="video", notes=notes, subject_independent=True)
