"""The SIGKILL soak (benchmarks.soak) as a test: marker `soak`, not in the default run.

    AVF_SOAK_KILLS=20 python -m pytest -m soak tests/test_soak.py      # or: python -m benchmarks.soak --kills 20
"""
import os

import pytest

from benchmarks import soak

pytestmark = pytest.mark.soak


def test_killed_and_resumed_pipeline_equals_an_uninterrupted_one(tmp_path):
    kills = int(os.environ.get("AVF_SOAK_KILLS", "3"))
    report = soak.soak(kills, seed=int(os.environ.get("AVF_SOAK_SEED", "0")), folder=tmp_path / "soak")
    assert report["kills"] >= kills
    assert report["problems"] == []
