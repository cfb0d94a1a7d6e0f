"""MAFW (11-class single and 43-class compound): the official 5 folds from `Train & Test Set/`."""
from __future__ import annotations

from pathlib import Path

from avfmae.data.manifest import ClipRecord

from ..importers._base import DatasetLayoutError, Plan, find_dir, read_label_text
from ..spec import DatasetSpec
from . import CEA_METRICS, CV5, per_fold

ORDER = 1  # position in the paper's tables

# The 11 single classes in the order of the official label ids (index = id - 1).
MAFW_11 = ("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise", "contempt", "anxiety",
           "helplessness", "disappointment")
# The 32 multi-emotion categories of the compound split (the set is M: a third-party MAFW loader, count 43 = the
# MAFW README's). No public code fixes their integer order, so ours is: the 11 singles in official order, then
# the combinations sorted by the official ids of their parts (each name already lists its parts in id order).
_MAFW_COMBOS = (
    "anger_disgust", "anger_disgust_contempt", "anger_disgust_anxiety", "anger_sadness", "anger_surprise",
    "anger_anxiety", "anger_helplessness", "disgust_sadness", "disgust_surprise", "disgust_contempt",
    "disgust_anxiety", "disgust_anxiety_helplessness", "disgust_helplessness",
    "disgust_helplessness_disappointment", "disgust_disappointment", "fear_sadness", "fear_sadness_anxiety",
    "fear_surprise", "fear_surprise_anxiety", "fear_anxiety", "happiness_surprise", "happiness_contempt",
    "sadness_surprise", "sadness_anxiety", "sadness_anxiety_helplessness", "sadness_helplessness",
    "sadness_helplessness_disappointment", "sadness_disappointment", "surprise_anxiety", "anxiety_helplessness",
    "anxiety_helplessness_disappointment", "helplessness_disappointment",
)


def _combo_key(name: str) -> tuple:
    return tuple(MAFW_11.index(part) for part in name.split("_"))


MAFW_43 = MAFW_11 + tuple(sorted(_MAFW_COMBOS, key=_combo_key))

MAFW11 = DatasetSpec(
    name="mafw-11", title="MAFW (11-class)", task="CEA", labels=MAFW_11, folds=CV5,
    fold_scheme="official 5-fold (Train & Test Set/single/no_caption/set_1..5)",
    metrics=CEA_METRICS, main_metric="uar", validation="test",
    paper={
        "avfmae-base": {"uar": 43.10, "war": 57.50},
        "avfmae-large": {"uar": 45.36, "war": 59.13},
        "avfmae-huge": {"uar": 46.05, "war": 60.24, "wf1": 58.55,
                        **per_fold("uar", CV5, (37.56, 42.41, 49.83, 52.96, 47.50)),
                        **per_fold("war", CV5, (50.98, 55.92, 65.24, 66.65, 62.42)),
                        **per_fold("wf1", CV5, (49.33, 54.63, 62.78, 64.73, 61.28))},
        "hicmae-base": {"uar": 42.65, "war": 56.17,
                        **per_fold("uar", CV5, (36.02, 41.57, 46.46, 47.50, 41.88)),
                        **per_fold("war", CV5, (47.60, 55.10, 60.10, 63.09, 55.22))},
    },
    source="layout H (HiC, MDF; fold file lines 'NNNNN.mp4 label'); label order H (HiC/MDF); fold sizes H; "
           "paper numbers: tables [FIG], huge per-fold [LOG], hicmae per-fold HiCMAE README",
    notes="9,172 single-label clips; HiCMAE's audio-visual files drop the 16 whose audio ffmpeg cannot extract "
          "(9,156). The importer keeps a clip without a wav only in video mode (audio = the mp4's track).",
)

MAFW43 = DatasetSpec(
    name="mafw-43", title="MAFW (43-class)", task="CEA", labels=MAFW_43, folds=CV5,
    fold_scheme="official 5-fold (Train & Test Set/compound/no_caption/set_1..5)",
    metrics=CEA_METRICS, main_metric="uar", validation="test",
    paper={
        "avfmae-base": {"uar": 15.42, "war": 43.41},
        "avfmae-large": {"uar": 15.59, "war": 43.93},
        "avfmae-huge": {"uar": 17.25, "war": 43.83},
        "hicmae-base": {"uar": 13.29, "war": 37.36},
    },
    source="layout M (MAFWA: compound labels are single names joined by '_', 8,996 clips); the 43-name set M "
           "(third-party loader); the index order is OURS (L): 11 singles then combinations by part ids",
    notes="No public code fixes the 43-class index order; ours is recorded in `labels` and in the revision hash.",
)

SPECS = (MAFW11, MAFW43)
ALIASES = {"mafw": "mafw-11", "mafw11": "mafw-11", "mafw43": "mafw-43"}  # other spellings -> name

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
    for lineno, line in enumerate(read_label_text(path, spec.name, lenient=True).splitlines(), start=1):
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


def import_release(spec: DatasetSpec, raw: Path, source: str = "auto") -> Plan:
    """MAFW-11 reads the `single/` fold files, MAFW-43 the `compound/` ones."""
    return _import(spec, raw, "compound" if spec.name == MAFW43.name else "single", source)
