"""Check our data pipeline against a preprocessing golden folder (format of ../shared/reference/golden/preprocess).

The folder's config.json drives everything: the fine-tune test views it lists (clip, segment, crop, indices,
sample ranges, recorded gains), the whole-wav fbank arrays, and the pre-training item with its recorded choices
and seeds. Nothing about a particular folder (clip names, counts) is assumed.

    from avfmae.conformance.preprocess import check_preprocess_golden
    from avfmae.conformance.report import print_report
    print_report("preprocess", check_preprocess_golden(Path(".../golden/preprocess")))
"""
from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Callable

import numpy as np

from avfmae.conformance.report import Comparison, compare

ATOL = 1e-6
FINETUNE_NPZ = "finetune_test_views.npz"
PRETRAIN_NPZ = "pretrain_pipeline.npz"

__all__ = ["ATOL", "is_preprocess_golden", "check_preprocess_golden"]


def is_preprocess_golden(config: dict) -> bool:
    """True for a preprocessing golden's config.json (it describes a fine-tune test pipeline or a pre-training
    loader item)."""
    return isinstance(config, dict) and ("finetune_test_pipeline" in config or "pretrain_pipeline" in config)


def _fail(name: str, exc: BaseException) -> Comparison:
    msg = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return Comparison(name, float("inf"), 0.0, 0.0, False, msg[:300])


def _guard(results: list, name: str, fn: Callable[[], list]) -> None:
    try:
        results.extend(fn())
    except Exception as exc:  # a conformance run reports every check; one crash must not hide the others
        results.append(_fail(name, exc))


def _first_token(text: str) -> str:
    m = re.match(r"\s*([^\s:]+)", text or "")
    return m.group(1) if m else ""


def _annotation_lines(folder: Path, config: dict) -> list[tuple[Path, Path | None, str]]:
    media = config.get("media", {})
    name = _first_token(media.get("annotation_file", "")) or "test.csv"
    path = folder / name
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        parts = raw.split()
        if not parts:
            continue
        video = folder / parts[0]
        wav = folder / parts[1] if len(parts) > 2 else None
        lines.append((video, wav, parts[-1]))
    return lines


def _check_finetune(folder: Path, config: dict) -> list[Comparison]:
    from avfmae.data import audio as A
    from avfmae.data.readers import open_video, read_wav
    from avfmae.data.views import PreprocessConfig, make_views, plan_test_views

    ft = config["finetune_test_pipeline"]
    cfg = PreprocessConfig.from_official_args(ft.get("dataset_args", {}))
    npz_path = folder / FINETUNE_NPZ
    golden = np.load(npz_path) if npz_path.is_file() else {}
    keys = set(getattr(golden, "files", []))
    lines = _annotation_lines(folder, config)
    results: list[Comparison] = []
    clips: dict[int, tuple] = {}

    def clip_data(view: dict):
        names = [p[0].name for p in lines]
        if view.get("clip") in names:
            li = names.index(view["clip"])
        else:
            li = int(view.get("dataset_index", 0)) % len(lines)
        if li not in clips:
            video, wav, _ = lines[li]
            source = open_video(video)
            waveform = read_wav(wav, cfg.sample_rate) if wav is not None else None
            clips[li] = (source, waveform)
        return clips[li]

    def view_checks(view: dict) -> list[Comparison]:
        key = view["key"]
        source, waveform = clip_data(view)
        plans = plan_test_views(source.num_frames, waveform.shape[0], cfg)
        plan = next(p for p in plans if p.segment == view["segment"] and p.crop == view["crop"])
        out = []
        if "frame_indices" in view:
            out.append(compare(f"{key}.frame_indices", np.array(plan.frame_indices), np.array(view["frame_indices"]),
                               0, exact=True))
        if "audio_start_frame" in view:
            out.append(compare(f"{key}.audio_frames", np.array(plan.audio_frames),
                               np.array([view["audio_start_frame"], view["audio_end_frame"]]), 0, exact=True))
        if "audio_sample_range" in view:
            out.append(compare(f"{key}.audio_sample_range", np.array(plan.sample_range),
                               np.array(view["audio_sample_range"]), 0, exact=True))
        (v,) = make_views(source, waveform, cfg, [plan], gain=None)
        if "fbank_frames_before_pad" in view:
            out.append(compare(f"{key}.fbank_frames_before_pad", np.array(v.fbank_frames),
                               np.array(view["fbank_frames_before_pad"]), 0, exact=True))
        for part, tensor in (("video", v.video), ("audio", v.audio)):
            name = f"{key}.{part}"
            if name in keys:
                out.append(compare(name, tensor, golden[name], ATOL))
        return out

    for view in ft.get("views", []):
        _guard(results, f"{view.get('key', '?')}", lambda view=view: view_checks(view))

    by_key = {v["key"]: v for v in ft.get("views", [])}

    def rollmag_checks(rec: dict) -> list[Comparison]:
        key = rec["key"]
        gains = rec.get("gain", [])
        gain = float(gains[0] if isinstance(gains, list) else gains)
        out = []
        if "numpy_seed" in rec:  # the recorded gain is the official draw after numpy.random.seed(seed)
            replay = A.official_gain(np.random.RandomState(int(rec["numpy_seed"])))
            out.append(compare(f"rollmag.{key}.gain_replay", np.array(replay), np.array(gain), 0, exact=True))
        view = by_key[key]
        source, waveform = clip_data(view)
        plans = plan_test_views(source.num_frames, waveform.shape[0], cfg)
        plan = next(p for p in plans if p.segment == view["segment"] and p.crop == view["crop"])
        (v,) = make_views(source, waveform, cfg, [plan], gain=gain)
        name = f"rollmag.{key}.audio"
        if name in keys:
            out.append(compare(name, v.audio, golden[name], ATOL))
        return out

    for rec in ft.get("rollmag_views", []):
        _guard(results, f"rollmag.{rec.get('key', '?')}", lambda rec=rec: rollmag_checks(rec))

    def whole_wav_checks() -> list[Comparison]:
        wav_name = _first_token(config.get("media", {}).get("wav", ""))
        wav = folder / wav_name if wav_name and (folder / wav_name).is_file() else lines[0][1]
        w = read_wav(wav, cfg.sample_rate)
        out = []
        if "whole_wav.waveform" in keys:
            out.append(compare("whole_wav.waveform", w[None], golden["whole_wav.waveform"], ATOL))
        if "whole_wav.kaldi_fbank_raw" in keys:
            import torch

            t = torch.from_numpy(w)[None]
            raw = A.kaldi_fbank(t - t.mean(), cfg.num_mel_bins, cfg.sample_rate, cfg.frame_shift)
            out.append(compare("whole_wav.kaldi_fbank_raw", raw, golden["whole_wav.kaldi_fbank_raw"], ATOL))
        fb, _ = A.wav_to_fbank(w, None, cfg.num_mel_bins, cfg.target_length, cfg.sample_rate, cfg.frame_shift)
        if "whole_wav.fbank_256" in keys:
            out.append(compare("whole_wav.fbank_256", fb, golden["whole_wav.fbank_256"], ATOL))
        if "whole_wav.fbank_256_normalised" in keys:
            out.append(compare("whole_wav.fbank_256_normalised", A.normalize_fbank(fb, cfg.fbank_mean,
                               cfg.fbank_std)[None], golden["whole_wav.fbank_256_normalised"], ATOL))
        return out

    if any(k.startswith("whole_wav.") for k in keys):
        _guard(results, "whole_wav", whole_wav_checks)
    return results


def _mask_generators(args: dict, cfg):
    from avfmae.models.masking import (RandomMaskGenerator, RunningCellMaskGenerator, TubeMaskGenerator,
                                       DualMaskGenerator)

    vgrid = (cfg.clip_len // 2, cfg.crop_size // 16, cfg.crop_size // 16)
    agrid = (cfg.target_length // 16, cfg.num_mel_bins // 16)
    kinds = {"tube": lambda g, r: TubeMaskGenerator(g, r), "run_cell": lambda g, r: RunningCellMaskGenerator(g, r),
             "random": lambda g, r: RandomMaskGenerator(g, r)}
    spec = [("video_encoder", "mask_type", "mask_ratio", vgrid, "tube", 0.9),
            ("video_decoder", "decoder_mask_type", "decoder_mask_ratio", vgrid, "run_cell", 0.5),
            ("audio_encoder", "mask_type_audio", "mask_ratio_audio", agrid, "random", 0.8125),
            ("audio_decoder", "decoder_mask_type_audio", "decoder_mask_ratio_audio", agrid, "random", 0.5)]
    gen = DualMaskGenerator(video_grid=vgrid, audio_grid=agrid)
    for attr, tkey, rkey, grid, default, ratio in spec:
        kind = args.get(tkey, default)
        if kind not in kinds:
            raise ValueError(f"unsupported {tkey} {kind!r} (known: {', '.join(kinds)})")
        if kind != "random" and len(grid) != 3:
            raise ValueError(f"{tkey} {kind!r} needs a (t, h, w) token grid")
        g = grid if kind != "random" else (int(np.prod(grid[:-1])), int(grid[-1]))
        setattr(gen, attr, kinds[kind](g, float(args.get(rkey, ratio))))
    return gen


def _check_pretrain(folder: Path, config: dict) -> list[Comparison]:
    from avfmae.data.pretrain import (PretrainChoices, pretrain_audio, pretrain_audio_range, pretrain_frame_ids,
                                      pretrain_item, pretrain_video, sample_pretrain_choices)
    from avfmae.data.readers import open_video, read_wav
    from avfmae.data.views import PreprocessConfig

    pp = config["pretrain_pipeline"]
    args = pp.get("args", {})
    rec = pp.get("recorded", {})
    cfg = PreprocessConfig.from_official_args(args)
    golden = np.load(folder / PRETRAIN_NPZ)
    keys = set(golden.files)
    video_path = folder / pp["files"]["video"].split()[0]
    wav_path = folder / _first_token(pp["files"].get("wav", "")) if pp["files"].get("wav") else None
    results: list[Comparison] = []
    state: dict = {}

    def source():
        if "src" not in state:
            state["src"] = open_video(video_path)
        return state["src"]

    def indexing() -> list[Comparison]:
        src = source()
        out = []
        if "duration" in rec:
            out.append(compare("pretrain.num_frames", np.array(src.num_frames), np.array(rec["duration"]), 0,
                               exact=True))
        offset = int(rec["segment_offsets"][0])
        ids = pretrain_frame_ids(src.num_frames, offset, cfg.clip_len, cfg.stride)
        state["ids"] = ids
        if "frame_ids" in rec:
            out.append(compare("pretrain.frame_ids", np.array(ids), np.array(rec["frame_ids"]), 0, exact=True))
        end_frame = min(ids[-1] + cfg.stride, src.num_frames - 1)
        if "start_end_frame" in rec:
            out.append(compare("pretrain.start_end_frame", np.array([ids[0], end_frame]),
                               np.array(rec["start_end_frame"]), 0, exact=True))
        off, cnt, times = pretrain_audio_range(src.frame_timestamps([ids[0], end_frame]), cfg.sample_rate)
        if "audio_time_range_s_float32" in rec:
            out.append(compare("pretrain.audio_time_range_float32", np.array(times, np.float32),
                               np.array(rec["audio_time_range_s_float32"], np.float32), 0, exact=True))
        call = rec.get("torchaudio_load_call", {})
        if "frame_offset" in call:
            out.append(compare("pretrain.audio_offset_count", np.array([off, cnt]),
                               np.array([call["frame_offset"], call["num_frames"]]), 0, exact=True))
        if "decoded_frames_uint8" in keys:
            frames = np.stack(src.get_frames(ids))
            out.append(compare("pretrain.decoded_frames_uint8", frames, golden["decoded_frames_uint8"], 0, exact=True))
        return out

    def from_recorded() -> list[Comparison]:
        """Decoder-independent: golden decoded frames + recorded crop, recorded load call + recorded gain."""
        out = []
        crop = rec["crop_w_h_x_y"]
        if "decoded_frames_uint8" in keys and "video" in keys:
            frames = list(golden["decoded_frames_uint8"])
            out.append(compare("pretrain.video(from golden frames)", pretrain_video(frames, crop, cfg),
                               golden["video"], ATOL))
        call = rec.get("torchaudio_load_call", {})
        if "audio" in keys and call and wav_path is not None:
            seg = read_wav(wav_path, cfg.sample_rate, offset=int(call["frame_offset"]), count=int(call["num_frames"]))
            audio, _ = pretrain_audio(seg, rec.get("gain"), cfg)
            out.append(compare("pretrain.audio(recorded load call, gain)", audio, golden["audio"], ATOL))
        return out

    def replay() -> list[Comparison]:
        """Re-draw every choice from the recorded seeds; compare the choices, masks and the whole item."""
        seeds = rec.get("seeds", {})
        if "numpy" not in seeds:
            return []
        src = source()
        first = src.get_frames([0])[0]
        np_rng = np.random.RandomState(int(seeds["numpy"]))
        py_rng = random.Random(int(seeds["python_random"])) if "python_random" in seeds else None
        gen = _mask_generators(args, cfg)
        ch = sample_pretrain_choices(src.num_frames, (first.shape[1], first.shape[0]), cfg, gen,
                                     py_rng=py_rng, np_rng=np_rng)
        out = [compare("pretrain.replay.segment_offset", np.array([ch.segment_offset]),
                       np.array(rec["segment_offsets"]), 0, exact=True)]
        if py_rng is not None and "crop_w_h_x_y" in rec:
            out.append(compare("pretrain.replay.crop_w_h_x_y", np.array(ch.crop), np.array(rec["crop_w_h_x_y"]), 0,
                               exact=True))
        if "gain" in rec:
            out.append(compare("pretrain.replay.gain", np.array(ch.gain), np.array(rec["gain"]), 0, exact=True))
        for name, mask in ch.masks.items():
            if name in keys:
                out.append(compare(f"pretrain.{name}", mask, golden[name].reshape(-1).astype(bool), 0, exact=True))
        recorded = PretrainChoices(int(rec["segment_offsets"][0]), tuple(rec["crop_w_h_x_y"]), rec.get("gain"),
                                   ch.masks)
        item = pretrain_item(src, wav_path, recorded, cfg)
        for part, tensor in (("video", item.video), ("audio", item.audio)):
            if part in keys:
                out.append(compare(f"pretrain.{part}(end to end)", tensor, golden[part], ATOL))
        return out

    _guard(results, "pretrain.indexing", indexing)
    _guard(results, "pretrain.from_recorded", from_recorded)
    _guard(results, "pretrain.replay", replay)
    return results


def check_preprocess_golden(folder: Path) -> list[Comparison]:
    """Compare everything our pipeline computes with a preprocessing golden folder: every fine-tune test view
    (video, audio with gain 1, audio with each recorded random gain, indices and sample ranges), the whole-wav
    fbanks (raw, cut to 256, normalised), and the pre-training item (frames, crop, audio window, gain, masks)
    when present. Float arrays at atol 1e-6, integers, choices and masks exactly. A check that raises becomes a
    failing Comparison carrying the error."""
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if not is_preprocess_golden(config):
        return [Comparison("config.json", float("inf"), 0.0, 0.0, False, "not a preprocessing golden")]
    results: list[Comparison] = []
    if "finetune_test_pipeline" in config:
        _guard(results, "finetune_test_pipeline", lambda: _check_finetune(folder, config))
    if "pretrain_pipeline" in config and (folder / PRETRAIN_NPZ).is_file():
        _guard(results, "pretrain_pipeline", lambda: _check_pretrain(folder, config))
    return results


def main(argv: list[str] | None = None) -> int:
    import sys

    from avfmae.conformance.report import print_report

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m avfmae.conformance.preprocess GOLDEN_FOLDER", file=sys.stderr)
        return 2
    return 0 if print_report(f"preprocess golden {argv[0]}", check_preprocess_golden(Path(argv[0]))) else 1


if __name__ == "__main__":
    raise SystemExit(main())
