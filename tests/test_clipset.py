"""ClipSet, the one clip loader: modes, targets, bad-clip policy, data-root escapes, DataLoader workers."""
import logging

import pytest
import torch
from torch.utils.data import DataLoader

from avfmae.data.errors import AudioError, ClipError, VideoError
from avfmae.data.manifest import ClipRecord, ManifestError
from avfmae.data.synthetic import synthetic_audio, synthetic_frames, write_frame_folder, write_mp4, write_wav
from avfmae.data.views import PreprocessConfig
from avfmae.train.clips import ClipSet, TrainAug, collate
from avfmae.train.sources import Entry

PCFG = PreprocessConfig()
NO_AUG = TrainAug(kind="none")


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
BROKEN = ClipRecord("bad", "videos/broken.mp4", "audio/a0.wav", 0)
NO_WAV = ClipRecord("nowav", "videos/v0.mp4", "audio/none.wav", 0)


def entries(root, records):
    return [Entry(root, r, r.target) for r in records]


def test_test_mode_all_views_and_targets(root):
    ds = ClipSet(entries(root, GOOD), PCFG, "test", NO_AUG)
    item = ds[1]
    assert item["video"].shape == (4, 3, 16, 160, 160) and item["audio"].shape == (4, 1, 256, 128)
    assert item["target"].dtype == torch.int64 and int(item["target"]) == 2
    assert item["clip"] == "f1" and item["index"] == 1
    assert ds[3]["target"].dtype == torch.float32 and ds[3]["target"].tolist() == [0.5, -0.25]
    assert ds[2]["audio"].shape == (4, 1, 256, 128)


def test_centre_mode_is_one_view_of_the_test_views(root):
    centre = ClipSet(entries(root, GOOD), PCFG, "centre", NO_AUG)[0]
    assert centre["video"].shape == (3, 16, 160, 160) and centre["audio"].shape == (1, 256, 128)
    # 2 segments x 2 crops on a 48-px clip: the crops are identical (frames resized to 160 = the crop); the
    # centre window's start lies between the two segments' starts, so it differs from both unless the clip is short
    test = ClipSet(entries(root, GOOD), PCFG, "test", NO_AUG)[0]
    assert torch.equal(test["video"][0], test["video"][1])


def test_train_items_are_a_function_of_index_and_seed(root):
    aug = TrainAug(kind="finetune", rand_augment="rand-m7-n4-mstd0.5-inc1", reprob=0.25)
    ds = ClipSet(entries(root, GOOD), PCFG, "train", aug)
    a, b, c = ds[(1, 7)], ds[(1, 7)], ds[(1, 8)]
    assert a["video"].shape == (3, 16, 160, 160) and a["audio"].shape == (1, 256, 128)
    assert torch.equal(a["video"], b["video"]) and torch.equal(a["audio"], b["audio"])
    assert not torch.equal(a["video"], c["video"])


def test_bad_clip_raises_naming_the_file(root):
    ds = ClipSet(entries(root, [BROKEN] + GOOD), PCFG, "centre", NO_AUG)
    with pytest.raises(VideoError, match="broken.mp4"):
        ds[0]
    with pytest.raises(AudioError, match="none.wav"):
        ClipSet(entries(root, [NO_WAV]), PCFG, "centre", NO_AUG)[0]


def test_bad_clips_skipped_logged_and_collected(root, caplog):
    ds = ClipSet(entries(root, [BROKEN, NO_WAV] + GOOD[:2]), PCFG, "centre", NO_AUG, on_error="skip")
    with caplog.at_level(logging.WARNING, logger="avfmae.train"):
        item = ds[0]
    assert item["clip"] == "v0" and item["index"] == 2          # the next good clip stands in
    assert [s["clip"] for s in ds.skipped] == ["bad", "nowav"]
    assert ds.skipped[0]["file"].endswith("videos/broken.mp4") and "none.wav" in ds.skipped[1]["reason"]
    assert "'bad'" in caplog.text and "broken.mp4" in caplog.text and "'nowav'" in caplog.text
    with pytest.raises(ClipError, match="all 1 clips"):
        ClipSet(entries(root, [BROKEN]), PCFG, "centre", NO_AUG, on_error="skip")[0]


def test_paths_escaping_the_data_root(root):
    with pytest.raises(ManifestError, match="outside the data root"):
        ClipSet(entries(root, [ClipRecord("esc", "../outside.mp4", None, 0)]), PCFG, "centre", NO_AUG)[0]
    link = root / "link"
    if not link.exists():
        link.symlink_to(root.parent)
    ds = ClipSet(entries(root, [ClipRecord("sym", "link/x.mp4", None, 0), GOOD[0]]), PCFG, "centre", NO_AUG,
                 on_error="skip")
    assert ds[0]["clip"] == "v0" and ds.skipped[0]["clip"] == "sym"


def test_dataloader_two_workers(root):
    ds = ClipSet(entries(root, [BROKEN] + GOOD[:2]), PCFG, "centre", NO_AUG, on_error="skip")
    (batch,) = list(DataLoader(ds, batch_size=3, num_workers=2, collate_fn=collate))
    assert batch["video"].shape == (3, 3, 16, 160, 160)
    assert batch["clip"] == ["v0", "v0", "f1"]      # item 0 (bad) -> the next one, v0; items 1, 2 as asked
    strict = ClipSet(entries(root, [BROKEN] + GOOD[:2]), PCFG, "centre", NO_AUG)
    with pytest.raises(ClipError, match="broken.mp4"):
        next(iter(DataLoader(strict, batch_size=1, num_workers=2, collate_fn=collate)))


def test_invalid_arguments(root):
    for kwargs, name in (({"mode": "val"}, "mode"), ({"on_error": "ignore"}, "on_error"),
                         ({"aug": TrainAug(kind="strong")}, "TrainAug.kind")):
        args = {"mode": "test", "aug": NO_AUG, "on_error": "raise", **kwargs}
        with pytest.raises(ValueError, match=name):
            ClipSet(entries(root, GOOD), PCFG, args["mode"], args["aug"], on_error=args["on_error"])
