"""Readers: video files, frame folders, wavs and audio tracks, and a clear ClipError for every bad input."""
import os

import numpy as np
import pytest
import soundfile as sf

from avfmae.data.synthetic import synthetic_audio, synthetic_frames, write_frame_folder, write_mp4, write_wav
from avfmae.data.errors import AudioError, ClipError, VideoError
from avfmae.data.readers import (FrameFolder, load_audio, open_video, read_video_audio, read_wav,
                                 to_rgb_uint8)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    frames = synthetic_frames(30, 64, 64, seed=3)
    audio = synthetic_audio(1.2, seed=3)
    return {
        "root": root,
        "frames": frames,
        "audio": audio,
        "mp4": write_mp4(root / "clip.mp4", frames, 25, audio=audio),
        "mp4_silent": write_mp4(root / "silent.mp4", frames, 25, audio=None),
        "folder": write_frame_folder(root / "frames", frames, "png"),
        "wav": write_wav(root / "clip.wav", audio),
    }


# ----------------------------------------------------------------------------------------------------- video
def test_mp4_decord_and_pyav_agree(media):
    d = open_video(media["mp4"], backend="decord")
    p = open_video(media["mp4"], backend="pyav")
    assert d.num_frames == p.num_frames == 30
    assert d.fps == pytest.approx(25.0) and p.fps == pytest.approx(25.0)
    idx = [0, 4, 4, 29]
    fd, fp = d.get_frames(idx), p.get_frames(idx)
    assert all(f.shape == (64, 64, 3) and f.dtype == np.uint8 for f in fd)
    assert all(np.array_equal(a, b) for a, b in zip(fd, fp))
    np.testing.assert_array_equal(d.frame_timestamps([0, 29]), p.frame_timestamps([0, 29]))
    assert d.frame_timestamps([1]).dtype == np.float32


def test_frame_folder_sorted_and_lossless(media):
    src = open_video(media["folder"])
    assert isinstance(src, FrameFolder) and src.num_frames == 30 and src.fps is None
    f = src.get_frames([5, 0])
    assert np.array_equal(f[0], media["frames"][5]) and np.array_equal(f[1], media["frames"][0])


def test_grayscale_and_rgba_frames_become_rgb(tmp_path):
    from PIL import Image

    gray = (np.arange(32 * 32, dtype=np.uint16).reshape(32, 32) % 256).astype(np.uint8)
    folder = tmp_path / "gray"
    write_frame_folder(folder, np.stack([gray, gray]), "png")
    Image.fromarray(np.zeros((32, 32, 4), np.uint8) + 9).save(folder / "img_00002.png")
    Image.fromarray(gray).convert("P").save(folder / "img_00003.png")
    frames = open_video(folder).get_frames([0, 2, 3])
    for f in frames:
        assert f.shape == (32, 32, 3) and f.dtype == np.uint8
    assert np.array_equal(frames[0][..., 0], gray) and np.array_equal(frames[0][..., 2], gray)
    assert to_rgb_uint8(np.zeros((4, 4, 1), np.uint8)).shape == (4, 4, 3)


def test_corrupt_video_file(tmp_path):
    bad = tmp_path / "garbage.mp4"
    bad.write_bytes(os.urandom(4000))
    with pytest.raises(VideoError) as e:
        open_video(bad)
    assert "garbage.mp4" in str(e.value) and "Re-encode" in str(e.value) and e.value.kind == "corrupt"


def test_truncated_video_file(media, tmp_path):
    data = media["mp4"].read_bytes()
    cut = tmp_path / "truncated.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError, match="truncated"):
        open_video(cut)


def test_mid_file_decode_failure_reports_both_readers(media, monkeypatch):
    """decord opens the file but fails mid-stream; PyAV is tried once. When PyAV cannot stand in, the error names
    the file and both readers' reasons (PyAV's used to be dropped)."""
    from avfmae.data import readers

    src = open_video(media["mp4"], backend="decord")

    class Broken:
        def get_batch(self, idx):
            raise RuntimeError("DECORDError: corrupt packet")

    src._vr = Broken()
    monkeypatch.setattr(readers, "PyAVVideo", lambda path: (_ for _ in ()).throw(RuntimeError("invalid data xyz")))
    with pytest.raises(VideoError, match=r"corrupt packet.*PyAV could not open it either \(invalid data xyz\)") as e:
        src.get_frames([0, 1])
    assert "clip.mp4" in str(e.value)
    monkeypatch.setattr(readers, "PyAVVideo", lambda path: type("Short", (), {"num_frames": 7})())
    with pytest.raises(VideoError, match="PyAV counts 7 frames, decord 30"):
        src.get_frames([0, 1])


def test_missing_and_empty_video(tmp_path):
    with pytest.raises(VideoError) as e:
        open_video(tmp_path / "nope.mp4")
    assert e.value.kind == "missing"
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(VideoError, match="empty"):
        open_video(tmp_path / "empty.mp4")
    (tmp_path / "noframes").mkdir()
    with pytest.raises(VideoError, match="no frames"):
        open_video(tmp_path / "noframes")


def test_corrupt_frame_image(tmp_path):
    folder = write_frame_folder(tmp_path / "f", synthetic_frames(3, 16, 16), "jpg")
    (folder / "img_00001.jpg").write_bytes(b"not a jpeg")
    src = open_video(folder)
    with pytest.raises(VideoError, match="img_00001.jpg"):
        src.get_frames([0, 1])


# ----------------------------------------------------------------------------------------------------- audio
def test_pcm16_wav_is_int16_over_32768(media):
    w = read_wav(media["wav"])
    raw, sr = sf.read(str(media["wav"]), dtype="int16")
    assert sr == 16000 and w.dtype == np.float32
    np.testing.assert_array_equal(w, raw.astype(np.float32) / np.float32(32768))
    seg = read_wav(media["wav"], offset=100, count=50)
    np.testing.assert_array_equal(seg, w[100:150])


def test_missing_and_empty_wav(tmp_path):
    with pytest.raises(AudioError) as e:
        read_wav(tmp_path / "none.wav")
    assert e.value.kind == "missing" and "none.wav" in str(e.value)
    empty = write_wav(tmp_path / "empty.wav", np.zeros(0, np.float32))
    with pytest.raises(AudioError) as e:
        read_wav(empty)
    assert e.value.kind == "empty"
    (tmp_path / "junk.wav").write_bytes(b"RIFF1234WAVEjunk")
    with pytest.raises(AudioError):
        read_wav(tmp_path / "junk.wav")


def test_wrong_sample_rate_is_resampled(tmp_path):
    x = synthetic_audio(1.0, 44100, seed=1)
    w = read_wav(write_wav(tmp_path / "44k.wav", x, 44100))
    assert w.dtype == np.float32 and abs(w.shape[0] - 16000) <= 1
    t = np.arange(8000) / 8000
    tone = (0.5 * np.sin(2 * np.pi * 500 * t)).astype(np.float32)
    up = read_wav(write_wav(tmp_path / "8k.wav", tone, 8000, subtype="FLOAT"))
    assert up.shape[0] == 16000
    ref = 0.5 * np.sin(2 * np.pi * 500 * np.arange(16000) / 16000)
    assert np.abs(up[200:-200] - ref[200:-200]).max() < 0.02


def test_stereo_is_downmixed(tmp_path):
    left = synthetic_audio(0.5, seed=2)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    w = read_wav(write_wav(tmp_path / "stereo.wav", stereo, 16000, subtype="FLOAT"))
    assert w.ndim == 1 and w.shape[0] == left.shape[0]
    np.testing.assert_allclose(w, left / 2, atol=1e-7)


def test_audio_track_of_video(media):
    w = read_video_audio(media["mp4"])
    assert w.dtype == np.float32 and w.ndim == 1
    assert abs(w.shape[0] - media["audio"].shape[0]) < 2048  # AAC priming/padding
    p = read_video_audio(media["mp4"], backend="pyav")
    assert abs(p.shape[0] - media["audio"].shape[0]) < 4096
    assert np.abs(p).max() > 0.1 and np.abs(w).max() > 0.1
    assert np.array_equal(load_audio(media["mp4"], None), w)


def test_video_without_audio_track_and_no_wav(media):
    with pytest.raises(AudioError) as e:
        load_audio(media["mp4_silent"], None)
    assert e.value.kind == "no-audio"
    with pytest.raises(AudioError, match="frame folder"):
        load_audio(media["folder"], None)


def test_clip_error_is_value_error_and_picklable():
    import pickle

    e = VideoError("/x/y.mp4", "broken", "Fix it", kind="corrupt")
    assert isinstance(e, ValueError) and isinstance(e, ClipError)
    e2 = pickle.loads(pickle.dumps(e))
    assert type(e2) is VideoError and e2.path == "/x/y.mp4" and e2.kind == "corrupt" and str(e2) == str(e)
    assert str(ClipError("whole message")) == "whole message"


def test_frame_folder_images_have_the_pixels_of_the_arrays(tmp_path):
    """get_images (PIL, for the training transform) and get_frames (arrays) give the same RGB pixels, for RGB
    jpgs and for grayscale / palette frames that need converting; non-image files are not frames."""
    from PIL import Image

    from avfmae.data.readers import FrameFolder

    rng = np.random.RandomState(0)
    Image.fromarray(rng.randint(0, 256, (12, 10, 3), dtype=np.uint8)).save(tmp_path / "a_000.jpg", quality=90)
    Image.fromarray(rng.randint(0, 256, (12, 10), dtype=np.uint8)).save(tmp_path / "a_001.png")
    Image.fromarray(rng.randint(0, 256, (12, 10, 3), dtype=np.uint8)).convert("P").save(tmp_path / "a_002.png")
    (tmp_path / "notes.txt").write_text("not a frame")
    folder = FrameFolder(tmp_path)
    assert [p.name for p in folder.files] == ["a_000.jpg", "a_001.png", "a_002.png"]
    for im, arr in zip(folder.get_images([2, 0, 1, 0]), folder.get_frames([2, 0, 1, 0])):
        assert im.mode == "RGB" and arr.shape == (12, 10, 3)
        assert np.array_equal(np.asarray(im), arr)
    grey = np.asarray(Image.open(tmp_path / "a_001.png"))
    assert np.array_equal(folder.get_frames([1])[0], np.repeat(grey[:, :, None], 3, axis=2))
