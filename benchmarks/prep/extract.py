"""Raw videos -> face-crop frame folders + 16 kHz wavs, in parallel, resumable, with a problem report.

    python -m benchmarks.data extract --raw DIR --out OUT [--workers N] [--size 224] [--fps 25] [--no-align]

For every video file under DIR (mp4, avi, flv, mkv, mov, webm, m4v, mpg, mpeg, wmv, 3gp, ts, mts, ogv):

    OUT/faces/<rel>/img_00001.jpg ...   face crops, size x size, one per output frame (1-based, 5 digits)
    OUT/audio_16k/<rel>.wav             16 kHz mono PCM16
    OUT/done/<rel>.json                 the done-marker: per-video result, written last (atomically)
    OUT/extract_report.json / .tsv      every video's result, rewritten at the end of each run

where <rel> is the video's path relative to DIR without its extension (so <rel> may contain folders).

Per video (`extract_video`): the face pipeline of avfmae.faces.pipeline (detection with MTCNN where
facenet-pytorch is installed, else Haar; tracking; smoothing; frame-rate conversion; crops of side
(1 + 2 * margin) x the face box, margin 0.15 by default, levelled, resized to --size), then the audio
(avfmae.faces.audio: the ffmpeg CLI when installed, else decord/PyAV; a failure is reported, not fatal).
The marker and the report record the detector and its version; OUT/faces_pipeline.json holds the run's
settings and detector version only (stable bytes, for a dataset revision to hash).

Alignment is ON by default (`--no-align` turns it off): the official fine-tuning data are OpenFace
similarity-aligned faces, and the closest offline stand-in is levelling the eye line (MTCNN's eye landmarks,
or OpenCV's eye cascade with Haar). The angle is smoothed over 0.5 s and only used when the eyes were found in >= 20 % of the frames;
else the crop is unrotated (the marker's "aligned" says which). OpenFace's scale/translation normalisation by
68 landmarks is not reproduced.

Resuming: the frames go to a temporary folder renamed into place when complete, then the marker is written. A
run skips every video whose marker exists and was made with the same settings, so a killed run redoes only
unfinished videos (and clears their leftovers). Videos that failed (unreadable, no face) are not retried
unless --retry-failed.

Report: videos with no face at all, videos where more than --max-missing (default 0.5) of the output frames
had no detection of the main face (their boxes are carried over from neighbouring frames), unreadable files,
and audio problems (no track, or no decoder). The command exits 1 when any video is unreadable or has no face.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from avfmae.faces.audio import extract_wav
from avfmae.faces.detect import describe_detector
from avfmae.faces.pipeline import (MARKER_VERSION, VIDEO_EXTENSIONS, ExtractConfig, find_videos,  # noqa: F401
                                   output_frame_map, rel_key, scan_faces, write_crops)

from avfmae.atomic import atomic_write_text, remove_stale
REPORT_COLUMNS = ("video", "status", "frames_in", "frames_out", "fps_in", "detected_fraction", "jitter",
                  "aligned", "audio", "audio_seconds", "detector", "message")

__all__ = ["VIDEO_EXTENSIONS", "ExtractConfig", "find_videos", "rel_key", "output_paths", "extract_video",
           "run_extract", "ExtractSummary", "load_markers", "write_report", "problems", "output_frame_map"]


def output_paths(out: str | os.PathLike, rel: str) -> dict:
    out = Path(out)
    return {"faces": out / "faces" / rel, "wav": out / "audio_16k" / f"{rel}.wav",
            "marker": out / "done" / f"{rel}.json"}


def _write_json_atomic(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True))


def _clear_leftovers(paths: dict) -> None:
    """Remove a previous attempt's outputs of one video: temp folders, an unmarked frame folder, temp wavs."""
    faces = paths["faces"]
    if faces.parent.is_dir():
        for p in faces.parent.glob(f".{faces.name}.tmp-*"):
            shutil.rmtree(p, ignore_errors=True)
    if faces.exists():
        shutil.rmtree(faces, ignore_errors=True)
    wav = paths["wav"]
    remove_stale(wav.parent)  # temp wavs of a killed run (avfmae.atomic names)



# -------------------------------------------------------------------------------------------------- one video
def extract_video(src: str | os.PathLike, rel: str, out: str | os.PathLike, cfg: ExtractConfig = ExtractConfig()
                  ) -> dict:
    """Process one video; write its frame folder, wav and done-marker. Returns the marker's content.

    Marker fields: video, source, status ("ok", "no-face", "unreadable"), frames_in, frames_out, fps_in,
    fps_out, detected_fraction (output frames with a detection of the main face), jitter and raw_jitter
    (track.jitter of the final / raw boxes), aligned, audio ("ok", "no-audio", "failed", "skipped"),
    audio_backend, audio_seconds, detector (name and version), message, seconds, settings."""
    t0 = time.time()
    src = Path(src)
    paths = output_paths(out, rel)
    _clear_leftovers(paths)
    rec = {"video": rel, "source": str(src), "status": "ok", "frames_in": 0, "frames_out": 0, "fps_in": None,
           "fps_out": cfg.fps, "detected_fraction": 0.0, "jitter": None, "raw_jitter": None, "aligned": False,
           "audio": "", "audio_backend": "", "audio_seconds": 0.0, "message": "", "settings": cfg.settings()}
    messages = []
    scan = scan_faces(src, cfg)
    rec["detector"] = scan.detector
    if scan.error:
        messages.append(scan.error)
    if not scan.frames_in:
        rec["status"] = "unreadable"
    else:
        rec["fps_in"] = round(scan.fps_in, 3)
        rec["frames_in"] = scan.frames_in
        rec["width"], rec["height"] = scan.size
        rec["shots"] = len(scan.cuts) + 1
        if scan.out_path is None:
            rec["status"] = "no-face"
            messages.append(f"no face found in any of the {scan.frames_in} frames")
        else:
            rec["frames_out"] = int(len(scan.frame_map))
            rec.update(scan.stats())
            paths["faces"].parent.mkdir(parents=True, exist_ok=True)
            tmp = paths["faces"].with_name(f".{paths['faces'].name}.tmp-{os.getpid()}")
            tmp.mkdir(parents=True)
            try:
                write_crops(src, scan.frame_map, scan.out_path, cfg, tmp)
                if paths["faces"].exists():
                    shutil.rmtree(paths["faces"])
                os.replace(tmp, paths["faces"])
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
    audio = extract_wav(src, paths["wav"], cfg.audio)
    rec["audio"], rec["audio_backend"] = audio.status, audio.backend
    rec["audio_seconds"] = round(audio.seconds, 3)
    if audio.message and audio.status != "skipped":
        messages.append(audio.message)
    rec["message"] = "; ".join(messages)
    rec["seconds"] = round(time.time() - t0, 2)
    rec["detector_searches"] = scan.searches
    _write_json_atomic(paths["marker"], rec)
    return rec


def _safe_extract(args) -> dict:
    """Worker entry: never raises (an unexpected error becomes an 'error' result without a marker)."""
    src, rel, out, cfg = args
    try:
        return extract_video(src, rel, out, cfg)
    except Exception as exc:  # noqa: BLE001
        return {"video": rel, "source": str(src), "status": "error", "message": f"{type(exc).__name__}: {exc}",
                "frames_in": 0, "frames_out": 0, "audio": "", "settings": cfg.settings()}


# -------------------------------------------------------------------------------------------------- the run
@dataclass
class ExtractSummary:
    records: list            # every video's result (this run's and earlier runs' markers)
    processed: list          # <rel> of the videos processed in this run
    skipped: list            # <rel> of the videos already done
    duplicates: list         # (rel, [sources]) of videos whose outputs would collide
    report_json: Path | None = None
    report_tsv: Path | None = None

    def problems(self, max_missing: float = 0.5) -> dict:
        return problems(self.records, max_missing)


def load_markers(out: str | os.PathLike) -> dict:
    """<rel> -> marker content for every done-marker under OUT/done."""
    done = Path(out) / "done"
    found = {}
    if done.is_dir():
        for p in done.rglob("*.json"):
            if p.name.startswith("."):
                continue
            try:
                rec = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            found[p.relative_to(done).with_suffix("").as_posix()] = rec
    return found


def _is_done(out: Path, rel: str, cfg: ExtractConfig, retry_failed: bool) -> bool:
    """A valid marker made with the same settings, whose frame folder is still there (for "ok")."""
    paths = output_paths(out, rel)
    try:
        rec = json.loads(paths["marker"].read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if rec.get("settings") != json.loads(json.dumps(cfg.settings())):
        return False
    if retry_failed and rec.get("status") != "ok":
        return False
    return rec.get("status") != "ok" or paths["faces"].is_dir()


def problems(records: Iterable[dict], max_missing: float = 0.5) -> dict:
    """Problem lists: no_face, low_detection (> max_missing of the frames without a detection), unreadable
    (incl. unexpected errors), audio (no track or not extractable)."""
    out = {"no_face": [], "low_detection": [], "unreadable": [], "audio": []}
    for r in records:
        st = r.get("status")
        if st == "no-face":
            out["no_face"].append(r)
        elif st in ("unreadable", "error"):
            out["unreadable"].append(r)
        elif st == "ok" and 1.0 - float(r.get("detected_fraction") or 0.0) > max_missing:
            out["low_detection"].append(r)
        if r.get("audio") in ("failed", "no-audio") and st not in ("unreadable", "error"):
            out["audio"].append(r)
    return out


def write_report(out: str | os.PathLike, records: Sequence[dict], max_missing: float = 0.5,
                 path: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """OUT/extract_report.json (all records + problem lists) and .tsv (one line per video). `path` overrides
    the JSON file's location (the TSV goes beside it)."""
    out = Path(out)
    json_path = Path(path) if path else out / "extract_report.json"
    tsv_path = json_path.with_suffix(".tsv")
    probs = problems(records, max_missing)
    data = {"max_missing": max_missing, "videos": len(records),
            "problems": {k: [r["video"] for r in v] for k, v in probs.items()},
            "records": sorted(records, key=lambda r: r["video"])}
    _write_json_atomic(json_path, data)
    lines = ["\t".join(REPORT_COLUMNS)]
    for r in data["records"]:
        lines.append("\t".join("" if r.get(c) is None else str(r.get(c)).replace("\t", " ").replace("\n", " ")
                               for c in REPORT_COLUMNS))
    atomic_write_text(tsv_path, "\n".join(lines) + "\n")
    return json_path, tsv_path


def run_extract(raw: str | os.PathLike, out: str | os.PathLike, cfg: ExtractConfig = ExtractConfig(),
                workers: int = 1, retry_failed: bool = False, max_missing: float = 0.5, progress: bool = True,
                report: str | os.PathLike | None = None) -> ExtractSummary:
    """Extract every video under `raw` into `out` (see the module docstring). `workers` > 1 uses a process
    pool. Returns the summary; the report files are written whatever happened."""
    raw, out = Path(raw), Path(out)
    if not raw.is_dir():
        raise FileNotFoundError(f"raw folder not found: {raw}")
    out.mkdir(parents=True, exist_ok=True)
    _write_json_atomic(out / "faces_pipeline.json",  # stable bytes: settings + detector version, no timings
                       {"settings": cfg.settings(), "detector": describe_detector(cfg.detector)})
    videos = find_videos(raw, exclude=[out])
    by_rel: dict[str, list[Path]] = {}
    for v in videos:
        by_rel.setdefault(rel_key(raw, v), []).append(v)
    duplicates = [(rel, [str(p) for p in srcs]) for rel, srcs in by_rel.items() if len(srcs) > 1]
    todo, skipped = [], []
    for rel, srcs in sorted(by_rel.items()):
        if _is_done(out, rel, cfg, retry_failed):
            skipped.append(rel)
        else:
            todo.append((str(srcs[0]), rel, str(out), cfg))
    results = []
    bar = None
    if progress:
        from avfmae import progress as P

        bar = P.bar(total=len(todo), desc="extract", unit="video", file=sys.stderr)
    try:
        if workers <= 1 or len(todo) <= 1:
            for item in todo:
                results.append(_safe_extract(item))
                if bar:
                    bar.update(1)
        else:
            import multiprocessing

            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                futures = [pool.submit(_safe_extract, item) for item in todo]
                try:
                    for fut in as_completed(futures):
                        results.append(fut.result())
                        if bar:
                            bar.update(1)
                except KeyboardInterrupt:
                    for f in futures:
                        f.cancel()
                    raise
    finally:
        if bar:
            bar.close()
    markers = load_markers(out)
    for r in results:  # unexpected errors have no marker
        markers.setdefault(r["video"], r)
        if r.get("status") == "error":
            markers[r["video"]] = r
    for rel, srcs in duplicates:
        rec = dict(markers.get(rel, {"video": rel, "status": "ok", "frames_in": 0, "frames_out": 0}))
        rec["message"] = (rec.get("message", "") + "; " if rec.get("message") else "") + \
            f"several sources map to this output ({', '.join(srcs)}); only the first was used"
        markers[rel] = rec
    records = [markers[r] for r in sorted(markers) if r in by_rel]
    jp, tp = write_report(out, records, max_missing, report)
    return ExtractSummary(records, [r["video"] for r in results], skipped, duplicates, jp, tp)
