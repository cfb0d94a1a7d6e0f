"""The data pipeline against the official-code preprocessing goldens (every array within 1e-6; choices exact)."""
import json

import numpy as np
import pytest

from avfmae.conformance.preprocess import check_preprocess_golden, is_preprocess_golden

pytestmark = pytest.mark.golden


@pytest.fixture(scope="module")
def golden(ref_dir):
    folder = ref_dir / "golden" / "preprocess"
    if not (folder / "config.json").is_file():
        pytest.fail(f"{folder} has no config.json")
    return folder


@pytest.fixture(scope="module")
def results(golden):
    return check_preprocess_golden(golden)


def test_every_preprocess_array_matches(golden, results):
    failed = [r.line() for r in results if not r.ok]
    assert not failed, "\n".join(failed)


def test_golden_check_covers_every_array(golden, results):
    """Each array of both npz files is compared at least once (so the check cannot silently skip one)."""
    names = {r.name.split("(")[0] for r in results}
    with np.load(golden / "finetune_test_views.npz") as ft:
        for key in ft.files:
            assert key in names, key
    with np.load(golden / "pretrain_pipeline.npz") as pt:
        for key in pt.files:
            assert f"pretrain.{key}" in names, key
    assert all(r.max_abs_diff <= 1e-6 for r in results)


def test_masks_and_choices_are_exact(results):
    exact = [r for r in results if "mask" in r.name or "replay" in r.name or "indices" in r.name]
    assert len(exact) >= 4 + 3 + 8
    assert all(r.ok and r.max_abs_diff == 0.0 for r in exact)


def test_is_preprocess_golden(golden, ref_dir):
    assert is_preprocess_golden(json.loads((golden / "config.json").read_text()))
    tiny = ref_dir / "golden" / "avfmae-tiny" / "config.json"
    if tiny.is_file():
        assert not is_preprocess_golden(json.loads(tiny.read_text()))
    assert not is_preprocess_golden({"model": {}})


def test_crops_identical_and_short_clip_repeats(golden):
    """Square resize makes both crops bit-identical; clipB (40 frames) repeats its last frame, so segments match."""
    from avfmae.data.readers import open_video, read_wav
    from avfmae.data.views import PreprocessConfig, make_views

    cfg = PreprocessConfig()
    src = open_video(golden / "media" / "frames" / "clipB")
    views = make_views(src, read_wav(golden / "media" / "tone_chirp_3s.wav"), cfg)
    assert len(views) == 4
    assert views[0].plan.frame_indices[-7:] == (36,) * 7
    for v in views[1:]:
        assert np.array_equal(v.video.numpy(), views[0].video.numpy())
        assert np.array_equal(v.audio.numpy(), views[0].audio.numpy())
