"""Our clip loader (avfmae.train.clips.ClipSet) side by side with the official audio-visual loader, same clips.

    python -m avfmae.data.speed --official /path/to/official [--clips 16] [--frames 75] [--size 112] [--pairs 7]

The official loader is `kinetics_av.VideoClsDatasetFrame` of the AVF-MAE++ code (what its `build_dataset` uses
for every audio-visual set: a folder of JPEG frames + a 16 kHz wav per clip). Its .py files are imported at run
time from the folder given (outside this project; nothing of it is part of the project). Generated clips
(avfmae.data.synthetic, "frames" kind: JPEG frame folders + 16 kHz PCM16 wavs) are written to a temporary folder;
both loaders read exactly those files (ClipSet reads the frame-folder + wav layout directly). Where torchcodec is
missing (torchaudio >= 2.9 needs it for torchaudio.load), the official loader's torchaudio.load is served by
soundfile (the same reader ClipSet uses; the output says so).

Equal work, with the official fine-tuning settings (16 frames, stride 4, 160 px, 2 x 2 test views, RandAugment
rand-m7-n4-mstd0.5-inc1, random erasing 0.25, the random audio gain):
    test   one clip = the official loader's 4 items (each decodes the clip's stride-4 frames, resizes them to
           160 x 160, crops/normalises its view and computes its window's fbank) vs one ClipSet "test" item
           (all 4 views stacked), view cache off (as in the paper preset);
    train  one item each: 16 decoded frames resized to 160 x 160, RandAugment, normalisation, random resized
           crop + flip, random erasing, one window's fbank with the random gain.
One process, one torch thread, passes alternating official / ours; each pair prints a JSON line with both rates
(clips per second) and their ratio (ours / official), then one line per mode with the median ratio.
"""
from __future__ import annotations

import contextlib
import io
import json
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Sequence

__all__ = ["official_args", "import_official", "run_official_comparison"]

AA = "rand-m7-n4-mstd0.5-inc1"


def import_official(folder: str | Path):
    """The official `kinetics_av` module, imported from `folder` (with a stand-in for a numpy name that module
    imports but never uses and that numpy 2 removed)."""
    folder = Path(folder).resolve()
    if not (folder / "kinetics_av.py").is_file():
        raise SystemExit(f"{folder}: no kinetics_av.py here. Pass the folder holding the official AVF-MAE++ .py "
                         "files (kinetics_av.py, video_transforms.py, ...)")
    try:
        import numpy.lib.function_base  # noqa: F401  (numpy < 2)
    except ImportError:
        stand_in = types.ModuleType("numpy.lib.function_base")
        stand_in.disp = print
        sys.modules["numpy.lib.function_base"] = stand_in
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    import kinetics_av
    import torchaudio

    try:  # torchaudio >= 2.9 loads through torchcodec; without it, read the wav as torchaudio.load did
        import torchcodec  # noqa: F401
    except ImportError:
        kinetics_av.torchaudio = _TorchaudioWithSoundfileLoad(torchaudio)
    return kinetics_av


class _TorchaudioWithSoundfileLoad:
    """torchaudio, except `load`: soundfile's samples as a (channels, n) float32 tensor (PCM16 / 32768), the
    sample rate; what torchaudio.load returned before torchcodec. Used only when torchcodec is missing."""

    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        return getattr(self._module, name)

    @staticmethod
    def load(path):
        import soundfile as sf
        import torch

        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
        return torch.from_numpy(data.T.copy()), sr


def official_args(pcfg) -> types.SimpleNamespace:
    """The official fine-tuning arguments the loader reads (paper settings, audio-visual sets)."""
    audio = {"num_mel_bins": pcfg.num_mel_bins, "target_length": pcfg.target_length, "freqm": 0, "timem": 0,
             "mean": pcfg.fbank_mean, "std": pcfg.fbank_std, "noise": False}
    return types.SimpleNamespace(reprob=0.25, remode="pixel", recount=1, aa=AA, train_interpolation="bicubic",
                                 data_set="MAFW", num_sample=1, roll_mag_aug=True,
                                 audio_conf={"train": audio, "validation": audio, "test": audio})


def _official_set(kinetics_av, csv: Path, mode: str, pcfg):
    with contextlib.redirect_stdout(io.StringIO()):  # its constructor prints
        return kinetics_av.VideoClsDatasetFrame(
            anno_path=str(csv), data_path="/", mode=mode, clip_len=pcfg.clip_len, frame_sample_rate=pcfg.stride,
            num_segment=1, test_num_segment=pcfg.num_segments, test_num_crop=pcfg.num_crops, num_crop=1,
            keep_aspect_ratio=True, crop_size=pcfg.crop_size, short_side_size=pcfg.short_side_size,
            args=official_args(pcfg))


def _our_set(entries, pcfg, mode: str):
    from avfmae.train.clips import ClipSet, TrainAug

    if mode == "test":
        return ClipSet(entries, pcfg, "test", TrainAug(kind="none"))
    aug = TrainAug(kind="finetune", rand_augment=AA, scale=(0.08, 1.0), hflip=0.5, reprob=0.25, gain=True)
    return ClipSet(entries, pcfg, "train", aug)


def _time_pass(fn, n_items: int, n_clips: int) -> float:
    t0 = time.perf_counter()
    for i in range(n_items):
        fn(i)
    return n_clips / (time.perf_counter() - t0)


def run_official_comparison(official_dir: str | Path, clips: int = 16, frames: int = 75, size: int = 112,
                            pairs: int = 7, modes: Sequence[str] = ("test", "train"), out=print) -> dict:
    """Time the official loader and ClipSet on the same generated clips; returns {mode: median ratio}."""
    import numpy as np
    import torch

    from avfmae.train.sources import Entry
    from avfmae.data.views import PreprocessConfig

    from .synthetic import make_clips

    unknown = [m for m in modes if m not in ("test", "train")]
    if unknown:
        raise SystemExit(f"--modes: unknown mode(s) {unknown}; use test, train or test,train")
    torch.set_num_threads(1)
    kinetics_av = import_official(official_dir)
    pcfg = PreprocessConfig()
    medians = {}
    with tempfile.TemporaryDirectory(prefix="avfmae-official-") as tmp:
        root = Path(tmp)
        records = make_clips(root, clips, "frames", frames, size)
        csv = root / "official.csv"
        csv.write_text("".join(f"{root / r.video} {root / r.audio} {r.target}\n" for r in records))
        entries = [Entry(root, r, r.target) for r in records]
        out(json.dumps({"setup": "official kinetics_av.VideoClsDatasetFrame vs avfmae.train.clips.ClipSet",
                        "input": f"{clips} clips, {frames} JPEG frames of {size}x{size} + 16 kHz wav each "
                                 "(both loaders read these files)", "threads": 1,
                        "official_wav_reader": "torchaudio.load" if isinstance(kinetics_av.torchaudio, types.ModuleType)
                        else "soundfile (torchcodec missing)",
                        "views_test": pcfg.num_views, "frames_per_view": pcfg.clip_len, "size": pcfg.crop_size}))
        for mode in modes:
            off = _official_set(kinetics_av, csv, mode, pcfg)
            ours = _our_set(entries, pcfg, mode)
            per_clip = len(off) // clips       # test: the official set has one item per view
            np.random.seed(0)
            off[0], ours[(0, 0) if mode == "train" else 0]  # warm-up: imports, first-call costs
            ratios = []
            for p in range(pairs):
                r_off = _time_pass(lambda i: off[i], len(off), clips)
                if mode == "train":
                    r_ours = _time_pass(lambda i: ours[(i, p * clips + i)], clips, clips)
                else:
                    r_ours = _time_pass(lambda i: ours[i], clips, clips)
                ratios.append(r_ours / r_off)
                out(json.dumps({"mode": mode, "pair": p, "official_clips_per_s": round(r_off, 2),
                                "ours_clips_per_s": round(r_ours, 2), "ratio": round(r_ours / r_off, 3),
                                "official_items_per_clip": per_clip}))
            medians[mode] = statistics.median(ratios)
            out(json.dumps({"mode": mode, "pairs": pairs, "median_ratio": round(medians[mode], 3),
                            "min_ratio": round(min(ratios), 3), "max_ratio": round(max(ratios), 3)}))
    return medians
