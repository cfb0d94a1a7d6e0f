"""A video's audio track -> 16 kHz mono PCM16 wav (the official `ffmpeg -ac 1 -ar 16000 pcm_s16le`).

Backends, in the order `auto` tries them:
    ffmpeg  the `ffmpeg` command line when it is on PATH (Debian: apt-get install ffmpeg). Exactly the official
            conversion, and it decodes every common codec, AC3 included.
    pyav    avfmae.data.readers.read_video_audio (decord's AudioReader, then PyAV), downmixed and resampled to
            16 kHz, written as PCM16. Decord and PyAV's bundled FFmpeg fail on some tracks (e.g. the AC3 audio
            of OpenCV's Megamind.avi: "frame sync error" / InvalidDataError); the result then says so and names
            the fix (install ffmpeg).

The wav is written to a temporary name and renamed, so a killed run never leaves half a wav under the final name.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avfmae.atomic import commit, temp_for

SAMPLE_RATE = 16000
BACKENDS = ("auto", "ffmpeg", "pyav", "none")

__all__ = ["SAMPLE_RATE", "BACKENDS", "AudioResult", "ffmpeg_path", "has_audio_stream", "audio_start",
           "extract_wav"]


@dataclass(frozen=True)
class AudioResult:
    status: str            # "ok", "no-audio" (the file has no audio track), "failed", "skipped"
    backend: str = ""      # "ffmpeg" or "pyav" for "ok"
    seconds: float = 0.0
    message: str = ""


def ffmpeg_path() -> str | None:
    return shutil.which("ffmpeg")


def _probe_audio(path: str | os.PathLike) -> tuple[bool, float | None] | None:
    """(has an audio stream, the first audio stream's start in seconds or None) read by PyAV from the container;
    None when PyAV is missing or cannot open the file (an unreadable or unknown format)."""
    try:
        import av
        from av.error import FFmpegError
    except ImportError:
        return None
    try:
        with av.open(str(path)) as c:
            if not c.streams.audio:
                return False, None
            a = c.streams.audio[0]
            return True, (float(a.start_time * a.time_base) if a.start_time is not None and a.time_base else None)
    except (FFmpegError, OSError, ValueError):
        return None


def has_audio_stream(path: str | os.PathLike) -> bool | None:
    """True / False when PyAV can open the container, None when it cannot tell."""
    probe = _probe_audio(path)
    return None if probe is None else probe[0]


def audio_start(path: str | os.PathLike) -> float | None:
    """When the first audio stream starts (seconds on the container's clock: its start_time), None when PyAV
    cannot tell. The extracted wav begins with that stream's first sample, whatever this time."""
    probe = _probe_audio(path)
    return None if probe is None else probe[1]


def _wav_seconds(path: Path) -> float:
    import soundfile as sf

    info = sf.info(str(path))
    return info.frames / float(info.samplerate) if info.samplerate else 0.0


def _via_ffmpeg(src: Path, tmp: Path, exe: str) -> str | None:
    """None on success, else ffmpeg's error text."""
    cmd = [exe, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(src), "-vn", "-ac", "1",
           "-ar", str(SAMPLE_RATE), "-c:a", "pcm_s16le", "-f", "wav", str(tmp)]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{type(exc).__name__}: {exc}"
    if proc.returncode != 0 or not tmp.is_file() or tmp.stat().st_size <= 44:
        text = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        return (text[-1] if text else f"exit code {proc.returncode}")[:300]
    return None


def _via_pyav(src: Path, tmp: Path) -> str | None:
    import soundfile as sf

    from avfmae.data.errors import ClipError
    from avfmae.data.readers import read_video_audio

    try:
        wav = read_video_audio(src, SAMPLE_RATE)
    except ClipError as exc:
        return exc.problem
    except Exception as exc:  # noqa: BLE001 - any decoder failure is reported, not raised
        return f"{type(exc).__name__}: {exc}"[:300]
    if wav.size == 0:
        return "the audio track holds no samples"
    pcm = np.clip(np.round(wav.astype(np.float64) * 32768.0), -32768, 32767).astype(np.int16)
    sf.write(str(tmp), pcm, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    return None


def extract_wav(src: str | os.PathLike, dst: str | os.PathLike, backend: str = "auto") -> AudioResult:
    """Write `src`'s audio as a 16 kHz mono PCM16 wav at `dst` (atomically). Never raises for bad media."""
    src, dst = Path(src), Path(dst)
    if backend not in BACKENDS:
        raise ValueError(f"audio backend must be one of {BACKENDS}, not {backend!r}")
    if backend == "none":
        return AudioResult("skipped", message="audio extraction turned off")
    if has_audio_stream(src) is False:
        return AudioResult("no-audio", message="the file has no audio track")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_for(dst, keep_suffix=True)
    errors = []
    try:
        exe = ffmpeg_path()
        if backend in ("auto", "ffmpeg"):
            if exe is None:
                errors.append("ffmpeg: not installed (apt-get install ffmpeg)")
            else:
                err = _via_ffmpeg(src, tmp, exe)
                if err is None:
                    commit(tmp, dst)
                    return AudioResult("ok", "ffmpeg", _wav_seconds(dst))
                if "does not contain any stream" in err or "matches no streams" in err:
                    return AudioResult("no-audio", message="the file has no audio track")
                errors.append(f"ffmpeg: {err}")
        if backend in ("auto", "pyav"):
            err = _via_pyav(src, tmp)
            if err is None:
                commit(tmp, dst)
                return AudioResult("ok", "pyav", _wav_seconds(dst))
            errors.append(f"decord/PyAV: {err}")
        fix = "" if exe else "; install the ffmpeg command line (apt-get install ffmpeg), which decodes it"
        short = [e.replace(str(src), "<file>").splitlines()[0][:160] for e in errors]
        return AudioResult("failed", message="no audio could be extracted (" + "; ".join(short) + ")" + fix)
    finally:
        if tmp.exists():
            tmp.unlink()
