"""Readers: a clip on disk -> RGB uint8 frames and a 16 kHz mono float32 waveform.

Video
    * a video file (mp4 or anything decord reads); PyAV is the fallback when decord cannot open or decode it;
    * a folder of frames (jpg/jpeg/png/bmp), in sorted file-name order.
    Every frame comes back as an (H, W, 3) uint8 RGB array; grayscale, palette, RGBA and 16-bit frames are
    converted to 8-bit RGB.

Audio
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

from .errors import AudioError, ClipError, VideoError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
SAMPLE_RATE = 16000
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


class FrameSource:
    """A clip's frames. `num_frames` >= 1; `get_frames(indices)` -> list of (H, W, 3) uint8 RGB arrays
    (indices may repeat); `frame_timestamps(indices)` -> float32 (k, 2) [start, end] seconds, as decord gives."""

    path: Path
    num_frames: int
    fps: float | None

    def get_frames(self, indices: Sequence[int]) -> list[np.ndarray]:
        raise NotImplementedError

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
        self.files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
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
        from PIL import Image, UnidentifiedImageError

        cache: dict[int, np.ndarray] = {}
        out = []
        for i in self._check_indices(indices):
            if i not in cache:
                f = self.files[i]
                try:
                    with Image.open(f) as im:
                        im.load()
                        cache[i] = to_rgb_uint8(im)
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
            except Exception:
                fallback = None
            if fallback is not None and fallback.num_frames == self.num_frames:
                return fallback.get_frames(idx)
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


# ----------------------------------------------------------------------------------------------------------- audio
def downmix_resample(samples: np.ndarray, sample_rate: int, target_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(n,) or (n, channels) float32 at `sample_rate` -> (n',) float32 mono at `target_rate`.

    Channels are averaged; the rate is converted with torchaudio.functional.resample (windowed sinc)."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1, dtype=np.float32) if x.shape[1] > 1 else x[:, 0]
    x = np.ascontiguousarray(x, dtype=np.float32)
    if int(sample_rate) != int(target_rate) and x.size:
        import torch
        import torchaudio.functional as AF

        x = AF.resample(torch.from_numpy(x)[None], int(sample_rate), int(target_rate))[0].numpy()
    return np.ascontiguousarray(x, dtype=np.float32)


def read_wav(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE, offset: int = 0,
             count: int | None = None) -> np.ndarray:
    """Read a wav as float32 mono at `sample_rate`; optionally only samples [offset, offset + count).

    16-bit PCM is int16 / 32768 (what torchaudio.load returns); offset/count are in samples at the file's own
    rate when no resampling is needed (the same slice torchaudio.load(frame_offset, num_frames) reads), else
    in samples of the resampled signal. Raises AudioError for a missing, unreadable or empty file."""
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise AudioError(path, "wav not found", "Check the audio column of the manifest, or extract it "
                         "(ffmpeg -i VIDEO -ac 1 -ar 16000 -c:a pcm_s16le OUT.wav)", kind="missing")
    try:
        info = sf.info(str(path))
    except Exception as exc:
        raise AudioError(path, f"unreadable or corrupt audio file ({exc})",
                         "Re-extract the audio (ffmpeg -i VIDEO -ac 1 -ar 16000 -c:a pcm_s16le OUT.wav)",
                         kind="corrupt") from exc
    if info.frames <= 0:
        raise AudioError(path, "audio file has no samples", "Re-extract the audio or drop this clip", kind="empty")
    native = int(info.samplerate) == int(sample_rate)
    start, frames = (int(offset), -1 if count is None else int(count)) if native else (0, -1)
    try:
        if info.subtype == "PCM_16":
            data, sr = sf.read(str(path), dtype="int16", always_2d=True, start=start, frames=frames)
            data = data.astype(np.float32) / np.float32(32768.0)
        else:
            data, sr = sf.read(str(path), dtype="float32", always_2d=True, start=start, frames=frames)
    except Exception as exc:
        raise AudioError(path, f"audio data could not be decoded ({exc})",
                         "Re-extract the audio (ffmpeg -i VIDEO -ac 1 -ar 16000 -c:a pcm_s16le OUT.wav)",
                         kind="corrupt") from exc
    wav = downmix_resample(data, sr, sample_rate)
    if not native:
        wav = wav[int(offset):] if count is None else wav[int(offset):int(offset) + int(count)]
    if wav.size == 0 and offset == 0:
        raise AudioError(path, "audio file has no samples", "Re-extract the audio or drop this clip", kind="empty")
    if not np.all(np.isfinite(wav)):
        raise AudioError(path, "audio holds NaN or infinite samples", "Re-extract the audio", kind="corrupt")
    return wav


def _pyav_audio(path: Path, sample_rate: int) -> np.ndarray:
    import av

    chunks, rate = [], None
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise AudioError(path, "the video has no audio track and the manifest gives no wav",
                             "Add a wav in the audio column, or drop this clip", kind="no-audio")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="fltp")  # keep layout and rate, only make the format float planar
        for frame in container.decode(stream):
            rate = frame.sample_rate
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray())
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray())
    if not chunks or rate is None:
        raise AudioError(path, "the video's audio track holds no decodable samples",
                         "Extract a wav with ffmpeg and put it in the audio column, or drop this clip", kind="empty")
    data = np.concatenate(chunks, axis=1).T  # (n, channels)
    return downmix_resample(data, rate, sample_rate)


def read_video_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE, backend: str = "auto") -> np.ndarray:
    """The audio track of a video file as float32 mono at `sample_rate` (decord AudioReader, PyAV fallback)."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(path, "video (audio source) not found", "Check the manifest and the dataset root",
                         kind="missing")
    errors = []
    if backend in ("auto", "decord"):
        try:
            import decord

            ar = decord.AudioReader(str(path), sample_rate=sample_rate, mono=True)
            wav = np.asarray(ar[:].asnumpy(), dtype=np.float32).reshape(-1)
            if wav.size and np.all(np.isfinite(wav)):
                return np.ascontiguousarray(wav)
            errors.append("decord: no samples")
        except Exception as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            errors.append(f"decord: {msg}")
        if backend == "decord":
            raise AudioError(path, f"decord cannot read the audio track ({errors[-1]})",
                             "Extract a wav with ffmpeg and put it in the audio column", kind="corrupt")
    try:
        wav = _pyav_audio(path, sample_rate)
    except AudioError:
        raise
    except Exception as exc:
        errors.append(f"PyAV: {type(exc).__name__}: {exc}")
        raise AudioError(path, "the audio track cannot be decoded (" + "; ".join(errors) + ")",
                         "Extract a wav with ffmpeg (ffmpeg -i VIDEO -ac 1 -ar 16000 -c:a pcm_s16le OUT.wav) and "
                         "put it in the audio column", kind="corrupt") from exc
    if not np.all(np.isfinite(wav)):
        raise AudioError(path, "audio track decodes to NaN/inf samples", "Extract a wav with ffmpeg", kind="corrupt")
    return wav


def load_audio(video_path: str | os.PathLike, audio_path: str | os.PathLike | None,
               sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A clip's waveform: the wav when given, else the audio track of the video file (a frame folder has none)."""
    if audio_path is not None:
        return read_wav(audio_path, sample_rate)
    if Path(video_path).is_dir():
        raise AudioError(video_path, "frame folder without a wav in the manifest (a frame folder has no audio)",
                         "Give the clip's wav in the audio column", kind="no-audio")
    return read_video_audio(video_path, sample_rate)
