"""`python -m avfmae.predict` / `avfmae.extract` on awkward but realistic inputs: unwritable outputs, videos that
share a name, truncated files, audio that starts late or does not last as long as the picture, phone videos
stored sideways with a rotation tag.

The videos are tiny synthetic ones (64x48, PyAV) whose expected properties come from how they are built; the model
is avfmae-micro with a seeded random init (no face detector run: --no-face-crop, or the pipeline functions).
"""
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cv2")
av = pytest.importorskip("av")

from avfmae.predict.__main__ import main as predict_main  # noqa: E402

MODEL = ["--model", "avfmae-micro", "--num-classes", "3", "--no-progress"]


def test_unwritable_out_or_plot_stops_before_any_video(tmp_path, capsys):
    """Before: the first video was decoded, cropped and predicted, then a traceback (FileExistsError /
    IsADirectoryError) when its rows were written. Now: exit 2 at once, naming the option and the path."""
    blocker = tmp_path / "a-file.txt"
    blocker.write_text("x")
    not_a_video = tmp_path / "notes.mp4"   # would fail on its own (rc 1): the output check must come first
    not_a_video.write_text("hello")
    for option, target in (("--out", blocker / "p.jsonl"), ("--out", tmp_path), ("--plot", blocker / "p.png")):
        assert predict_main([str(not_a_video), option, str(target), *MODEL]) == 2
        err = capsys.readouterr().err
        assert f"{option} {target}: cannot write there" in err and "notes.mp4" not in err
    # a writable --out that does not exist yet is not left behind by the check when nothing is predicted
    assert predict_main([str(not_a_video), "--out", str(tmp_path / "new" / "p.jsonl"), *MODEL]) == 1
    assert not (tmp_path / "new" / "p.jsonl").exists()
