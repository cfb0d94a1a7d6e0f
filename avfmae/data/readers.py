"""Readers: a clip on disk -> RGB uint8 frames and a 16 kHz mono float32 waveform.

Video
    * a video file (mp4 or anything decord reads); PyAV is the fallback when decord cannot open or decode it;
    * a folder of frames (jpg/jpeg/png/bmp), in sorted file-name order.
    Every frame comes back as an (H, W, 3) uint8 RGB array; grayscale, palette, RGBA and 16-bit frames are
    converted to 8-bit RGB (`get_images`: the same pixels as RGB PIL images).

Audio (implemented in avfmae.data.audio_io, re-exported here)
    * a wav (or any file soundfile reads), or, when the manifest has no wav, the audio track of the video file
      (decord AudioReader; PyAV as the fallback, e.g. for AC3 tracks decord rejects).
    * 16-bit PCM is returned as int16 / 32768 in float32, bit-identical to what the official loader sees
      (torchaudio.load); other sample formats as soundfile's float32.
    * more than one channel is downmixed by the channel mean; a rate other than 16 kHz is resampled with
      torchaudio.functional.resample.

Every failure raises `ClipError` (VideoError / AudioError) naming the file, the problem and what to do.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from .audio_io import SAMPLE_RATE, downmix_resample, load_audio, read_video_audio, read_wav
from .errors import ClipError, VideoError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
DEFAULT_FOLDER_FPS = 25.0

__all__ = [
    "IMAGE_EXTENSIONS", "SAMPLE_RATE", "FrameSource", "FrameFolder", "DecordVideo", "PyAVVideo", "open_video",
    "to_rgb_uint8", "read_wav", "read_video_audio", "load_audio", "downmix_resample",
]


# ----------------------------------------------------------------------------------------------------------- video
def to_rgb_uint8(image) -> np.ndarray:
    """A PIL image or an array (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) -> contiguous (H, W, 3) uint8 RGB."""
    from PIL import Image

    if isinstance(image, Image.Image):
        if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
            arr = np.asarray(image)
            arr = (arr.astype(np.int64) >> (8 if arr.max(initial=0) > 255 else 0)).clip(0, 255).astype(np.uint8)
            image = Image.fromarray(arr, mode="L")
        if image.mode != "RGB":
            image = image.convert("RGB")
        return np.asarray(image)
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating):
            arr = (np.clip(arr, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        else:
            arr = arr.clip(0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"cannot make an RGB frame from an array of shape {arr.shape}")
    return np.ascontiguousarray(arr)


def _rgb_image(image):
    """A decoded PIL image -> an RGB PIL image with the pixels of to_rgb_uint8 (an RGB image as it is)."""
    from PIL import Image

    if image.mode == "RGB":
        return image
    return Image.fromarray(to_rgb_uint8(image))


class FrameSource:
    """A clip's frames. `num_frames` >= 1; `get_frames(indices)` -> list of (H, W, 3) uint8 RGB arrays
    (indices may repeat); `frame_timestamps(indices)` -> float32 (k, 2) [start, end] seconds, as decord gives."""

    path: Path
    num_frames: int
    fps: float | None

    def get_frames(self, indices: Sequence[int]) -> list[np.ndarray]:
        raise NotImplementedError

    def get_images(self, indices: Sequence[int]) -> list:
        """The frames as RGB PIL images (the pixels of get_frames; a frame folder skips the array round trip)."""
        from PIL import Image

        return [Image.fromarray(f) for f in self.get_frames(indices)]

    def frame_timestamps(self, indices: Sequence[int]) -> np.ndarray:
        fps = self.fps or DEFAULT_FOLDER_FPS
        idx = np.asarray(list(indices), dtype=np.float64)
        return np.stack([idx / fps, (idx + 1) / fps], axis=1).astype(np.float32)

    def _check_indices(self, indices: Sequence[int]) -> list[int]:
        out = [int(i) for i in indices]
        bad = [i for i in out if not 0 <= i < self.num_frames]
        if bad:
            raise IndexError(f"{self.path}: frame index {bad[0]} outside 0..{self.num_frames - 1}")
        return out

    def __len__(self) -> int:
        return self.num_frames


class FrameFolder(FrameSource):
    """A folder of jpg/jpeg/png/bmp frames, ordered by sorted file name. `fps` is unknown (None); timestamps
    assume `assumed_fps` (25 by default)."""

    def __init__(self, path: str | os.PathLike, assumed_fps: float = DEFAULT_FOLDER_FPS):
        self.path = Path(path)
        if not self.path.is_dir():
            raise VideoError(self.path, "frame folder not found", "Check the video column of the manifest and the "
                             "dataset root", kind="missing")
        with os.scandir(self.path) as it:   # the entry's own type: no stat per frame (is_file follows links)
            names = sorted(e.name for e in it if os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS
                           and e.is_file())
        self.files = [self.path / n for n in names]
        self.num_frames = len(self.files)
        self.fps = None
        self._assumed_fps = float(assumed_fps)
        if self.num_frames < 1:
            raise VideoError(self.path, f"frame folder holds no frames (no {'/'.join(IMAGE_EXTENSIONS)} files)",
                             "Re-extract the faces of this clip, or drop it from the manifest", kind="too-short")

    def frame_timestamps(self, indices: Sequence[int]) -> np.ndarray:
        idx = np.asarray(list(indices), dtype=np.float64)
        return np.stack([idx / self._assumed_fps, (idx + 1) / self._assumed_fps], axis=1).astype(np.float32)

    def get_frames(self, indices: Sequence[int]) -> list[np.ndarray]:
        return self._read(indices, to_rgb_uint8)

    def get_images(self, indices: Sequence[int]) -> list:
        return self._read(indices, _rgb_image)

    def _read(self, indices: Sequence[int], convert) -> list:
        from PIL import Image, UnidentifiedImageError

        cache: dict[int, object] = {}
        out = []
        for i in self._check_indices(indices):
            if i not in cache:
                f = self.files[i]
                try:
                    with Image.open(f) as im:
                        im.load()
                        cache[i] = convert(im)
                except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
                    raise VideoError(f, f"unreadable or corrupt frame image ({exc})",
                                     "Re-extract this clip's frames, or drop the clip", kind="corrupt") from exc
            out.append(cache[i])
        return out


class DecordVideo(FrameSource):
    """A video file read with decord (frame-accurate random access)."""

    def __init__(self, path: str | os.PathLike, num_threads: int = 1):
        import decord

        self.path = Path(path)
        self._vr = decord.VideoReader(str(self.path), num_threads=num_threads)
        self.num_frames = len(self._vr)
        fps = float(self._vr.get_avg_fps())
        self.fps = fps if np.isfinite(fps) and fps > 0 else None
        if self.num_frames < 1:
            raise VideoError(self.path, "video has no frames", "Re-encode or drop this clip", kind="too-short")

    def get_frames(self, indices: Sequence[int]) -> list[np.ndarray]:
        idx = self._check_indices(indices)
        uniq = sorted(set(idx))
        try:
            batch = self._vr.get_batch(uniq).asnumpy()
        except Exception as exc:  # DECORDError mid-file: truncated or corrupt stream -> try PyAV once
            problem = f"decord failed to decode frames {uniq[:3]}... ({str(exc).strip()[:200]})"
            try:
                fallback = PyAVVideo(self.path)
            except Exception as pyav_exc:    # the clip is reported below with both readers' reasons
                fallback = None
                problem += f"; PyAV could not open it either ({str(pyav_exc).strip()[:200]})"
            if fallback is not None and fallback.num_frames == self.num_frames:
                return fallback.get_frames(idx)
            if fallback is not None:
                problem += f"; PyAV counts {fallback.num_frames} frames, decord {self.num_frames}"
            raise VideoError(self.path, problem, "Re-encode the clip (e.g. ffmpeg -i in -c:v libx264 out.mp4) or "
                             "drop it", kind="corrupt") from exc
        pos = {j: k for k, j in enumerate(uniq)}
        return [to_rgb_uint8(batch[pos[i]]) for i in idx]

    def frame_timestamps(self, indices: Sequence[int]) -> np.ndarray:
        idx = self._check_indices(indices)
        return np.asarray(self._vr.get_frame_timestamp(idx), dtype=np.float32).reshape(len(idx), 2)


class PyAVVideo(FrameSource):
    """A video file read with PyAV by sequential decoding (the fallback: slower, but tolerant).

    Opening decodes the stream once to count frames and record their timestamps (no RGB conversion);
    `get_frames` decodes again and converts only the requested frames."""

    def __init__(self, path: str | os.PathLike):
        import av

        self.path = Path(path)
        with av.open(str(self.path)) as container:
            if not container.streams.video:
                raise VideoError(self.path, "file has no video stream", "Check that this is the clip's video",
                                 kind="corrupt")
            stream = container.streams.video[0]
            tb = float(stream.time_base) if stream.time_base else 0.0
            rate = stream.average_rate or stream.guessed_rate
            self.fps = float(rate) if rate else None
            starts, ends = [], []
            for frame in container.decode(stream):
                t = frame.pts * tb if frame.pts is not None else (len(starts) / (self.fps or DEFAULT_FOLDER_FPS))
                dur = frame.duration * tb if frame.duration else 1.0 / (self.fps or DEFAULT_FOLDER_FPS)
                starts.append(t)
                ends.append(t + dur)
        self.num_frames = len(starts)
        self._times = np.stack([np.asarray(starts, np.float64), np.asarray(ends, np.float64)], 1) \
            if starts else np.zeros((0, 2))
        if self.num_frames < 1:
            raise VideoError(self.path, "no decodable video frames", "Re-encode or drop this clip", kind="too-short")

    def frame_timestamps(self, indices: Sequence[int]) -> np.ndarray:
        return self._times[self._check_indices(indices)].astype(np.float32)

    def get_frames(self, indices: Sequence[int]) -> list[np.ndarray]:
        import av

        idx = self._check_indices(indices)
        wanted = set(idx)
        last = max(idx) if idx else -1
        got: dict[int, np.ndarray] = {}
        with av.open(str(self.path)) as container:
            for k, frame in enumerate(container.decode(container.streams.video[0])):
                if k in wanted:
                    got[k] = to_rgb_uint8(frame.to_ndarray(format="rgb24"))
                if k >= last:
                    break
        missing = wanted - got.keys()
        if missing:
            raise VideoError(self.path, f"frames {sorted(missing)[:5]} could not be decoded (truncated file?)",
                             "Re-encode or drop this clip", kind="corrupt")
        return [got[i] for i in idx]


def _probe_decode(src: FrameSource) -> None:
    """Decode the first and last frame so a truncated file fails here, not in the middle of a batch."""
    src.get_frames(sorted({0, src.num_frames - 1}))


def open_video(path: str | os.PathLike, backend: str = "auto", probe: bool = True) -> FrameSource:
    """Open a clip's video: a frame folder, or a video file (decord, PyAV fallback).

    backend: "auto" (decord, then PyAV), "decord" or "pyav". With `probe`, the first and last frames are decoded
    at once so corrupt or truncated files are rejected here (and trigger the fallback)."""
    path = Path(path)
    if path.is_dir():
        return FrameFolder(path)
    if not path.exists():
        raise VideoError(path, "video not found", "Check the video column of the manifest and the dataset root",
                         kind="missing")
    if path.stat().st_size == 0:
        raise VideoError(path, "video file is empty (0 bytes)", "Re-copy or re-encode this clip", kind="empty")
    if backend not in ("auto", "decord", "pyav"):
        raise ValueError(f"backend must be auto, decord or pyav, not {backend!r}")
    errors = []
    if backend in ("auto", "decord"):
        try:
            src = DecordVideo(path)
            if probe:
                _probe_decode(src)
            return src
        except ClipError as exc:
            if backend == "decord":
                raise
            errors.append(f"decord: {exc.problem}")
        except Exception as exc:  # decord raises DECORDError / RuntimeError with C++ messages
            errors.append(f"decord: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}")
            if backend == "decord":
                raise VideoError(path, f"decord cannot read the video ({errors[-1]})",
                                 "Re-encode the clip (e.g. ffmpeg -i in -c:v libx264 out.mp4) or drop it",
                                 kind="corrupt") from exc
    try:
        src = PyAVVideo(path)
        if probe:
            _probe_decode(src)
        return src
    except ClipError as exc:
        if not errors:
            raise
        raise VideoError(path, f"{exc.problem}; {'; '.join(errors)}",
                         "Re-encode the clip (e.g. ffmpeg -i in -c:v libx264 out.mp4) or drop it",
                         kind=exc.kind) from exc
    except Exception as exc:
        errors.append(f"PyAV: {type(exc).__name__}: {exc}")
        raise VideoError(path, "unreadable, corrupt or truncated video (" + "; ".join(errors) + ")",
                         "Re-encode the clip (e.g. ffmpeg -i in -c:v libx264 out.mp4) or drop it",
                         kind="corrupt") from exc
