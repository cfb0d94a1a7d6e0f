"""Data-pipeline speed: clips/s of the evaluation pipeline (decode + 2x2 views + fbank) on generated clips.

    python -m avfmae.data.bench [--clips 8] [--frames 100] [--size 224] [--batch-size 8] [--model-ms 250]

Generates clips in a temporary folder (mp4 with an AAC track + wav, mp4 using its own AAC track, and frame
folders of jpgs + wav), then measures
    * single process, 1 torch thread: clips per wall second and clips per CPU second (= per core; this one is
      robust to other load on the machine);
    * a torch DataLoader with 2 workers (clips/s in total and per worker);
and, for a model step of --model-ms milliseconds per batch (not measured here; several defaults shown when not
given), the fraction of the time the model would wait for data if loading runs on cores of its own.
Prints numbers only; no assertions. Also holds the synthetic-media writers the tests use.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from .manifest import ClipRecord

__all__ = ["synthetic_frames", "synthetic_audio", "write_frame_folder", "write_wav", "write_mp4", "make_clips",
           "main"]


# ------------------------------------------------------------------------------------------- synthetic media
def synthetic_frames(n: int, height: int = 112, width: int = 112, seed: int = 0) -> np.ndarray:
    """(n, H, W, 3) uint8: a colour gradient with a bright square moving across it (each frame differs)."""
    rng = np.random.RandomState(seed)
    base = rng.randint(0, 256, size=3)
    yy, xx = np.mgrid[0:height, 0:width]
    frames = np.empty((n, height, width, 3), np.uint8)
    side = max(4, min(height, width) // 4)
    for t in range(n):
        img = np.empty((height, width, 3), np.float32)
        for c in range(3):
            img[..., c] = (base[c] + 120 * xx / max(width - 1, 1) + 60 * yy / max(height - 1, 1) + 3 * t) % 256
        x0 = (5 * t) % max(width - side, 1)
        y0 = (3 * t) % max(height - side, 1)
        img[y0:y0 + side, x0:x0 + side] = (255, 240 - (t % 50), 40 + (t % 100))
        frames[t] = img.astype(np.uint8)
    return frames


def synthetic_audio(seconds: float, sample_rate: int = 16000, seed: int = 0, channels: int = 1) -> np.ndarray:
    """float32 (n,) or (n, channels) in [-0.5, 0.5]: a chirp plus a tone plus a little noise."""
    rng = np.random.RandomState(seed)
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    f0, f1 = 200 + 100 * rng.rand(), 2000 + 1000 * rng.rand()
    x = 0.25 * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t ** 2 / (2 * max(seconds, 1e-3))))
    x += 0.15 * np.sin(2 * np.pi * 440 * t) + 0.02 * rng.randn(t.size)
    x = x.astype(np.float32)
    if channels > 1:
        x = np.stack([x * (1.0 - 0.3 * c / channels) for c in range(channels)], axis=1)
    return x


def write_frame_folder(folder: str | os.PathLike, frames: np.ndarray, ext: str = "jpg",
                       pattern: str = "img_{:05d}") -> Path:
    """Write (n, H, W, 3) or (n, H, W) uint8 frames as numbered images."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        kw = {"quality": 95} if ext.lower() in ("jpg", "jpeg") else {}
        Image.fromarray(f).save(folder / f"{pattern.format(i)}.{ext}", **kw)
    return folder


def write_wav(path: str | os.PathLike, samples: np.ndarray, sample_rate: int = 16000,
              subtype: str = "PCM_16") -> Path:
    import soundfile as sf

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), samples, sample_rate, subtype=subtype)
    return path


def write_mp4(path: str | os.PathLike, frames: np.ndarray, fps: int = 25, audio: np.ndarray | None = None,
              sample_rate: int = 16000, video_codec: str = "libx264", audio_codec: str = "aac") -> Path:
    """Write frames (n, H, W, 3) uint8 (H, W even) with PyAV, plus an optional mono audio track."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        vs = out.add_stream(video_codec, rate=fps)
        vs.width, vs.height = int(frames.shape[2]), int(frames.shape[1])
        vs.pix_fmt = "yuv420p"
        if video_codec == "libx264":
            vs.options = {"preset": "ultrafast"}
        ast = None
        if audio is not None:
            ast = out.add_stream(audio_codec, rate=sample_rate)
            ast.layout = "mono"
        for f in frames:
            for p in vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
        if ast is not None:
            x = np.asarray(audio, np.float32).reshape(-1)
            step, pts = 1024, 0
            for s in range(0, x.size, step):
                chunk = np.ascontiguousarray(x[s:s + step])[None]
                af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                af.sample_rate, af.pts = sample_rate, pts
                pts += chunk.shape[1]
                for p in ast.encode(af):
                    out.mux(p)
            for p in ast.encode():
                out.mux(p)
    return path


def make_clips(root: str | os.PathLike, n: int, kind: str = "mp4", num_frames: int = 100, size: int = 224,
               fps: int = 25, seed: int = 0) -> list[ClipRecord]:
    """Generate n clips under root and return their records. kind: "mp4" (mp4 with AAC track + wav),
    "mp4-track" (mp4 with AAC track, no wav) or "frames" (jpg folder + wav)."""
    root = Path(root)
    records = []
    for i in range(n):
        frames = synthetic_frames(num_frames, size, size, seed + i)
        wav = synthetic_audio(num_frames / fps, 16000, seed + i)
        name = f"{kind}_{i:03d}"
        if kind in ("mp4", "mp4-track"):
            write_mp4(root / "videos" / f"{name}.mp4", frames, fps, audio=wav)
            video = f"videos/{name}.mp4"
        elif kind == "frames":
            write_frame_folder(root / "frames" / name, frames, "jpg")
            video = f"frames/{name}"
        else:
            raise ValueError(f"unknown kind {kind!r}")
        audio = None
        if kind != "mp4-track":
            write_wav(root / "audio" / f"{name}.wav", wav)
            audio = f"audio/{name}.wav"
        records.append(ClipRecord(name, video, audio, i % 7))
    return records


# ---------------------------------------------------------------------------------------------------- timing
def _time_single(ds, repeats: int) -> tuple[float, float]:
    """(clips per wall second, clips per CPU second of this process), 1 torch thread."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ds[0]  # warm-up (imports, decoder init)
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(repeats):
            for i in range(len(ds)):
                ds[i]
        n = repeats * len(ds)
        return n / (time.perf_counter() - t0), n / (time.process_time() - c0)
    finally:
        torch.set_num_threads(threads)


def _time_loader(ds, workers: int, batch_size: int, repeats: int) -> float:
    from torch.utils.data import ConcatDataset, DataLoader

    repeats = max(repeats, -(-5 * batch_size // len(ds)))  # at least 5 batches, the first one is not timed
    data = ConcatDataset([ds] * repeats)
    loader = DataLoader(data, batch_size=batch_size, num_workers=workers, persistent_workers=False,
                        worker_init_fn=_one_thread)
    t0, count = None, 0
    for k, batch in enumerate(loader):
        if k == 0:  # exclude worker start-up: time from the first batch on
            t0 = time.perf_counter()
            continue
        count += batch["video"].shape[0]
    return count / (time.perf_counter() - t0) if t0 and count else float("nan")


def _one_thread(_worker_id: int) -> None:
    import torch

    torch.set_num_threads(1)


def wait_fraction(clips_per_s: float, batch_size: int, model_ms: float) -> float:
    """Fraction of wall time the model idles waiting for data, loading overlapped on separate cores."""
    load_ms = 1000.0 * batch_size / clips_per_s
    return max(0.0, load_ms - model_ms) / max(load_ms, model_ms)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m avfmae.data.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=8, help="clips per kind (default 8)")
    ap.add_argument("--frames", type=int, default=100, help="frames per clip (default 100 = 4 s at 25 fps)")
    ap.add_argument("--size", type=int, default=224, help="frame size in pixels (default 224)")
    ap.add_argument("--repeats", type=int, default=2, help="passes over the clips per measurement")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--model-ms", type=float, action="append",
                    help="model step time per batch in ms (repeatable; default shows 100, 500, 2000)")
    ap.add_argument("--kinds", default="mp4,frames,mp4-track")
    args = ap.parse_args(argv)

    from .loader import ClipDataset

    model_ms = args.model_ms or [100.0, 500.0, 2000.0]
    print(f"evaluation pipeline: decode 16 frames (stride 4) + 2x2 views (3x16x160x160) + fbank (1x256x128), "
          f"{args.clips} generated clips per kind, {args.frames} frames of {args.size}x{args.size}, "
          f"{os.cpu_count()} CPUs")
    rows = []
    with tempfile.TemporaryDirectory(prefix="avfmae-bench-") as tmp:
        for kind in [k.strip() for k in args.kinds.split(",") if k.strip()]:
            t0 = time.perf_counter()
            records = make_clips(Path(tmp) / kind, args.clips, kind, args.frames, args.size)
            gen_s = time.perf_counter() - t0
            ds = ClipDataset(records, Path(tmp) / kind, mode="test")
            single, per_cpu = _time_single(ds, args.repeats)
            multi = _time_loader(ds, args.workers, args.batch_size, max(args.repeats, 2))
            rows.append((kind, per_cpu, multi))
            print(f"{kind:>10}: single process {single:6.1f} clips/s wall, {per_cpu:6.1f} clips per CPU-second | "
                  f"DataLoader {args.workers} workers {multi:6.1f} clips/s ({multi / max(args.workers, 1):5.1f} "
                  f"per worker)   [generation {gen_s:.1f} s]")
    print(f"\nfraction of time the model waits for data (batch {args.batch_size}, loading on {args.workers} "
          f"workers with cores of their own; measured = DataLoader rate above, ideal = {args.workers} x the "
          f"per-CPU-second rate):")
    for kind, per_cpu, multi in rows:
        for label, rate in (("measured", multi), ("ideal", per_cpu * max(args.workers, 1))):
            fr = ", ".join(f"{ms:g} ms/step: {100 * wait_fraction(rate, args.batch_size, ms):4.1f}%"
                           for ms in model_ms)
            print(f"{kind:>10} {label:>8}: {fr}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
