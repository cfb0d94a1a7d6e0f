"""One clip's media check for `python -m benchmarks.data doctor` (benchmarks.datasets.diagnosis runs it on every
clip of a dataset): the video opens (frame folder or video file; first and last frame decoded, every frame when
deep) with its frame count, and the audio (wav or the video file's track) with its sample rate, channels and
length against the video's. Bad media become errors and oddities warnings of the returned ClipCheck; nothing
raises.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from avfmae.data.manifest import ManifestError, resolve

SAMPLE_RATE = 16000
ASSUMED_FOLDER_FPS = 25.0


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
