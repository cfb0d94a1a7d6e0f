"""`doctor NAME`: check every clip of every fold of a prepared dataset before training on it.

    python -m benchmarks.data doctor mafw-11 [--root R] [--folds fold1 fold2] [--workers N] [--report FILE]
    python -m benchmarks.data doctor path/to/dataset          # any folder with splits/<fold>/<split>.tsv

Checks, per fold and split (train, val when present, test):
    * the manifest exists and parses (avfmae.data.manifest; labels within the dataset's classes);
    * every clip's video opens (frame folder or video file; first and last frame decoded, every frame with
      --deep) and its frame count: fewer than --min-frames (16, one view) is flagged: the loader pads by
      repeating the last frame;
    * the audio: the wav exists and is readable, with its sample rate (not 16 kHz: resampled on load),
      channels (several: averaged), length (empty: unusable; shorter than --min-audio seconds: flagged), and
      a length far from the video's (the fraction-of-clip alignment would be off); with no wav, the video
      file's audio track (a frame folder without a wav is unusable, except for video-only datasets);
    * the label histogram per fold and split (targets' range for regression datasets);
    * subjects (and clips) present in both train and test of a fold.

Unusable clips (missing, corrupt or empty media, no audio where audio is needed) and manifests that do not parse
are errors: each names the file and the manifest line, and the command exits 1. Flags are warnings. --report
writes everything as JSON (or the issue list as TSV when the name ends in .tsv).
"""
from __future__ import annotations

import sys
from pathlib import Path

from benchmarks.data.doctor_report import format_report, write_report
from benchmarks.datasets.diagnosis import diagnose
from benchmarks.datasets.spec import DATA_ROOT_ENV


def add_parser(subparsers):
    p = subparsers.add_parser(
        "doctor", help="check every clip of a prepared dataset (media, audio, labels, subject overlap)",
        description="Check the manifests and every clip of every fold of a prepared dataset; print a report and "
                    "exit 1 when a clip is unusable (naming the file and the manifest line).")
    p.add_argument("name", help="dataset name (see `list`), or the path of a folder holding splits/")
    p.add_argument("--root", type=Path, default=None, help=f"data root (default: ${DATA_ROOT_ENV} or ~/avf-data)")
    p.add_argument("--folds", nargs="+", default=None, help="only these folds (default: all)")
    p.add_argument("--workers", type=int, default=1, help="parallel processes for the media checks (default 1)")
    p.add_argument("--report", type=Path, default=None, help="write the full report (JSON, or TSV of issues)")
    p.add_argument("--deep", action="store_true", help="decode every frame and the whole audio (slow)")
    p.add_argument("--min-frames", type=int, default=16, help="flag clips with fewer frames (default 16)")
    p.add_argument("--min-audio", type=float, default=0.5, help="flag audio shorter than this, s (default 0.5)")
    p.add_argument("--max-issues", type=int, default=40, help="issues printed per severity (default 40)")
    return p


def run(args) -> int:
    try:
        rep = diagnose(args.name, args.root, args.folds, args.workers, args.deep, args.min_frames, args.min_audio,
                       progress=sys.stderr.isatty())
    except KeyError as err:
        print(f"error: {err.args[0]}")
        return 2
    except FileNotFoundError as err:
        print(f"error: {err}")
        return 2
    print(format_report(rep, args.max_issues))
    if args.report:
        write_report(rep, args.report)
        print(f"report: {args.report}")
    return 1 if rep["errors"] else 0
