"""Bad input is named where it is (issue 13): manifest file:line for labels out of range, non-UTF-8 bytes and clip
errors during a run; the path of a truncated checkpoint, found before any long work."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import zoo
from avfmae.data.errors import ClipError
from avfmae.data.manifest import ManifestError, read_manifest
from train_fixtures import tiny_demo, tiny_stage3

HEADER = "clip\tvideo\taudio\ttarget\tsubject\n"


@pytest.fixture(scope="module")
def data():
    return tiny_demo()


@pytest.fixture(autouse=True)
def zoo_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("AVF_ZOO_DIR", str(tmp_path / "zoo"))


def _relabel(data: Path, out: Path, line: int, label: str) -> Path:
    """A copy of the tiny set's fold1 train manifest with the label of `line` (1-based, header = 1) replaced."""
    lines = (data / "splits/fold1/train.tsv").read_text().splitlines()
    cols = lines[line - 1].split("\t")
    cols[3] = label
    lines[line - 1] = "\t".join(cols)
    out.write_text("\n".join(lines) + "\n")
    return out


def test_label_outside_the_classes_names_manifest_line_and_range_when_read(data, tmp_path):
    from avfmae.train.sources import load_entries, parse_source
    bad = _relabel(data, tmp_path / "train.tsv", 4, "9")
    with pytest.raises(ManifestError) as e:
        load_entries([parse_source(f"{bad}@{data}|classes=6")])
    assert f"{bad}:4" in str(e.value) and "0..5" in str(e.value)


def test_stage3_checks_labels_against_the_head_before_any_caching(data, tmp_path, monkeypatch):
    """benchmarks.run gives the dataset's class count as num_classes; label 9 of 6 fails at once with file:line
    (it used to reach torch: `index 9 is out of bounds for dimension 1 with size 6`)."""
    from avfmae.train import common, run_stage3
    bad = _relabel(data, tmp_path / "train.tsv", 3, "9")
    monkeypatch.setattr(common.ViewCache, "build", lambda *a, **k: pytest.fail("cached views before checking"))
    cfg = tiny_stage3(data, train=f"{bad}@{data}", num_classes=6, cache_dir=str(tmp_path / "cache"))
    with pytest.raises(ManifestError, match=re.escape(f"{bad}:3") + r".*label in 0\.\.5"):
        run_stage3(cfg, tmp_path / "work")


def test_regression_target_count_is_checked(tmp_path):
    m = tmp_path / "reg.tsv"
    m.write_text(HEADER + "a\tv/a.mp4\t\t0.1,0.2\ts\nb\tv/b.mp4\t\t0.3,0.4,0.5\ts\n")
    with pytest.raises(ManifestError, match=re.escape(f"{m}:3")):
        read_manifest(m)                                   # lines disagree with each other
    m.write_text(HEADER + "a\tv/a.mp4\t\t0.1,0.2\ts\n")
    with pytest.raises(ManifestError, match=re.escape(f"{m}:2") + ".*expected 3"):
        read_manifest(m, num_targets=3)
    from avfmae.train.sources import load_entries, parse_source
    from avfmae.train.stage3 import check_targets
    two = load_entries([parse_source(f"{m}@{tmp_path}")])
    with pytest.raises(ManifestError, match=re.escape(f"{m}:2") + ".*3 regression targets"):
        check_targets(two, 3, regression=True)


def test_non_utf8_manifest_names_file_line_and_what_to_do(tmp_path):
    m = tmp_path / "latin1.tsv"
    m.write_bytes((HEADER + "a\tv/a.mp4\t\t0\ts\n").encode() + "b\tv/caf\u00e9.mp4\t\t1\ts\n".encode("latin-1"))
    with pytest.raises(ManifestError) as e:
        read_manifest(m)
    assert f"{m}:3" in str(e.value) and "0xe9" in str(e.value) and "UTF-8" in str(e.value)


def test_clip_error_during_a_run_names_clip_file_and_manifest_line(data, tmp_path):
    from avfmae.train.clips import ClipSet, TrainAug
    from avfmae.train.viewcache import ViewCache
    from avfmae.train.sources import load_entries, parse_source
    from avfmae.train.inputs import preprocess_config
    m = tmp_path / "test.tsv"
    lines = (data / "splits/fold1/test.tsv").read_text().splitlines()
    lines[2] = lines[2].replace(".mp4", "-gone.mp4")       # line 3 points to a missing video
    m.write_text("\n".join(lines) + "\n")
    clip = lines[2].split("\t")[0]
    entries = load_entries([parse_source(f"{m}@{data}")])
    pcfg = preprocess_config(zoo.get_spec("avfmae-micro"))
    ds = ClipSet(entries, pcfg, "centre", TrainAug(kind="none"), None, "raise")
    with pytest.raises(ClipError) as e:
        ds[1]
    msg = str(e.value)
    assert f"{m}:3" in msg and repr(clip) in msg and "-gone.mp4" in msg
    with pytest.raises(ClipError) as e:                     # the view cache's error (raised in the main process)
        ViewCache.build(entries, pcfg, tmp_path / "cache", "t", 0, "raise", False)
    msg = str(e.value)
    assert f"{m}:3" in msg and repr(clip) in msg and "-gone.mp4" in msg

    skip = ClipSet(entries, pcfg, "centre", TrainAug(kind="none"), None, "skip")
    assert skip[1]["index"] == 2 and skip.skipped[0]["clip"] == clip   # the next clip stands in, logged once
    lonely = ClipSet([entries[1]], pcfg, "centre", TrainAug(kind="none"), None, "skip")
    with pytest.raises(ClipError, match="all 1 clips of the set failed"):   # not an endless search
        lonely[0]


def _truncated_weights(tmp_path: Path) -> Path:
    path = tmp_path / "cut.safetensors"
    save_file(zoo.create_model("avfmae-micro", num_classes=6).state_dict(), str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def test_truncated_safetensors_names_the_path_and_what_to_do(tmp_path):
    path = _truncated_weights(tmp_path)
    with pytest.raises(zoo.CheckpointError) as e:
        zoo.create_model("avfmae-micro", weights=path)
    assert str(path) in str(e.value) and "Re-download" in str(e.value)
    pth = tmp_path / "cut.pth"
    torch.save({"model": {"w": torch.zeros(1000)}}, pth)
    pth.write_bytes(pth.read_bytes()[:3000])
    with pytest.raises(zoo.CheckpointError, match=re.escape(str(pth))):
        zoo.checkpoint.check_file(pth)


def test_stage3_checks_init_weights_before_caching_views(data, tmp_path, monkeypatch):
    from avfmae.train import common, run_stage3
    path = _truncated_weights(tmp_path)
    monkeypatch.setattr(common.ViewCache, "build", lambda *a, **k: pytest.fail("cached views before the weights"))
    cfg = tiny_stage3(data, init=str(path), cache_dir=str(tmp_path / "cache"))
    with pytest.raises(zoo.CheckpointError, match=re.escape(str(path))):
        run_stage3(cfg, tmp_path / "work")
