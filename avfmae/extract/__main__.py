"""python -m avfmae.extract --model NAME[.TAG] (--manifest SPLIT.tsv[@ROOT] | --videos DIR) --out FEATURES/

Per clip its pooled embedding (the classifier head's input), and with --regions / --layers the last layer's
region tokens / every layer's region-mean. Manifest clips are read as prepared (frame folders or videos + wavs);
raw videos (--videos) first go through the face pipeline of dataset extraction (avfmae.faces), then their centre
view is embedded. Output:
    OUT/clips/<clip id>.npz      one file per clip (written atomically): resuming skips clips already there
                                 (with the arrays asked for; OUT/extract.json: the model, another one is refused)
    OUT/features.npz             ids, features (N, D), targets (manifest clips with labels), extras
    OUT/features.json            model, weights, source, count, dimension
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
from pathlib import Path, PurePosixPath

import numpy as np

from avfmae.atomic import atomic_write

from .features import EXTRAS, centre_config, extract_features, features_of_batch


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m avfmae.extract", description=__doc__.split("\n\n")[1])
    p.add_argument("--model", required=True, help="zoo model name or name.tag")
    p.add_argument("--weights", default=None, help="weights file or tag for --model (default: the tag in --model)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--manifest", help="a split manifest: path/to/split.tsv, or split.tsv@DATA_ROOT")
    src.add_argument("--videos", type=Path, help="a folder of raw video files (searched recursively); a clip's id is "
                     "its path below the folder without extension (with it where two videos differ only there)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--regions", action="store_true", help="also store the last layer's region tokens")
    p.add_argument("--layers", action="store_true", help="also store every layer's region-mean")
    p.add_argument("--batch-size", type=int, default=8, help="clips per forward pass (default 8)")
    p.add_argument("--no-face-crop", action="store_true", help="--videos: centre crop when no face is found")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cuda or cuda:1 (default cpu)")
    p.add_argument("--seed", type=int, default=0, help="seed of a random init (no weights; default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def clip_file(out: Path, clip: str) -> Path:
    parts = PurePosixPath(clip).parts
    if not parts or any(p in ("..", ".", "") for p in parts) or PurePosixPath(clip).is_absolute():
        raise ValueError(f"clip id {clip!r} cannot name a file under {out}/clips; use plain relative ids")
    return out / "clips" / f"{clip}.npz"


EXTRA_KEYS = {"regions": ("region_video", "region_audio"), "layers": ("layers_video", "layers_audio")}


def clip_done(path: Path, extras) -> bool:
    """A clip file there that holds every array asked for (a run with --regions redoes clips of a run without)."""
    if not path.is_file():
        return False
    need = {"feature", *(k for e in extras for k in EXTRA_KEYS[e])}
    try:
        with np.load(path) as z:
            return need <= set(z.files)
    except (OSError, ValueError):   # not a readable npz: done again
        return False


def same_model(out: Path, model: dict) -> None:
    """OUT/extract.json names the model whose clips are in OUT: a run with another one stops (its clips would be
    kept as this model's)."""
    marker = out / "extract.json"
    if marker.is_file():
        try:
            old = json.loads(marker.read_text(encoding="utf-8"))
        except ValueError:
            old = None
        if old != model:
            raise ValueError(f"{out} holds the features of {old} (see {marker}), not of {model}: give another --out")
        return
    atomic_write(marker, lambda f: f.write(json.dumps(model)), binary=False)


def _save_clip(path: Path, arrays: dict) -> None:
    def write(f):
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        f.write(buf.getvalue())

    atomic_write(path, write)


def _manifest_clips(text: str):
    from avfmae.data.manifest import read_manifest
    from avfmae.train.sources import parse_source

    head = text.split("|")[0]
    if not (head.endswith(".tsv") or "@" in head or "/" in head):
        raise ValueError(f"--manifest {text!r}: give a manifest path (split.tsv or split.tsv@ROOT); dataset names "
                         "are resolved by the benchmark suite (benchmarks), not here")
    src = parse_source(text)
    if not src.manifest.is_file():
        raise FileNotFoundError(f"--manifest: {src.manifest} not found")
    return read_manifest(src.manifest), src.root


def _run_manifest(lm, args, out: Path, extras, progress) -> list:
    records, root = _manifest_clips(args.manifest)
    todo = [r for r in records if not clip_done(clip_file(out, r.clip), extras)]
    chunk = max(args.batch_size * 4, 1)
    from avfmae import progress as P

    bar = P.bar(total=len(todo), desc="features", unit="clip", disable=not progress, file=sys.stderr)
    for i in range(0, len(todo), chunk):
        part = todo[i:i + chunk]
        f = extract_features(lm.model, part, root, extras, args.batch_size, lm.modalities, on_error="skip")
        for k, (cid, target) in enumerate(zip(f.ids, f.targets)):
            arrays = {"feature": f.feats[k], **{n: a[k] for n, a in f.extra.items()}}
            if target is not None:
                arrays["target"] = np.asarray(target)
            _save_clip(clip_file(out, cid), arrays)
        bar.update(len(part))
    bar.close()
    return [r.clip for r in records]


def _run_videos(lm, args, out: Path, extras, progress) -> list:
    from avfmae.data.views import make_views, plan_test_views
    from avfmae.faces.pipeline import find_videos, rel_key
    from avfmae.predict.video import PredictError, prepare_video

    if not args.videos.is_dir():
        raise FileNotFoundError(f"--videos {args.videos}: not a folder")
    videos = find_videos(args.videos, exclude=[out])
    ids = [rel_key(args.videos, v) for v in videos]
    shared = {i for i in ids if ids.count(i) > 1}   # clip.mp4 and clip.mkv: their ids keep the extension
    if shared:
        print(f"note: {len(shared)} names are shared by videos that differ only in their extension (e.g. "
              f"{sorted(shared)[0]}); their clip ids keep the extension", file=sys.stderr)
        ids = [v.relative_to(args.videos).as_posix() if i in shared else i for v, i in zip(videos, ids)]
    cfg = centre_config(lm.model)
    from avfmae import progress as P

    for v, cid in P.iterate(list(zip(videos, ids)), desc="features", unit="video", disable=not progress,
                            file=sys.stderr):
        target = clip_file(out, cid)
        if clip_done(target, extras):
            continue
        try:
            with tempfile.TemporaryDirectory(prefix="avfmae-extract-") as work:
                prep = prepare_video(v, work, no_face_crop=args.no_face_crop)
                has_audio = prep.waveform is not None
                wave = prep.waveform if has_audio else np.zeros(int(prep.duration * cfg.sample_rate), np.float32)
                view = make_views(prep.frames, wave, cfg, plan_test_views(prep.num_frames, wave.shape[0], cfg))[0]
                mods = tuple(m for m in lm.modalities if m != "audio" or has_audio)
                res = features_of_batch(lm.model, view.video[None], view.audio[None], extras, mods, lm.silent)
        except PredictError as exc:
            print(f"error: {exc}", file=sys.stderr)
            continue
        if prep.warning:
            print(f"note: {v}: {prep.warning}", file=sys.stderr)
        if not has_audio:
            print(f"note: {v}: no usable audio; embedded with the silent (missing-audio) input", file=sys.stderr)
        _save_clip(target, {k: a[0] for k, a in res.items()})
    return ids


def assemble(out: Path, ids: list, meta: dict) -> Path:
    """OUT/features.npz from the per-clip files of `ids` that exist (in that order)."""
    rows = [(cid, np.load(clip_file(out, cid))) for cid in ids if clip_file(out, cid).is_file()]
    if not rows:
        raise RuntimeError(f"no clip could be embedded; see the errors above (nothing written to {out})")
    keys = [k for k in rows[0][1].files if all(k in z.files for _, z in rows)]
    arrays = {("features" if k == "feature" else k + ("s" if k == "target" else "")): np.stack([z[k] for _, z in rows])
              for k in keys}
    arrays["ids"] = np.array([cid for cid, _ in rows])
    _save_clip(out / "features.npz", arrays)
    meta = {**meta, "clips": len(rows), "dim": int(arrays["features"].shape[1]),
            "arrays": {k: list(v.shape) for k, v in arrays.items()}}
    atomic_write(out / "features.json", lambda f: f.write(json.dumps(meta, indent=1)), binary=False)
    return out / "features.npz"


def main(argv=None) -> int:
    from avfmae.predict.model import load_model  # the same model loading as predict (tags, files, metadata)

    args = build_parser().parse_args(argv)
    extras = tuple(e for e in EXTRAS if getattr(args, e))
    progress = not args.no_progress
    try:
        lm = load_model(args.model, args.weights, seed=args.seed, device=args.device, allow_no_head=True)
        args.out.mkdir(parents=True, exist_ok=True)
        same_model(args.out, {"model": args.model, "weights": str(Path(lm.weights).resolve()) if lm.weights else
                              None, "seed": None if lm.weights else args.seed})
        run = _run_manifest if args.manifest else _run_videos
        ids = run(lm, args, args.out, extras, progress)
        path = assemble(args.out, ids, {"model": args.model, "weights": lm.weights, "source": args.manifest or
                                        str(args.videos), "extras": list(extras)})
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n = len(np.load(path)["ids"])
    print(f"{n} of {len(ids)} clips embedded -> {path}" + (f" ({len(ids) - n} failed: see the errors above; "
          "re-running the command redoes only those)" if n < len(ids) else ""), file=sys.stderr)
    return 0 if n == len(ids) else 1     # as predict: 1 when some inputs failed


if __name__ == "__main__":
    from avfmae.cli import run_main

    run_main(main)
