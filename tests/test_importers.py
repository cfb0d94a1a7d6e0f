"""Importers on tiny fixture trees that follow each release's official naming (empty placeholder media: the
importers only read names and label files), plus placement modes, the CLI and layout errors."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from avfmae.data.manifest import read_manifest
from benchmarks.data.__main__ import main as cli
from benchmarks.datasets.importers import DatasetLayoutError, IMPORTERS, plan_import, prepare
from benchmarks.datasets.importers._xlsx import read_xlsx
from benchmarks.datasets.registry import get
from benchmarks.datasets.sets import casme2, samm
from benchmarks.datasets.sets import iemocap as iemocap_mod
from benchmarks.datasets.sets._micro import parse_composite
from benchmarks.datasets.sets.casme3 import CASME3_SUBJECTS
from benchmarks.datasets.sets.mafw import MAFW_11


def touch(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_csv(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def write_xlsx(path: Path, sheets) -> Path:
    """A workbook with one sheet per {name: rows} (or a single sheet from a list of rows), written by
    pandas/openpyxl; None cells stay empty."""
    import pandas as pd
    if not isinstance(sheets, dict):
        sheets = {"Sheet1": sheets}
    path.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, rows in sheets.items():
            width = max(map(len, rows))
            rows = [list(r) + [None] * (width - len(r)) for r in rows]
            pd.DataFrame(rows, dtype=object).to_excel(writer, sheet_name=name, header=False, index=False)
    return path


def all_clips(plan):
    return {r.clip: r for sp in plan.folds.values() for recs in sp.values() for r in recs}


def assert_loso(plan):
    """Every fold tests exactly one subject (= the fold name), trains on all the others."""
    clips = all_clips(plan)
    for fold, sp in plan.folds.items():
        assert {r.subject for r in sp["test"]} == {fold}
        assert fold not in {r.subject for r in sp["train"]}
        assert len(sp["train"]) + len(sp["test"]) == len(clips)


# ---------------------------------------------------------------------------------------------------- MAFW
def make_mafw(raw: Path, kind="single", labels=None):
    labels = labels or list(MAFW_11) * 2  # 22 clips, 2 per class
    ids = [f"{i:05d}" for i in range(1, len(labels) + 1)]
    for clip in ids:
        touch(raw / "data" / "clips" / f"{clip}.mp4")
    for k in range(1, 6):
        for split in ("train", "test"):
            lines = [f"{c}.mp4 {lab}" for i, (c, lab) in enumerate(zip(ids, labels))
                     if (i % 5 == k - 1) == (split == "test")]
            touch(raw / "Train & Test Set" / kind / "no_caption" / f"set_{k}" / f"{split}.txt", "\n".join(lines) + "\n")
    return ids


def test_mafw11(tmp_path):
    ids = make_mafw(tmp_path)
    plan = plan_import("mafw-11", tmp_path)
    assert plan.source == "video"
    assert list(plan.folds) == [f"fold{k}" for k in range(1, 6)]
    clips = all_clips(plan)
    assert len(clips) == 22
    assert clips["00001"].target == 0 and clips["00011"].target == 10  # anger, disappointment
    assert clips["00001"].video == "data/clips/00001.mp4" and clips["00001"].audio is None
    for fold, sp in plan.folds.items():
        assert len(sp["test"]) in (4, 5) and len(sp["train"]) + len(sp["test"]) == 22
        assert "val" not in sp
    assert [r.clip for r in plan.folds["fold1"]["test"]] == [ids[i] for i in range(0, 22, 5)]


def test_mafw11_faces_layout_drops_clips_without_wav(tmp_path):
    ids = make_mafw(tmp_path)
    import shutil
    shutil.rmtree(tmp_path / "data" / "clips")
    for clip in ids:
        touch(tmp_path / "data" / "frames" / clip / "00001.png")
        if clip != "00003":
            touch(tmp_path / "data" / "audio_16k" / f"{clip}.wav")
    plan = plan_import("mafw-11", tmp_path)
    assert plan.source == "faces"
    clips = all_clips(plan)
    assert "00003" not in clips and len(clips) == 21
    assert clips["00001"].video == "data/frames/00001" and clips["00001"].audio == "data/audio_16k/00001.wav"
    assert any("dropped 1" in n for n in plan.notes)


def test_mafw43_compound_labels(tmp_path):
    labels = ["anger_disgust", "sadness_helplessness", "neutral", "disgust_anger", "fear_surprise"] * 2
    make_mafw(tmp_path, kind="compound", labels=labels)
    plan = plan_import("mafw-43", tmp_path)
    spec = get("mafw-43")
    clips = all_clips(plan)
    assert clips["00001"].target == spec.labels.index("anger_disgust")
    assert clips["00004"].target == spec.labels.index("anger_disgust")  # part order normalised
    assert clips["00003"].target == 4  # neutral keeps its single-class index
    assert clips["00002"].target == spec.labels.index("sadness_helplessness") >= 11


def test_mafw_unknown_label_names_file_and_line(tmp_path):
    make_mafw(tmp_path, labels=["anger", "joy"] + list(MAFW_11))
    with pytest.raises(DatasetLayoutError, match=r"label 'joy' is not one of .*set_1/train\.txt:1$"):
        plan_import("mafw-11", tmp_path)


# ---------------------------------------------------------------------------------------------------- DFEW
@pytest.mark.parametrize("hyphen", [False, True])
def test_dfew(tmp_path, hyphen):
    sep = "-" if hyphen else "_"
    for n in range(1, 15):
        touch(tmp_path / "Clip" / "original" / f"{n:05d}.mp4")
    for k in range(1, 6):
        test = [n for n in range(1, 15) if n % 5 == k - 1]
        train = [n for n in range(1, 15) if n not in test]
        for split, ids in (("train", train), ("test", test)):
            write_csv(tmp_path / "EmoLabel_DataSplit" / f"{split}(single{sep}labeled)" / f"set_{k}.csv",
                      [["video_name", "label"]] + [[n, (n % 7) + 1] for n in ids])
    plan = plan_import("dfew", tmp_path)
    clips = all_clips(plan)
    assert clips["00007"].target == 0 and clips["00006"].target == 6  # label 1 happy -> 0, 7 fear -> 6
    assert clips["00007"].video == "Clip/original/00007.mp4"
    for sp in plan.folds.values():
        assert sp["val"] == sp["test"]
    assert {r.clip for r in plan.folds["fold1"]["test"]} == {"00005", "00010"}


# ---------------------------------------------------------------------------------------------------- MER
def test_mer2023(tmp_path):
    words = ["neutral", "angry", "happy", "sad", "worried", "surprise"]
    train = [(f"sample_{i:08d}", words[i % 6]) for i in range(12)]
    test = [(f"sample_{i:08d}", words[i % 6]) for i in range(100, 106)]
    for name, _ in train:
        touch(tmp_path / "train" / f"{name}.{'mp4' if int(name[-1]) % 2 else 'avi'}")
    for name, _ in test:
        touch(tmp_path / "test1" / f"{name}.mp4")
    write_csv(tmp_path / "train-label.csv", [["name", "discrete", "valence"]] + [[n, w, 0.5] for n, w in train])
    write_csv(tmp_path / "test1-label.csv", [["name", "discrete", "valence"]] + [[n, w, -1] for n, w in test])
    plan = plan_import("mer-multi", tmp_path)
    sp = plan.folds["official"]
    assert len(sp["train"]) == 12 and len(sp["test"]) == 6 and sp["val"] == sp["test"]
    assert sp["train"][1].target == 1 and sp["train"][4].target == 4  # angry, worried (MERTools order)
    assert sp["train"][0].video == "train/sample_00000000.avi"


def test_mer2024_folds_are_stratified_and_deterministic(tmp_path):
    words = ["worried", "happy", "neutral", "angry", "surprise", "sad"]
    rows = [[f"samplenew3_{i:08d}", words[i % 6]] for i in range(60)]
    for name, _ in rows:
        touch(tmp_path / "video-labeled" / f"{name}.mp4")
    write_csv(tmp_path / "label-disdim.csv", [["name", "discrete", "valence"]] + [r + [0] for r in rows])
    plan = plan_import("mer24-tv", tmp_path)
    tests = [r.clip for sp in plan.folds.values() for r in sp["test"]]
    assert sorted(tests) == sorted(n for n, _ in rows)  # every clip tested exactly once
    for sp in plan.folds.values():
        counts = [sum(r.target == c for r in sp["test"]) for c in range(6)]
        assert counts == [2] * 6
    assert all_clips(plan)["samplenew3_00000000"].target == 0  # worried first (AVF-MAE order)
    again = plan_import("mer24-tv", tmp_path)
    assert [r.clip for r in again.folds["fold3"]["test"]] == [r.clip for r in plan.folds["fold3"]["test"]]


def test_mer2024_too_few_clips_for_five_folds_is_a_layout_error(tmp_path):
    # 3 labelled clips of different classes: round-robin dealing puts all three in fold1 (found by the fuzz test:
    # fold1's train split was empty and the importer's own invariant check tripped)
    rows = [["sample_a", "happy"], ["sample_b", "sad"], ["sample_c", "angry"]]
    for name, _ in rows:
        touch(tmp_path / "video-labeled" / f"{name}.mp4")
    write_csv(tmp_path / "label-disdim.csv", [["name", "discrete", "valence"]] + [r + [0] for r in rows])
    with pytest.raises(DatasetLayoutError, match=r"3 labelled clips .* leave fold fold1 without a train clip") as e:
        plan_import("mer24-tv", tmp_path)
    assert "label-disdim.csv" in str(e.value)


# ---------------------------------------------------------------------------------------------------- CREMA-D
ACTORS = (1001, 1018, 1019, 1037, 1055, 1064, 1072, 1073, 1076, 1091)


def make_cremad(raw: Path, skip_wav=("1019_IEO_SAD_LO",)):
    names = []
    for actor in ACTORS:
        for emo in ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD"):
            names.append(f"{actor}_IEO_{emo}_XX" if emo != "SAD" else f"{actor}_IEO_{emo}_LO")
    names += ["1076_MTI_NEU_XX", "1064_IEO_DIS_MD"]  # on HiCMAE's broken list
    for name in names:
        touch(raw / "VideoFlash" / f"{name}.flv")
        if name not in skip_wav:
            touch(raw / "AudioWAV" / f"{name}.wav")
    return names


def test_cremad6(tmp_path):
    make_cremad(tmp_path)
    plan = plan_import("crema-d-6", tmp_path)
    clips = all_clips(plan)
    assert "1076_MTI_NEU_XX" not in clips and "1064_IEO_DIS_MD" not in clips and "1019_IEO_SAD_LO" not in clips
    assert len(clips) == 10 * 6 - 1
    assert clips["1001_IEO_ANG_XX"].target == 0 and clips["1001_IEO_SAD_LO"].target == 5
    assert clips["1001_IEO_ANG_XX"].video == "VideoFlash/1001_IEO_ANG_XX.flv"
    assert clips["1001_IEO_ANG_XX"].audio == "AudioWAV/1001_IEO_ANG_XX.wav"
    tested = {f: {r.subject for r in sp["test"]} for f, sp in plan.folds.items()}
    assert tested == {"fold1": {"1001", "1018"}, "fold2": {"1019"}, "fold3": {"1037"},
                      "fold4": {"1055", "1064", "1072"}, "fold5": {"1073", "1076", "1091"}}
    assert plan.subject_independent


def test_cremad4_subset(tmp_path):
    make_cremad(tmp_path)
    plan = plan_import("crema-d-4", tmp_path)
    clips = all_clips(plan)
    assert len(clips) == 10 * 4 - 1
    assert clips["1001_IEO_HAP_XX"].target == 1 and clips["1001_IEO_NEU_XX"].target == 2
    assert not any("_DIS_" in c or "_FEA_" in c for c in clips)


def test_cremad_lfs_pointer(tmp_path):
    make_cremad(tmp_path)
    for f in (tmp_path / "VideoFlash").glob("*.flv"):
        f.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n")
    with pytest.raises(DatasetLayoutError, match="git lfs pull"):
        plan_import("crema-d-6", tmp_path)


# ---------------------------------------------------------------------------------------------------- MSP-IMPROV
def test_msp_improv(tmp_path):
    blocks = []
    for session in range(1, 7):
        for g in "FM":
            for i, letter in enumerate("AHNSOX"):
                utt = f"S{i + 1:02d}{'AHSN'[i % 4]}-{g}{session:02d}-{'PRST'[i % 4]}-{g}M{session:02d}"
                path = tmp_path / f"session{session}" / utt[:4] / utt.split("-")[2] / f"MSP-IMPROV-{utt}"
                touch(path.with_suffix(".avi"))
                touch(path.with_suffix(".wav"))
                blocks.append(f"UTD-IMPROV-{utt}.avi; {letter}; A:3.0; V:2.5; D:3.0 ; N:4.0;\nrater1; Angry; x\n")
    touch(tmp_path / "Evaluation.txt", "\n".join(blocks))
    plan = plan_import("msp-improv", tmp_path)
    clips = all_clips(plan)
    assert len(clips) == 6 * 2 * 4  # O and X dropped
    c = clips["MSP-IMPROV-S03S-F02-S-FM02"]
    assert c.target == 2 and c.subject == "F02"  # N -> neutral = 2
    assert c.video.startswith("session2/") and c.audio.endswith(".wav")
    for k in range(1, 7):
        sp = plan.folds[f"session{k}"]
        assert {r.subject for r in sp["test"]} == {f"F{k:02d}", f"M{k:02d}"}
        assert sp["val"] == sp["test"]


# ---------------------------------------------------------------------------------------------------- RAVDESS
def test_ravdess(tmp_path):
    for actor in range(1, 25):
        base = tmp_path / f"Video_Speech_Actor_{actor:02d}" / f"Actor_{actor:02d}"
        for emotion in (1, 3, 8):
            take = f"01-{emotion:02d}-01-01-01-{actor:02d}"
            touch(base / f"01-{take}.mp4")
            if actor != 24:
                touch(base / f"02-{take}.mp4")
                touch(tmp_path / "Audio_Speech_Actors_01-24" / f"Actor_{actor:02d}" / f"03-{take}.wav")
        touch(base / f"01-02-03-01-01-01-{actor:02d}.mp4")  # song: ignored
    plan = plan_import("ravdess", tmp_path)
    clips = all_clips(plan)
    assert len(clips) == 24 * 3
    c = clips["01-03-01-01-01-05"]
    assert c.target == 2 and c.subject == "05"
    assert c.video.endswith("/02-01-03-01-01-01-05.mp4") and c.audio.endswith("/03-01-03-01-01-01-05.wav")
    c24 = clips["01-08-01-01-01-24"]
    assert c24.target == 7 and c24.video.endswith("/01-01-08-01-01-01-24.mp4") and c24.audio is None
    assert {r.subject for r in plan.folds["fold1"]["test"]} == {"01", "02", "03", "04"}
    assert {r.subject for r in plan.folds["fold6"]["test"]} == {"21", "22", "23", "24"}


# ---------------------------------------------------------------------------------------------------- IEMOCAP
def make_iemocap(raw: Path):
    codes = ["neu", "exc", "fru", "ang", "sad", "hap", "xxx"]
    for k in range(1, 6):
        dialog = f"Ses0{k}F_impro01"
        lines = []
        for i, code in enumerate(codes):
            utt = f"{dialog}_{'FM'[i % 2]}{i:03d}"
            lines.append(f"[{i * 5.0:.4f} - {i * 5.0 + 2.5:.4f}]\t{utt}\t{code}\t[2.5000, 2.5000, 2.5000]")
            lines.append("C-E1:\tNeutral;\t()")
            touch(raw / f"Session{k}" / "sentences" / "wav" / dialog / f"{utt}.wav")
        touch(raw / f"Session{k}" / "dialog" / "EmoEvaluation" / f"{dialog}.txt",
              "% header\n\n" + "\n".join(lines) + "\n")
        touch(raw / f"Session{k}" / "dialog" / "avi" / "DivX" / f"{dialog}.avi")


def test_iemocap(tmp_path):
    make_iemocap(tmp_path)
    plan = plan_import("iemocap", tmp_path)
    clips = all_clips(plan)
    assert len(clips) == 5 * 5  # fru and xxx dropped
    assert clips["Ses01F_impro01_M001"].target == 1  # exc -> hap
    assert clips["Ses01F_impro01_F000"].target == 2 and clips["Ses01F_impro01_F004"].target == 3
    assert clips["Ses01F_impro01_M003"].subject == "Ses01M"
    assert clips["Ses02F_impro01_F000"].video == "clips/Session2/Ses02F_impro01_F000.mp4"
    assert set(plan.derived) == {r.video for r in clips.values()}
    assert iemocap_mod.speaker_half("Ses01F_impro01_F000") == "left"
    assert iemocap_mod.speaker_half("Ses01F_impro01_M001") == "right"
    assert iemocap_mod.speaker_half("Ses05M_script01_1_F003") == "right"
    for k in range(1, 6):
        assert {r.clip[:5] for r in plan.folds[f"session{k}"]["test"]} == {f"Ses0{k}"}


def test_iemocap_prepare_builds_clips(tmp_path, monkeypatch):
    raw = tmp_path / "IEMOCAP_full_release"
    make_iemocap(raw)
    cuts = []

    def fake_cut(src, dest, start, end, half):
        cuts.append((src.name, dest.name, start, end, half))
        touch(dest)

    monkeypatch.setattr(iemocap_mod, "cut_clip", fake_cut)
    result = prepare("iemocap", raw, root=tmp_path / "data", log=lambda *a: None)
    assert len(cuts) == 25 and ("Ses01F_impro01.avi", "Ses01F_impro01_F000.mp4", 0.0, 2.5, "left") in cuts
    assert (result.folder / "clips" / "Session1" / "Ses01F_impro01_F000.mp4").is_file()
    prepare("iemocap", raw, root=tmp_path / "data", log=lambda *a: None)  # clips already there: not cut again
    assert len(cuts) == 25


def test_iemocap_cut_with_pyav(tmp_path):
    av = pytest.importorskip("av")
    import numpy as np
    src = tmp_path / "dialog.mp4"
    with av.open(str(src), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 16, "yuv420p"
        for i in range(20):
            img = np.zeros((16, 32, 3), np.uint8)
            img[:, 16:] = 255  # right half white
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    dest = tmp_path / "clip.mp4"
    iemocap_mod._cut_with_pyav(src, dest, 0.5, 1.2, "right")
    with av.open(str(dest)) as inp:
        frames = [f.to_ndarray(format="rgb24") for f in inp.decode(video=0)]
    assert 5 <= len(frames) <= 9 and frames[0].shape == (16, 16, 3)
    assert frames[0].mean() > 200  # the right (white) half


# ---------------------------------------------------------------------------------------------------- AVCAffe
def test_avcaffe(tmp_path):
    arousal, valence = ["aiim_key, arousal"], []
    for pid in ("aiim001", "aiim003", "aiim099", "aiim104"):
        for task in (1, 2, 9):
            key = f"{pid}_task_{task}"
            arousal.append(f"{key}, {['Excited', 'Wide-awake', 'Calm'][task % 3]}")
            valence.append(f"{key}, {['Pleasant', 'Unsatisfied', 'Unpleasant'][task % 3]}")
            for seg in range(3):
                touch(tmp_path / "videos" / "shorter_segments" / pid / f"task_{task}" / f"{key}_{seg}.avi")
    touch(tmp_path / "ground_truths" / "arousal.txt", "\n".join(arousal) + "\n")
    touch(tmp_path / "ground_truths" / "valence.txt", "\n".join(valence) + "\n")
    touch(tmp_path / "info" / "no_audio_files.txt", "aiim003_task_2_1.avi\n")
    plan = plan_import("avcaffe", tmp_path)
    assert list(plan.folds) == ["arousal", "valence"]
    a, v = plan.folds["arousal"], plan.folds["valence"]
    assert {r.subject for r in a["test"]} == {"aiim001", "aiim099"}
    assert {r.subject for r in a["train"]} == {"aiim003", "aiim104"}
    assert [r.clip for r in a["train"]] == [r.clip for r in v["train"]]
    assert len(a["train"]) + len(a["test"]) == 4 * 3 * 3 - 1
    by_clip = {r.clip: r for r in a["test"]}
    assert by_clip["aiim001_task_1_0"].target == 1  # Wide-awake
    assert {r.clip: r.target for r in v["test"]}["aiim001_task_2_0"] == 4  # Unpleasant
    assert by_clip["aiim001_task_9_2"].video == "videos/shorter_segments/aiim001/task_9/aiim001_task_9_2.avi"


# ---------------------------------------------------------------------------------------------------- Werewolf-XL
def test_werewolf(tmp_path):
    rows = [["VideoName", "Pleasure", "Arousal", "Dominance"]]
    for game in range(1, 31):
        clip = f"{game:02d}_{game % 9 + 1:02d}_{game * 7:03d}"
        rows.append([f"{clip}.mp4", 0.25 * (game % 4), 1.5, -0.5])
        touch(tmp_path / "speaker_videos" / f"{clip}.mp4")
    rows.append(["31_01_001", 0, 0, 0])  # no media: skipped
    write_csv(tmp_path / "labels" / "PAD_speaker.csv", rows)
    plan = plan_import("werewolf-xl", tmp_path)
    clips = all_clips(plan)
    assert len(clips) == 30
    assert clips["01_02_007"].target == (1.5, 0.25, -0.5)  # arousal, valence (=pleasure), dominance
    assert {r.clip[:2] for r in plan.folds["fold1"]["test"]} == {f"{g:02d}" for g in range(1, 7)}
    assert {r.clip[:2] for r in plan.folds["fold5"]["test"]} == {f"{g:02d}" for g in range(25, 31)}


# ---------------------------------------------------------------------------------------------------- micro-expressions
def test_samm_composite(tmp_path):
    table = parse_composite(samm.COMPOSITE)
    for subject, clip in table:
        touch(tmp_path / "SAMM" / subject / clip / f"{subject}_00001.jpg")
    touch(tmp_path / "SAMM" / "006" / "006_9_9" / "006_00001.jpg")  # not in the composite list
    write_xlsx(tmp_path / "SAMM_Micro_FACS_Codes_v2.xlsx",
               [["SAMM database"], ["notes"], [],
                ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration",
                 "Type", "Action Units", "Estimated Emotion"],
                [6, "006_1_2", 1, 5562, 5588, 5618, 57, "Micro - 1/2", "4+7", "Anger"],
                [7, "007_6_1", 6, 1, 2, 3, 3, "Micro - 1/2", "12", "Disgust"]])
    plan = plan_import("samm", tmp_path)
    clips = all_clips(plan)
    assert len(clips) == 133 and "006_9_9" not in clips
    assert sorted(sum(r.target == c for r in clips.values()) for c in range(3)) == [15, 26, 92]
    assert clips["006_1_2"].video == "SAMM/006/006_1_2" and clips["006_1_2"].audio is None
    assert len(plan.folds) == 28
    assert_loso(plan)
    assert any("1 composite labels differ" in n and "007_6_1" in n for n in plan.notes)


@pytest.mark.parametrize("layout", ["CASME2_RAW_selected", "Cropped"])
def test_casme2_composite(tmp_path, layout):
    for subject, clip in parse_composite(casme2.COMPOSITE):
        touch(tmp_path / "CASME2" / layout / subject / clip / "img1.jpg")
    plan = plan_import("casme-ii", tmp_path)
    assert plan.source == ("video" if layout == "CASME2_RAW_selected" else "faces")
    clips = all_clips(plan)
    assert len(clips) == 145 and len(plan.folds) == 24
    assert clips["sub01_EP02_01f"].target == 1 and clips["sub01_EP02_01f"].subject == "sub01"
    assert clips["sub01_EP02_01f"].video == f"CASME2/{layout}/sub01/EP02_01f"
    assert_loso(plan)


def test_casme2_missing_composite_clip(tmp_path):
    for subject, clip in list(parse_composite(casme2.COMPOSITE))[1:]:
        touch(tmp_path / "CASME2_RAW_selected" / subject / clip / "img1.jpg")
    with pytest.raises(DatasetLayoutError, match="sub01/EP02_01f"):
        plan_import("casme-ii", tmp_path)


def make_smic(raw: Path, subjects):
    for n in subjects:
        for cls, short in (("negative", "ne"), ("positive", "po"), ("surprise", "sur")):
            touch(raw / "SMIC" / "HS" / f"s{n}" / "micro" / cls / f"s{n}_{short}_01" / "reg_image001.bmp")
        touch(raw / "SMIC" / "HS" / f"s{n}" / "non_micro" / "x" / "a.bmp")


def test_smic(tmp_path):
    make_smic(tmp_path, [n for n in range(1, 21) if n not in (7, 10, 16, 17)])
    plan = plan_import("smic", tmp_path)
    clips = all_clips(plan)
    assert len(clips) == 48 and len(plan.folds) == 16
    assert clips["s3_po_01"].target == 1 and clips["s3_sur_01"].target == 2 and clips["s3_ne_01"].target == 0
    assert clips["s3_po_01"].video == "SMIC/HS/s3/micro/positive/s3_po_01"
    assert_loso(plan)


def test_smic_subject_outside_protocol(tmp_path):
    make_smic(tmp_path, [n for n in range(1, 21) if n not in (10, 16, 17)])  # s7 has clips
    with pytest.raises(DatasetLayoutError, match="s7 .3 clips."):
        plan_import("smic", tmp_path)


def make_casme3(raw: Path):
    rows = [["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"]]
    emotions = ["disgust", "happy", "surprise", "fear", "anger", "sad"]
    for i, subject in enumerate(CASME3_SUBJECTS):
        n = int(subject.split(".")[1])
        onset = 98 + i
        rows.append([subject, "b", onset, onset + 1, onset + 2, "4", "III", emotions[i % 6]])
        for f in range(onset, onset + 3):
            touch(raw / "part_A" / "data" / f"spNo.{n}" / "b" / "color" / f"{f}.jpg", str(f))
    rows.append(["spNO.1", "c", 1, 2, 3, "4", "VII", "others"])
    write_xlsx(raw / "part_A" / "annotation" / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", {"label": rows})


def test_casme3(tmp_path):
    make_casme3(tmp_path)
    plan = plan_import("casme3", tmp_path)
    clips = all_clips(plan)
    assert len(clips) == 87 and len(plan.folds) == 87
    c = clips["spNO.1_b_98"]
    assert c.target == 0 and c.subject == "spNO.1" and c.video == "clips/spNO.1_b_98"
    assert clips["spNO.2_b_99"].target == 1 and clips["spNO.3_b_100"].target == 2 and clips["spNO.4_b_101"].target == 0
    assert_loso(plan)
    result = prepare("casme3", tmp_path, root=tmp_path / "data", log=lambda *a: None)
    frames = sorted(p.name for p in (result.folder / "clips" / "spNO.1_b_98").iterdir())
    assert frames == ["000098.jpg", "000099.jpg", "000100.jpg"]
    assert os.path.samefile(result.folder / "clips/spNO.1_b_98/000099.jpg",
                            tmp_path / "part_A/data/spNo.1/b/color/99.jpg")


def test_mmew(tmp_path):
    root = tmp_path / "MMEW_Final" / "Micro_Expression"
    classes = ["happiness", "surprise", "sadness", "disgust", "fear", "anger"]
    for s in range(1, 31):
        touch(root / classes[s % 6] / f"S{s:02d}-{s % 6 + 1:02d}-001" / "1.jpg")
    touch(root / "others" / "S01-08-001" / "1.jpg")
    touch(tmp_path / "MMEW_Final" / "Macro_Expression" / "S01" / "happiness" / "x" / "1.jpg")
    plan = plan_import("mmew", tmp_path)
    clips = all_clips(plan)
    assert len(clips) == 30 and "S01-08-001" not in clips
    assert clips["S06-01-001"].target == 0 and clips["S05-06-001"].target == 5 and clips["S05-06-001"].subject == "S05"
    assert_loso(plan)


# ---------------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("name", sorted(IMPORTERS))
def test_wrong_folder_names_expected_path(tmp_path, name):
    (tmp_path / "unrelated").mkdir()
    touch(tmp_path / "unrelated" / "readme.txt")
    with pytest.raises(DatasetLayoutError) as info:
        plan_import(name, tmp_path / "unrelated")
    message = str(info.value)
    assert message.startswith(get(name).name) and str(tmp_path / "unrelated") in message
    assert "Expected the official release layout" in message


def test_missing_release_folder(tmp_path):
    with pytest.raises(DatasetLayoutError, match="release folder not found"):
        plan_import("dfew", tmp_path / "nope")


def test_dfew_missing_split_folder_names_it(tmp_path):
    touch(tmp_path / "Clip" / "original" / "00001.mp4")
    with pytest.raises(DatasetLayoutError, match=r"EmoLabel_DataSplit/train\(single_labeled\)"):
        plan_import("dfew", tmp_path)


# ---------------------------------------------------------------------------------------------------- placement
def test_prepare_link_copy_and_in_place(tmp_path):
    raw = tmp_path / "CREMA-D"
    make_cremad(raw)
    root = tmp_path / "data"
    res = prepare("crema-d-6", raw, root=root, log=lambda *a: None)
    assert res.mode == "link" and res.path == root / "crema-d-6" and res.revision != "absent"
    spec = get("crema-d-6")
    assert spec.is_prepared(root)
    test = read_manifest(spec.split_file("fold2", "test", root), num_classes=6)
    assert {r.subject for r in test} == {"1019"}
    assert os.path.samefile(root / "crema-d-6" / test[0].video, raw / test[0].video)
    assert not spec.split_file("fold1", "val", root).exists()
    assert (root / "crema-d-6" / "splits" / "import.json").is_file()

    res2 = prepare("crema-d-6", raw, root=tmp_path / "copied", mode="copy", log=lambda *a: None)
    copied = tmp_path / "copied" / "crema-d-6" / test[0].video
    assert copied.is_file() and not os.path.samefile(copied, raw / test[0].video)
    assert res2.revision == res.revision  # same split files, wherever the media live

    res3 = prepare("crema-d-6", raw, root=tmp_path / "inplace", mode="in-place", log=lambda *a: None)
    link = tmp_path / "inplace" / "crema-d-6"
    assert link.is_symlink() and link.resolve() == raw.resolve() and (raw / "splits" / "fold1" / "train.tsv").is_file()
    assert res3.revision == res.revision


def test_prepare_rerun_replaces_splits(tmp_path):
    raw = tmp_path / "CREMA-D"
    make_cremad(raw)
    root = tmp_path / "data"
    first = prepare("crema-d-6", raw, root=root, log=lambda *a: None).revision
    touch(root / "crema-d-6" / "splits" / "stale" / "train.tsv")
    (raw / "AudioWAV" / "1001_IEO_ANG_XX.wav").unlink()
    second = prepare("crema-d-6", raw, root=root, log=lambda *a: None).revision
    assert second != first and not (root / "crema-d-6" / "splits" / "stale").exists()


# ---------------------------------------------------------------------------------------------------- CLI
def test_cli_list(tmp_path, capsys):
    raw = tmp_path / "RAVDESS"
    for actor in range(1, 25):
        touch(raw / f"Actor_{actor:02d}" / f"01-01-05-01-01-01-{actor:02d}.mp4")
    assert cli(["prepare", "ravdess", "--raw", str(raw), "--root", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    assert "fold1" in out and "angry" in out and "prepared ravdess" in out
    assert cli(["list", "--root", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[2:] if line.strip()}
    assert "prepared" in lines["ravdess"] and "absent" in lines["dfew"]
    assert str(tmp_path / "data" / "dfew") in lines["dfew"]
    assert "missing splits/fold1/train.tsv" in out
    for name in ("mafw-11", "mmew", "werewolf-xl"):
        assert name in lines


def test_cli_prepare_errors(tmp_path, capsys):
    assert cli(["prepare", "crema-d-6", "--raw", str(tmp_path), "--root", str(tmp_path / "d")]) == 2
    out = capsys.readouterr().out
    assert "error: crema-d-6: video folder not found" in out and "VideoFlash" in out
    assert cli(["prepare", "nosuchset", "--raw", str(tmp_path)]) == 2
    assert cli(["prepare", "samm", "--layout"]) == 0
    assert "SAMM_Micro_FACS_Codes" in capsys.readouterr().out


def test_cli_dry_run_writes_nothing(tmp_path, capsys):
    raw = tmp_path / "CREMA-D"
    make_cremad(raw)
    assert cli(["prepare", "crema-d-4", "--raw", str(raw), "--root", str(tmp_path / "d"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "label histogram" in out and "HAP" in out and not (tmp_path / "d").exists()


def test_xlsx_roundtrip(tmp_path):
    path = write_xlsx(tmp_path / "t.xlsx", {"first": [["a", 1]], "label": [["Subject", None, 2.5], [None, "x&y"]]})
    assert read_xlsx(path) == [["a", 1]]
    assert read_xlsx(path, "LABEL") == [["Subject", None, 2.5], [None, "x&y"]]


def test_xlsx_cells_as_written(tmp_path):
    """Blank rows keep their place (row numbers stay true), "NA"/"None" stay text, whole floats read as int."""
    import openpyxl
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "codes"
    for row in (["Subject", "Onset", "Note"], [], ["NA", 6.0, "None"], [None, 2.5, None]):
        sheet.append(row)
    book.save(tmp_path / "c.xlsx")
    assert read_xlsx(tmp_path / "c.xlsx") == [["Subject", "Onset", "Note"], [], ["NA", 6, "None"], [None, 2.5]]
    with pytest.raises(ValueError, match=r"no sheet named 'label' \(sheets: codes\)"):
        read_xlsx(tmp_path / "c.xlsx", "label")
