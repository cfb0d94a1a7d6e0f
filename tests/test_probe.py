"""The probe's features come from the stage-3 evaluation clip set at the model's own input contract."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from avfmae import zoo
from avfmae.data.manifest import read_manifest
from benchmarks.datasets import registry
from benchmarks.probe import _features
from train_fixtures import tiny_demo


def test_probe_features_follow_the_manifest_and_the_model_geometry(tmp_path):
    root = tiny_demo()
    spec = replace(registry.get("demo"), root=str(root))       # an absolute root: the tiny set, not $AVF_DATA_ROOT
    torch.manual_seed(0)
    model = zoo.create_model("avfmae-micro", num_classes=0, reset_head=True).eval()
    cache = tmp_path / "f.npz"
    clips, feats, targets = _features(model, spec, "fold1", "test", cache, ("video", "audio"))
    records = read_manifest(root / "splits" / "fold1" / "test.tsv")
    assert clips == [r.clip for r in records] and targets.tolist() == [r.target for r in records]
    assert feats.shape == (len(records), 2 * 64)               # avfmae-micro: width 64, video + audio pooled
    again = _features(model, spec, "fold1", "test", cache, ("video", "audio"))   # from the cache file
    assert again[0] == clips and np.array_equal(again[1], feats)
    video_only = _features(model, spec, "fold1", "test", tmp_path / "v.npz", ("video",))[1]
    assert not np.allclose(video_only, feats)                  # the audio is blanked, as in stage 3
