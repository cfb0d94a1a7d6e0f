"""`python -m avfmae.data.speed`: the plain run and the --official side-by-side plumbing (a stand-in official
module here; the real one is never part of the project). Speeds are printed, never asserted."""
import json

from avfmae.data import speed

FAKE_OFFICIAL = '''
import os
import numpy as np
import torch


class VideoClsDatasetFrame:
    """Stand-in with the official constructor: reads the annotation file as the official one does."""
    def __init__(self, anno_path, data_path, mode, clip_len, frame_sample_rate, num_segment, test_num_segment,
                 test_num_crop, num_crop, keep_aspect_ratio, crop_size, short_side_size, args):
        rows = [line.split(" ") for line in open(anno_path).read().splitlines()]
        for frames, wav, label in rows:
            assert os.path.isdir(frames) and len(os.listdir(frames)) > 0, frames
            assert os.path.isfile(wav), wav
        assert args.audio_conf[mode]["target_length"] == 256 and args.aa.startswith("rand")
        print("constructor chatter that must not reach the JSON lines")
        self.n = len(rows) * (test_num_segment * test_num_crop if mode == "test" else 1)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i >= self.n:
            raise IndexError(i)
        return torch.zeros(3, 16, 160, 160)
'''


def test_plain_run_prints_rates(capsys):
    assert speed.main(["--clips", "1", "--frames", "20", "--size", "32", "--repeats", "1", "--workers", "0",
                       "--batch-size", "1", "--kinds", "frames"]) == 0
    assert "clips/s" in capsys.readouterr().out


def test_official_side_by_side_json_lines(tmp_path, capsys):
    (tmp_path / "kinetics_av.py").write_text(FAKE_OFFICIAL)
    assert speed.main(["--official", str(tmp_path), "--clips", "2", "--frames", "20", "--size", "32",
                       "--pairs", "3"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert "ClipSet" in lines[0]["setup"] and lines[0]["views_test"] == 4
    for mode, per_clip in (("test", 4), ("train", 1)):
        pairs = [x for x in lines if x.get("mode") == mode and "pair" in x]
        assert [p["pair"] for p in pairs] == [0, 1, 2]
        assert all(p["official_items_per_clip"] == per_clip and p["ratio"] > 0 for p in pairs)
        (summary,) = [x for x in lines if x.get("mode") == mode and "median_ratio" in x]
        ratios = sorted(p["ours_clips_per_s"] / p["official_clips_per_s"] for p in pairs)
        assert abs(summary["median_ratio"] - ratios[1]) < 0.01
