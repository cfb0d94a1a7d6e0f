"""IEMOCAP (4-class, exc merged into hap): utterances from EmoEvaluation, 5 leave-one-session-out folds.

IEMOCAP ships one split-screen video per dialog, so each utterance's face video is *derived*: cut to the
turn's times and cropped to the speaker's half (left when the speaker's gender letter equals the session
letter, the 6th character of the dialog name, as MERTools does) into `clips/SessionN/<utt>.mp4`. The cut uses
the `ffmpeg` program when it is on PATH, else PyAV. Clips already there are reused.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from avfmae.atomic import commit, temp_for
from avfmae.data.manifest import ClipRecord

from ..importers._base import DatasetLayoutError, Plan, folds_by_test_key, read_label_text
from ..spec import DatasetSpec
from . import CEA_METRICS, uar_war

ORDER = 8  # position in the paper's tables

IEMOCAP = DatasetSpec(
    name="iemocap", title="IEMOCAP", task="CEA",
    labels=("ang", "hap", "neu", "sad"), folds=tuple(f"session{k}" for k in range(1, 6)),
    fold_scheme="5-fold leave-one-session-out (L: the common choice)",
    metrics=CEA_METRICS, main_metric="uar", validation="val",
    paper=uar_war(l=(69.86, 71.65), h=(72.71, 73.83), hic=(68.21, 68.36)),
    source="layout H (IEM, MERT: SessionN/dialog/avi/DivX, EmoEvaluation, sentences/wav); 4-class merge "
           "exc->hap H (5,531); index order L; fold scheme L",
    notes="Each utterance's video is cut from the dialog's split-screen avi (left half when the speaker's "
          "gender letter equals the session letter, as MERTools) into clips/SessionN/<utt>.mp4. val.tsv = "
          "test.tsv (L).",
)

SPECS = (IEMOCAP,)

LAYOUT = """\
<IEMOCAP_full_release>/
  Session1/dialog/EmoEvaluation/Ses01F_impro01.txt    turn lines
        '[6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]'
  Session1/dialog/avi/DivX/Ses01F_impro01.avi         one split-screen video per dialog
  Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav
  ... Session5/"""

TURN = re.compile(r"^\[\s*([\d.]+)\s*-\s*([\d.]+)\s*\]\s+(Ses\d\d[FM]_\S+)\s+(\w+)\s+\[")
MERGE = {"ang": "ang", "hap": "hap", "exc": "hap", "neu": "neu", "sad": "sad"}


def parse_emo_evaluation(path: Path, dataset: str = "iemocap") -> list[tuple[str, float, float, str]]:
    """(utterance, start s, end s, label code) for every turn summary line of one dialog's EmoEvaluation."""
    out = []
    for lineno, line in enumerate(read_label_text(path, dataset, lenient=True).splitlines(), start=1):
        m = TURN.match(line.strip())
        if m:
            try:
                start, end = float(m.group(1)), float(m.group(2))
            except ValueError:
                raise DatasetLayoutError(dataset, f"{path}:{lineno}", f"bad turn times in {line.strip()!r}") from None
            if not m.group(3).rsplit("_", 1)[1]:
                raise DatasetLayoutError(dataset, f"{path}:{lineno}",
                                         f"utterance {m.group(3)!r} does not end in the speaker's turn (F000/M000)")
            out.append((m.group(3), start, end, m.group(4).lower()))
    return out


def speaker_half(utt: str) -> str:
    """'left' when the speaker's gender letter (last token's first char) equals the session letter."""
    dialog_session_letter = utt[5]
    gender = utt.rsplit("_", 1)[1][0]
    return "left" if gender == dialog_session_letter else "right"


def cut_clip(src: Path, dest: Path, start: float, end: float, half: str) -> None:
    """Write `dest` (mp4, video only): `src` from start to end seconds, cropped to its left or right half."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_for(dest, keep_suffix=True)
    x = "0" if half == "left" else "iw/2"
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg:
        cmd = [ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-ss", f"{start:.4f}", "-i", str(src),
               "-t", f"{max(end - start, 0.04):.4f}", "-an", "-vf", f"crop=trunc(iw/4)*2:ih:{x}:0",
               "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p", str(tmp)]
        subprocess.run(cmd, check=True)
    else:
        _cut_with_pyav(src, tmp, start, end, half)
    commit(tmp, dest)


def _cut_with_pyav(src: Path, dest: Path, start: float, end: float, half: str) -> None:
    import av  # a project dependency; imported here so name-only imports stay light

    with av.open(str(src)) as inp:
        stream = inp.streams.video[0]
        rate = stream.average_rate or 25
        with av.open(str(dest), "w") as out:
            enc = None
            inp.seek(int(max(start - 1.0, 0) / stream.time_base), stream=stream, any_frame=False, backward=True)
            for frame in inp.decode(stream):
                t = float(frame.pts * stream.time_base) if frame.pts is not None else 0.0
                if t < start:
                    continue
                if t > end:
                    break
                img = frame.to_ndarray(format="rgb24")
                w = (img.shape[1] // 4) * 2
                img = img[:, :w] if half == "left" else img[:, img.shape[1] - w:]
                if enc is None:
                    enc = out.add_stream("mpeg4", rate=rate)
                    enc.width, enc.height, enc.pix_fmt = img.shape[1], img.shape[0] // 2 * 2, "yuv420p"
                    enc.bit_rate = 2_000_000
                vf = av.VideoFrame.from_ndarray(img[: enc.height], format="rgb24")
                for packet in enc.encode(vf):
                    out.mux(packet)
            if enc is None:
                raise ValueError(f"{src}: no frame between {start:.2f} s and {end:.2f} s")
            for packet in enc.encode():
                out.mux(packet)


def import_release(spec: DatasetSpec, raw: Path, source: str = "auto") -> Plan:
    sessions = [raw / f"Session{k}" for k in range(1, 6)]
    for s in sessions:
        if not (s / "dialog" / "EmoEvaluation").is_dir():
            raise DatasetLayoutError(spec.name, s / "dialog" / "EmoEvaluation", "annotation folder not found", LAYOUT)
    index = {name: i for i, name in enumerate(spec.labels)}
    records, derived, counts = [], {}, {"other": 0, "no_wav": 0}
    for k, session in enumerate(sessions, start=1):
        for ev in sorted((session / "dialog" / "EmoEvaluation").glob("*.txt")):
            dialog = ev.stem
            avi = session / "dialog" / "avi" / "DivX" / f"{dialog}.avi"
            for utt, start, end, code in parse_emo_evaluation(ev, spec.name):
                if code not in MERGE:
                    counts["other"] += 1
                    continue
                wav = session / "sentences" / "wav" / dialog / f"{utt}.wav"
                if not wav.is_file():
                    counts["no_wav"] += 1
                    continue
                clip_rel = f"clips/Session{k}/{utt}.mp4"
                if not (raw / clip_rel).is_file():
                    if not avi.is_file():
                        raise DatasetLayoutError(spec.name, avi, "dialog video not found", LAYOUT)
                    derived[clip_rel] = _builder(avi.relative_to(raw), start, end, speaker_half(utt))
                speaker = f"{utt[:5]}{utt.rsplit('_', 1)[1][0]}"  # Ses01F: session 1's female actor
                records.append(ClipRecord(utt, clip_rel, wav.relative_to(raw).as_posix(),
                                          index[MERGE[code]], speaker))
    notes = [f"dropped {counts['other']} turns outside ang/hap/exc/neu/sad", "exc merged into hap"]
    if counts["no_wav"]:
        notes.append(f"skipped {counts['no_wav']} turns without a sentence wav")
    folds = folds_by_test_key(spec, records, lambda r: f"session{int(r.clip[3:5])}", what="session")
    return Plan(spec, raw, folds, source="video", notes=notes, derived=derived, subject_independent=True)


def _builder(avi_rel: Path, start: float, end: float, half: str):
    def build(raw: Path, dest: Path, mode: str) -> None:
        cut_clip(raw / avi_rel, dest, start, end, half)
    return build
