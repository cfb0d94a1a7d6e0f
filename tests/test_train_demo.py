"""The CPU demonstration (slow): stage 1 -> stage 2 -> stage 3 on the synthetic demo set with avfmae-micro.

Runs `benchmarks.demonstration.run_demo` once into a temp folder (the demo data is generated under $AVF_DATA_ROOT when it
is missing, a few minutes the first time) and checks it; the numbers are printed and written to report.md.
"""
from __future__ import annotations

import pytest

from benchmarks.demonstration import run_demo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    work = tmp_path_factory.mktemp("demo")
    mp.setenv("AVF_ZOO_DIR", str(work / "zoo"))
    try:
        out = run_demo(work=str(work / "run"))
        import zoo
        out["loads"] = zoo.create_model("avfmae-micro.demo-s2", num_classes=6) is not None and \
            zoo.create_model("avfmae-micro.demo-s1", pretrain=True) is not None
    finally:
        mp.undo()
    print(out["markdown"])
    return out


def test_pipeline_runs_end_to_end_and_pretraining_lowers_the_loss(report):
    before, after = report["recon_before"]["recon"], report["recon_after"]["recon"]
    assert after < 0.9 * before                                           # held-out reconstruction loss
    assert report["loads"]                                                # stage exports load by name
    s3 = report["stage3"]
    assert len(s3) == 5
    for name, row in s3.items():
        assert row["uar"] > 100 / 6, name                                  # every run is above chance
        if "video only" not in name:
            assert row["arousal_acc"] > 80, name                           # the audio factor is learned
    assert report["timings"]["total_s"] < 1200


def test_method_claims(report):
    """Stage 3 from a pre-trained model beats stage 3 from random init, and audio-visual beats either modality
    alone, on held-out subjects (margins of 5 UAR points; the measured ones are 45 and 36, docs/training.md)."""
    s3 = report["stage3"]
    best_init = max(s3["from stage 1 (AV)"]["uar"], s3["from stage 2 (AV)"]["uar"])
    assert best_init > s3["scratch (AV)"]["uar"] + 5
    av = s3["from stage 2 (AV)"]
    assert av["uar"] > s3["from stage 2, video only"]["uar"] + 5
    assert av["uar"] > s3["from stage 2, audio only"]["uar"] + 5
    assert av["valence_acc"] > 50 and av["arousal_acc"] > 80           # it uses both factors
