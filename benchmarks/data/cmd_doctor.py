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

import csv
import io
import json
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from avfmae.atomic import atomic_write_text
from avfmae.data.manifest import ManifestError, read_manifest, resolve
from benchmarks.datasets.spec import DATA_ROOT_ENV, SPLITS, data_root

SAMPLE_RATE = 16000
ASSUMED_FOLDER_FPS = 25.0


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


# ------------------------------------------------------------------------------------------------- one clip
@dataclass
class ClipCheck:
    video: str
    audio: str | None
    frames: int = 0
    fps: float | None = None
    video_kind: str = ""           # "folder" or "file"
    sample_rate: int | None = None
    channels: int | None = None
    audio_seconds: float | None = None
    audio_source: str = ""         # "wav", "track", "none"
    errors: list = field(default_factory=list)    # (file, problem)
    warnings: list = field(default_factory=list)  # (file, problem)


def _check_image_headers(files) -> None:
    """Open every frame image's header (fast: no pixel decoding); raise VideoError on the first bad one."""
    from PIL import Image, UnidentifiedImageError

    from avfmae.data.errors import VideoError

    for f in files:
        try:
            with Image.open(f) as im:
                im.size  # noqa: B018 - parsing the header is the check
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
            raise VideoError(f, f"unreadable or corrupt frame image ({exc})",
                             "Re-extract this clip's frames, or drop the clip", kind="corrupt") from exc


def check_clip(root: str, video: str, audio: str | None, needs_audio: bool = True, deep: bool = False,
               min_frames: int = 16, min_audio: float = 0.5) -> ClipCheck:
    """Check one clip's media (paths relative to `root`). Never raises for bad media."""
    from avfmae.data.errors import ClipError
    from avfmae.data.readers import open_video, read_video_audio, read_wav

    res = ClipCheck(video, audio)
    # ----- video
    try:
        vpath = resolve(root, video)
    except ManifestError as exc:
        res.errors.append((video, exc.problem))
        vpath = None
    if vpath is not None:
        try:
            src = open_video(vpath, probe=True)
            res.frames = int(src.num_frames)
            res.fps = getattr(src, "fps", None)
            res.video_kind = "folder" if vpath.is_dir() else "file"
            if deep:
                for start in range(0, res.frames, 64):
                    src.get_frames(range(start, min(start + 64, res.frames)))
            elif res.video_kind == "folder":  # open_video does not probe folders: decode the ends, check headers
                src.get_frames(sorted({0, res.frames - 1}))
                _check_image_headers(getattr(src, "files", []))
            if res.frames < min_frames:
                res.warnings.append((str(vpath), f"{res.frames} frames < {min_frames}: padded by repeating the "
                                                 "last frame"))
        except ClipError as exc:
            res.errors.append((exc.path or str(vpath), exc.problem))
        except Exception as exc:  # noqa: BLE001
            res.errors.append((str(vpath), f"{type(exc).__name__}: {exc}"))
    # ----- audio
    if audio:
        res.audio_source = "wav"
        try:
            apath = resolve(root, audio)
        except ManifestError as exc:
            res.errors.append((audio, exc.problem))
            return res
        if not apath.is_file():
            res.errors.append((str(apath), "wav not found"))
            return res
        try:
            import soundfile as sf

            info = sf.info(str(apath))
            res.sample_rate, res.channels = int(info.samplerate), int(info.channels)
            res.audio_seconds = info.frames / float(info.samplerate) if info.samplerate else 0.0
            if info.frames <= 0:
                res.errors.append((str(apath), "audio file has no samples"))
                return res
            if deep:
                read_wav(apath, SAMPLE_RATE)
        except ClipError as exc:
            res.errors.append((exc.path or str(apath), exc.problem))
            return res
        except Exception as exc:  # noqa: BLE001 - soundfile's LibsndfileError and friends
            res.errors.append((str(apath), f"unreadable or corrupt audio ({str(exc).strip()[:160]})"))
            return res
        if res.sample_rate != SAMPLE_RATE:
            res.warnings.append((str(apath), f"{res.sample_rate} Hz: resampled to 16 kHz on every load"))
        if res.channels > 1:
            res.warnings.append((str(apath), f"{res.channels} channels: averaged to mono"))
    elif needs_audio:
        if vpath is not None and vpath.is_dir():
            res.audio_source = "none"
            res.errors.append((str(vpath), "frame folder without a wav in the manifest (a folder has no audio)"))
            return res
        if vpath is not None and not res.errors:
            res.audio_source = "track"
            try:
                if deep:
                    wav = read_video_audio(vpath, SAMPLE_RATE)
                    res.audio_seconds, res.sample_rate, res.channels = wav.shape[0] / SAMPLE_RATE, SAMPLE_RATE, 1
                else:
                    import av

                    with av.open(str(vpath)) as c:
                        if not c.streams.audio:
                            res.errors.append((str(vpath), "the video has no audio track and the manifest no wav"))
                            return res
                        st = c.streams.audio[0]
                        res.sample_rate = int(st.rate or 0) or None
                        res.channels = int(st.channels or 0) or None
                        if st.duration and st.time_base:
                            res.audio_seconds = float(st.duration * st.time_base)
            except ClipError as exc:
                res.errors.append((exc.path or str(vpath), exc.problem))
                return res
            except Exception as exc:  # noqa: BLE001
                res.errors.append((str(vpath), f"audio track unreadable ({type(exc).__name__}: {exc})"))
                return res
    else:
        res.audio_source = "none"
    if res.audio_seconds is not None and res.audio_source != "none":
        if res.audio_seconds < min_audio:
            res.warnings.append((str(apath) if audio else str(vpath),
                                 f"audio only {res.audio_seconds:.3f} s long (< {min_audio} s)"))
        if res.frames:
            vid_s = res.frames / (res.fps or ASSUMED_FOLDER_FPS)
            if vid_s > 0 and not 0.75 <= res.audio_seconds / vid_s <= 1.33:
                res.warnings.append((str(apath) if audio else str(vpath),
                                     f"audio {res.audio_seconds:.2f} s vs video {vid_s:.2f} s "
                                     f"({res.frames} frames at {res.fps or ASSUMED_FOLDER_FPS:g} fps): the "
                                     "fraction-of-clip audio alignment will be off"))
    return res


def _check_star(args) -> ClipCheck:
    return check_clip(*args)


# ---------------------------------------------------------------------------------------------- the dataset
def _line_numbers(path: Path) -> dict:
    """clip id -> line number in the manifest (header = line 1)."""
    out = {}
    try:
        rows = csv.reader(io.StringIO(path.read_text(encoding="utf-8")), delimiter="\t")
        for lineno, row in enumerate(rows, start=1):
            if lineno > 1 and row and row[0].strip():
                out.setdefault(row[0].strip(), lineno)
    except (OSError, UnicodeDecodeError):
        pass
    return out


def _resolve_dataset(name: str, root: Path | None):
    """(spec or None, dataset folder, folds, labels or None, regression, needs_audio, validation)."""
    p = Path(name).expanduser()
    if p.is_dir() and (p / "splits").is_dir():
        folds = tuple(sorted(d.name for d in (p / "splits").iterdir() if d.is_dir()))
        return None, p, folds, None, None, True, "test"
    from benchmarks.datasets.registry import get

    spec = get(name)
    return (spec, spec.path((root or data_root()).expanduser()), spec.folds, spec.labels, spec.regression,
            spec.has_audio, spec.validation)


def diagnose(name: str, root: Path | None = None, folds=None, workers: int = 1, deep: bool = False,
             min_frames: int = 16, min_audio: float = 0.5, progress: bool = False) -> dict:
    """Run every check; returns the report dict (see `format_report`). Raises KeyError for an unknown name."""
    spec, path, all_folds, labels, regression, needs_audio, validation = _resolve_dataset(name, root)
    if not (path / "splits").is_dir():
        raise FileNotFoundError(f"{path}/splits not found: the dataset is not prepared there. Run `python -m "
                                f"benchmarks.data prepare {name} --raw DIR` (or pass --root)")
    if folds:
        unknown = [f for f in folds if f not in all_folds]
        if unknown:
            raise KeyError(f"unknown fold(s) {', '.join(unknown)}; folds: {', '.join(all_folds)}")
    folds = list(folds or all_folds)
    num_classes = len(labels) if (labels and not regression) else None
    num_targets = len(labels) if (labels and regression) else None
    issues: list[dict] = []
    manifests: dict = {}   # (fold, split) -> list of records
    where: dict = {}       # (video, audio) -> list of (fold, split, manifest rel path, line, clip id)
    for fold in folds:
        for split in SPLITS:
            mpath = path / "splits" / fold / f"{split}.tsv"
            rel_m = mpath.relative_to(path).as_posix() if path in mpath.parents else str(mpath)
            required = split in ("train", "test") or (split == "val" and validation == "val")
            if not mpath.is_file():
                if required:
                    issues.append({"severity": "error", "fold": fold, "split": split, "manifest": rel_m,
                                   "line": None, "clip": "", "file": str(mpath), "problem": "manifest missing"})
                continue
            try:
                recs = read_manifest(mpath, num_classes=num_classes, num_targets=num_targets)
            except ManifestError as exc:
                issues.append({"severity": "error", "fold": fold, "split": split, "manifest": rel_m,
                               "line": exc.line, "clip": "", "file": str(mpath),
                               "problem": f"{exc.problem}. {exc.fix}" if exc.fix else exc.problem})
                continue
            manifests[(fold, split)] = recs
            lines = _line_numbers(mpath)
            for r in recs:
                where.setdefault((r.video, r.audio), []).append((fold, split, rel_m, lines.get(r.clip), r.clip))
    items = sorted(where)
    tasks = [(str(path), v, a, needs_audio, deep, min_frames, min_audio) for v, a in items]
    results: list[ClipCheck] = []
    bar = None
    if progress and tasks:
        from avfmae import progress as P

        bar = P.bar(total=len(tasks), desc="doctor", unit="clip", file=sys.stderr)
    if workers > 1 and len(tasks) > 1:
        import multiprocessing

        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            for res in pool.map(_check_star, tasks, chunksize=max(1, min(32, len(tasks) // (4 * workers)))):
                results.append(res)
                if bar:
                    bar.update(1)
    else:
        for t in tasks:
            results.append(_check_star(t))
            if bar:
                bar.update(1)
    if bar:
        bar.close()
    checks = {}
    for (v, a), res in zip(items, results):
        checks[(v, a)] = res
        for sev, entries in (("error", res.errors), ("warning", res.warnings)):
            for file, problem in entries:
                for fold, split, rel_m, line, clip in where[(v, a)]:
                    issues.append({"severity": sev, "fold": fold, "split": split, "manifest": rel_m, "line": line,
                                   "clip": clip, "file": file, "problem": problem})
    # ----- per fold/split summary, histograms, overlap
    splits_summary = []
    histograms: dict = {}
    regression_stats: dict = {}
    for (fold, split), recs in manifests.items():
        bad = sum(1 for r in recs if checks[(r.video, r.audio)].errors)
        warn = sum(1 for r in recs if checks[(r.video, r.audio)].warnings and not checks[(r.video, r.audio)].errors)
        frames = [checks[(r.video, r.audio)].frames for r in recs if not checks[(r.video, r.audio)].errors]
        splits_summary.append({"fold": fold, "split": split, "clips": len(recs), "unusable": bad, "flagged": warn,
                               "subjects": len({r.subject for r in recs if r.subject}),
                               "median_frames": sorted(frames)[len(frames) // 2] if frames else 0})
        if any(r.is_regression for r in recs):
            vals = [r.target for r in recs if r.is_regression]
            dims = len(vals[0]) if vals else 0
            regression_stats[f"{fold}/{split}"] = [
                {"min": min(v[i] for v in vals), "max": max(v[i] for v in vals),
                 "mean": sum(v[i] for v in vals) / len(vals)} for i in range(dims)]
        else:
            histograms[f"{fold}/{split}"] = dict(sorted(Counter(int(r.target) for r in recs).items()))
    overlap = []
    for fold in folds:
        tr, te = manifests.get((fold, "train")), manifests.get((fold, "test"))
        if tr is None or te is None:
            continue
        subj = sorted({r.subject for r in tr if r.subject} & {r.subject for r in te if r.subject})
        clips = sorted({r.video for r in tr} & {r.video for r in te})
        overlap.append({"fold": fold, "subjects": subj, "clips": clips})
        for what, found, show in (("subject(s)", subj, 8), ("clip(s)", clips, 5)):
            if found:
                listed = ", ".join(found[:show]) + (" ..." if len(found) > show else "")
                issues.append({"severity": "warning", "fold": fold, "split": "train+test", "manifest": "",
                               "line": None, "clip": "", "file": "",
                               "problem": f"{len(found)} {what} in both train and test: {listed}"})
    n_err = sum(1 for i in issues if i["severity"] == "error")
    return {
        "dataset": spec.name if spec else str(path), "path": str(path), "folds": folds,
        "labels": list(labels) if labels else None, "regression": bool(regression),
        "clips_checked": len(items), "unusable_clips": sum(1 for c in checks.values() if c.errors),
        "flagged_clips": sum(1 for c in checks.values() if c.warnings and not c.errors),
        "errors": n_err, "warnings": len(issues) - n_err, "splits": splits_summary, "histograms": histograms,
        "regression_stats": regression_stats, "overlap": overlap, "issues": issues,
        "clips": [asdict(c) for c in checks.values()], "deep": deep,
    }


# ------------------------------------------------------------------------------------------------- printing
def _cut(v, width: int = 90) -> str:
    s = "" if v is None else str(v)
    return s if len(s) <= width else s[:width - 3] + "..."


def _short_path(file: str, base: str, width: int = 70) -> str:
    """`file` relative to the dataset folder when inside it, else cut from the left."""
    if file and base and file.startswith(base.rstrip("/") + "/"):
        file = file[len(base.rstrip("/")) + 1:]
    return file if len(file) <= width else "..." + file[-(width - 3):]


def format_report(rep: dict, max_issues: int = 40) -> str:
    from tabulate import tabulate

    out = [f"dataset {rep['dataset']} at {rep['path']}: {len(rep['folds'])} fold(s), {rep['clips_checked']} "
           f"distinct clips checked{' (deep)' if rep['deep'] else ''}"]
    if rep["splits"]:
        out.append("")
        out.append(tabulate([(s["fold"], s["split"], s["clips"], s["subjects"], s["median_frames"], s["unusable"],
                              s["flagged"]) for s in rep["splits"]],
                            headers=("fold", "split", "clips", "subjects", "median frames", "unusable", "flagged"),
                            tablefmt="simple"))
    if rep["histograms"]:
        keys = list(rep["histograms"])
        classes = sorted({c for h in rep["histograms"].values() for c in h})
        names = rep["labels"] or []
        out.append("\nlabel histogram (clips per class):")
        if len(keys) <= 12:
            rows = [[c, names[c] if c < len(names) else ""] + [rep["histograms"][k].get(c, 0) for k in keys]
                    for c in classes]
            out.append(tabulate(rows, headers=["id", "label"] + keys, tablefmt="simple"))
        else:  # many folds (LOSO): per split, the sum over folds and the per-fold range
            splits = sorted({k.split("/")[1] for k in keys}, key=SPLITS.index)
            rows = []
            for c in classes:
                row = [c, names[c] if c < len(names) else ""]
                for sp in splits:
                    v = [rep["histograms"][k].get(c, 0) for k in keys if k.endswith("/" + sp)]
                    row.append(f"{sum(v)} ({min(v)}-{max(v)}/fold)")
                rows.append(row)
            out.append(tabulate(rows, headers=["id", "label"] + splits, tablefmt="simple"))
        missing = [(k, names[c] if c < len(names) else c) for k in keys if k.endswith("/test")
                   for c in range(len(names)) if rep["histograms"][k].get(c, 0) == 0] if names else []
        if missing:
            out.append(f"note: {len(missing)} (fold, class) pair(s) with no test clip, e.g. "
                       + ", ".join(f"{k}: {n}" for k, n in missing[:4]))
    if rep["regression_stats"]:
        out.append("\nregression targets (min / mean / max):")
        names = rep["labels"] or []
        rows = [[k] + [f"{d['min']:.3f} / {d['mean']:.3f} / {d['max']:.3f}" for d in v]
                for k, v in rep["regression_stats"].items()]
        out.append(tabulate(rows, headers=["fold/split"] + list(names), tablefmt="simple"))
    if rep["overlap"]:
        bad = [o for o in rep["overlap"] if o["subjects"] or o["clips"]]
        out.append(f"\nsubject overlap train/test: {len(bad)} of {len(rep['overlap'])} fold(s)"
                   + ("" if not bad else ": " + ", ".join(f"{o['fold']} ({len(o['subjects'])} subjects, "
                                                        f"{len(o['clips'])} clips)" for o in bad)))
    for sev in ("error", "warning"):
        items = [i for i in rep["issues"] if i["severity"] == sev]
        if not items:
            continue
        title = "UNUSABLE (errors)" if sev == "error" else "flagged (warnings)"
        out.append(f"\n{title}: {len(items)}")
        rows = [(f"{i['manifest']}:{i['line']}" if i["line"] else i["manifest"] or f"{i['fold']}", i["clip"],
                 _short_path(i["file"], rep["path"]), _cut(i["problem"])) for i in items[:max_issues]]
        out.append(tabulate(rows, headers=("manifest:line", "clip", "file (in the dataset folder)", "problem"),
                            tablefmt="simple"))
        if len(items) > max_issues:
            out.append(f"... and {len(items) - max_issues} more (see --report)")
    verdict = ("OK: every clip is usable" if rep["errors"] == 0 else
               f"FAILED: {rep['errors']} error(s), {rep['unusable_clips']} unusable clip(s)")
    out.append(f"\n{verdict}; {rep['warnings']} warning(s), {rep['flagged_clips']} flagged clip(s)")
    return "\n".join(out)


def write_report(rep: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".tsv":
        cols = ("severity", "fold", "split", "manifest", "line", "clip", "file", "problem")
        lines = ["\t".join(cols)] + ["\t".join("" if i[c] is None else str(i[c]).replace("\t", " ") for c in cols)
                                     for i in rep["issues"]]
        text = "\n".join(lines) + "\n"
    else:
        text = json.dumps(rep, indent=1, default=str)
    atomic_write_text(path, text)


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
