"""Raw videos -> face-crop frame folders + 16 kHz wavs, in parallel, resumable, with a problem report.

    python -m benchmarks.data extract --raw DIR --out OUT [--workers N] [--size 224] [--fps 25] [--no-align]

For every video file under DIR (mp4, avi, flv, mkv, mov, webm, m4v, mpg, mpeg, wmv, 3gp, ts, mts, ogv):

    OUT/faces/<rel>/img_00001.jpg ...   face crops, size x size, one per output frame (1-based, 5 digits)
    OUT/audio_16k/<rel>.wav             16 kHz mono PCM16
    OUT/done/<rel>.json                 the done-marker: per-video result, written last (atomically)
    OUT/extract_report.json / .tsv      every video's result, rewritten at the end of each run

where <rel> is the video's path relative to DIR without its extension (so <rel> may contain folders).

Per video (`extract_video`):
    1. pass 1 decodes the frames (PyAV) and runs the face detector on each (see detect.py), with eye-line
       angles when aligning;
    2. tracking (track.py): detections -> tracks -> the main face (largest, most persistent), filled through
       frames without a detection and smoothed over time, so the crop does not shake;
    3. frame-rate: with --fps F > 0 the output has round(duration * F) frames; output frame k shows the source
       frame on screen at time k / F (frames are repeated or dropped; the audio is untouched, so the
       fraction-of-clip audio alignment of the loaders holds). --fps 0 keeps every source frame;
    4. pass 2 decodes again and writes the crops: a square of side (1 + 2 * margin) x the face box (margin 0.15
       by default), rotated to level the eye line when aligning, resized to --size (crop.py);
    5. the audio (audio.py): the ffmpeg CLI when installed, else decord/PyAV; a failure is reported, not fatal.

Alignment is ON by default (`--no-align` turns it off): the official fine-tuning data are OpenFace
similarity-aligned faces, and the closest offline stand-in is levelling the eye line found by OpenCV's eye
cascade. The angle is smoothed over 0.5 s and only used when the eyes were found in >= 20 % of the frames;
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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from avfmae.atomic import atomic_write_text, remove_stale

from .audio import BACKENDS, extract_wav
from .crop import crop_face
from .detect import DETECTORS, HaarFaceDetector
from .track import build_tracks, is_cut, jitter, main_chain, raw_jitter, smooth_path

VIDEO_EXTENSIONS = (".mp4", ".avi", ".flv", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".3gp",
                    ".ts", ".mts", ".ogv")
MARKER_VERSION = 1
REPORT_COLUMNS = ("video", "status", "frames_in", "frames_out", "fps_in", "detected_fraction", "jitter",
                  "aligned", "audio", "audio_seconds", "message")

__all__ = ["VIDEO_EXTENSIONS", "ExtractConfig", "find_videos", "rel_key", "output_paths", "extract_video",
           "run_extract", "ExtractSummary", "load_markers", "write_report", "problems"]


@dataclass(frozen=True)
class ExtractConfig:
    size: int = 224                  # output crop side (pixels)
    fps: float = 25.0                # output frame rate; 0 keeps every source frame
    align: bool = True               # level the eye line (Haar eye cascade)
    detector: str = "haar"           # see detect.DETECTORS
    margin: float = 0.15             # added on each side, as a fraction of the face box side
    jpeg_quality: int = 95
    audio: str = "auto"              # auto | ffmpeg | pyav | none
    detect_side: int = 480           # longer side of the frame the full-frame search runs on
    full_every: int = 12             # full-frame search every N frames (local search in between)
    max_gap_s: float = 1.0           # a track survives this long without a detection

    def settings(self) -> dict:
        """What a done-marker must match for its video to be skipped (everything that changes the output)."""
        d = asdict(self)
        d["version"] = MARKER_VERSION
        return d

    def __post_init__(self):
        if self.detector not in DETECTORS:
            raise ValueError(f"unknown detector {self.detector!r}; choose one of {', '.join(DETECTORS)}")
        if self.audio not in BACKENDS:
            raise ValueError(f"audio must be one of {BACKENDS}")
        if self.size < 8 or self.fps < 0 or self.margin < 0:
            raise ValueError("size must be >= 8, fps >= 0 and margin >= 0")


# -------------------------------------------------------------------------------------------------- layout
def find_videos(raw: str | os.PathLike, exclude: Sequence[os.PathLike] = ()) -> list[Path]:
    """Video files under `raw` (sorted; hidden folders and `exclude` folders skipped)."""
    raw = Path(raw)
    excluded = [Path(e).resolve() for e in exclude]
    found = []
    for dirpath, dirnames, filenames in os.walk(raw):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                             and (here / d).resolve() not in excluded)
        for f in sorted(filenames):
            if not f.startswith(".") and Path(f).suffix.lower() in VIDEO_EXTENSIONS:
                found.append(here / f)
    return sorted(found)


def rel_key(raw: str | os.PathLike, video: str | os.PathLike) -> str:
    """<rel>: the video's path relative to `raw`, without extension, with '/' separators."""
    return Path(video).relative_to(raw).with_suffix("").as_posix()


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


# -------------------------------------------------------------------------------------------------- decode
def _frame_time(frame, k: int, fps_guess: float) -> float:
    t = frame.time
    return float(t) if t is not None else k / fps_guess


def _frames(container, stream):
    """The decoded frames of `stream`; a decoder error is yielded (as the exception) and ends the stream."""
    it = container.decode(stream)
    while True:
        try:
            frame = next(it)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001 - av.error.* (corrupt or truncated data)
            yield exc
            return
        yield frame


def _unreadable(path: Path, exc: Exception) -> str:
    text = str(exc).replace(str(path), "<file>").strip()
    return f"unreadable video ({type(exc).__name__}: {text[:200]})"


def _pass1(path: Path, detector: HaarFaceDetector):
    """Decode every frame, find shot cuts, detect faces.
    -> (detections per frame, timestamps, cuts, fps, (width, height), error or None)."""
    import av
    import cv2

    dets, times, err = [], [], None
    diffs, cuts, prev = [], [], None
    size = None
    try:
        container = av.open(str(path))
    except Exception as exc:  # noqa: BLE001 - not a container PyAV/FFmpeg can open
        return [], [], [], None, None, _unreadable(path, exc)
    with container:
        if not container.streams.video:
            return [], [], [], None, None, "the file has no video stream"
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else None
        guess = fps or 25.0
        for k, frame in enumerate(_frames(container, stream)):
            if isinstance(frame, Exception):
                if not dets:
                    return [], [], [], None, None, _unreadable(path, frame)
                err = f"decoding stopped after {len(dets)} frames ({type(frame).__name__}: {str(frame)[:150]})"
                break
            gray = frame.to_ndarray(format="gray")
            size = (frame.width, frame.height)
            times.append(_frame_time(frame, k, guess))
            thumb = cv2.resize(gray, (32, 24), interpolation=cv2.INTER_AREA).astype(np.float32)
            diffs.append(0.0 if prev is None else float(np.abs(thumb - prev).mean()))
            prev = thumb
            if is_cut(diffs, k):
                cuts.append(k)
                detector.reset()
            dets.append(detector.detect(gray))
    if not dets and err is None:
        err = "the video stream holds no decodable frame"
    return dets, times, cuts, fps, size, err


def _source_fps(times: Sequence[float], fps: float | None) -> float:
    if fps and fps > 0:
        return fps
    if len(times) > 1:
        d = np.diff(np.asarray(times))
        d = d[d > 0]
        if d.size:
            return float(1.0 / np.median(d))
    return 25.0


def output_frame_map(times: Sequence[float], fps_in: float, fps_out: float) -> np.ndarray:
    """Source frame index of every output frame: the frame on screen at time k / fps_out (all frames when
    fps_out is 0)."""
    n = len(times)
    if fps_out <= 0 or n == 0:
        return np.arange(n, dtype=np.int64)
    t = np.asarray(times, dtype=np.float64)
    t = t - t[0]
    t = np.maximum.accumulate(t)  # tolerate non-monotonic timestamps
    duration = t[-1] + 1.0 / fps_in
    n_out = max(1, int(round(duration * fps_out)))
    out_t = np.arange(n_out) / fps_out
    idx = np.searchsorted(t, out_t + 1e-6, side="right") - 1
    return np.clip(idx, 0, n - 1).astype(np.int64)


def _pass2(path: Path, frame_map: np.ndarray, path_boxes, cfg: ExtractConfig, folder: Path) -> int:
    """Decode again and write the crop of every output frame into `folder`. -> number of frames written."""
    import av
    import cv2

    wanted: dict[int, list[int]] = {}
    for k, src in enumerate(frame_map):
        wanted.setdefault(int(src), []).append(k)
    last = max(wanted) if wanted else -1
    written = 0
    params = [cv2.IMWRITE_JPEG_QUALITY, int(cfg.jpeg_quality)]
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for i, frame in enumerate(_frames(container, stream)):
            if isinstance(frame, Exception):  # the same truncation as in pass 1
                break
            if i in wanted:
                bgr = frame.to_ndarray(format="bgr24")
                for k in wanted[i]:
                    crop = crop_face(bgr, path_boxes.cx[k], path_boxes.cy[k], path_boxes.side[k], cfg.size,
                                     path_boxes.angle[k] if cfg.align else 0.0, cfg.margin)
                    target = folder / f"img_{k + 1:05d}.jpg"
                    if not cv2.imwrite(str(target), crop, params):
                        raise OSError(f"cannot write {target}")
                    written += 1
            if i >= last:
                break
    if written < len(frame_map):  # frames pass 2 could not decode again: repeat the last written crop
        files = sorted(folder.glob("img_*.jpg"))
        if not files:
            raise RuntimeError("no frame could be decoded in the second pass")
        for k in range(len(frame_map)):
            f = folder / f"img_{k + 1:05d}.jpg"
            if not f.exists():
                prev = folder / f"img_{k:05d}.jpg"
                shutil.copyfile(prev if prev.exists() else files[0], f)
                written += 1
    return written


# -------------------------------------------------------------------------------------------------- one video
def extract_video(src: str | os.PathLike, rel: str, out: str | os.PathLike, cfg: ExtractConfig = ExtractConfig()
                  ) -> dict:
    """Process one video; write its frame folder, wav and done-marker. Returns the marker's content.

    Marker fields: video, source, status ("ok", "no-face", "unreadable"), frames_in, frames_out, fps_in,
    fps_out, detected_fraction (output frames with a detection of the main face), jitter and raw_jitter
    (track.jitter of the final / raw boxes), aligned, audio ("ok", "no-audio", "failed", "skipped"),
    audio_backend, audio_seconds, message, seconds, settings."""
    import cv2

    cv2.setNumThreads(1)
    t0 = time.time()
    src = Path(src)
    paths = output_paths(out, rel)
    _clear_leftovers(paths)
    rec = {"video": rel, "source": str(src), "status": "ok", "frames_in": 0, "frames_out": 0, "fps_in": None,
           "fps_out": cfg.fps, "detected_fraction": 0.0, "jitter": None, "raw_jitter": None, "aligned": False,
           "audio": "", "audio_backend": "", "audio_seconds": 0.0, "message": "", "settings": cfg.settings()}
    messages = []
    detector = HaarFaceDetector(cfg.detector, cfg.detect_side, cfg.full_every, eyes=True)  # eyes rank tracks
    dets, times, cuts, fps, size, err = _pass1(src, detector)
    if err:
        messages.append(err)
    if not dets:
        rec["status"] = "unreadable"
    else:
        fps_in = _source_fps(times, fps)
        rec["fps_in"] = round(fps_in, 3)
        rec["frames_in"] = len(dets)
        rec["width"], rec["height"] = size
        rec["shots"] = len(cuts) + 1
        tracks = build_tracks(dets, max_gap=max(1, int(round(cfg.max_gap_s * fps_in))), cuts=cuts)
        chain = main_chain(tracks, cuts=cuts)
        face_path = smooth_path(chain, len(dets), fps_in, cuts) if chain else None
        if face_path is not None and not cfg.align:
            face_path.angle[:] = 0.0
            face_path.angle_used = False
        if face_path is None:
            rec["status"] = "no-face"
            messages.append(f"no face found in any of the {len(dets)} frames")
        else:
            fmap = output_frame_map(times, fps_in, cfg.fps)
            out_path = face_path.take(fmap)
            rec["frames_out"] = int(len(fmap))
            rec["detected_fraction"] = round(out_path.detected_fraction, 4)
            rec["jitter"] = round(jitter(face_path), 5)  # on source frames: fps conversion repeats frames
            rec["raw_jitter"] = round(raw_jitter(chain), 5)
            rec["aligned"] = bool(cfg.align and face_path.angle_used)
            rec["angle_range"] = [round(float(out_path.angle.min()), 2), round(float(out_path.angle.max()), 2)] \
                if rec["aligned"] else [0.0, 0.0]
            rec["box_side_median"] = round(float(np.median(out_path.side)), 1)
            rec["tracks"] = len(tracks)
            paths["faces"].parent.mkdir(parents=True, exist_ok=True)
            tmp = paths["faces"].with_name(f".{paths['faces'].name}.tmp-{os.getpid()}")
            tmp.mkdir(parents=True)
            try:
                _pass2(src, fmap, out_path, cfg, tmp)
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
    rec["detector_searches"] = {"full": detector.full_searches, "local": detector.local_searches}
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
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="extract", unit="video", file=sys.stderr, dynamic_ncols=True)
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
