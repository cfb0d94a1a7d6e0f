"""`python -m benchmarks.data doctor` on a tiny prepared dataset with known defects."""
import json

import numpy as np
import pytest

from avfmae.data.synthetic import synthetic_audio, synthetic_frames, write_frame_folder, write_mp4, write_wav
from avfmae.data.manifest import ClipRecord, write_manifest
from benchmarks.data.__main__ import main as data_main
from benchmarks.datasets.clipcheck import check_clip
from benchmarks.datasets.diagnosis import diagnose
from benchmarks.datasets.registry import register
from benchmarks.datasets.spec import DatasetSpec

SPEC = DatasetSpec(name="doctor-tiny", title="Doctor test set", task="CEA", labels=("calm", "happy", "sad"),
                   folds=("fold1", "fold2"), fold_scheme="test", metrics=("uar", "war"), main_metric="uar",
                   root="tiny")


def _clip(root, name, frames=24, seconds=None, rate=16000, wav=True):
    write_frame_folder(root / "faces" / name, synthetic_frames(frames, 32, 32, seed=len(name)))
    if wav:
        write_wav(root / "audio" / f"{name}.wav", synthetic_audio(seconds or frames / 25, rate, seed=1), rate)
    return f"faces/{name}", (f"audio/{name}.wav" if wav else None)


@pytest.fixture()
def tiny(tmp_path):
    """tiny/: 8 clips of 3 classes, 2 folds; defects: a corrupt frame, a missing wav (errors); 8 frames,
    44.1 kHz audio, a subject in both train and test of fold2 (warnings)."""
    root = tmp_path / "tiny"
    media = {}
    for i in range(5):
        media[f"c{i}"] = _clip(root, f"c{i}")
    media["short"] = _clip(root, "short", frames=8, seconds=0.8)
    media["hires"] = _clip(root, "hires", rate=44100)
    media["corrupt"] = _clip(root, "corrupt")
    last = sorted((root / "faces" / "corrupt").glob("*.jpg"))[-1]
    last.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    media["nowav"] = (_clip(root, "nowav", wav=False)[0], "audio/nowav.wav")
    write_mp4(root / "video" / "m.mp4", synthetic_frames(30, 32, 32), fps=25, audio=synthetic_audio(1.2))
    media["mp4"] = ("video/m.mp4", None)

    def rec(name, target, subject):
        v, a = media[name]
        return ClipRecord(name, v, a, target, subject)

    write_manifest(root / "splits/fold1/train.tsv", [rec("c0", 0, "s1"), rec("corrupt", 1, "s1"),
                                                     rec("c1", 2, "s2"), rec("short", 1, "s2")])
    write_manifest(root / "splits/fold1/test.tsv", [rec("c2", 0, "s3"), rec("nowav", 1, "s3"),
                                                    rec("mp4", 2, "s3")])
    write_manifest(root / "splits/fold2/train.tsv", [rec("c2", 0, "s3"), rec("c3", 1, "s3"),
                                                     rec("hires", 2, "s4")])
    write_manifest(root / "splits/fold2/test.tsv", [rec("c0", 0, "s1"), rec("c4", 1, "s4"),
                                                    rec("mp4", 2, "s3")])
    register(SPEC, overwrite=True)
    return tmp_path, root


def test_doctor_finds_unusable_clips_and_names_the_manifest_line(tiny, capsys):
    data_root, root = tiny
    report = data_root / "rep.json"
    rc = data_main(["doctor", "doctor-tiny", "--root", str(data_root), "--report", str(report)])
    out = capsys.readouterr().out
    assert rc == 1
    assert "FAILED" in out
    # the corrupt frame folder: its file and its manifest line (header = line 1, so clip 2 is on line 3)
    assert "splits/fold1/train.tsv:3" in out and "corrupt" in out
    assert "splits/fold1/test.tsv:3" in out and "nowav.wav" in out and "wav not found" in out
    rep = json.loads(report.read_text())
    errors = {(i["clip"], i["manifest"], i["line"]) for i in rep["issues"] if i["severity"] == "error"}
    assert errors == {("corrupt", "splits/fold1/train.tsv", 3), ("nowav", "splits/fold1/test.tsv", 3)}
    assert rep["unusable_clips"] == 2 and rep["clips_checked"] == 10
    warnings = [i for i in rep["issues"] if i["severity"] == "warning"]
    assert any(i["clip"] == "short" and "8 frames < 16" in i["problem"] for i in warnings)
    assert any(i["clip"] == "hires" and "44100 Hz" in i["problem"] for i in warnings)
    # subject overlap: fold2 has s3 and s4 on both sides; fold1 has none
    ov = {o["fold"]: o for o in rep["overlap"]}
    assert ov["fold1"]["subjects"] == [] and ov["fold2"]["subjects"] == ["s3", "s4"]
    assert ov["fold1"]["clips"] == [] and ov["fold2"]["clips"] == []
    assert "subject overlap train/test: 1 of 2" in out
    # histogram per fold and split, with the label names
    assert rep["histograms"]["fold1/train"] == {"0": 1, "1": 2, "2": 1}
    assert "happy" in out and "fold2/test" in out
    # the mp4 clip's own audio track is used
    mp4 = next(c for c in rep["clips"] if c["video"] == "video/m.mp4")
    assert mp4["audio_source"] == "track" and not mp4["errors"]


def test_doctor_passes_once_fixed_and_accepts_a_path(tiny, capsys):
    data_root, root = tiny
    import csv
    for m in root.glob("splits/*/*.tsv"):
        rows = list(csv.reader(m.open(), delimiter="\t"))
        keep = [r for r in rows if r[0] not in ("corrupt", "nowav")]
        m.write_text("\n".join("\t".join(r) for r in keep) + "\n")
    rc = data_main(["doctor", str(root), "--workers", "2", "--folds", "fold1", "--report",
                    str(data_root / "issues.tsv")])
    out = capsys.readouterr().out
    assert rc == 0 and "OK: every clip is usable" in out
    tsv = (data_root / "issues.tsv").read_text().splitlines()
    assert tsv[0].startswith("severity\tfold") and any("short" in line for line in tsv[1:])


def test_doctor_reports_a_manifest_that_does_not_parse(tiny, capsys):
    data_root, root = tiny
    m = root / "splits/fold2/test.tsv"
    m.write_text(m.read_text().replace("c4\tfaces/c4\taudio/c4.wav\t1", "c4\tfaces/c4\taudio/c4.wav\t7"))
    rc = data_main(["doctor", "doctor-tiny", "--root", str(data_root), "--folds", "fold2"])
    out = capsys.readouterr().out
    assert rc == 1 and "splits/fold2/test.tsv:3" in out and "unknown label 7" in out


def test_doctor_reports_a_non_utf8_manifest_without_a_traceback(tiny, capsys):
    data_root, root = tiny
    m = root / "splits/fold2/test.tsv"
    m.write_bytes(m.read_bytes().replace(b"c4\tfaces/c4", b"c\xe94\tfaces/c4"))   # latin-1 e-acute, line 3
    rc = data_main(["doctor", "doctor-tiny", "--root", str(data_root), "--folds", "fold2"])
    out = capsys.readouterr().out
    assert rc == 1 and "splits/fold2/test.tsv:3" in out and "not UTF-8" in out and "Re-save" in out
    assert "Traceback" not in out


def test_doctor_unknown_or_unprepared(tmp_path, capsys):
    assert data_main(["doctor", "no-such-dataset"]) == 2
    register(SPEC, overwrite=True)
    assert data_main(["doctor", "doctor-tiny", "--root", str(tmp_path)]) == 2
    assert "not prepared" in capsys.readouterr().out


def test_check_clip_flags(tmp_path):
    write_frame_folder(tmp_path / "f", synthetic_frames(20, 16, 16))
    write_wav(tmp_path / "long.wav", synthetic_audio(4.0), 16000)
    write_wav(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000)
    write_wav(tmp_path / "stereo.wav", synthetic_audio(0.8, channels=2), 16000)
    r = check_clip(str(tmp_path), "f", "long.wav")
    assert not r.errors and any("alignment will be off" in w[1] for w in r.warnings)
    r = check_clip(str(tmp_path), "f", "empty.wav")
    assert r.errors and "no samples" in r.errors[0][1]
    r = check_clip(str(tmp_path), "f", "stereo.wav", deep=True)
    assert not r.errors and any("2 channels" in w[1] for w in r.warnings)
    r = check_clip(str(tmp_path), "f", None)
    assert r.errors and "frame folder without a wav" in r.errors[0][1]
    assert not check_clip(str(tmp_path), "f", None, needs_audio=False).errors
    r = check_clip(str(tmp_path), "../outside", None)
    assert r.errors


def test_diagnose_regression_stats(tmp_path):
    root = tmp_path / "reg"
    v, a = _clip(root, "r0")
    v1, a1 = _clip(root, "r1")
    write_manifest(root / "splits/official/train.tsv", [ClipRecord("r0", v, a, (0.1, 0.5), "x")])
    write_manifest(root / "splits/official/test.tsv", [ClipRecord("r1", v1, a1, (0.3, -0.5), "y")])
    rep = diagnose(str(root))
    assert rep["errors"] == 0 and rep["regression_stats"]["official/test"][1]["min"] == -0.5
