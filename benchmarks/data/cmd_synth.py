"""`python -m benchmarks.data synth`: generate the synthetic demo set (the suite's embedded default dataset).

    python -m benchmarks.data synth                      # -> $AVF_DATA_ROOT/demo, 24 subjects x 6 classes x 3 clips
    python -m benchmarks.data synth --out /tmp/demo --subjects 6 --clips-per-class 2 --check
    python -m benchmarks.data synth --root /data/avf                  # -> /data/avf/demo

Re-running finishes an interrupted generation and otherwise does nothing; different parameters into the same
folder is refused unless --force. `--check` fits logistic regressions on simple hand-made features across the
subject-independent folds and prints video-only, audio-only and fused accuracy: fused should be clearly higher.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "synth", help="generate the synthetic audio-visual demo dataset",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--out", type=Path, default=None, help="output folder (default: $AVF_DATA_ROOT/demo)")
    where.add_argument("--root", type=Path, default=None,
                       help="data root to write ROOT/demo into, as the other commands' --root")
    p.add_argument("--seed", type=int, default=0, help="random seed of the whole set (default 0)")
    p.add_argument("--subjects", type=int, default=24, help="synthetic subjects, at least 3 (default 24)")
    p.add_argument("--clips-per-class", type=int, default=3,
                   help="clips per class and subject (default 3: 24 x 6 x 3 = 432 clips)")
    p.add_argument("--seconds", type=float, default=3.0, help="clip length in seconds (default 3.0)")
    p.add_argument("--size", type=int, default=112, help="frame width = height in pixels (default 112)")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2; 1 = in this process)")
    p.add_argument("--force", action="store_true",
                   help="regenerate a folder made with other parameters (deletes its clips/ and splits/)")
    p.add_argument("--check", action="store_true",
                   help="afterwards, print video-only / audio-only / fused accuracy of simple classifiers")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from benchmarks.datasets import synth
    start = time.perf_counter()
    target = args.out if args.out is not None else (synth.SPEC.path(args.root) if args.root is not None else None)
    try:
        out = synth.generate(target, seed=args.seed, subjects=args.subjects, clips_per_class=args.clips_per_class,
                             seconds=args.seconds, size=args.size, workers=args.workers, force=args.force,
                             progress=not args.quiet)
    except (synth.SynthError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    took = time.perf_counter() - start
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    n = args.subjects * len(synth.LABELS) * args.clips_per_class
    print(f"demo set: {n} clips, {size / 2**20:.1f} MiB in {out} ({took:.1f} s)")
    if args.check:
        print(format_check(check_separability(out, workers=args.workers)))
    return 0


# ------------------------------------------------------------------------------------ separability check

def _regions(size: int) -> dict[str, tuple[slice, slice]]:
    def box(r0, r1, c0, c1):
        return slice(int(r0 * size), int(r1 * size)), slice(int(c0 * size), int(c1 * size))
    return {"brows": box(0.22, 0.42, 0.18, 0.82), "eyes": box(0.34, 0.50, 0.18, 0.82),
            "mouth": box(0.60, 0.86, 0.26, 0.74), "cheeks": box(0.50, 0.70, 0.08, 0.92)}


def video_features(path: Path) -> np.ndarray:
    """Per-frame statistics of the brow, eye, mouth and cheek regions, summarised over time."""
    import av
    with av.open(str(path)) as box:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in box.decode(video=0)]).astype(np.float32)
    gray = frames.mean(axis=3)
    red = frames[..., 0] - 0.5 * (frames[..., 1] + frames[..., 2])
    gray /= gray.mean(axis=(1, 2), keepdims=True)                     # cancel the clip's lighting
    red -= np.median(red, axis=(1, 2), keepdims=True)
    per_frame = []
    for rows, cols in _regions(frames.shape[1]).values():
        g, r = gray[:, rows, cols], red[:, rows, cols]
        w = np.maximum(r - 15, 0) + 1e-3                               # lip-like (red) pixels
        yy = np.arange(g.shape[1], dtype=np.float32)[None, :, None]
        thirds = np.array_split(np.arange(g.shape[2]), 3)
        row = [(w[:, :, t] * yy).sum((1, 2)) / w[:, :, t].sum((1, 2)) for t in thirds]
        dark = (g < 0.6).mean((1, 2))
        per_frame += [g.mean((1, 2)), g.std((1, 2)), dark, r.mean((1, 2)), w.mean((1, 2)),
                      0.5 * (row[0] + row[2]) - row[1]]                 # curvature of the red band
    x = np.stack(per_frame, axis=1)                                    # (frames, features)
    n = len(x)
    head, tail = x[: n // 5].mean(0), x[n // 2:].mean(0)
    return np.concatenate([x.mean(0), x.std(0), tail - head, np.abs(np.diff(x, axis=0)).mean(0)])


def audio_features(path: Path) -> np.ndarray:
    """Energy, pitch (autocorrelation), spectral balance and syllable-rate statistics of a wav."""
    import soundfile as sf
    x, sr = sf.read(str(path), dtype="float32")
    win, hop = int(0.04 * sr), int(0.01 * sr)
    idx = np.arange(0, len(x) - win, hop)[:, None] + np.arange(win)[None, :]
    fr = x[idx] * np.hanning(win).astype(np.float32)
    energy = 10 * np.log10((fr ** 2).mean(1) + 1e-9)
    voiced = energy > np.percentile(energy, 95) - 15
    spec = np.abs(np.fft.rfft(fr, axis=1)) ** 2
    freqs = np.fft.rfftfreq(win, 1 / sr)
    centroid = (spec * freqs).sum(1) / (spec.sum(1) + 1e-12)
    tilt = np.log10(spec[:, (freqs > 1000) & (freqs < 4000)].sum(1) + 1e-12) - np.log10(
        spec[:, (freqs > 50) & (freqs < 1000)].sum(1) + 1e-12)
    ac = np.fft.irfft(np.abs(np.fft.rfft(fr, 2 * win, axis=1)) ** 2, axis=1)[:, :win]
    lo, hi = sr // 400, sr // 70
    lag = lo + ac[:, lo:hi].argmax(1)
    strength = ac[np.arange(len(ac)), lag] / (ac[:, 0] + 1e-12)
    pv = voiced & (strength > 0.4)
    f0 = 12 * np.log2(sr / lag[pv]) if pv.sum() > 2 else np.zeros(3)   # semitones
    t = np.flatnonzero(pv) * hop / sr if pv.sum() > 2 else np.arange(3.0)
    slope = np.polyfit(t, f0, 1)[0] if len(f0) > 2 else 0.0
    env = energy - energy.mean()
    mod = np.abs(np.fft.rfft(env * np.hanning(len(env))))
    mfreq = np.fft.rfftfreq(len(env), hop / sr)
    band = (mfreq > 1.5) & (mfreq < 9)
    rate = mfreq[band][mod[band].argmax()]
    crossings = np.count_nonzero(np.diff((env > 0).astype(np.int8)) == 1) / (len(x) / sr)
    ev = energy[voiced]
    return np.array([ev.mean(), ev.std(), np.percentile(energy, 95), np.percentile(energy, 95) - np.percentile(
        energy, 10), voiced.mean(), np.median(f0), f0.std(), np.percentile(f0, 90) - np.percentile(f0, 10), slope,
        centroid[voiced].mean(), tilt[voiced].mean(), tilt[voiced].std(), rate, crossings])


def _clip_features(paths: tuple[Path, Path]) -> tuple[np.ndarray, np.ndarray]:
    return video_features(paths[0]), audio_features(paths[1])


def check_separability(root: Path, workers: int = 1) -> dict[str, dict[str, float]]:
    """Logistic regression on video, audio and fused features, trained and tested on every fold's manifests."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, balanced_accuracy_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from avfmae.data.manifest import read_manifest
    from benchmarks.datasets import synth
    folds = {f: {s: read_manifest(root / "splits" / f / f"{s}.tsv", num_classes=len(synth.LABELS))
                 for s in ("train", "test")} for f in synth.FOLDS}
    clips = {r.clip: r for split in folds[synth.FOLDS[0]].values() for r in split}
    jobs = [(root / r.video, root / r.audio) for r in clips.values()]
    if workers > 1:
        import multiprocessing
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            feats = dict(zip(clips, pool.map(_clip_features, jobs, chunksize=8)))
    else:
        feats = dict(zip(clips, map(_clip_features, jobs)))
    out: dict[str, dict[str, float]] = {}
    for name, pick in (("video", lambda v, a: v), ("audio", lambda v, a: a),
                       ("fused", lambda v, a: np.concatenate([v, a]))):
        accs, uars, val, aro = [], [], [], []
        for split in folds.values():
            xs = {s: np.stack([pick(*feats[r.clip]) for r in split[s]]) for s in split}
            ys = {s: np.array([r.target for r in split[s]]) for s in split}
            model = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=5000))
            model.fit(xs["train"], ys["train"])
            pred = model.predict(xs["test"])
            accs.append(accuracy_score(ys["test"], pred))
            uars.append(balanced_accuracy_score(ys["test"], pred))
            val.append(np.mean(pred // 2 == ys["test"] // 2))
            aro.append(np.mean(pred % 2 == ys["test"] % 2))
        out[name] = {"war": 100 * float(np.mean(accs)), "uar": 100 * float(np.mean(uars)),
                     "valence": 100 * float(np.mean(val)), "arousal": 100 * float(np.mean(aro))}
    return out


def format_check(result: dict[str, dict[str, float]]) -> str:
    lines = ["separability: logistic regression on simple features, subject-independent folds",
             "  (6 classes, chance 16.7 %; by design video-only <= 50 %, audio-only <= 33 %;",
             "   factor columns: how often the predicted class has the right face valence (chance 33 %)",
             "   and the right voice arousal (chance 50 %))"]
    for name, m in result.items():
        lines.append(f"  {name:6s} WAR {m['war']:5.1f} %  UAR {m['uar']:5.1f} %   "
                     f"valence {m['valence']:5.1f} %  arousal {m['arousal']:5.1f} %")
    return "\n".join(lines)
