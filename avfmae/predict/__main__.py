"""python -m avfmae.predict VIDEO_OR_FOLDER... --model NAME[.TAG] [--weights FILE] [--out FILE] [--plot PNG]"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from avfmae.faces.pipeline import VIDEO_EXTENSIONS, ExtractConfig, find_videos

from .model import load_model, parse_labels
from .output import FORMATS, OutputFile, plot_video, video_rows, writable
from .video import PredictError, prepare_video
from .windows import predict_windows


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value > 0:
            raise argparse.ArgumentTypeError(f"{text!r} is not a positive {kind.__name__}")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m avfmae.predict",
        description="Emotions from video files: detect and track the main face, crop it as the training data "
                    "were cropped, extract 16 kHz mono audio, slide the model's window over the whole video, "
                    "and write per-window and per-video class probabilities (or regression values).")
    p.add_argument("videos", nargs="+", type=Path, help="video files (mp4, avi, mkv, webm, ...) or folders of them "
                   "(searched recursively; other files are ignored; a video named twice is done once)")
    p.add_argument("--model", required=True, help="zoo model name, or name.tag for registered weights "
                   "(e.g. avfmae-micro.demo-s3); see python -m zoo list")
    p.add_argument("--weights", default=None, help="a weights file (.safetensors / .pth) or tag for --model "
                   "(default: the tag in --model; given, it is used instead of that tag)")
    p.add_argument("--labels", default=None, help="class names, comma-separated or a file with one per line "
                   "(default: the weights' metadata, else class_0, class_1, ...)")
    p.add_argument("--num-classes", type=int, default=None, help="head size for a model without weights")
    p.add_argument("--regression", action="store_true", default=None, help="treat the outputs as regression "
                   "values (default: from the weights' metadata)")
    p.add_argument("--hop", type=_positive(float), default=1.0, help="seconds between window starts, rounded to "
                   "whole strides of the contract's frame sampling (0.16 s at 25 fps for stride 4: the default 1.0 "
                   "gives 0.96 s); the window is 2.56 s for the standard contract")
    p.add_argument("--format", choices=FORMATS, default=None, help="jsonl or csv (default: from --out's "
                   "extension, else jsonl)")
    p.add_argument("--out", type=Path, default=None, help="output file (appended; videos already in it are "
                   "skipped, so a killed run resumes; a file of another model is refused). Default: standard output")
    p.add_argument("--plot", type=Path, default=None, help="PNG of the probabilities over time with face "
                   "thumbnails (several videos: NAME-<video>.png, <video> the file's stem, or where videos share a "
                   "stem its path below their common folder with '-' for '/')")
    p.add_argument("--no-face-crop", action="store_true", help="a video without a detectable face uses the "
                   "centre square of each frame instead of failing")
    p.add_argument("--detector", default=None, help="face detector: mtcnn (default where installed) or haar")
    p.add_argument("--batch-size", type=_positive(int), default=8, help="windows per forward pass (default 8)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cuda or cuda:1 (default cpu)")
    p.add_argument("--seed", type=int, default=0, help="seed of a random init (no weights; default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (it shows for several videos)")
    return p


def collect_videos(items) -> list[Path]:
    """Files as given; folders searched recursively for video files; a file named twice (or also found in a
    folder given) once. A missing path is an error."""
    out, seen = [], set()
    for item in items:
        if item.is_dir():
            found = [v for v in find_videos(item) if v.suffix.lower() in VIDEO_EXTENSIONS]
        elif item.is_file():
            found = [item]
        else:
            raise FileNotFoundError(f"{item}: no such file or folder")
        for v in found:
            key = v.resolve()
            if key not in seen:
                seen.add(key)
                out.append(v)
    return out


def plot_names(videos: list[Path]) -> dict[Path, str]:
    """The <video> part of each plot's name (NAME-<video>.png): the file's stem where no other video has it,
    else its path below the videos' common folder ('-' for '/'), with its extension where even that is shared."""
    def taken(names):
        return {n for n in names if names.count(n) > 1}

    names = [v.stem for v in videos]
    if taken(names):
        absolute = [v.resolve() for v in videos]
        root = Path(os.path.commonpath([str(a.parent) for a in absolute]))
        rel = [a.relative_to(root) for a in absolute]
        longer = ["-".join(r.with_suffix("").parts) for r in rel]
        names = [longer[i] if names[i] in taken(names) else names[i] for i in range(len(videos))]
        names = ["-".join(rel[i].parts) if names[i] in taken(names) else names[i] for i in range(len(videos))]
    return dict(zip(videos, names))


def _quiet_stdout() -> None:
    """Point standard output at /dev/null, so Python's final flush does not fail again on the closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):   # not a real file (e.g. replaced in a test)
        sys.stdout = open(os.devnull, "w")
    finally:
        os.close(devnull)


def _plot_path(plot: Path, video: Path, names: dict | None) -> Path:
    return plot.with_name(f"{plot.stem}-{names[video]}{plot.suffix or '.png'}") if names else plot


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    log = sys.stderr
    try:
        videos = collect_videos(args.videos)
        labels = parse_labels(args.labels)
        cfg = ExtractConfig(detector=args.detector) if args.detector else ExtractConfig()
        lm = load_model(args.model, args.weights, labels, args.num_classes, args.regression, args.seed,
                        args.device)
        fmt = args.format or ("csv" if args.out is not None and args.out.suffix.lower() == ".csv" else "jsonl")
        model = args.model if not args.weights else f"{args.model} ({args.weights})"
        out = OutputFile(args.out, fmt, lm.labels, model)
        names = plot_names(videos) if len(videos) > 1 else None
        if args.plot:
            writable(_plot_path(args.plot, videos[0], names) if videos else args.plot, "--plot")
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=log)
        return 2
    if not videos:
        print(f"error: no video files ({', '.join(VIDEO_EXTENSIONS)}) in {' '.join(map(str, args.videos))}",
              file=log)
        return 2
    if lm.weights is None:
        print(f"note: {args.model} has no weights (seeded random init): the outputs are meaningless", file=log)
    done = {Path(d).resolve() for d in out.done}   # videos/x.mp4 and /abs/videos/x.mp4 are the same video
    todo = [v for v in videos if v.resolve() not in done]
    skipped = len(videos) - len(todo)
    failed = []
    from avfmae import progress as P

    for v in P.iterate(todo, desc="predict", unit="video", file=log, disable=args.no_progress or len(todo) < 2):
        try:
            with tempfile.TemporaryDirectory(prefix="avfmae-predict-") as work:
                prep = prepare_video(v, work, cfg, args.no_face_crop)
                if prep.warning:
                    print(f"note: {v}: {prep.warning}", file=log)
                if prep.audio != "ok":
                    why = "it has no audio track" if prep.audio == "no-audio" else \
                        f"its audio could not be decoded ({prep.audio_message})"
                    print(f"note: {v}: {why}; using the model's missing-audio input (silent fbank)", file=log)
                if prep.face == "centre":
                    print(f"note: {v}: no face found; using the centre crop (--no-face-crop)", file=log)
                windows = predict_windows(lm, prep, args.hop, args.batch_size)
                info = {"duration": round(prep.duration, 3), "audio": prep.audio, "face": prep.face,
                        "detected_fraction": round(prep.detected_fraction, 4), "detector": prep.detector,
                        "model": model}
                rows = video_rows(str(v), windows, lm.labels, lm.regression, info)
                if args.plot:
                    plot_video(_plot_path(args.plot, v, names), windows, lm.labels, lm.regression,
                               prep.frames, prep.fps, f"{v.name} - {rows[-1]['label'] or args.model}")
            out.write(rows, sys.stdout)
        except PredictError as exc:
            failed.append(v)
            print(f"error: {exc}", file=log)
        except BrokenPipeError:   # standard output's reader stopped (e.g. `| head`): nobody reads the rest
            _quiet_stdout()
            return 1
    done = len(todo) - len(failed)
    resumed = f"{skipped} already in {args.out} (skipped), " if args.out else ""
    print(f"{len(videos)} videos: {done} predicted, {resumed}{len(failed)} failed"
          + (f"; results in {args.out}" if args.out else ""), file=log)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
