"""Audio readers: a wav, or a video file's audio track -> a 16 kHz mono float32 waveform (see avfmae.data.readers,
which re-exports every name here).

    * 16-bit PCM is returned as int16 / 32768 in float32, bit-identical to what the official loader sees
      (torchaudio.load); other sample formats as soundfile's float32.
    * more than one channel is downmixed by the channel mean; a rate other than 16 kHz is resampled once, with
      torchaudio.functional.resample.
Every failure raises `AudioError` naming the file, the problem and what to do.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import AudioError

SAMPLE_RATE = 16000

__all__ = ["SAMPLE_RATE", "downmix_resample", "read_wav", "read_video_audio", "load_audio"]


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
