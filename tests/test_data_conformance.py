"""check_preprocess_golden is driven by config.json: a golden folder of the same format with other clips,
counts and settings is checked too, and a wrong array is reported."""
import json

import numpy as np

from avfmae.conformance.preprocess import check_preprocess_golden, is_preprocess_golden
from avfmae.data.synthetic import synthetic_audio, synthetic_frames, write_frame_folder, write_wav
from avfmae.data.readers import open_video, read_wav
from avfmae.data.views import PreprocessConfig, make_views, plan_test_views


def _make_golden(folder):
    args = {"clip_len": 8, "frame_sample_rate": 2, "test_num_segment": 3, "test_num_crop": 1,
            "crop_size": 96, "short_side_size": 96, "num_mel_bins": 128, "target_length": 128,
            "norm_mean": -4.2677393, "norm_std": 4.5689974, "freqm": 0, "timem": 0}
    cfg = PreprocessConfig.from_official_args(args)
    write_frame_folder(folder / "clips" / "zz", synthetic_frames(31, 40, 56, seed=9), "png")
    write_wav(folder / "zz.wav", synthetic_audio(1.3, seed=9))
    (folder / "list.txt").write_text("clips/zz zz.wav 4\n")
    src, wav = open_video(folder / "clips" / "zz"), read_wav(folder / "zz.wav")
    arrays, views = {}, []
    for p, v in zip(plan_test_views(src.num_frames, wav.shape[0], cfg), make_views(src, wav, cfg)):
        key = f"zz.seg{p.segment}.crop{p.crop}"
        arrays[f"{key}.video"], arrays[f"{key}.audio"] = v.video.numpy(), v.audio.numpy()
        views.append({"key": key, "clip": "zz", "segment": p.segment, "crop": p.crop,
                      "frame_indices": list(p.frame_indices), "audio_sample_range": list(p.sample_range)})
    np.savez(folder / "finetune_test_views.npz", **arrays)
    config = {"media": {"annotation_file": "list.txt (this folder)"},
              "finetune_test_pipeline": {"dataset_args": args, "views": views}}
    (folder / "config.json").write_text(json.dumps(config))
    return config, arrays


def test_other_golden_folder_is_checked_from_its_config(tmp_path):
    config, arrays = _make_golden(tmp_path)
    assert is_preprocess_golden(config)
    results = check_preprocess_golden(tmp_path)
    assert len(results) == 3 * 4 and all(r.ok for r in results), [r.line() for r in results if not r.ok]
    assert arrays["zz.seg1.crop0.video"].shape == (3, 8, 96, 96)

    arrays["zz.seg2.crop0.audio"] = arrays["zz.seg2.crop0.audio"] + 1e-5
    np.savez(tmp_path / "finetune_test_views.npz", **arrays)
    bad = [r for r in check_preprocess_golden(tmp_path) if not r.ok]
    assert [r.name for r in bad] == ["zz.seg2.crop0.audio"]


def test_missing_media_is_a_failing_line_not_a_crash(tmp_path):
    _make_golden(tmp_path)
    (tmp_path / "zz.wav").unlink()
    results = check_preprocess_golden(tmp_path)
    assert results and not any(r.ok for r in results) and "zz.wav" in results[0].note
