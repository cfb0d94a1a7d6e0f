"""DFEW: the official 5 folds from `EmoLabel_DataSplit/{train,test}(single_labeled)/set_k.csv`."""
from __future__ import annotations

from pathlib import Path

from avfmae.data.manifest import ClipRecord

from ..importers._base import DatasetLayoutError, Plan, find_dir, read_label_csv
from ..spec import DatasetSpec
from . import CEA_METRICS, CV5, uar_war

ORDER = 2  # position in the paper's tables

DFEW = DatasetSpec(
    name="dfew", title="DFEW", task="CEA",
    labels=("happy", "sad", "neutral", "angry", "surprise", "disgust", "fear"), folds=CV5,
    fold_scheme="official 5-fold (EmoLabel_DataSplit set_1..5, 11,697 single-labelled clips)",
    metrics=CEA_METRICS, main_metric="uar", validation="val",
    paper=uar_war(b=(63.74, 75.42), l=(65.14, 76.24), h=(66.88, 77.45), hic=(63.76, 75.01)),
    source="layout H (DFEWR README; MDF reads 'train(single-labeled)'); labels 1..7 -> index label-1 H; "
           "folds H (fd1 9356/2341)",
    notes="The official code reads val.csv, which MAE-DFER writes equal to test.csv: val.tsv = test.tsv. "
          "The radar figure prints WAR 77.51 for the huge model, the table 77.45.",
)

SPECS = (DFEW,)

LAYOUT = """\
<DFEW>/
  Clip/original/00001.mp4 ...                          16,372 clips (data_part_*.zip)
  EmoLabel_DataSplit/train(single_labeled)/set_1.csv   header 'video_name,label', label 1..7 (also set_2..5)
  EmoLabel_DataSplit/test(single_labeled)/set_1.csv    ('single-labeled' with a hyphen is accepted too)
or, face-aligned: Clip/clip_224x224/00001/*.jpg (or Clip/jpg_256/00001/) with Clip/audio_16k/00001.wav"""


def _split_dir(raw: Path, split: str, spec: DatasetSpec) -> Path:
    base = raw / "EmoLabel_DataSplit"
    found = find_dir(base, f"{split}(single_labeled)", f"{split}(single-labeled)", f"{split}(single_labelled)",
                     f"{split}_single_labeled", f"{split}")
    if found is None:
        raise DatasetLayoutError(spec.name, base / f"{split}(single_labeled)", "split folder not found", LAYOUT,
                                 f"Unzip EmoLabel_DataSplit/{split}(single_labeled).zip in place.")
    return found


def _read_csv(path: Path, spec: DatasetSpec) -> list[tuple[str, int]]:
    if not path.is_file():
        raise DatasetLayoutError(spec.name, path, "split file not found", LAYOUT)
    out = []
    rows = read_label_csv(path, spec.name)
    start = 1 if rows and not (rows[0] and rows[0][0].strip().isdigit()) else 0
    for lineno, row in enumerate(rows[start:], start=start + 1):
        if not row or not row[0].strip():
            continue
        try:
            clip, label = f"{int(row[0]):05d}", int(row[1])
        except (ValueError, IndexError):
            raise DatasetLayoutError(spec.name, f"{path}:{lineno}",
                                     f"expected 'video_name,label', got {row!r}") from None
        if not 1 <= label <= spec.num_classes:
            raise DatasetLayoutError(spec.name, f"{path}:{lineno}", f"label {label} outside 1..{spec.num_classes}")
        out.append((clip, label - 1))
    return out


def import_release(spec: DatasetSpec, raw: Path, source: str = "auto") -> Plan:
    original = find_dir(raw, "Clip/original", "Clip/Original")
    frames = find_dir(raw, "Clip/clip_224x224", "Clip/jpg_256")
    wavs = find_dir(raw, "Clip/audio_16k")
    if source == "auto":
        source = "video" if original else "faces" if frames else "video"
    if source == "video" and original is None:
        raise DatasetLayoutError(spec.name, raw / "Clip/original", "clip folder not found", LAYOUT,
                                 "Unzip data_part_*.zip into Clip/original/.")
    if source == "faces" and (frames is None or wavs is None):
        raise DatasetLayoutError(
            spec.name, raw / ("Clip/clip_224x224" if frames is None else "Clip/audio_16k"),
            "face-frame layout incomplete", LAYOUT,
            "DFEW's face frames carry no audio: extract 16 kHz mono wavs from Clip/original/NNNNN.mp4 into "
            "Clip/audio_16k/, or import the original clips (--source video).")
    train_dir, test_dir = _split_dir(raw, "train", spec), _split_dir(raw, "test", spec)
    notes, dropped = [f"source: {source}"], set()

    def record(clip: str, label: int) -> ClipRecord | None:
        if source == "video":
            video = original / f"{clip}.mp4"
            if not video.is_file():
                raise DatasetLayoutError(spec.name, video, "clip named in the split files is missing", LAYOUT)
            wav = wavs / f"{clip}.wav" if wavs else None
            audio = wav.relative_to(raw).as_posix() if wav is not None and wav.is_file() else None
            return ClipRecord(clip, video.relative_to(raw).as_posix(), audio, label, None)
        folder, wav = frames / clip, wavs / f"{clip}.wav"
        if not folder.is_dir() or not wav.is_file():
            dropped.add(clip)
            return None
        return ClipRecord(clip, folder.relative_to(raw).as_posix(), wav.relative_to(raw).as_posix(), label, None)

    folds = {}
    for k, fold in enumerate(spec.folds, start=1):
        splits = {}
        for split, folder in (("train", train_dir), ("test", test_dir)):
            recs = (record(c, y) for c, y in _read_csv(folder / f"set_{k}.csv", spec))
            splits[split] = [r for r in recs if r is not None]
        splits["val"] = list(splits["test"])  # MAE-DFER writes val.csv = test.csv
        folds[fold] = splits
    if dropped:
        notes.append(f"dropped {len(dropped)} clips without a face folder or wav")
    return Plan(spec, raw, folds, source=source, notes=notes)
