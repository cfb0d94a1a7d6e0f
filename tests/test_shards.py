"""Sharded corpora (avfmae.shards): manifest -> shards -> the same samples; rank/worker splitting; exact resume;
resumable writing."""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from avfmae.data.manifest import ClipRecord, write_manifest
from avfmae.data.views import PreprocessConfig, load_clip_views, stack_views
from avfmae.shards import ShardDataset, ShardError, decode_views, read_index, resume_point, write_shards
from avfmae.shards.__main__ import main

pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create")

CFG = PreprocessConfig(num_segments=1, num_crops=1, crop_size=64, short_side_size=64, clip_len=4, stride=2,
                       target_length=64)


def _fake_set(root: Path, n: int) -> Path:
    """n clips of random bytes (never decoded): enough for splitting, shuffling and resume."""
    rng = np.random.RandomState(1)
    records = []
    for i in range(n):
        (root / "v").mkdir(parents=True, exist_ok=True)
        (root / "v" / f"c{i:03d}.mp4").write_bytes(rng.bytes(50 + i))
        (root / "v" / f"c{i:03d}.wav").write_bytes(rng.bytes(20))
        records.append(ClipRecord(f"c{i:03d}", f"v/c{i:03d}.mp4", f"v/c{i:03d}.wav", i % 3, f"s{i % 4}"))
    write_manifest(root / "split.tsv", records)
    return root / "split.tsv"


def _clips(loader) -> list[str]:
    out = []
    for batch in loader:
        out.extend(batch)
    return out


def _loader(ds, workers, batch):
    return DataLoader(ds, batch_size=batch, num_workers=workers, collate_fn=lambda xs: [x["clip"] for x in xs])


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    from avfmae.data.synthetic import make_clips

    root = tmp_path_factory.mktemp("media")
    recs = make_clips(root, 2, "mp4", num_frames=20, size=32, seed=0)
    recs += make_clips(root, 1, "mp4-track", num_frames=20, size=32, seed=5)
    recs += make_clips(root, 2, "frames", num_frames=20, size=32, seed=7)
    recs = [ClipRecord(r.clip, r.video, r.audio, r.target, f"s{i}" if i % 2 else None)
            for i, r in enumerate(recs)]
    write_manifest(root / "split.tsv", recs)
    return root, recs


def test_round_trip_gives_the_manifest_samples(media, tmp_path):
    root, recs = media
    assert main(["write", "--manifest", f"{root / 'split.tsv'}@{root}", "--out", str(tmp_path / "s"),
                 "--clips-per-shard", "2", "--workers", "2"]) == 0
    index = read_index(tmp_path / "s")
    assert [s["name"] for s in index["shards"]] == ["shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]
    assert [s["samples"] for s in index["shards"]] == [2, 2, 1]
    import hashlib
    for s in index["shards"]:
        assert s["sha256"] == hashlib.sha256((tmp_path / "s" / s["name"]).read_bytes()).hexdigest()
    ds = ShardDataset(tmp_path / "s", shuffle_shards=False, decode=decode_views(CFG))
    samples = list(ds)
    assert [s["clip"] for s in samples] == [r.clip for r in recs]
    for s, r in zip(samples, recs):
        video, audio = stack_views(load_clip_views(root / r.video, root / r.audio if r.audio else None, CFG))
        assert s["video"].shape == video.shape and torch.equal(s["video"], video), r.clip
        assert torch.equal(s["audio"], audio), r.clip
        want = torch.tensor(list(r.target), dtype=torch.float32) if isinstance(r.target, tuple) else r.target
        assert torch.equal(s["target"], torch.as_tensor(want)), r.clip
        assert s["subject"] == (r.subject or "")


def test_two_ranks_two_workers_cover_every_clip_once_per_epoch(tmp_path):
    manifest = _fake_set(tmp_path / "d", 23)
    write_shards(manifest, tmp_path / "d", tmp_path / "s", clips_per_shard=2)
    every = [f"c{i:03d}" for i in range(23)]
    orders = []
    for epoch in (0, 1):
        seen = []
        for rank in (0, 1):
            ds = ShardDataset(tmp_path / "s", rank=rank, world=2, workers=2, batch_size=2, seed=3, epoch=epoch,
                              buffer=4, decode=None)
            got = _clips(_loader(ds, 2, 2))
            assert len(got) == ds.samples()
            seen += got
        assert Counter(seen) == Counter(every), epoch
        orders.append(seen)
    assert orders[0] != orders[1]   # the epoch reshuffles


def test_dataloader_order_is_the_documented_schedule(tmp_path):
    manifest = _fake_set(tmp_path / "d", 11)
    write_shards(manifest, tmp_path / "d", tmp_path / "s", clips_per_shard=2)
    ds = ShardDataset(tmp_path / "s", workers=2, batch_size=2, buffer=0, shuffle_shards=False, decode=None)
    # shards 0..5 hold clips (0,1) (2,3) (4,5) (6,7) (8,9) (10); lane 0 = shards 0,2,4, lane 1 = shards 1,3,5;
    # batches of 2 alternate lanes: by hand
    want = ["c000", "c001", "c002", "c003", "c004", "c005", "c006", "c007", "c008", "c009", "c010"]
    want = want[0:2] + want[2:4] + want[4:6] + want[6:8] + want[8:10] + want[10:]
    assert _clips(_loader(ds, 2, 2)) == want
    ds3 = ShardDataset(tmp_path / "s", workers=3, batch_size=2, buffer=0, shuffle_shards=False, decode=None)
    # lanes: (0,1)+(6,7) | (2,3)+(8,9) | (4,5)+(10)
    want3 = ["c000", "c001", "c002", "c003", "c004", "c005", "c006", "c007", "c008", "c009", "c010"]
    assert _clips(_loader(ds3, 3, 2)) == want3
    ds3u = ShardDataset(tmp_path / "s", workers=3, batch_size=3, buffer=0, shuffle_shards=False, decode=None)
    # batches of 3 per lane: lane 0 (0,1,6) (7) | lane 1 (2,3,8) (9) | lane 2 (4,5,10)
    assert _clips(_loader(ds3u, 3, 3)) == ["c000", "c001", "c006", "c002", "c003", "c008", "c004", "c005", "c010",
                                           "c007", "c009"]


def test_resume_point_by_hand():
    # lanes of 5, 2, 4 samples, batches of 2: (0,2) (1,2) (2,2) (0,2) (2,2) (0,1)
    assert resume_point([5, 2, 4], 2, 0) == ([0, 0, 0], 0)
    assert resume_point([5, 2, 4], 2, 6) == ([2, 2, 2], 0)
    assert resume_point([5, 2, 4], 2, 8) == ([4, 2, 2], 2)
    assert resume_point([5, 2, 4], 2, 10) == ([4, 2, 4], 0)
    assert resume_point([5, 2, 4], 2, 11) == ([5, 2, 4], 0)
    with pytest.raises(ValueError, match="inside a batch"):
        resume_point([5, 2, 4], 2, 3)
    with pytest.raises(ValueError, match="only 11"):
        resume_point([5, 2, 4], 2, 12)


@pytest.mark.parametrize("workers,batch", [(2, 2), (3, 1), (0, 3)])
def test_resume_continues_at_the_same_sample(tmp_path, workers, batch):
    manifest = _fake_set(tmp_path / "d", 19)
    write_shards(manifest, tmp_path / "d", tmp_path / "s", clips_per_shard=2)
    kw = dict(rank=1, world=2, workers=workers, batch_size=batch, seed=7, epoch=2, buffer=3, decode=None)
    ds = ShardDataset(tmp_path / "s", **kw)
    full = _clips(_loader(ds, workers, batch))
    assert len(full) == len(set(full)) == ds.samples()
    boundaries, total = [], 0
    from avfmae.shards.stream import schedule
    for _, n in schedule(ds.lane_lengths(), batch):
        total += n
        boundaries.append(total)
    for k in boundaries[:-1]:
        state = json.loads(json.dumps(ds.state(k)))       # the state survives a checkpoint as JSON
        resumed = ShardDataset.from_state(tmp_path / "s", state, decode=None)
        rest = _clips(_loader(resumed, workers, batch))
        assert full[:k] + rest == full, (k, full[:k] + rest, full)


def test_regression_targets_travel(tmp_path):
    (tmp_path / "d" / "v").mkdir(parents=True)
    (tmp_path / "d" / "v" / "a.mp4").write_bytes(b"x")
    write_manifest(tmp_path / "d" / "r.tsv", [ClipRecord("a.b/c", "v/a.mp4", None, (0.5, -2.0), "s")])
    write_shards(tmp_path / "d" / "r.tsv", tmp_path / "d", tmp_path / "s")
    (sample,) = list(ShardDataset(tmp_path / "s", decode=None))
    assert sample["clip"] == "a.b/c" and sample["meta"]["audio"] is None
    assert torch.equal(sample["target"], torch.tensor([0.5, -2.0]))
    assert list(sample["members"]) == [sample["meta"]["video"]] and sample["members"][sample["meta"]["video"]] == b"x"


def test_dataset_refuses_another_worker_count(tmp_path):
    manifest = _fake_set(tmp_path / "d", 4)
    write_shards(manifest, tmp_path / "d", tmp_path / "s", clips_per_shard=2)
    ds = ShardDataset(tmp_path / "s", workers=2, decode=None)
    with pytest.raises(ValueError, match="num_workers=0"):
        list(ds)


def test_shard_writing_resumes(tmp_path):
    manifest = _fake_set(tmp_path / "d", 7)
    out = tmp_path / "s"
    first = write_shards(manifest, tmp_path / "d", out, clips_per_shard=3)
    assert first["report"]["written"] == 3 and [s["samples"] for s in first["shards"]] == [3, 3, 1]
    before = {p.name: p.read_bytes() for p in out.glob("shard-*.tar")}
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("shard-*")}
    # a killed write: shard 1 gone (its tar half-written as a temp file, no sidecar)
    (out / "shard-000001.tar").unlink()
    (out / "shard-000001.json").unlink()
    (out / f".shard-000001.tar.{2**22 + 12345}.0badc0de.tmp").write_bytes(b"half")
    again = write_shards(manifest, tmp_path / "d", out, clips_per_shard=3)
    assert (again["report"]["written"], again["report"]["skipped"]) == (1, 2)
    assert {p.name: p.read_bytes() for p in out.glob("shard-*.tar")} == before      # byte-identical
    for name in ("shard-000000.tar", "shard-000000.json", "shard-000002.tar"):
        assert (out / name).stat().st_mtime_ns == stamps[name], name                # not rewritten
    assert not list(out.glob(".*.tmp*"))
    assert again["shards"] == first["shards"]
    # another manifest into the same folder is refused, naming the sidecar
    recs = [ClipRecord("zz", "v/c000.mp4", None, 0)] + [ClipRecord(f"c{i:03d}", f"v/c{i:03d}.mp4", None, 0)
                                                      for i in range(1, 7)]
    write_manifest(tmp_path / "d" / "other.tsv", recs)
    with pytest.raises(ShardError, match="shard-000000.json"):
        write_shards(tmp_path / "d" / "other.tsv", tmp_path / "d", out, clips_per_shard=3)


def test_truncated_shard_is_named(tmp_path):
    manifest = _fake_set(tmp_path / "d", 4)
    write_shards(manifest, tmp_path / "d", tmp_path / "s", clips_per_shard=4)
    path = tmp_path / "s" / "shard-000000.tar"
    path.write_bytes(path.read_bytes()[:700])
    with pytest.raises(ShardError, match="shard-000000.tar"):
        list(ShardDataset(tmp_path / "s", decode=None))


def test_shuffle_buffer_shuffles_within_its_window(tmp_path):
    manifest = _fake_set(tmp_path / "d", 20)
    write_shards(manifest, tmp_path / "d", tmp_path / "s", clips_per_shard=20)
    plain = [f"c{i:03d}" for i in range(20)]
    orders = []
    for seed in (0, 1):
        ds = ShardDataset(tmp_path / "s", seed=seed, buffer=4, shuffle_shards=False, decode=None)
        got = [s["clip"] for s in ds]
        assert sorted(got) == plain and got != plain
        # a buffer of 4 emits the p-th sample from the first p + 4 read: no sample comes earlier than that
        assert all(plain.index(c) < p + 4 for p, c in enumerate(got)), got
        orders.append(got)
    assert orders[0] != orders[1]
    assert [s["clip"] for s in ShardDataset(tmp_path / "s", seed=0, buffer=4, shuffle_shards=False,
                                            decode=None)] == orders[0]


def test_bad_input_is_named(tmp_path, capsys):
    assert main(["write", "--manifest", str(tmp_path / "none.tsv"), "--out", str(tmp_path / "s")]) == 2
    assert "none.tsv" in capsys.readouterr().err
    manifest = _fake_set(tmp_path / "d", 2)
    (tmp_path / "d" / "v" / "c001.mp4").unlink()
    assert main(["write", "--manifest", f"{manifest}@{tmp_path / 'd'}", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "c001.mp4" in err and "split.tsv:3" in err
    with pytest.raises(ShardError, match="no shard index"):
        ShardDataset(tmp_path / "nothing")
