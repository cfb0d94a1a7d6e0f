"""`python -m benchmarks.decode_cost`: storage per clip and the CPU cost of one stage-1 training view.

Writes (once) a synthetic set of --seconds clips at --size px (benchmarks.datasets.synth) and times decoding +
augmenting one pre-training view per clip for --model's input (frames at the model's size and its fbank) on one
thread, without the view cache: the number a data-loading plan needs (decoding cores per GPU). Synthetic footage
compresses far better than real video: take the mp4 size as a lower bound. Prints numbers; asserts nothing.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.decode_cost", description=__doc__)
    ap.add_argument("--model", default="avfmae-base")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "avf-decode-cost"))
    args = ap.parse_args(argv)
    import torch

    from avfmae import zoo
    from avfmae.train.clips import ClipSet, TrainAug
    from avfmae.train.inputs import preprocess_config
    from avfmae.train.sources import load_entries, parse_source

    from .datasets import synth

    torch.set_num_threads(1)
    out = Path(args.out) / f"{args.seconds:g}s-{args.size}px"
    synth.generate(out, seed=1, subjects=3, clips_per_class=1, seconds=args.seconds, size=args.size, workers=1,
                   progress=False)
    sizes: dict[str, list[int]] = {}
    for p in out.rglob("*"):
        if p.suffix in (".mp4", ".wav"):
            sizes.setdefault(p.suffix, []).append(p.stat().st_size)
    for ext, v in sorted(sizes.items()):
        print(f"{ext}: {len(v)} files, {sum(v) / len(v) / 1024:.1f} KiB per clip")
    entries = load_entries([parse_source(f"{out}/splits/fold1/train.tsv")], drop_labels=True)
    ds = ClipSet(entries, preprocess_config(zoo.get_spec(args.model)), "train", TrainAug(kind="pretrain", gain=True),
                 None, "raise")
    ds[0]                                                   # warm-up (imports, first open)
    t0 = time.perf_counter()
    for i in range(len(ds)):
        item = ds[i]
    dt = (time.perf_counter() - t0) / len(ds)
    print(f"{args.model}: one training view (video {tuple(item['video'].shape)}, audio {tuple(item['audio'].shape)}) "
          f"decoded + augmented in {dt * 1000:.0f} ms per clip on one thread ({1 / dt:.1f} clips/s per core)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
