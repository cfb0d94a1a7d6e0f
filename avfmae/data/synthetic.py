"""Synthetic media for tests and the speed commands: random frames and audio, written as jpg folders, wavs and mp4s.

Nothing here resembles a face or a voice (the suite's synthetic demo set with learnable classes is
benchmarks.datasets.synth); these are inputs of a given shape and container for the readers and the pipeline.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .manifest import ClipRecord

__all__ = ["synthetic_frames", "synthetic_audio", "write_frame_folder", "write_wav", "write_mp4", "make_clips"]


def synthetic_frames(n: int, height: int = 112, width: int = 112, seed: int = 0) -> np.ndarray:
    """(n, H, W, 3) uint8: a colour gradient with a bright square moving across it (each frame differs)."""
    rng = np.random.RandomState(seed)
    base = rng.randint(0, 256, size=3)
    yy, xx = np.mgrid[0:height, 0:width]
    frames = np.empty((n, height, width, 3), np.uint8)
    side = max(4, min(height, width) // 4)
    for t in range(n):
        img = np.empty((height, width, 3), np.float32)
        for c in range(3):
            img[..., c] = (base[c] + 120 * xx / max(width - 1, 1) + 60 * yy / max(height - 1, 1) + 3 * t) % 256
        x0 = (5 * t) % max(width - side, 1)
        y0 = (3 * t) % max(height - side, 1)
        img[y0:y0 + side, x0:x0 + side] = (255, 240 - (t % 50), 40 + (t % 100))
        frames[t] = img.astype(np.uint8)
    return frames


def synthetic_audio(seconds: float, sample_rate: int = 16000, seed: int = 0, channels: int = 1) -> np.ndarray:
    """float32 (n,) or (n, channels) in [-0.5, 0.5]: a chirp plus a tone plus a little noise."""
    rng = np.random.RandomState(seed)
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    f0, f1 = 200 + 100 * rng.rand(), 2000 + 1000 * rng.rand()
    x = 0.25 * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t ** 2 / (2 * max(seconds, 1e-3))))
    x += 0.15 * np.sin(2 * np.pi * 440 * t) + 0.02 * rng.randn(t.size)
    x = x.astype(np.float32)
    if channels > 1:
        x = np.stack([x * (1.0 - 0.3 * c / channels) for c in range(channels)], axis=1)
    return x


def write_frame_folder(folder: str | os.PathLike, frames: np.ndarray, ext: str = "jpg",
                       pattern: str = "img_{:05d}") -> Path:
    """Write (n, H, W, 3) or (n, H, W) uint8 frames as numbered images."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        kw = {"quality": 95} if ext.lower() in ("jpg", "jpeg") else {}
        Image.fromarray(f).save(folder / f"{pattern.format(i)}.{ext}", **kw)
    return folder


def write_wav(path: str | os.PathLike, samples: np.ndarray, sample_rate: int = 16000,
              subtype: str = "PCM_16") -> Path:
    import soundfile as sf

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), samples, sample_rate, subtype=subtype)
    return path


def write_mp4(path: str | os.PathLike, frames: np.ndarray, fps: int = 25, audio: np.ndarray | None = None,
              sample_rate: int = 16000, video_codec: str = "libx264", audio_codec: str = "aac",
              audio_start: float = 0.0, options: dict | None = None) -> Path:
    """Write frames (n, H, W, 3) uint8 (H, W even) with PyAV, plus an optional mono audio track whose first sample
    is at `audio_start` seconds (the stream's start offset, as in a recording whose sound starts late);
    `options`: the muxer's (e.g. {"movflags": "faststart"})."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", options=options or {}) as out:
        vs = out.add_stream(video_codec, rate=fps)
        vs.width, vs.height = int(frames.shape[2]), int(frames.shape[1])
        vs.pix_fmt = "yuv420p"
        if video_codec == "libx264":
            vs.options = {"preset": "ultrafast"}
        ast = None
        if audio is not None:
            ast = out.add_stream(audio_codec, rate=sample_rate)
            ast.layout = "mono"
        for f in frames:
            for p in vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
        if ast is not None:
            x = np.asarray(audio, np.float32).reshape(-1)
            step, pts = 1024, int(round(audio_start * sample_rate))
            for s in range(0, x.size, step):
                chunk = np.ascontiguousarray(x[s:s + step])[None]
                af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                af.sample_rate, af.pts = sample_rate, pts
                pts += chunk.shape[1]
                for p in ast.encode(af):
                    out.mux(p)
            for p in ast.encode():
                out.mux(p)
    return path


def make_clips(root: str | os.PathLike, n: int, kind: str = "mp4", num_frames: int = 100, size: int = 224,
               fps: int = 25, seed: int = 0) -> list[ClipRecord]:
    """Generate n clips under root and return their records. kind: "mp4" (mp4 with AAC track + wav),
    "mp4-track" (mp4 with AAC track, no wav) or "frames" (jpg folder + wav)."""
    root = Path(root)
    records = []
    for i in range(n):
        frames = synthetic_frames(num_frames, size, size, seed + i)
        wav = synthetic_audio(num_frames / fps, 16000, seed + i)
        name = f"{kind}_{i:03d}"
        if kind in ("mp4", "mp4-track"):
            write_mp4(root / "videos" / f"{name}.mp4", frames, fps, audio=wav)
            video = f"videos/{name}.mp4"
        elif kind == "frames":
            write_frame_folder(root / "frames" / name, frames, "jpg")
            video = f"frames/{name}"
        else:
            raise ValueError(f"unknown kind {kind!r}")
        audio = None
        if kind != "mp4-track":
            write_wav(root / "audio" / f"{name}.wav", wav)
            audio = f"audio/{name}.wav"
        records.append(ClipRecord(name, video, audio, i % 7))
    return records


# ---------------------------------------------------------------------------------------------------- timing
