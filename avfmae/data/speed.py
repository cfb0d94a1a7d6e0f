"""Data-pipeline speed: clips/s of the evaluation pipeline (decode + 2x2 views + fbank) on generated clips.

The loader measured is avfmae.train.clips.ClipSet ("test" mode, no view cache), the one of fine-tuning,
evaluation, the probe and feature extraction.

    python -m avfmae.data.speed [--clips 8] [--frames 100] [--size 224] [--batch-size 8] [--model-ms 250]
    python -m avfmae.data.speed --official OFFICIAL_DIR [--clips 16] [--pairs 7]   # vs the official AV loader

Generates clips in a temporary folder (mp4 with an AAC track + wav, mp4 using its own AAC track, and frame
folders of jpgs + wav), then measures
    * single process, 1 torch thread: clips per wall second and clips per CPU second (= per core; this one is
      robust to other load on the machine);
    * a torch DataLoader with 2 workers (clips/s in total and per worker);
and, for a model step of --model-ms milliseconds per batch (not measured here; several defaults shown when not
given), the fraction of the time the model would wait for data if loading runs on cores of its own.
Prints numbers only; no assertions. The clips come from avfmae.data.synthetic.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Sequence

from .synthetic import make_clips

__all__ = ["wait_fraction", "main"]


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
    ap = argparse.ArgumentParser(prog="python -m avfmae.data.speed", description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, help="clips per kind (default 8; 16 with --official)")
    ap.add_argument("--frames", type=int, help="frames per clip (default 100 = 4 s at 25 fps; 75 with --official)")
    ap.add_argument("--size", type=int, help="frame size in pixels (default 224; 112 with --official)")
    ap.add_argument("--repeats", type=int, default=2, help="passes over the clips per measurement")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--model-ms", type=float, action="append",
                    help="model step time per batch in ms (repeatable; default shows 100, 500, 2000)")
    ap.add_argument("--kinds", default="mp4,frames,mp4-track")
    ap.add_argument("--official", metavar="DIR",
                    help="instead: time the official AVF-MAE++ audio-visual loader (its .py files in DIR) against "
                         "ClipSet on the same generated JPEG-folder + wav clips (see avfmae.data.official_speed); "
                         "defaults then --clips 16 --frames 75 --size 112")
    ap.add_argument("--pairs", type=int, default=7, help="with --official: alternating pairs per mode")
    ap.add_argument("--modes", default="test,train", help="with --official: test, train or both")
    args = ap.parse_args(argv)
    if args.official:
        from .official_speed import run_official_comparison

        run_official_comparison(args.official, clips=args.clips or 16, frames=args.frames or 75,
                                size=args.size or 112, pairs=args.pairs,
                                modes=[m.strip() for m in args.modes.split(",") if m.strip()])
        return 0
    args.clips, args.frames, args.size = args.clips or 8, args.frames or 100, args.size or 224

    from avfmae.train.clips import ClipSet, TrainAug
    from avfmae.train.sources import Entry

    from .views import PreprocessConfig

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
            entries = [Entry(Path(tmp) / kind, r, r.target) for r in records]
            ds = ClipSet(entries, PreprocessConfig(), "test", TrainAug(kind="none"))  # the evaluation loader
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
