"""The SIGKILL soak (benchmarks.soak): its checks (default run, fast) and the soak itself (marker `soak`).

    AVF_SOAK_KILLS=20 python -m pytest -m soak tests/test_soak.py      # or: python -m benchmarks.soak --kills 20
"""
import json
import os

import pytest

from avfmae.atomic import file_lock
from benchmarks import soak


def test_leftovers_finds_temp_files_held_locks_and_half_written_files(tmp_path):
    import torch
    from safetensors.torch import save_file

    good = tmp_path / "good"
    (good / "work").mkdir(parents=True)
    (good / "work" / "r.json").write_text(json.dumps({"a": 1}))
    save_file({"w": torch.ones(3)}, str(good / "w.safetensors"))
    torch.save({"x": torch.zeros(2)}, good / "work" / "last.pt")
    with file_lock(good / "work" / ".run.lock"):
        pass                                       # taken and released: a lock file that stays is fine
    assert soak.leftovers(good) == []

    bad = tmp_path / "bad"
    (bad / "work").mkdir(parents=True)
    (bad / "work" / ".last.pt.12345.0badc0de.tmp").write_bytes(b"half")
    (bad / "r.json").write_text('{"scores": {"uar": 1')
    save_file({"w": torch.ones(300)}, str(bad / "w.safetensors"))
    data = (bad / "w.safetensors").read_bytes()
    (bad / "w.safetensors").write_bytes(data[: len(data) // 2])
    with file_lock(bad / "work" / ".run.lock"):       # held (another open file: flock conflicts even here)
        found = soak.leftovers(bad)
    assert len(found) == 4, found
    assert any(f.startswith("temp file left") and ".tmp" in f for f in found)
    assert any(f.startswith("lock still held") for f in found)
    assert sum(f.startswith("half-written") for f in found) == 2


@pytest.mark.soak
def test_killed_and_resumed_pipeline_equals_an_uninterrupted_one(tmp_path):
    kills = int(os.environ.get("AVF_SOAK_KILLS", "3"))
    report = soak.soak(kills, seed=int(os.environ.get("AVF_SOAK_SEED", "0")), folder=tmp_path / "soak",
                       epochs=int(os.environ.get("AVF_SOAK_EPOCHS", "2")))
    assert report["kills"] >= kills
    assert report["problems"] == []
