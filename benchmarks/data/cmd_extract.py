"""`extract --raw DIR --out DIR`: raw videos -> face-crop frame folders + 16 kHz wavs (benchmarks.prep)."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from avfmae.faces.audio import BACKENDS, ffmpeg_path
from avfmae.faces.detect import DETECTORS
from benchmarks.prep.extract import ExtractConfig, run_extract

_D = ExtractConfig()


def add_parser(subparsers):
    p = subparsers.add_parser(
        "extract", help="detect, track and crop faces from raw videos; extract 16 kHz wavs",
        description="For every video under --raw: face crops OUT/faces/<rel>/img_00001.jpg... (MTCNN "
                    "detection where facenet-pytorch is installed, else OpenCV Haar; tracking and temporal "
                    "smoothing; optional eye-line alignment) and the audio as "
                    "OUT/audio_16k/<rel>.wav (16 kHz mono PCM16). Resumable: finished videos are skipped. "
                    "Exits 1 when a video is unreadable or has no face (see the report).")
    p.add_argument("--raw", type=Path, required=True, help="folder searched recursively for video files")
    p.add_argument("--out", type=Path, required=True, help="output folder (faces/, audio_16k/, done/, report)")
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1),
                   help="parallel processes (default: cores - 1)")
    p.add_argument("--size", type=int, default=_D.size, help=f"crop side in pixels (default {_D.size})")
    p.add_argument("--fps", type=float, default=_D.fps,
                   help=f"output frame rate; 0 keeps every source frame (default {_D.fps:g})")
    p.add_argument("--align", action=argparse.BooleanOptionalAction, default=_D.align,
                   help="level the eye line (default on; --no-align for plain square crops)")
    p.add_argument("--detector", choices=tuple(DETECTORS), default=_D.detector,
                   help=f"face detector (default {_D.detector}): mtcnn = facenet-pytorch MTCNN (5 landmarks; the "
                        "default where installed), haar = OpenCV frontalface_default, haar-alt2 = frontalface_alt2")
    p.add_argument("--margin", type=float, default=_D.margin,
                   help=f"extra border on each side, as a fraction of the face box (default {_D.margin})")
    p.add_argument("--audio", choices=BACKENDS, default=_D.audio,
                   help="wav extraction: auto = ffmpeg CLI if installed, else decord/PyAV (default auto)")
    p.add_argument("--detect-side", type=int, default=_D.detect_side,
                   help=f"longer side of the frame the detector searches (default {_D.detect_side})")
    p.add_argument("--max-missing", type=float, default=0.5,
                   help="report clips where more than this fraction of frames had no detection (default 0.5)")
    p.add_argument("--retry-failed", action="store_true", help="redo videos that were unreadable or had no face")
    p.add_argument("--report", type=Path, default=None,
                   help="JSON report path (a .tsv is written beside it; default OUT/extract_report.json)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _table(rows, headers, width: int = 110) -> str:
    from tabulate import tabulate

    def cut(v):
        v = "" if v is None else str(v)
        return v if len(v) <= width else v[:width - 3] + "..."

    return tabulate([[cut(v) for v in row] for row in rows], headers=headers, tablefmt="simple")


def run(args) -> int:
    try:
        cfg = ExtractConfig(size=args.size, fps=args.fps, align=args.align, detector=args.detector,
                            margin=args.margin, audio=args.audio, detect_side=args.detect_side)
    except ValueError as err:
        print(f"error: {err}")
        return 2
    if not args.raw.is_dir():
        print(f"error: --raw {args.raw} is not a folder")
        return 2
    if cfg.audio in ("auto", "ffmpeg") and ffmpeg_path() is None:
        print("note: the ffmpeg command line is not installed; audio is decoded with decord/PyAV, which fail on "
              "some codecs (e.g. AC3). Install it with `apt-get install ffmpeg` for the official conversion.")
    summary = run_extract(args.raw, args.out, cfg, workers=args.workers, retry_failed=args.retry_failed,
                          max_missing=args.max_missing, progress=not args.no_progress, report=args.report)
    recs = summary.records
    ok = [r for r in recs if r.get("status") == "ok"]
    print(f"{len(recs)} videos: {len(summary.processed)} processed now, {len(summary.skipped)} already done; "
          f"{len(ok)} with faces, {sum(int(r.get('frames_out') or 0) for r in ok)} face frames")
    probs = summary.problems(args.max_missing)
    if probs["no_face"]:
        print(f"\nno face found ({len(probs['no_face'])}):")
        print(_table([(r["video"], r.get("frames_in", 0), r.get("message", "")) for r in probs["no_face"]],
                     ("video", "frames", "detail")))
    if probs["low_detection"]:
        print(f"\nmore than {args.max_missing:.0%} of the frames without a detection "
              f"({len(probs['low_detection'])}; boxes carried from neighbouring frames):")
        print(_table([(r["video"], r.get("frames_out"), f"{float(r.get('detected_fraction') or 0):.0%}")
                      for r in probs["low_detection"]], ("video", "frames", "detected")))
    if probs["unreadable"]:
        print(f"\nunreadable ({len(probs['unreadable'])}):")
        print(_table([(r["video"], r.get("message", "")) for r in probs["unreadable"]], ("video", "problem")))
    if probs["audio"]:
        print(f"\naudio problems ({len(probs['audio'])}):")
        print(_table([(r["video"], r.get("audio"), r.get("message", "")) for r in probs["audio"]],
                     ("video", "audio", "detail")))
    for rel, srcs in summary.duplicates:
        print(f"\nwarning: {', '.join(srcs)} all map to {rel}; only the first was extracted")
    print(f"\nreport: {summary.report_json} and {summary.report_tsv}")
    return 1 if (probs["no_face"] or probs["unreadable"]) else 0
