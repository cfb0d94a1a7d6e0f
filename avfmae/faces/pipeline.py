"""One video -> its main face's smoothed box per frame -> face crops: the pipeline behind dataset extraction
(`python -m benchmarks.data extract`) and `python -m avfmae.predict`, so both crop alike.

    cfg = ExtractConfig()                       # 224 px, 25 fps, eye-line alignment, margin 0.15, MTCNN/Haar
    scan = scan_faces("clip.mp4", cfg)          # pass 1: decode, shot cuts, detection, tracking, smoothing
    if scan.out_path is not None:
        write_crops("clip.mp4", scan.frame_map, scan.out_path, cfg, folder)   # pass 2: img_00001.jpg ...

1. pass 1 decodes the frames (PyAV) and runs the face detector on each (detect.py / mtcnn.py), with eye-line
   angles; frames whose thumbnail jumps start a new shot (track.is_cut) and reset the detector;
2. tracking (track.py): detections -> tracks -> the main face (largest, most persistent), filled through
   frames without a detection and smoothed over time, so the crop does not shake;
3. frame-rate: with fps F > 0 the output has round(duration * F) frames; output frame k shows the source frame
   on screen at time k / F (frames are repeated or dropped; the audio is untouched, so the fraction-of-clip audio
   alignment of the loaders holds). fps 0 keeps every source frame;
4. pass 2 decodes again and writes the crops: a square of side (1 + 2 * margin) x the face box, rotated to level
   the eye line when aligning, resized to `size` (crop.py), JPEG quality `jpeg_quality`.
   Both passes see each frame upright as a player shows it (`upright`: the display matrix's rotation applied),
   at the first frame's size (a stream that changes resolution is scaled to it).

`centre_path` gives the fixed centre square of every frame (for videos without a detectable face, on request).
"""
from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .audio import BACKENDS
from .crop import crop_face
from .detect import DETECTORS, default_detector, make_detector
from .track import FacePath, build_tracks, is_cut, jitter, main_chain, raw_jitter, smooth_path

VIDEO_EXTENSIONS = (".mp4", ".avi", ".flv", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".3gp",
                    ".ts", ".mts", ".ogv", ".m2ts", ".vob", ".mxf", ".dv", ".f4v", ".asf", ".divx", ".3g2")
# .m2ts: AVCHD / Blu-ray camcorders, .vob: DVD, .mxf: broadcast and pro cameras, .dv: DV tape captures
MARKER_VERSION = 2   # 2: the detector default became MTCNN where installed

__all__ = ["VIDEO_EXTENSIONS", "MARKER_VERSION", "ExtractConfig", "FaceScan", "find_videos", "rel_key", "scan_faces",
           "write_crops", "output_frame_map", "centre_path", "upright", "shown_size", "continuous_times"]


@dataclass(frozen=True)
class ExtractConfig:
    size: int = 224                  # output crop side (pixels)
    fps: float = 25.0                # output frame rate; 0 keeps every source frame
    align: bool = True               # level the eye line (MTCNN eye landmarks / Haar eye cascade)
    detector: str = field(default_factory=default_detector)  # see detect.DETECTORS (mtcnn where installed)
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


def find_videos(raw: str | os.PathLike, exclude: Sequence[os.PathLike] = ()) -> list[Path]:
    """Video files under `raw` (sorted; hidden folders and `exclude` folders skipped; linked folders followed,
    each real folder once, so a link loop ends)."""
    raw = Path(raw)
    excluded = [Path(e).resolve() for e in exclude]
    seen = {raw.resolve()}
    found = []
    for dirpath, dirnames, filenames in os.walk(raw, followlinks=True):
        here = Path(dirpath)
        keep = []
        for d in sorted(dirnames):
            real = (here / d).resolve()
            if not d.startswith(".") and real not in excluded and real not in seen:
                seen.add(real)
                keep.append(d)
        dirnames[:] = keep
        for f in sorted(filenames):
            if not f.startswith(".") and Path(f).suffix.lower() in VIDEO_EXTENSIONS:
                found.append(here / f)
    return sorted(found)


def rel_key(raw: str | os.PathLike, video: str | os.PathLike) -> str:
    """<rel>: the video's path relative to `raw`, without extension, with '/' separators."""
    return Path(video).relative_to(raw).with_suffix("").as_posix()


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


def _turns(frame) -> int:
    return int(round((getattr(frame, "rotation", 0) or 0) / 90.0)) % 4


def shown_size(frame) -> tuple:
    """(width, height) of the frame as a player shows it (see `upright`)."""
    return (frame.height, frame.width) if _turns(frame) % 2 else (frame.width, frame.height)


def upright(frame, fmt: str, size: tuple | None = None) -> np.ndarray:
    """The decoded frame as an array in `fmt`, turned as a player shows it: a phone's portrait video is often
    stored sideways with a rotation in its display matrix (PyAV's `frame.rotation`, counter-clockwise degrees),
    which players, and ffmpeg by default, apply. `size` (width, height): a frame of another size is scaled to it;
    the passes give the first frame's, so a stream that changes resolution mid-way (adaptive streaming, some
    call recordings) keeps one coordinate system, as ffmpeg's automatic scaling does."""
    import cv2

    arr = frame.to_ndarray(format=fmt)
    turns = _turns(frame)
    if turns:
        arr = np.ascontiguousarray(np.rot90(arr, turns))
    if size is not None and (arr.shape[1], arr.shape[0]) != tuple(size):
        arr = cv2.resize(arr, tuple(size), interpolation=cv2.INTER_AREA)
    return arr


def _unreadable(path: Path, exc: Exception) -> str:
    text = str(exc).replace(str(path), "<file>").strip()
    return f"unreadable video ({type(exc).__name__}: {text[:200]})"


def _pass1(path: Path, detector):
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
            size = size or shown_size(frame)   # the first frame's: later frames are scaled to it
            rgb = upright(frame, "rgb24", size) if detector.wants == "rgb" else None
            gray = upright(frame, "gray", size) if rgb is None else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            times.append(_frame_time(frame, k, guess))
            thumb = cv2.resize(gray, (32, 24), interpolation=cv2.INTER_AREA).astype(np.float32)
            diffs.append(0.0 if prev is None else float(np.abs(thumb - prev).mean()))
            prev = thumb
            if is_cut(diffs, k):
                cuts.append(k)
                detector.reset()
            dets.append(detector.detect(gray if rgb is None else rgb))
        declared = int(stream.frames or 0)   # from the container's index (0 where the format has none)
    if not dets and err is None:
        err = "the video stream holds no decodable frame"
    elif err is None and declared - len(dets) > max(2, 0.02 * declared):  # the data end early, no decoder error:
        # a cut-off file (a frame or two fewer than the index is normal: e.g. AVI's placeholder for packed B-frames)
        err = (f"the file ends after {len(dets)} of the {declared} frames its header announces (truncated?); "
               f"only those {len(dets)} are used")
    return dets, times, cuts, fps, size, err


def continuous_times(times: Sequence[float], fps: float, jump: float | None = None) -> list:
    """Timestamps with the resets of joined files taken out: where time jumps back by more than `jump` seconds
    (default 3 frame periods; files joined end to end, e.g. `cat a.ts b.ts`, each starting its clock again), the
    frames after it continue one frame period after the frame before it, as ffmpeg plays them. Smaller steps back
    (jittery timestamps) are left to the caller."""
    jump = 3.0 / fps if jump is None else jump
    out, shift = [], 0.0
    for k, t in enumerate(times):
        if k and t + shift < out[-1] - jump:
            shift = out[-1] + 1.0 / fps - t
        out.append(t + shift)
    return out


def source_fps(times: Sequence[float], fps: float | None) -> float:
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


def write_crops(path: Path, frame_map: np.ndarray, path_boxes, cfg: ExtractConfig, folder: Path) -> int:
    """Pass 2: decode again and write the crop of every output frame into `folder` (img_00001.jpg, ...).
    -> number of frames written."""
    import av
    import cv2

    wanted: dict[int, list[int]] = {}
    for k, src in enumerate(frame_map):
        wanted.setdefault(int(src), []).append(k)
    last = max(wanted) if wanted else -1
    written = 0
    params = [cv2.IMWRITE_JPEG_QUALITY, int(cfg.jpeg_quality)]
    size = None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for i, frame in enumerate(_frames(container, stream)):
            if isinstance(frame, Exception):  # the same truncation as in pass 1
                break
            size = size or shown_size(frame)   # as in pass 1
            if i in wanted:
                bgr = upright(frame, "bgr24", size)
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



@dataclass
class FaceScan:
    """Pass 1 of one video. `path`: the main face's box per source frame (None: no face, or unreadable);
    `frame_map`/`out_path`: the source frame and box of every output frame (at cfg.fps)."""

    frames_in: int = 0
    times: list = field(default_factory=list)
    cuts: list = field(default_factory=list)
    fps_in: float | None = None
    size: tuple | None = None               # (width, height)
    error: str | None = None
    tracks: list = field(default_factory=list)
    chain: list = field(default_factory=list)
    path: FacePath | None = None
    frame_map: np.ndarray | None = None
    out_path: FacePath | None = None
    detector: str = ""                      # name and version, e.g. "mtcnn (facenet-pytorch 2.5.3)"
    searches: dict = field(default_factory=dict)

    def stats(self) -> dict:
        """The numbers an extraction report records about the face track."""
        if self.out_path is None:
            return {}
        p = self.out_path
        aligned = bool(p.angle_used)
        return {"detected_fraction": round(p.detected_fraction, 4),
                "jitter": round(jitter(self.path), 5),  # on source frames: fps conversion repeats frames
                "raw_jitter": round(raw_jitter(self.chain), 5), "aligned": aligned,
                "angle_range": [round(float(p.angle.min()), 2), round(float(p.angle.max()), 2)] if aligned
                else [0.0, 0.0],
                "box_side_median": round(float(np.median(p.side)), 1), "tracks": len(self.tracks)}


def scan_faces(src: str | os.PathLike, cfg: ExtractConfig) -> FaceScan:
    """Pass 1 + tracking of one video (see the module docstring). Never raises for bad media: `error` says."""
    import cv2

    cv2.setNumThreads(1)
    detector = make_detector(cfg.detector, cfg.detect_side, cfg.full_every, eyes=True)  # eyes rank tracks
    dets, times, cuts, fps, size, err = _pass1(Path(src), detector)
    scan = FaceScan(len(dets), times, cuts, None, size, err, detector=detector.describe())
    scan.searches = {"full": detector.full_searches, "local": detector.local_searches}
    if not dets:
        return scan
    scan.fps_in = source_fps(times, fps)
    scan.times = times = continuous_times(times, scan.fps_in)
    scan.tracks = build_tracks(dets, max_gap=max(1, int(round(cfg.max_gap_s * scan.fps_in))), cuts=cuts)
    scan.chain = main_chain(scan.tracks, cuts=cuts)
    scan.path = smooth_path(scan.chain, len(dets), scan.fps_in, cuts) if scan.chain else None
    scan.frame_map = output_frame_map(times, scan.fps_in, cfg.fps)
    if scan.path is not None:
        if not cfg.align:
            scan.path.angle[:] = 0.0
            scan.path.angle_used = False
        scan.out_path = scan.path.take(scan.frame_map)
    return scan


def centre_path(scan: FaceScan) -> FacePath:
    """The centre square (side = the frame's shorter side) of every output frame, unrotated."""
    w, h = scan.size
    n = len(scan.frame_map)
    return FacePath(np.full(n, w / 2.0), np.full(n, h / 2.0), np.full(n, float(min(w, h))), np.zeros(n),
                    np.zeros(n, dtype=bool))
