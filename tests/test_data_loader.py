"""ClipDataset: modes, transforms hook, bad-clip policy, data-root escapes, DataLoader workers."""
import logging

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from avfmae.data.synthetic import synthetic_audio, synthetic_frames, write_frame_folder, write_mp4, write_wav
from avfmae.data.errors import AudioError, ClipError, VideoError
from avfmae.data.loader import ClipDataset, skipped_in_batch
from avfmae.data.manifest import ClipRecord, ManifestError


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    for i in range(2):
        frames = synthetic_frames(20 + 30 * i, 48, 48, seed=i)
        audio = synthetic_audio((20 + 30 * i) / 25, seed=i)
        write_mp4(root / "videos" / f"v{i}.mp4", frames, 25, audio=audio)
        write_frame_folder(root / "frames" / f"f{i}", frames, "jpg")
        write_wav(root / "audio" / f"a{i}.wav", audio)
    (root / "videos" / "broken.mp4").write_bytes(b"\x00" * 3000)
    return root


GOOD = [
    ClipRecord("v0", "videos/v0.mp4", "audio/a0.wav", 1),
    ClipRecord("f1", "frames/f1", "audio/a1.wav", 2),
    ClipRecord("v1track", "videos/v1.mp4", None, 3),          # audio from the mp4's AAC track
    ClipRecord("reg", "frames/f0", "audio/a0.wav", (0.5, -0.25)),
]


def test_test_mode_all_views(root):
    ds = ClipDataset(GOOD, root, mode="test")
    item = ds[1]
    assert item["video"].shape == (4, 3, 16, 160, 160) and item["audio"].shape == (4, 1, 256, 128)
    assert item["target"].dtype == torch.int64 and int(item["target"]) == 2
    assert item["clip"] == "f1" and item["index"] == 1 and item["skipped"] == ""
    assert ds[3]["target"].dtype == torch.float32 and ds[3]["target"].tolist() == [0.5, -0.25]
    assert ds[2]["audio"].shape == (4, 1, 256, 128)


def test_eval_centre_and_frames_equal_mp4_geometry(root):
    ds = ClipDataset(GOOD, root, mode="eval-centre")
    item = ds[0]
    assert item["video"].shape == (3, 16, 160, 160) and item["audio"].shape == (1, 256, 128)


def test_train_mode_hooks(root):
    seen = {}

    def vt(frames):
        seen["n"], seen["shape"], seen["dtype"] = len(frames), frames[0].shape, frames[0].dtype
        return torch.zeros(3, 16, 112, 112)

    def at(audio):
        seen["audio"] = tuple(audio.shape)
        return audio * 0

    ds = ClipDataset(GOOD, root, mode="train", video_transform=vt, audio_transform=at)
    item = ds[1]
    assert seen == {"n": 16, "shape": (48, 48, 3), "dtype": np.uint8, "audio": (1, 256, 128)}
    assert item["video"].shape == (3, 16, 112, 112) and torch.all(item["audio"] == 0)
    plain = ClipDataset(GOOD, root, mode="train", gain=None)
    torch.manual_seed(0)
    assert plain[1]["video"].shape == (3, 16, 160, 160)


def test_bad_clip_raises_by_default(root):
    ds = ClipDataset([ClipRecord("bad", "videos/broken.mp4", "audio/a0.wav", 0)] + GOOD, root)
    with pytest.raises(VideoError, match="broken.mp4"):
        ds[0]
    missing_wav = ClipDataset([ClipRecord("m", "videos/v0.mp4", "audio/none.wav", 0)], root)
    with pytest.raises(AudioError, match="none.wav"):
        missing_wav[0]


def test_bad_clip_skipped_logged_and_collected(root, caplog):
    records = [ClipRecord("bad", "videos/broken.mp4", "audio/a0.wav", 0),
               ClipRecord("nowav", "videos/v0.mp4", "audio/none.wav", 0)] + GOOD[:2]
    ds = ClipDataset(records, root, mode="eval-centre", on_error="skip")
    with caplog.at_level(logging.WARNING, logger="avfmae.data"):
        item = ds[0]
    assert item["clip"] == "v0" and item["index"] == 2 and item["skipped"] == "bad;nowav"
    assert [s.clip for s in ds.skipped] == ["bad", "nowav"]
    assert "broken.mp4" in ds.skipped[0].path and "none.wav" in ds.skipped[1].reason
    text = caplog.text
    assert "skipping clip bad" in text and "broken.mp4" in text and "skipping clip nowav" in text
    all_bad = ClipDataset(records[:1], root, on_error="skip")
    with pytest.raises(ClipError, match="all 1 clips"):
        all_bad[0]


def test_path_escaping_root(root):
    ds = ClipDataset([ClipRecord("esc", "../outside.mp4", None, 0)], root)
    with pytest.raises(ManifestError, match="outside the data root"):
        ds[0]
    link = root / "link"
    if not link.exists():
        link.symlink_to(root.parent)
    ds = ClipDataset([ClipRecord("sym", "link/x.mp4", None, 0), GOOD[0]], root, on_error="skip")
    item = ds[0]
    assert item["clip"] == "v0" and ds.skipped[0].clip == "sym"


def test_dataloader_two_workers(root):
    records = [ClipRecord("bad", "videos/broken.mp4", "audio/a0.wav", 0)] + GOOD[:2]
    ds = ClipDataset(records, root, mode="eval-centre", on_error="skip")
    loader = DataLoader(ds, batch_size=3, num_workers=2)
    (batch,) = list(loader)
    assert batch["video"].shape == (3, 3, 16, 160, 160)
    assert skipped_in_batch(batch) == ["bad"]
    strict = DataLoader(ClipDataset(records, root, mode="eval-centre"), batch_size=1, num_workers=2)
    with pytest.raises(ClipError, match="broken.mp4"):
        next(iter(strict))


def test_invalid_arguments(root):
    with pytest.raises(ValueError):
        ClipDataset(GOOD, root, mode="val")
    with pytest.raises(ValueError):
        ClipDataset(GOOD, root, on_error="ignore")
