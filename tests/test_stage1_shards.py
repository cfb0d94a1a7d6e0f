"""Stage-1 pre-training from shards (data=("shards:DIR",)): it trains and exports, each clip once an epoch, a stopped
and resumed run equals an uninterrupted one, and bad shard folders or configs fail before training."""
from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import pytest
import torch

from avfmae.data.manifest import read_manifest
from avfmae.shards import ShardError, write_shards
from avfmae.train import run_stage1
from avfmae.train.clips import TrainAug
from avfmae.train.common import setup
from avfmae.train.shardsource import ShardStage1
from avfmae.train.sources import SourceError
from train_fixtures import tiny_demo, tiny_stage1

pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create")


@pytest.fixture(scope="module")
def data():
    return tiny_demo()


@pytest.fixture(scope="module")
def shards(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("shards")
    write_shards(data / "splits" / "fold1" / "train.tsv", data, out, clips_per_shard=3)    # 12 clips, 4 shards
    return out


@pytest.fixture(autouse=True)
def zoo_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("AVF_ZOO_DIR", str(tmp_path / "zoo"))


def _cfg(data, shards, **kw):
    return tiny_stage1(data, **kw).replace(data=(f"shards:{shards}|buffer=4",))


def _weights(work: Path) -> dict:
    return torch.load(work / "checkpoint.pt", map_location="cpu", weights_only=True)["model"]


@pytest.fixture(scope="module")
def reference(data, shards, tmp_path_factory):
    """An uninterrupted shard run: 12 clips / batch 2 = 6 steps, checkpoints every 2 steps."""
    work = tmp_path_factory.mktemp("ref")
    return work, run_stage1(_cfg(data, shards), work)


def test_a_shard_run_trains_and_exports(data, shards, reference, tmp_path):
    work, r = reference
    assert r["steps"] == r["total_steps"] == 6 and r["steps_per_epoch"] == 6 and r["shards"] == str(shards)
    rows = list(csv.DictReader(open(work / "log.csv")))
    assert [int(x["step"]) for x in rows] == [1, 2, 3, 4, 5, 6]
    assert all(math.isfinite(float(x["loss"])) and float(x["loss"]) > 0 for x in rows)
    ck = torch.load(work / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert ck["step"] == 6 and ck["extra"]["shards"]["state"]["consumed"] == 12
    exported = run_stage1(_cfg(data, shards, export_tag="t-sh", max_steps=2), tmp_path)
    assert exported["export"] is None                     # stopped early: nothing exported
    exported = run_stage1(_cfg(data, shards, export_tag="t-sh"), tmp_path)
    assert exported["export"]["name"] == "avfmae-micro.t-sh" and Path(exported["export"]["path"]).is_file()


def _clips(stream, start, stop):
    out = []
    for step, micro in stream.batches(start, stop, {}):
        assert len(micro) == 1 and len(micro[0]["clip"]) == 2 and micro[0]["video"].shape[0] == 2
        out.extend(micro[0]["clip"])
    return out


@pytest.mark.parametrize("workers", [0, 2])
def test_an_epoch_gives_every_clip_once_and_a_restart_continues_at_the_same_clip(data, shards, tmp_path, workers):
    cfg = _cfg(data, shards, num_workers=workers)
    stream = ShardStage1(cfg, setup(cfg, tmp_path), cfg.data[0], TrainAug(kind="pretrain"))
    assert stream.spe == 6
    clips = _clips(stream, 0, 6)
    expected = sorted(r.clip for r in read_manifest(data / "splits" / "fold1" / "train.tsv"))
    assert sorted(clips) == expected                                      # each of the 12 clips once
    assert _clips(stream, 4, 6) == clips[8:]                              # a restart at step 4 (sample 8)
    if workers == 0:
        assert sorted(_clips(stream, 6, 12)) == expected                  # epoch 1: again each clip once


def test_stopped_then_resumed_equals_uninterrupted(data, shards, reference, tmp_path):
    cfg = _cfg(data, shards)
    run_stage1(cfg.replace(max_steps=3), tmp_path)            # stops mid-epoch with a checkpoint at step 3
    ck = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert ck["step"] == 3 and ck["extra"]["shards"]["state"]["consumed"] == 6
    r = run_stage1(cfg, tmp_path)                             # resumes at step 3 = sample 6 of the stream
    assert r["steps"] == 6
    ref, got = _weights(reference[0]), _weights(tmp_path)
    assert ref.keys() == got.keys()
    for k in ref:
        assert torch.equal(ref[k], got[k]), k


def test_resume_with_another_worker_count_is_refused(data, shards, tmp_path):
    cfg = _cfg(data, shards)
    run_stage1(cfg.replace(max_steps=2), tmp_path)
    with pytest.raises(ValueError, match=r"workers=0.*Resume with workers=0"):
        run_stage1(cfg.replace(num_workers=2), tmp_path)


def test_bad_shard_folders_and_configs_fail_before_training(data, shards, tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(ShardError, match=rf"{re.escape(str(missing))}: no such shard folder.*avfmae.shards write"):
        run_stage1(_cfg(data, missing), tmp_path / "w1")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ShardError, match=rf"{re.escape(str(empty / 'index.json'))}: no shard index"):
        run_stage1(_cfg(data, empty), tmp_path / "w2")
    broken = tmp_path / "broken"
    broken.mkdir()
    for p in shards.iterdir():
        (broken / p.name).write_bytes(p.read_bytes())
    (broken / "shard-000002.tar").unlink()
    with pytest.raises(ShardError, match=rf"{re.escape(str(broken / 'shard-000002.tar'))}: missing.*re-run"):
        run_stage1(_cfg(data, broken), tmp_path / "w3")
    mixed = _cfg(data, shards).replace(data=(f"shards:{shards}", f"{data}/splits/fold1/train.tsv"))
    with pytest.raises(SourceError, match="stands alone in data"):
        run_stage1(mixed, tmp_path / "w4")
    with pytest.raises(SourceError, match="only buffer=N"):
        run_stage1(_cfg(data, shards).replace(data=(f"shards:{shards}|name=x",)), tmp_path / "w5")
    for w in ("w1", "w2", "w3", "w4", "w5"):
        assert not (tmp_path / w / "checkpoint.pt").exists() and not (tmp_path / w / "log.csv").exists()
