"""One video file -> face crops and a 16 kHz waveform, exactly as dataset extraction makes them.

The crops go through the same code and settings as `python -m benchmarks.data extract` (avfmae.faces.pipeline:
detection, tracking, smoothing, 25 fps, 224 px JPEG crops with a 0.15 margin, eye line levelled), written to a
work folder, so the model then reads them with the evaluation readers and views it was evaluated with.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from avfmae.data.readers import FrameSource, open_video, read_wav
from avfmae.faces.audio import SAMPLE_RATE, audio_start, extract_wav
from avfmae.faces.pipeline import ExtractConfig, centre_path, scan_faces, write_crops

__all__ = ["PredictError", "NoFaceError", "PreparedVideo", "prepare_video", "on_video_timeline"]


class PredictError(RuntimeError):
    """A video that cannot be predicted (the message names the file and what to do)."""


class NoFaceError(PredictError):
    pass


@dataclass
class PreparedVideo:
    path: Path
    frames: FrameSource            # the face crops (FrameFolder), one per output frame at `fps`
    fps: float
    waveform: np.ndarray | None    # 16 kHz mono float32, None without usable audio
    audio: str                     # "ok", "no-audio", "failed"
    audio_message: str
    face: str                      # "tracked" or "centre"
    detected_fraction: float
    detector: str
    warning: str = ""              # what the prediction went past: a truncated file, sound not covering it

    @property
    def num_frames(self) -> int:
        return self.frames.num_frames

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps


def prepare_video(path: str | os.PathLike, work: str | os.PathLike, cfg: ExtractConfig | None = None,
                  no_face_crop: bool = False) -> PreparedVideo:
    """Crops into `work`/faces, the wav into `work`/audio.wav. Raises PredictError (unreadable) or NoFaceError
    (no face and not `no_face_crop`)."""
    cfg = cfg or ExtractConfig()
    if cfg.fps <= 0:
        raise ValueError("prediction needs a fixed output frame rate (fps > 0)")
    path, work = Path(path), Path(work)
    if not path.is_file():
        raise PredictError(f"{path}: no such video file")
    scan = scan_faces(path, cfg)
    if not scan.frames_in:
        raise PredictError(f"{path}: {scan.error or 'no decodable frame'}; check that the file plays, or "
                           "re-encode it (e.g. ffmpeg -i IN -c:v libx264 OUT.mp4)")
    boxes, face, crop_cfg = scan.out_path, "tracked", cfg
    if boxes is None:
        if not no_face_crop:
            raise NoFaceError(f"{path}: no face found in any of its {scan.frames_in} frames (detector "
                              f"{scan.detector}); pass --no-face-crop to use the centre square of each frame")
        boxes, face, crop_cfg = centre_path(scan), "centre", replace(cfg, margin=0.0)
    folder = work / "faces"
    folder.mkdir(parents=True, exist_ok=True)
    write_crops(path, scan.frame_map, boxes, crop_cfg, folder)
    wav_path = work / "audio.wav"
    res = extract_wav(path, wav_path, "auto" if cfg.audio == "none" else cfg.audio)
    waveform = read_wav(wav_path) if res.status == "ok" else None
    status = res.status if res.status in ("ok", "no-audio") else "failed"
    if waveform is not None and waveform.size == 0:
        waveform, status = None, "no-audio"
    frames = open_video(folder)
    warnings = [scan.error] if scan.error else []
    if waveform is not None:
        start = audio_start(path)
        offset = start - scan.times[0] if start is not None else 0.0
        waveform, note = on_video_timeline(waveform, offset, frames.num_frames / float(cfg.fps), 1.0 / cfg.fps)
        warnings += [note] if note else []
    return PreparedVideo(path, frames, float(cfg.fps), waveform, status, res.message, face,
                         float(boxes.detected_fraction), scan.detector, "; ".join(warnings))


def on_video_timeline(wave: np.ndarray, offset: float, duration: float, tolerance: float,
                      sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, str]:
    """The waveform laid on the picture's timeline: sample 0 at the first frame, exactly `duration` seconds
    long. `offset`: when the audio's first sample plays, in seconds after the first frame (negative: before).
    Sound before the picture or after its end is cut, time without sound is silence (zeros). The windows'
    audio is taken at the same fraction of the clip as their frames (the evaluation loaders' alignment), which
    is the same time only on this timeline. Offsets within `tolerance` (one output frame) are left alone.
    -> (waveform, a note when the sound did not cover the picture, else "")."""
    n = int(round(duration * sample_rate))
    shift = int(round(offset * sample_rate)) if abs(offset) > tolerance else 0
    heard = wave.shape[0] / sample_rate
    if shift >= 0:
        out = np.concatenate([np.zeros(min(shift, n), np.float32), wave[:max(n - shift, 0)]])
    else:
        out = wave[-shift:-shift + n]
    out = np.concatenate([out, np.zeros(n - out.shape[0], np.float32)]).astype(np.float32, copy=False)
    begin, end = max(offset, 0.0) if shift else 0.0, (shift / sample_rate) + heard
    note = ""
    if begin > tolerance or end < duration - max(tolerance, 0.1):
        note = (f"its sound covers {begin:.2f}-{max(min(end, duration), begin):.2f} s of the {duration:.2f} s "
                "picture (silence used elsewhere)")
    elif end > duration + 1.0:
        note = f"its sound runs {end - duration:.2f} s past the picture's end (that part is not used)"
    return out, note
