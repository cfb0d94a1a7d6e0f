"""`python -m avfmae.predict` and `python -m avfmae.extract` end to end, on real footage.

Videos: the first 2.5 s of OpenCV's Megamind.avi (benchmarks/prep/fetch_test_media.sh; skipped without it, failed
under CI) downscaled to 360x264, re-muxed with PyAV once with a 440 Hz tone and once without audio; a no-face clip
from scikit-image's coffee photo. Model: avfmae-micro with seeded random weights exported as a zoo tag that
carries label names (a tiny model keeps it fast; the assertions are about structure and consistency).
"""
import csv
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cv2")
skimage_data = pytest.importorskip("skimage.data")

from avfmae.data.synthetic import make_clips, write_mp4  # noqa: E402
from avfmae.data.manifest import write_manifest  # noqa: E402
from avfmae.extract.__main__ import main as extract_main  # noqa: E402
from avfmae.predict.__main__ import main as predict_main  # noqa: E402
from avfmae.predict.windows import window_starts  # noqa: E402

N_SRC, FPS_SRC = 48, 24                 # 2 s of Megamind
N_OUT = round(N_SRC / FPS_SRC * 25)     # frames after the 25 fps conversion of extraction
LABELS = ["calm", "happy", "sad"]


def _media() -> Path:
    p = Path(os.environ.get("AVF_TEST_MEDIA") or Path.home() / ".cache" / "avfmae" / "test-media").expanduser()
    p = p / "Megamind.avi"
    if not p.is_file():
        reason = f"{p} missing: run benchmarks/prep/fetch_test_media.sh (Debian opencv-doc's Megamind.avi)"
        if os.environ.get("CI"):
            pytest.fail("CI requires the test media: " + reason)
        pytest.skip(reason)
    return p


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    import av
    import cv2

    frames = []
    with av.open(str(_media())) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= N_SRC:
                break
            frames.append(cv2.resize(f.to_ndarray(format="rgb24"), (360, 264), interpolation=cv2.INTER_AREA))
    frames = np.stack(frames)
    root = tmp_path_factory.mktemp("predict")
    t = np.arange(int(N_SRC / FPS_SRC * 16000)) / 16000.0
    write_mp4(root / "videos" / "tone.mp4", frames, fps=FPS_SRC, audio=(0.3 * np.sin(2 * np.pi * 440 * t)).astype(
        np.float32))
    write_mp4(root / "videos" / "silent.mp4", frames, fps=FPS_SRC)
    coffee = skimage_data.coffee()
    write_mp4(root / "coffee.mp4", np.stack([cv2.resize(coffee[:, 4 * k:4 * k + 500], (320, 240))
                                             for k in range(12)]), fps=25)
    return root


@pytest.fixture(scope="module")
def zoo_tag(tmp_path_factory):
    """avfmae-micro.t3: seeded random weights with a 3-class head and label names in its metadata."""
    import torch

    import zoo
    from avfmae.train.export import export_weights

    d = tmp_path_factory.mktemp("zoo")
    old = os.environ.get("AVF_ZOO_DIR")
    os.environ["AVF_ZOO_DIR"] = str(d)
    torch.manual_seed(3)
    model = zoo.create_model("avfmae-micro", num_classes=3)
    export_weights(model, "avfmae-micro", "t3", "finetune", "stage3", {"task": "classification"}, num_classes=3,
                   extra={"labels": LABELS, "task": "classification", "modalities": ["video", "audio"]})
    yield "avfmae-micro.t3"
    if old is None:
        os.environ.pop("AVF_ZOO_DIR", None)
    else:
        os.environ["AVF_ZOO_DIR"] = old


@pytest.fixture(scope="module")
def run(media, zoo_tag, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "pred.jsonl"
    rc = predict_main([str(media / "videos"), "--model", zoo_tag, "--out", str(out), "--hop", "0.5",
                       "--plot", str(out.with_name("plot.png")), "--no-progress"])
    return rc, out


def _rows(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_windows_cover_the_video_and_probabilities_sum_to_one(run):
    rc, out = run
    assert rc == 0
    rows = _rows(out)
    for name in ("tone", "silent"):
        mine = [r for r in rows if r["video"].endswith(f"{name}.mp4")]
        wins = [r for r in mine if r["kind"] == "window"]
        video = [r for r in mine if r["kind"] == "video"]
        assert len(video) == 1 and mine[-1] is video[0]
        # micro's contract: 8 frames every 4th (32 frames = 1.28 s at 25 fps); hop 0.5 s -> 3 strides (12 frames)
        n_idx = math.ceil(N_OUT / 4)
        starts = list(range(0, n_idx - 8 + 1, 3))
        if starts[-1] != n_idx - 8:
            starts.append(n_idx - 8)
        assert [w["start"] for w in wins] == pytest.approx([4 * s / 25 for s in starts])
        assert wins[0]["start"] == 0.0 and wins[-1]["end"] == pytest.approx(N_OUT / 25)
        assert all(b["start"] <= a["end"] for a, b in zip(wins, wins[1:]))  # no gap between windows
        for w in wins:
            assert list(w["probs"]) == LABELS
            assert sum(w["probs"].values()) == pytest.approx(1.0, abs=1e-5)
            assert w["label"] == max(w["probs"], key=w["probs"].get)
        mean = np.mean([[w["probs"][k] for k in LABELS] for w in wins], axis=0)
        assert [video[0]["probs"][k] for k in LABELS] == pytest.approx(mean, abs=1e-5)
        assert video[0]["windows"] == len(wins) and video[0]["face"] == "tracked"
        assert video[0]["detected_fraction"] > 0.8
    audio = {r["video"].rsplit("/", 1)[-1]: r["audio"] for r in rows if r["kind"] == "video"}
    assert audio == {"tone.mp4": "ok", "silent.mp4": "no-audio"}
    # the audio matters: the tone and the silent input give different outputs for the same frames
    p = {r["video"].rsplit("/", 1)[-1]: r["probs"]["calm"] for r in rows if r["kind"] == "video"}
    assert p["tone.mp4"] != p["silent.mp4"]


def test_plot_written(run):
    _, out = run
    for name in ("tone", "silent"):
        png = out.with_name(f"plot-{name}.png")
        assert png.is_file() and png.read_bytes()[:4] == b"\x89PNG"


def test_same_input_same_output_and_csv(run, media, zoo_tag, tmp_path):
    _, out = run
    csv_out = tmp_path / "again.csv"
    assert predict_main([str(media / "videos" / "tone.mp4"), "--model", zoo_tag, "--out", str(csv_out),
                         "--hop", "0.5", "--no-progress"]) == 0
    first = [r for r in _rows(out) if r["video"].endswith("tone.mp4")]
    with open(csv_out, newline="") as f:
        again = list(csv.DictReader(f))
    assert len(again) == len(first)
    for a, b in zip(first, again):
        assert b["kind"] == a["kind"] and float(b["start"]) == a["start"]
        assert [float(b[k]) for k in LABELS] == [a["probs"][k] for k in LABELS]


def test_batch_resume_skips_done_and_redoes_interrupted(run, media, zoo_tag, tmp_path, capsys):
    _, out = run
    mine = tmp_path / "pred.jsonl"
    mine.write_text(out.read_text())
    before = mine.read_text()
    assert predict_main([str(media / "videos"), "--model", zoo_tag, "--out", str(mine), "--hop", "0.5",
                         "--no-progress"]) == 0
    assert mine.read_text() == before
    assert "0 predicted, 2 already in" in capsys.readouterr().err
    # a run killed after writing part of silent.mp4's rows: they are dropped and the video is redone
    rows = _rows(mine)
    cut = [r for r in rows if not (r["video"].endswith("silent.mp4") and r["kind"] == "video")]
    mine.write_text("".join(json.dumps(r) + "\n" for r in cut) + '{"video": "hal')
    assert predict_main([str(media / "videos"), "--model", zoo_tag, "--out", str(mine), "--hop", "0.5",
                         "--no-progress"]) == 0
    assert "1 predicted, 1 already in" in capsys.readouterr().err
    # to stdout (no --out): nothing to resume from, and the summary does not pretend there is
    assert predict_main([str(media / "videos" / "tone.mp4"), "--model", zoo_tag, "--hop", "0.5",
                         "--no-progress"]) == 0
    assert capsys.readouterr().err.strip().endswith("1 videos: 1 predicted, 0 failed")
    again = _rows(mine)
    assert sorted(json.dumps(r, sort_keys=True) for r in again) == sorted(json.dumps(r, sort_keys=True)
                                                                         for r in rows)


def test_no_face_fails_clearly_and_centre_crop_works(media, zoo_tag, tmp_path, capsys):
    video = media / "coffee.mp4"
    out = tmp_path / "p.jsonl"
    assert predict_main([str(video), "--model", zoo_tag, "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert str(video) in err and "no face found" in err and "--no-face-crop" in err
    assert not out.exists() or not out.read_text()
    assert predict_main([str(video), "--model", zoo_tag, "--out", str(out), "--no-face-crop",
                         "--no-progress"]) == 0
    (row,) = [r for r in _rows(out) if r["kind"] == "video"]
    assert row["face"] == "centre" and row["audio"] == "no-audio" and row["label"] in LABELS


def test_window_starts_unit():
    assert window_starts(20, 8, 3) == [0, 3, 6, 9, 12]
    assert window_starts(21, 8, 3) == [0, 3, 6, 9, 12, 13]
    assert window_starts(5, 8, 3) == [0]   # shorter than one window: one (padded) window


# ------------------------------------------------------------------------------------------------ extract
def test_extract_manifest_shapes_ids_resume(zoo_tag, tmp_path):
    import zoo
    from avfmae.train.inputs import preprocess_config
    from avfmae.data.views import load_clip_views

    root = tmp_path / "data"
    recs = make_clips(root, 3, kind="mp4", num_frames=40, size=64)
    write_manifest(root / "splits" / "f1" / "test.tsv", recs)
    out = tmp_path / "feat"
    args = ["--model", zoo_tag, "--manifest", str(root / "splits" / "f1" / "test.tsv"), "--out", str(out),
            "--regions", "--layers", "--no-progress"]
    assert extract_main(args) == 0
    z = np.load(out / "features.npz")
    assert list(z["ids"]) == [r.clip for r in recs]
    spec = zoo.get_spec("avfmae-micro")
    d, depth = spec.arch.embed_dim, spec.arch.depth
    assert z["features"].shape == (3, 2 * d) and z["features"].dtype == np.float32
    assert z["layers_video"].shape == (3, depth, d) and z["region_video"].shape[0] == 3
    assert list(z["targets"]) == [r.target for r in recs]
    # independent check: the centre view made by the evaluation views, through forward_features
    model = zoo.create_model(zoo_tag).eval()
    pcfg = preprocess_config(spec).replace(num_segments=1, num_crops=1)
    view = load_clip_views(root / recs[1].video, root / recs[1].audio, pcfg)[0]
    import torch
    with torch.no_grad():
        ref = model.forward_features(view.video[None], view.audio[None]).numpy()[0]
    np.testing.assert_allclose(z["features"][1], ref, rtol=1e-4, atol=1e-5)
    # resume: a clip file already there is not recomputed; a missing one is
    f0 = out / "clips" / f"{recs[0].clip}.npz"
    stamp = f0.stat().st_mtime_ns
    (out / "clips" / f"{recs[2].clip}.npz").unlink()
    assert extract_main(args) == 0
    assert f0.stat().st_mtime_ns == stamp and (out / "clips" / f"{recs[2].clip}.npz").is_file()
    np.testing.assert_allclose(np.load(out / "features.npz")["features"], z["features"], rtol=1e-5, atol=1e-6)


def test_extract_videos_folder(media, zoo_tag, tmp_path):
    out = tmp_path / "feat"
    assert extract_main(["--model", zoo_tag, "--videos", str(media / "videos"), "--out", str(out),
                         "--no-progress"]) == 0
    z = np.load(out / "features.npz")
    assert sorted(z["ids"]) == ["silent", "tone"] and z["features"].shape[0] == 2
    assert np.isfinite(z["features"]).all()
    assert not np.allclose(z["features"][0], z["features"][1])  # the audio differs
