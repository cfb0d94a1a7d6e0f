"""MAFW (11-class single and 43-class compound): the official 5 folds from `Train & Test Set/`."""
from __future__ import annotations

from pathlib import Path

from avfmae.data.manifest import ClipRecord

from ..spec import DatasetSpec
from ._base import DatasetLayoutError, Plan, find_dir

LAYOUT = """\
<MAFW>/
  data/clips/00001.mp4 ... 10045.mp4                      the clips (5-digit ids)
  Train & Test Set/single/no_caption/set_1/train.txt      lines '00025.mp4 anger' (also set_2..set_5, test.txt)
  Train & Test Set/compound/no_caption/set_1/train.txt    lines '00025.mp4 anger_disgust'
or, face-aligned (HiCMAE preprocessing):
  data/frames/00001/*.jpg|png  and  data/audio_16k/00001.wav"""

SPLIT_DIRS = ("Train & Test Set", "Train_Test_Set", "Train&Test Set", "Train & Test set")


def _fold_dir(raw: Path, kind: str, spec: DatasetSpec) -> Path:
    for name in SPLIT_DIRS:
        d = raw / name / kind / "no_caption"
        if d.is_dir():
            return d
    raise DatasetLayoutError(spec.name, raw / SPLIT_DIRS[0] / kind / "no_caption",
                             "official fold folder not found", LAYOUT,
                             "Unpack the 'Train & Test Set' archive of the MAFW release into the folder.")


def _read_fold_file(path: Path, spec: DatasetSpec) -> list[tuple[str, int]]:
    if not path.is_file():
        raise DatasetLayoutError(spec.name, path, "fold file not found", LAYOUT)
    index = {name.lower(): i for i, name in enumerate(spec.labels)}
    out = []
    # The no_caption files are ASCII; decode leniently (the with_caption ones are not valid UTF-8).
    for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2:
            raise DatasetLayoutError(spec.name, f"{path}:{lineno}", f"expected '<clip>.mp4 <label>', got {line!r}")
        clip, word = Path(parts[0]).stem, parts[1].lower()
        if word not in index and "_" in word:  # a combination written in another part order
            singles = {name: i for i, name in enumerate(spec.labels[:11])}
            word = "_".join(sorted(word.split("_"), key=lambda w: singles.get(w, 99)))
        if word not in index:
            raise DatasetLayoutError(spec.name, f"{path}:{lineno}",
                                     f"label {parts[1]!r} is not one of the {spec.num_classes} classes of {spec.name}")
        out.append((clip, index[word]))
    return out


def _import(spec: DatasetSpec, raw: Path, kind: str, source: str) -> Plan:
    folds_dir = _fold_dir(raw, kind, spec)
    clips_dir = find_dir(raw, "data/clips", "clips")
    frames_dir = find_dir(raw, "data/frames", "frames")
    wav_dir = find_dir(raw, "data/audio_16k", "audio_16k")
    if source == "auto":
        source = "video" if clips_dir else "faces" if frames_dir else "video"
    if source == "video" and clips_dir is None:
        raise DatasetLayoutError(spec.name, raw / "data/clips", "clip folder not found", LAYOUT)
    if source == "faces" and (frames_dir is None or wav_dir is None):
        missing = raw / ("data/frames" if frames_dir is None else "data/audio_16k")
        raise DatasetLayoutError(spec.name, missing, "face-frame layout incomplete", LAYOUT)
    notes, dropped = [f"source: {source}"], set()
    folds = {}
    for k, fold in enumerate(spec.folds, start=1):
        splits = {}
        for split in ("train", "test"):
            records = []
            for clip, label in _read_fold_file(folds_dir / f"set_{k}" / f"{split}.txt", spec):
                if source == "video":
                    video = clips_dir / f"{clip}.mp4"
                    if not video.is_file():
                        raise DatasetLayoutError(spec.name, video, "clip named in the fold files is missing", LAYOUT)
                    wav = wav_dir / f"{clip}.wav" if wav_dir else None
                    audio = wav.relative_to(raw).as_posix() if wav and wav.is_file() else None
                else:
                    video, wav = frames_dir / clip, wav_dir / f"{clip}.wav"
                    if not video.is_dir() or not wav.is_file():
                        dropped.add(clip)  # HiCMAE drops clips without faces or without extractable audio
                        continue
                    audio = wav.relative_to(raw).as_posix()
                records.append(ClipRecord(clip, video.relative_to(raw).as_posix(), audio, label, None))
            splits[split] = records
        folds[fold] = splits
    if dropped:
        notes.append(f"dropped {len(dropped)} clips without a frame folder or wav (HiCMAE drops 16 in single/)")
    return Plan(spec, raw, folds, source=source, notes=notes)


def import_mafw11(spec: DatasetSpec, raw: Path, source: str = "auto") -> Plan:
    return _import(spec, raw, "single", source)


def import_mafw43(spec: DatasetSpec, raw: Path, source: str = "auto") -> Plan:
    return _import(spec, raw, "compound", source)
