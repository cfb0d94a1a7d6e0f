"""Raw-video preparation (benchmarks.prep, `python -m benchmarks.data extract`) on real faces.

Real footage: OpenCV's Megamind.avi (Debian opencv-doc), fetched by benchmarks/prep/fetch_test_media.sh into
$AVF_TEST_MEDIA (default ~/.cache/avfmae/test-media). Without it the Megamind test skips, or fails under CI.
The other tests build their videos from scikit-image's astronaut photo (a real face) moving across the frame.
"""
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cv2")
skimage_data = pytest.importorskip("skimage.data")

from avfmae.data.synthetic import synthetic_audio, write_mp4  # noqa: E402
from avfmae.data.readers import open_video, read_wav  # noqa: E402
from benchmarks.data.__main__ import main as data_main  # noqa: E402
from avfmae.faces.audio import ffmpeg_path  # noqa: E402
from avfmae.faces.crop import crop_face, crop_matrix  # noqa: E402
from avfmae.faces.detect import Detection  # noqa: E402
from benchmarks.prep.extract import ExtractConfig, extract_video, output_frame_map, run_extract  # noqa: E402
from avfmae.faces.track import build_tracks, detect_cuts, jitter, main_chain, smooth_path  # noqa: E402

FACE = (177.0, 66.0, 95.0)  # the astronaut's face box in skimage's 512x512 photo (x, y, side)
N_FRAMES, FPS = 40, 25
W, H = 480, 360
DX, DY, X0, Y0 = 3.5, 1.0, 10.0, 20.0  # the photo moves by (DX, DY) px per frame from (X0, Y0)
CROP = (0, 300, 100, 400)              # rows, cols of the photo pasted into the frame


def _media_dir() -> Path:
    return Path(os.environ.get("AVF_TEST_MEDIA") or Path.home() / ".cache" / "avfmae" / "test-media").expanduser()


@pytest.fixture(scope="session")
def megamind() -> Path:
    p = _media_dir() / "Megamind.avi"
    if not p.is_file():
        reason = f"{p} missing: run benchmarks/prep/fetch_test_media.sh (Debian opencv-doc's Megamind.avi)"
        if os.environ.get("CI"):
            pytest.fail("CI requires the test media: " + reason)
        pytest.skip(reason)
    return p


def _true_center(k: int) -> tuple[float, float]:
    x, y, s = FACE
    return X0 + k * DX + (x - CROP[2]) + s / 2, Y0 + k * DY + (y - CROP[0]) + s / 2


def astronaut_frames() -> np.ndarray:
    import cv2

    photo = skimage_data.astronaut()[CROP[0]:CROP[1], CROP[2]:CROP[3]]
    bg = cv2.resize(skimage_data.coffee(), (W, H), interpolation=cv2.INTER_AREA)
    bg = (bg.astype(np.float32) * 0.5).astype(np.uint8)
    frames = np.empty((N_FRAMES, H, W, 3), np.uint8)
    for k in range(N_FRAMES):
        m = np.float32([[1, 0, X0 + k * DX], [0, 1, Y0 + k * DY]])  # sub-pixel motion
        f = bg.copy()
        warped = cv2.warpAffine(photo, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        mask = cv2.warpAffine(np.ones(photo.shape[:2], np.uint8), m, (W, H), flags=cv2.INTER_NEAREST)
        f[mask > 0] = warped[mask > 0]
        frames[k] = f
    return frames


def no_face_frames(n: int = 20) -> np.ndarray:
    import cv2

    bg = skimage_data.coffee()
    return np.stack([cv2.resize(bg[:, 4 * k:4 * k + 500], (320, 240), interpolation=cv2.INTER_AREA)
                     for k in range(n)])


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A raw folder (astronaut with audio in a sub-folder, a no-face clip, a corrupt file) extracted by the CLI
    with 2 worker processes."""
    root = tmp_path_factory.mktemp("extract")
    raw = root / "raw"
    write_mp4(raw / "people" / "astronaut.mp4", astronaut_frames(), fps=FPS,
              audio=synthetic_audio(N_FRAMES / FPS, seed=1))
    write_mp4(raw / "coffee.mp4", no_face_frames(), fps=FPS)
    (raw / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(3000))
    (raw / "notes.txt").write_text("not a video")
    out = root / "out"
    rc = data_main(["extract", "--raw", str(raw), "--out", str(out), "--workers", "2", "--no-progress"])
    report = json.loads((out / "extract_report.json").read_text())
    return raw, out, rc, report


def _records(report):
    return {r["video"]: r for r in report["records"]}


def test_astronaut_face_found_tracked_and_stable(small_run):
    raw, out, rc, report = small_run
    rec = _records(report)["people/astronaut"]
    assert rec["status"] == "ok" and rec["frames_in"] == N_FRAMES and rec["frames_out"] == N_FRAMES
    assert rec["detected_fraction"] >= 0.9
    assert rec["jitter"] < 0.01, rec
    assert rec["shots"] == 1
    # the box follows the moving face: crops look alike although the face moved by 136 px
    src = open_video(out / "faces" / "people" / "astronaut")
    assert src.num_frames == N_FRAMES
    frames = src.get_frames(range(N_FRAMES))
    assert frames[0].shape == (224, 224, 3) and frames[0].dtype == np.uint8
    first, last = frames[0].astype(np.float32), frames[-1].astype(np.float32)
    assert np.abs(first - last).mean() < 20, "the crop drifted off the face"
    # the face is still detected in the middle of the crops
    from avfmae.faces.detect import HaarFaceDetector
    import cv2
    d = HaarFaceDetector().detect(cv2.cvtColor(frames[N_FRAMES // 2], cv2.COLOR_RGB2GRAY))
    assert d, "no face in the crop"
    cx, cy = d[0].center
    assert abs(cx - 112) < 25 and abs(cy - 112) < 25


def test_astronaut_audio_and_readers(small_run):
    raw, out, rc, report = small_run
    rec = _records(report)["people/astronaut"]
    assert rec["audio"] == "ok" and rec["audio_backend"] in ("ffmpeg", "pyav")
    import soundfile as sf
    info = sf.info(str(out / "audio_16k" / "people" / "astronaut.wav"))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    wav = read_wav(out / "audio_16k" / "people" / "astronaut.wav")
    assert abs(wav.shape[0] / 16000 - N_FRAMES / FPS) < 0.1 and np.abs(wav).max() > 0.05


def test_no_face_and_unreadable_are_reported(small_run):
    raw, out, rc, report = small_run
    recs = _records(report)
    assert set(recs) == {"people/astronaut", "coffee", "broken"}  # notes.txt is not a video
    assert recs["coffee"]["status"] == "no-face" and not (out / "faces" / "coffee").exists()
    assert recs["coffee"]["audio"] == "no-audio"
    assert recs["broken"]["status"] == "unreadable" and "unreadable" in recs["broken"]["message"]
    assert report["problems"]["no_face"] == ["coffee"]
    assert report["problems"]["unreadable"] == ["broken"]
    assert rc == 1  # the CLI flags the problems
    tsv = (out / "extract_report.tsv").read_text().splitlines()
    assert tsv[0].split("\t")[:2] == ["video", "status"] and len(tsv) == 4
    assert any(line.startswith("coffee\tno-face") for line in tsv)


def test_outputs_feed_the_loader_and_doctor(small_run, capsys):
    """The extracted folder + wav work as a manifest clip: ClipSet makes model tensors, doctor passes."""
    import torch
    from avfmae.data.manifest import ClipRecord, write_manifest
    from avfmae.data.views import PreprocessConfig
    from avfmae.train.clips import ClipSet, TrainAug
    from avfmae.train.sources import Entry

    raw, out, _, _ = small_run
    rec = ClipRecord("astro", "faces/people/astronaut", "audio_16k/people/astronaut.wav", 0, "s1")
    for split in ("train", "test"):
        write_manifest(out / "splits" / "f1" / f"{split}.tsv", [rec])
    item = ClipSet([Entry(out, rec, 0)], PreprocessConfig(), "centre", TrainAug(kind="none"))[0]
    assert item["video"].shape == (3, 16, 160, 160) and item["audio"].shape == (1, 256, 128)
    assert torch.isfinite(item["video"]).all() and torch.isfinite(item["audio"]).all()
    assert data_main(["doctor", str(out)]) == 0
    assert "OK: every clip is usable" in capsys.readouterr().out


def test_resume_redoes_only_unfinished(small_run, tmp_path):
    raw, out0, _, _ = small_run
    out = tmp_path / "out"
    shutil.copytree(out0, out)
    cfg = ExtractConfig()
    again = run_extract(raw, out, cfg, workers=1, progress=False)
    assert again.processed == [] and sorted(again.skipped) == ["broken", "coffee", "people/astronaut"]
    # a run killed while writing the astronaut: no marker, a half-written temp folder, a stale final folder
    (out / "done" / "people" / "astronaut.json").unlink()
    partial = out / "faces" / "people" / ".astronaut.tmp-99999"
    partial.mkdir()
    (partial / "img_00001.jpg").write_bytes(b"partial")
    stamp = (out / "done" / "coffee.json").stat().st_mtime_ns
    resumed = run_extract(raw, out, cfg, workers=1, progress=False)
    assert resumed.processed == ["people/astronaut"]
    assert not partial.exists()
    assert len(list((out / "faces" / "people" / "astronaut").glob("img_*.jpg"))) == N_FRAMES
    assert (out / "done" / "coffee.json").stat().st_mtime_ns == stamp
    # a marker whose frame folder vanished is redone too; --retry-failed redoes the failures
    shutil.rmtree(out / "faces" / "people" / "astronaut")
    assert run_extract(raw, out, cfg, workers=1, progress=False).processed == ["people/astronaut"]
    retried = run_extract(raw, out, cfg, workers=1, progress=False, retry_failed=True)
    assert sorted(retried.processed) == ["broken", "coffee"]


def test_megamind_real_footage(megamind, tmp_path):
    """OpenCV's Megamind.avi: 270 frames at 23.976 fps, 5 shots (3 cuts + a fade-in from black), two
    animated faces with expressions, AC3 audio."""
    rec = extract_video(megamind, "Megamind", tmp_path, ExtractConfig())
    assert rec["status"] == "ok" and rec["frames_in"] == 270
    assert rec["frames_out"] == round(270 / 23.976 * 25)
    assert rec["detected_fraction"] >= 0.6, rec
    assert rec["jitter"] < 0.01 and rec["jitter"] < rec["raw_jitter"] / 4, rec
    assert rec["shots"] >= 4
    src = open_video(tmp_path / "faces" / "Megamind")
    assert src.num_frames == rec["frames_out"]
    assert src.get_frames([0, 100, src.num_frames - 1])[1].shape == (224, 224, 3)
    if ffmpeg_path():
        assert rec["audio"] == "ok" and rec["audio_backend"] == "ffmpeg"
        assert abs(rec["audio_seconds"] - 11.3) < 0.3
        wav = read_wav(tmp_path / "audio_16k" / "Megamind.wav")
        assert np.abs(wav).max() > 0.01
    else:  # decord and PyAV cannot decode this AC3 track: said clearly, with the fix
        assert rec["audio"] == "failed" and "apt-get install ffmpeg" in rec["message"]


# ------------------------------------------------------------------------------------ tracking / crop units
def test_tracking_smooths_noise_bridges_gaps_and_ignores_flicker():
    rng = np.random.default_rng(0)
    n = 60
    dets = []
    for t in range(n):
        frame = []
        if t % 7 != 3:  # a missed detection every 7th frame
            cx, cy, s = 100 + 2.0 * t + rng.normal(0, 3), 120 + rng.normal(0, 3), 80 * np.exp(rng.normal(0, .05))
            frame.append(Detection(cx - s / 2, cy - s / 2, s, s))
        if t % 5 == 0:  # a small flickering false positive elsewhere
            frame.append(Detection(400, 300, 30, 30))
        dets.append(frame)
    chain = main_chain(build_tracks(dets, max_gap=25))
    assert len(chain) == 1 and chain[0].median_side > 60
    path = smooth_path(chain, n, fps=25)
    assert path.detected.sum() == n - len([t for t in range(n) if t % 7 == 3])
    truth = 100 + 2.0 * np.arange(n)
    assert np.abs(path.cx - truth)[3:-3].max() < 4
    assert jitter(path) < 0.01


def test_cuts_split_tracks_and_paths():
    diffs = [0.0] + [1.0] * 29 + [40.0] + [1.2] * 29
    assert detect_cuts(diffs) == [30]
    dets = [[Detection(50, 50, 100, 100)] if t < 30 else [Detection(300, 60, 100, 100)] for t in range(60)]
    tracks = build_tracks(dets, cuts=[30])
    assert len(tracks) == 2
    # without the cut, a face far away in the same shot is someone else: not chained
    assert len(main_chain(tracks)) == 1
    path = smooth_path(main_chain(tracks, cuts=[30]), 60, 25, cuts=[30])
    assert np.allclose(path.cx[:30], 100) and np.allclose(path.cx[30:], 350)  # no drift across the cut
    assert jitter(path) < 1e-9


def test_output_frame_map():
    t = np.arange(24) / 24.0
    m = output_frame_map(t, 24.0, 25.0)
    assert len(m) == 25 and m[0] == 0 and m[-1] == 23 and np.all(np.diff(m) >= 0)
    assert list(output_frame_map(t, 24.0, 0)) == list(range(24))
    assert len(output_frame_map(np.arange(50) / 50.0, 50.0, 25.0)) == 25


def test_crop_rotation_levels_a_tilted_line():
    import cv2
    img = np.zeros((200, 200, 3), np.uint8)
    # a line descending to the right by 20 degrees through (100, 100)
    a = np.radians(20)
    p0 = (int(100 - 60 * np.cos(a)), int(100 - 60 * np.sin(a)))
    p1 = (int(100 + 60 * np.cos(a)), int(100 + 60 * np.sin(a)))
    cv2.line(img, p0, p1, (255, 255, 255), 3)
    out = crop_face(img, 100, 100, 160, 160, angle_deg=20)
    rows = np.nonzero(out[:, :, 0].max(axis=1) > 128)[0]
    assert rows.max() - rows.min() < 8  # horizontal after alignment
    m = crop_matrix(100, 100, 50, 0, 100)
    assert np.allclose(m @ np.array([100, 100, 1.0]), [50, 50])
    # large downscale path and out-of-frame padding
    big = np.full((1000, 1000, 3), 200, np.uint8)
    small = crop_face(big, 20, 20, 800, 64, margin=0.1)
    assert small.shape == (64, 64, 3) and small[0, 0].max() == 0 and small[-1, -1].min() > 150
